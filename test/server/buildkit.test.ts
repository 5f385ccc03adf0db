import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CodeAction, Diagnostic } from 'vscode-languageserver-protocol';
import type { FeatureContext } from '../../server/src/context';
import { Document } from '../../server/src/document';
import { lint, toDiagnostics } from '../../server/src/features/diagnostics';
import { parsePlatform } from '../../server/src/dockerfile/platform';
import { isValidReference, legacyValue, suggest } from '../../server/src/rules/buildkit';
import { editDistance } from '../../server/src/rules/validator-values';
import { CODES } from '../../server/src/rules';
import type { Finding, Fix } from '../../server/src/rules/rule';
import { DEFAULT_SETTINGS } from '../../server/src/settings';
import { LspClient } from '../lsp-client';

const ctx: FeatureContext = { settings: DEFAULT_SETTINGS, client: { snippets: true, markdown: true, hierarchicalSymbols: true } };

function doc(lines: string[] | string): Document {
  return new Document('file:///tmp/tug-test/buildkit/Dockerfile', 1, Array.isArray(lines) ? lines.join('\n') : lines);
}

/** The BuildKit findings of a Dockerfile as `line:col-line:col code message`. */
function found(lines: string[] | string, code?: string): string[] {
  const d = doc(lines);
  return buildkit(d)
    .filter((f) => !code || f.code === code)
    .map((f) => {
      const r = d.range(f.span);
      return `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character} ${f.code} ${f.message}`;
    });
}

function buildkit(d: Document): Finding[] {
  return lint(d, ctx).filter((f) => CODES.get(f.code)?.source === 'buildkit');
}

/** The text after applying a fix. */
function apply(text: string, fix: Fix): string {
  const edits = [...fix.edits].sort((a, b) => b.span.start - a.span.start);
  for (const e of edits) text = text.slice(0, e.span.start) + e.text + text.slice(e.span.end);
  return text;
}

/** The result of a finding's preferred fix, or of the fix with the given title. */
function fixed(lines: string[], code: string, title?: string): string {
  const d = doc(lines);
  const finding = buildkit(d).find((f) => f.code === code);
  assert.ok(finding, `no ${code} finding`);
  const fix = finding.fixes?.find((f) => (title ? f.title === title : f.preferred));
  assert.ok(fix, `no fix ${title ?? '(preferred)'} for ${code}: ${JSON.stringify(finding.fixes?.map((f) => f.title))}`);
  return apply(d.text, fix);
}

describe('BuildKit checks, each triggered and each near miss silent', () => {
  test('StageNameCasing', () => {
    assert.deepEqual(found(['FROM alpine:3.20 AS Build', 'FROM alpine:3.20 AS build2']), [
      "0:20-0:25 StageNameCasing Stage name 'Build' should be lowercase",
    ]);
  });

  test('FromAsCasing', () => {
    assert.deepEqual(found(['FROM alpine:3.20 as base', 'from alpine:3.20 AS b', 'FROM alpine:3.20 AS c', 'from alpine:3.20 as d', 'From alpine:3.20 as e'], 'FromAsCasing'), [
      "0:17-0:19 FromAsCasing 'as' and 'FROM' keywords' casing do not match",
      "1:17-1:19 FromAsCasing 'AS' and 'from' keywords' casing do not match",
    ]);
  });

  test('NoEmptyContinuation, once per instruction, not for a final newline', () => {
    const text = ['FROM alpine:3.20', 'RUN echo a \\', '', '  && echo b \\', '', '  && echo c', 'RUN echo d \\', '  && echo e', ''];
    assert.deepEqual(found(text), ['2:0-2:0 NoEmptyContinuation Empty continuation line']);
    assert.deepEqual(found(['FROM alpine:3.20', 'RUN echo a \\', '']), []);
  });

  test('ConsistentInstructionCasing reports the minority against the majority', () => {
    assert.deepEqual(found(['from alpine:3.20', 'run echo a', 'Workdir /app', 'COPY . .', 'cmd ["a"]']), [
      "2:0-2:7 ConsistentInstructionCasing Command 'Workdir' should match the case of the command majority (lowercase)",
      "3:0-3:4 ConsistentInstructionCasing Command 'COPY' should match the case of the command majority (lowercase)",
    ]);
    // A tie goes to upper case; ARGs before the first FROM are not counted, as in BuildKit.
    assert.deepEqual(found(['arg V=1', 'arg W=2', 'FROM alpine:3.20', 'run echo']), [
      "3:0-3:3 ConsistentInstructionCasing Command 'run' should match the case of the command majority (uppercase)",
    ]);
  });

  test('DuplicateStageName, case-insensitively', () => {
    assert.deepEqual(found(['FROM alpine:3.20 AS base', 'FROM alpine:3.20 AS BASE'], 'DuplicateStageName'), [
      '1:20-1:24 DuplicateStageName Duplicate stage name "base", stage names should be unique',
    ]);
    assert.deepEqual(found(['FROM alpine:3.20 AS base', 'FROM base AS base2']), []);
  });

  test('ReservedStageName', () => {
    assert.deepEqual(found(['FROM alpine:3.20 AS scratch', 'FROM alpine:3.20 AS context', 'FROM alpine:3.20 AS scratchy']), [
      '0:20-0:27 ReservedStageName Stage name should not use the same name as reserved stage "scratch"',
      '1:20-1:27 ReservedStageName Stage name should not use the same name as reserved stage "context"',
    ]);
  });

  test('JSONArgsRecommended, unless SHELL was set in the stage or a stage it builds on', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'cmd  my-program start', 'ENTRYPOINT ["tini"]']), [
      "1:0-1:3 ConsistentInstructionCasing Command 'cmd' should match the case of the command majority (uppercase)",
      '1:5-1:21 JSONArgsRecommended JSON arguments recommended for cmd to prevent unintended behavior related to OS signals',
    ]);
    assert.deepEqual(found(['FROM alpine:3.20 AS base', 'SHELL ["/bin/ash", "-c"]', 'FROM base', 'CMD my-program start']), []);
    assert.deepEqual(found(['FROM alpine:3.20', 'HEALTHCHECK CMD wget -q localhost']), []);
  });

  test('MaintainerDeprecated', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'MAINTAINER Jane Doe <jane@example.com>']), [
      '1:0-1:10 MaintainerDeprecated Maintainer instruction is deprecated in favor of using label',
    ]);
  });

  test('UndefinedArgInFrom, with a suggestion', () => {
    assert.deepEqual(found(['ARG VERSION=3.20', 'FROM alpine:${VERSON}', 'FROM alpine:$VERSION', 'FROM --platform=$BUILDPLATFORM alpine:3.20'], 'UndefinedArgInFrom'), [
      "1:12-1:21 UndefinedArgInFrom FROM argument 'VERSON' is not declared (did you mean VERSION?)",
    ]);
    // Declared without a default is declared.
    assert.deepEqual(found(['ARG VERSION', 'FROM alpine:${VERSION:-3.20}']), []);
  });

  test('WorkdirRelativePath: the first WORKDIR of a stage, its own or inherited', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'WORKDIR app', 'WORKDIR sub']), [
      '1:8-1:11 WorkdirRelativePath Relative workdir "app" can have unexpected results if the base image changes',
    ]);
    assert.deepEqual(found(['FROM alpine:3.20 AS base', 'WORKDIR /app', 'FROM base', 'WORKDIR sub', 'FROM alpine:3.20', 'ENV D=/x', 'WORKDIR $D']), []);
    // A name the base image may define is given the benefit of the doubt.
    assert.deepEqual(found(['FROM alpine:3.20', 'WORKDIR $HOME'], 'WorkdirRelativePath'), []);
  });

  test('UndefinedVar: everything on scratch, typos and platform args on a registry image, never PATH', () => {
    assert.deepEqual(
      found(['FROM scratch', 'ENV APP_HOME=/app', 'COPY app $APP_HOEM/', 'LABEL v=$VERSION', 'ENV PATH=$PATH:/bin', 'RUN --mount=type=cache,id=$CACHE_ID,target=/c echo $UNDECLARED']),
      [
        "2:9-2:18 UndefinedVar Usage of undefined variable '$APP_HOEM' (did you mean $APP_HOME?)",
        "3:8-3:16 UndefinedVar Usage of undefined variable '$VERSION'",
        "5:26-5:35 UndefinedVar Usage of undefined variable '$CACHE_ID'",
      ],
    );
    assert.deepEqual(found(['FROM alpine:3.20', 'ENV APP_HOME=/app', 'WORKDIR $APP_HOEM', 'USER ${APP_USER}', 'COPY bin-$TARGETARCH /bin/x']), [
      "2:8-2:17 UndefinedVar Usage of undefined variable '$APP_HOEM' (did you mean $APP_HOME?)",
      "4:9-4:20 UndefinedVar Usage of undefined variable '$TARGETARCH'",
    ]);
    // The example of BuildKit's docs.
    assert.deepEqual(found(['FROM alpine', 'ENV PATH=$PAHT:/app/bin'], 'UndefinedVar'), ["1:9-1:14 UndefinedVar Usage of undefined variable '$PAHT' (did you mean $PATH?)"]);
    // An ARG default sees the ARGs before it in the same instruction; an ENV value does not.
    assert.deepEqual(found(['FROM scratch', 'ARG A=1 B=$A', 'ENV C=1 D=$C']), ["2:10-2:12 UndefinedVar Usage of undefined variable '$C' (did you mean $A?)"]);
    // A stage on a stage on scratch knows everything too; declared ARGs without a value count.
    assert.deepEqual(found(['FROM scratch AS base', 'ENV X=1', 'FROM base', 'ARG Y', 'COPY $X$Y /']), []);
  });

  test('MultipleInstructionsDisallowed reports all but the last', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'CMD ["a"]', 'CMD ["b"]', 'HEALTHCHECK NONE', 'CMD ["c"]', 'ENTRYPOINT ["e"]']), [
      '1:0-1:3 MultipleInstructionsDisallowed Multiple CMD instructions should not be used in the same stage because only the last one will be used',
      '2:0-2:3 MultipleInstructionsDisallowed Multiple CMD instructions should not be used in the same stage because only the last one will be used',
    ]);
    assert.deepEqual(found(['FROM alpine:3.20 AS a', 'CMD ["a"]', 'FROM a', 'CMD ["b"]']), []);
  });

  test('LegacyKeyValueFormat', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'ENV A 1', 'LABEL b "two words"', 'ENV C=3 D=4']), [
      '1:4-1:7 LegacyKeyValueFormat "ENV key=value" should be used instead of legacy "ENV key value" format',
      '2:6-2:19 LegacyKeyValueFormat "LABEL key=value" should be used instead of legacy "LABEL key value" format',
    ]);
  });

  test('RedundantTargetPlatform', () => {
    assert.deepEqual(found(['FROM --platform=$TARGETPLATFORM alpine:3.20', 'FROM --platform=${TARGETPLATFORM} alpine:3.20', 'FROM --platform=$BUILDPLATFORM alpine:3.20']), [
      '0:5-0:31 RedundantTargetPlatform Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
      '1:5-1:33 RedundantTargetPlatform Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior',
    ]);
  });

  test('SecretsUsedInArgOrEnv, by BuildKit’s words', () => {
    const text = ['FROM alpine:3.20', 'ARG GITHUB_TOKEN', 'ENV DB_PASSWORD=x API_KEY=y KEYBOARD=z MY_PUBLIC_KEY=k SECRET_FILE=/run/s TOKENS=t'];
    assert.deepEqual(found(text), [
      '1:4-1:16 SecretsUsedInArgOrEnv Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
      '2:4-2:15 SecretsUsedInArgOrEnv Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
      '2:18-2:25 SecretsUsedInArgOrEnv Do not use ARG or ENV instructions for sensitive data (ENV "API_KEY")',
    ]);
  });

  test('InvalidDefaultArgInFrom', () => {
    assert.deepEqual(found(['ARG TAG', 'ARG IMAGE=', 'FROM alpine:${TAG}', 'FROM ${IMAGE}', 'FROM alpine:${NOPE}']), [
      '2:5-2:18 InvalidDefaultArgInFrom Default value for ARG alpine:${TAG} results in empty or invalid base image name',
      '3:5-3:13 InvalidDefaultArgInFrom Default value for ARG ${IMAGE} results in empty or invalid base image name',
      // BuildKit reports both, as here.
      "4:12-4:19 UndefinedArgInFrom FROM argument 'NOPE' is not declared",
      '4:5-4:19 InvalidDefaultArgInFrom Default value for ARG alpine:${NOPE} results in empty or invalid base image name',
    ]);
    assert.deepEqual(found(['ARG TAG=3.20', 'ARG TAG2', 'FROM alpine:${TAG}', 'FROM alpine:${TAG2:-3.20}']), []);
  });

  test('FromPlatformFlagConstDisallowed, unless the stage name names the platform', () => {
    assert.deepEqual(found(['FROM --platform=linux/amd64 alpine:3.20 AS base', 'FROM --platform=linux/arm64 alpine:3.20 AS build_arm64', 'FROM --platform=$BUILDPLATFORM alpine:3.20']), [
      '0:5-0:27 FromPlatformFlagConstDisallowed FROM --platform flag should not use constant value "linux/amd64"',
    ]);
  });

  test('ExposeProtoCasing and ExposeInvalidFormat', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'ENV P=53/UDP', 'EXPOSE 80/TcP 443/tcp 127.0.0.1:80:80 8080:80 $P 9000-9001']), [
      "2:7-2:13 ExposeProtoCasing Defined protocol '80/TcP' in EXPOSE instruction should be lowercase",
      "2:22-2:37 ExposeInvalidFormat EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'",
      "2:38-2:45 ExposeInvalidFormat EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
      "2:46-2:48 ExposeProtoCasing Defined protocol '53/UDP' in EXPOSE instruction should be lowercase",
    ]);
  });

  test('every code has its documentation page and BuildKit’s severity', () => {
    const codes = [...CODES.values()].filter((c) => c.source === 'buildkit');
    const json = codes.find((c) => c.code === 'JSONArgsRecommended')!;
    assert.equal(json.url, 'https://docs.docker.com/reference/build-checks/json-args-recommended/');
    assert.equal(codes.find((c) => c.code === 'FromPlatformFlagConstDisallowed')!.url, 'https://docs.docker.com/reference/build-checks/from-platform-flag-const-disallowed/');
    assert.equal(codes.find((c) => c.code === 'MaintainerDeprecated')!.tag, 'deprecated');
    for (const c of codes.filter((c) => c.code !== 'InvalidBaseImagePlatform' && c.code !== 'CopyIgnoredFile')) assert.equal(c.severity, 'warning', c.code);
  });

  test('bad input never throws', () => {
    for (const text of ['FROM', 'FROM --platform=', 'FROM a AS', 'EXPOSE :::/', 'FROM scratch\nENV ${', 'FROM x\0\nCMD "\n', 'FROM scratch\nARG =x\nLABEL a', 'ARG X=${\nFROM $X', 'x'.repeat(100_000)]) {
      assert.doesNotThrow(() => lint(doc(text), ctx));
    }
  });
});

describe('quick fixes', () => {
  test('StageNameCasing renames the stage and every reference', () => {
    const text = ['FROM alpine:3.20 AS Build', 'FROM BUILD AS next', 'COPY --from=Build /a /b', 'RUN --mount=type=bind,from=BUILD,target=/x true', 'COPY --from=other /a /b'];
    assert.equal(
      fixed(text, 'StageNameCasing'),
      ['FROM alpine:3.20 AS build', 'FROM build AS next', 'COPY --from=build /a /b', 'RUN --mount=type=bind,from=build,target=/x true', 'COPY --from=other /a /b'].join('\n'),
    );
  });

  test('FromAsCasing matches FROM', () => {
    assert.equal(fixed(['from alpine:3.20 AS base'], 'FromAsCasing'), 'from alpine:3.20 as base');
  });

  test('ConsistentInstructionCasing uses the majority casing', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'Run echo', 'CMD ["a"]'], 'ConsistentInstructionCasing'), 'FROM alpine:3.20\nRUN echo\nCMD ["a"]');
  });

  test('MaintainerDeprecated becomes the authors label', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'MAINTAINER Jane "JD" Doe $HOME'], 'MaintainerDeprecated'), 'FROM alpine:3.20\nLABEL org.opencontainers.image.authors="Jane \\"JD\\" Doe \\$HOME"');
  });

  test('JSONArgsRecommended: the words, or sh -c when the shell has work to do', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'CMD my-program  --port 80'], 'JSONArgsRecommended'), 'FROM alpine:3.20\nCMD ["my-program", "--port", "80"]');
    assert.equal(
      fixed(['FROM alpine:3.20', 'ENTRYPOINT exec app --dir "$HOME" | tee log'], 'JSONArgsRecommended'),
      'FROM alpine:3.20\nENTRYPOINT ["/bin/sh", "-c", "exec app --dir \\"$HOME\\" | tee log"]',
    );
  });

  test('LegacyKeyValueFormat writes key=value, quoting what needs it', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'ENV A 1'], 'LegacyKeyValueFormat'), 'FROM alpine:3.20\nENV A=1');
    assert.equal(fixed(['FROM alpine:3.20', 'ENV JAVA_OPTS -Xmx1g -Xms1g'], 'LegacyKeyValueFormat'), 'FROM alpine:3.20\nENV JAVA_OPTS="-Xmx1g -Xms1g"');
    assert.equal(legacyValue('"quoted part" and\\ more', '\\'), '"quoted part"\\ and\\ more');
  });

  test('ExposeProtoCasing lower-cases; RedundantTargetPlatform removes the flag', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'EXPOSE 80/TCP'], 'ExposeProtoCasing'), 'FROM alpine:3.20\nEXPOSE 80/tcp');
    assert.equal(fixed(['FROM --platform=$TARGETPLATFORM  alpine:3.20'], 'RedundantTargetPlatform'), 'FROM alpine:3.20');
  });

  test('NoEmptyContinuation removes the empty lines', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'RUN a \\', '', '  b \\', ' ', '  c'], 'NoEmptyContinuation'), 'FROM alpine:3.20\nRUN a \\\n  b \\\n  c');
  });

  test('every finding can be skipped for the file, through the check directive', () => {
    const skip = 'Skip StageNameCasing in this file';
    // No directive: a new one at the top.
    assert.equal(fixed(['# a comment', 'FROM alpine:3.20 AS A'], 'StageNameCasing', skip), '# check=skip=StageNameCasing\n# a comment\nFROM alpine:3.20 AS A');
    // After the existing directives.
    assert.equal(fixed(['# syntax=docker/dockerfile:1', 'FROM alpine:3.20 AS A'], 'StageNameCasing', skip), '# syntax=docker/dockerfile:1\n# check=skip=StageNameCasing\nFROM alpine:3.20 AS A');
    // Into an existing skip list, or next to other options.
    assert.equal(fixed(['# check=skip=JSONArgsRecommended ', 'FROM alpine:3.20 AS A'], 'StageNameCasing', skip), '# check=skip=JSONArgsRecommended,StageNameCasing \nFROM alpine:3.20 AS A');
    assert.equal(fixed(['# check=error=true', 'FROM alpine:3.20 AS A'], 'StageNameCasing', skip), '# check=error=true;skip=StageNameCasing\nFROM alpine:3.20 AS A');
    // And every BuildKit finding offers it, not preferred.
    const all = buildkit(doc(['FROM alpine:3.20 as A', 'ENV a b', 'CMD x', 'CMD y']));
    assert.deepEqual(all.map((f) => f.code).sort(), ['FromAsCasing', 'JSONArgsRecommended', 'JSONArgsRecommended', 'LegacyKeyValueFormat', 'MultipleInstructionsDisallowed', 'StageNameCasing']);
    for (const f of all) {
      const s = f.fixes!.find((x) => x.title === `Skip ${f.code} in this file`);
      assert.ok(s && !s.preferred, f.code);
    }
  });
});

describe('helpers', () => {
  test('suggestions and references as BuildKit sees them', () => {
    assert.equal(suggest('VERSON', ['VERSION', 'OTHER']), 'VERSION');
    assert.equal(suggest('FOO', ['BARBAZ']), '');
    assert.equal(editDistance('kitten', 'sitting'), 3);
    for (const ok of ['alpine', 'alpine:3.20', 'docker.io/library/alpine:3.20', 'localhost:5000/a/b:c', 'Registry.Example.com/x', 'a@sha256:' + 'a'.repeat(64)]) {
      assert.ok(isValidReference(ok), ok);
    }
    for (const bad of ['', 'alpine:', 'Alpine', ':3.20', 'a b', 'alpine:-x']) assert.ok(!isValidReference(bad), bad);
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.equal(parsePlatform('not a platform'), null);
  });
});

describe('through the language server', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start('node', ['dist/server.js', '--stdio']);
  });
  after(async () => {
    await client.stop();
  });

  const bk = (list: Diagnostic[]) =>
    list
      .filter((d) => d.source === 'buildkit')
      .map((d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.severity} ${d.code}`)
      .sort();

  test('published as warnings with their documentation link', async () => {
    const uri = 'file:///tmp/tug-test/buildkit/e2e/Dockerfile';
    await client.open(uri, ['FROM alpine:3.20 as Build', 'FROM scratch', 'COPY --from=build /a $DEST', 'CMD run it', 'MAINTAINER me'].join('\n'));
    const { diagnostics } = await client.waitForDiagnostics(uri);
    assert.deepEqual(bk(diagnostics), [
      '0:17-0:19 2 FromAsCasing',
      '0:20-0:25 2 StageNameCasing',
      '2:21-2:26 2 UndefinedVar',
      '3:4-3:10 2 JSONArgsRecommended',
      '4:0-4:10 2 MaintainerDeprecated',
    ]);
    const json = diagnostics.find((d) => d.code === 'JSONArgsRecommended')!;
    assert.equal(json.message, 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals');
    assert.equal(json.codeDescription?.href, 'https://docs.docker.com/reference/build-checks/json-args-recommended/');
    assert.deepEqual(diagnostics.find((d) => d.code === 'MaintainerDeprecated')!.tags, [2]);
  });

  test('quick fixes come back as code actions', async () => {
    const uri = 'file:///tmp/tug-test/buildkit/e2e/fix.Dockerfile';
    await client.open(uri, ['FROM alpine:3.20 AS Build', 'COPY --from=Build /a /b'].join('\n'));
    await client.waitForDiagnostics(uri);
    const range = { start: { line: 0, character: 21 }, end: { line: 0, character: 21 } };
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [] } });
    const rename = actions.find((a) => a.title === "Rename stage to 'build'");
    assert.ok(rename?.isPreferred);
    assert.deepEqual(rename.edit?.changes?.[uri], [
      { range: { start: { line: 0, character: 20 }, end: { line: 0, character: 25 } }, newText: 'build' },
      { range: { start: { line: 1, character: 12 }, end: { line: 1, character: 17 } }, newText: 'build' },
    ]);
    const skip = actions.find((a) => a.title === 'Skip StageNameCasing in this file');
    assert.deepEqual(skip?.edit?.changes?.[uri], [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: '# check=skip=StageNameCasing\n' }]);
  });

  test('# check=skip=… removes those checks only', async () => {
    const uri = 'file:///tmp/tug-test/buildkit/e2e/skip.Dockerfile';
    await client.open(uri, ['# check=skip=StageNameCasing,FromAsCasing', 'FROM alpine:3.20 as Build', 'CMD run it', 'FROM node'].join('\n'));
    const { diagnostics } = await client.waitForDiagnostics(uri);
    assert.deepEqual(bk(diagnostics), ['2:4-2:10 2 JSONArgsRecommended']);
    // hadolint is no build check: untouched.
    assert.deepEqual(diagnostics.filter((d) => d.source === 'hadolint').map((d) => d.code), ['DL3006']);
  });

  test('# check=skip=all removes every BuildKit check and nothing else', async () => {
    const uri = 'file:///tmp/tug-test/buildkit/e2e/skip-all.Dockerfile';
    await client.open(uri, ['# check=skip=all', 'FROM alpine:3.20 as Build', 'CMD run it', 'FROM node'].join('\n'));
    const { diagnostics } = await client.waitForDiagnostics(uri);
    assert.deepEqual(bk(diagnostics), []);
    assert.deepEqual(diagnostics.filter((d) => d.source === 'hadolint').map((d) => d.code), ['DL3006']);
  });

  test('# check=error=true turns BuildKit warnings into errors, and only those', async () => {
    const uri = 'file:///tmp/tug-test/buildkit/e2e/error.Dockerfile';
    await client.open(uri, ['# check=error=true', 'FROM alpine:3.20 AS Build', 'CMD run it', 'FROM node'].join('\n'));
    const { diagnostics } = await client.waitForDiagnostics(uri);
    assert.deepEqual(bk(diagnostics), ['1:20-1:25 1 StageNameCasing', '2:4-2:10 1 JSONArgsRecommended']);
    assert.deepEqual(diagnostics.filter((d) => d.source === 'hadolint').map((d) => [d.code, d.severity]), [['DL3006', 2]]);
    // Edited away, the errors go with it.
    await client.change(uri, ['# check=error=true;skip=JSONArgsRecommended', 'FROM alpine:3.20 AS build', 'CMD run it'].join('\n'));
    assert.deepEqual(bk((await client.waitForDiagnostics(uri)).diagnostics), []);
  });
});

test('no official Dockerfile gets an error from the BuildKit checks', () => {
  const dir = join(import.meta.dirname, '../fixtures/dockerfiles/official');
  const files = readdirSync(dir).filter((f) => f.endsWith('Dockerfile'));
  assert.ok(files.length > 10);
  for (const file of files) {
    const d = new Document(`file://${join(dir, file)}`, 1, readFileSync(join(dir, file), 'utf8'));
    const errors = toDiagnostics(d, buildkit(d), ctx).filter((x) => x.severity === 1);
    assert.deepEqual(errors, [], file);
  }
});
