import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FeatureContext } from '../../server/src/context';
import { Document } from '../../server/src/document';
import { lint, toDiagnostics } from '../../server/src/features/diagnostics';
import { CODES } from '../../server/src/rules';
import { splitShell } from '../../server/src/rules/hadolint';
import type { Finding } from '../../server/src/rules/rule';
import { DEFAULT_SETTINGS } from '../../server/src/settings';
import { LspClient } from '../lsp-client';

const ctx: FeatureContext = { settings: DEFAULT_SETTINGS, client: { snippets: true, markdown: true, hierarchicalSymbols: true } };

function doc(lines: string[] | string): Document {
  return new Document('file:///tmp/tug-test/hadolint/Dockerfile', 1, Array.isArray(lines) ? lines.join('\n') : lines);
}

function hadolint(d: Document): Finding[] {
  return lint(d, ctx).filter((f) => CODES.get(f.code)?.source === 'hadolint');
}

/** The hadolint findings as `line:col-line:col code "covered text"`. */
function found(lines: string[] | string, code?: string): string[] {
  const d = doc(lines);
  return hadolint(d)
    .filter((f) => !code || f.code === code)
    .map((f) => {
      const r = d.range(f.span);
      return `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character} ${f.code} ${JSON.stringify(d.text.slice(f.span.start, f.span.end))}`;
    })
    .sort();
}

function fixed(lines: string[], code: string): string {
  const d = doc(lines);
  const fix = hadolint(d).find((f) => f.code === code)?.fixes?.find((f) => f.preferred);
  assert.ok(fix, `no preferred fix for ${code}`);
  let text = d.text;
  for (const e of [...fix.edits].sort((a, b) => b.span.start - a.span.start)) text = text.slice(0, e.span.start) + e.text + text.slice(e.span.end);
  return text;
}

describe('hadolint rules, each triggered and each near miss silent', () => {
  test('DL3006: untagged images, not scratch, stages, digests or resolved tags', () => {
    const text = [
      'ARG BASE=debian:12',
      'ARG PLAIN=debian',
      'ARG UNKNOWN',
      'FROM ubuntu AS build',
      'FROM build',
      'FROM scratch',
      'FROM alpine@sha256:' + 'a'.repeat(64),
      'FROM ${BASE}',
      'FROM ${PLAIN}',
      'FROM ${UNKNOWN}',
      'FROM registry.example.com:5000/team/app',
    ];
    assert.deepEqual(found(text), ['10:5-10:39 DL3006 "registry.example.com:5000/team/app"', '3:5-3:11 DL3006 "ubuntu"', '8:5-8:13 DL3006 "${PLAIN}"']);
    const d = doc(text);
    assert.equal(hadolint(d)[0].message, 'Always tag the version of an image explicitly');
  });

  test('DL3007: latest', () => {
    assert.deepEqual(found(['FROM node:latest', 'FROM node:latest-alpine', 'FROM localhost:5000/node']), ['0:5-0:16 DL3007 "node:latest"', '2:5-2:24 DL3006 "localhost:5000/node"']);
  });

  test('DL3014 and DL3015: apt-get install without -y or --no-install-recommends', () => {
    const text = [
      'FROM debian:12',
      'RUN apt-get update && apt-get install curl && rm -rf /var/lib/apt/lists/*',
      'RUN apt-get install -y --no-install-recommends git && apt-get -qq install make && apt-get --yes -o APT::Install-Recommends=false install a && apt-get install -qy --no-install-recommends b && rm -rf /var/lib/apt/lists/*',
      'RUN apt-get -q install --no-install-recommends c && rm -rf /var/lib/apt/lists/*',
      'RUN echo "apt-get install quoted" && DEBIAN_FRONTEND=noninteractive sudo apt-get install -y d --no-install-recommends && rm -rf /var/lib/apt/lists/*',
    ];
    assert.deepEqual(found(text), [
      '1:22-1:37 DL3014 "apt-get install"',
      '1:22-1:37 DL3015 "apt-get install"',
      '2:54-2:73 DL3015 "apt-get -qq install"',
      '3:4-3:22 DL3014 "apt-get -q install"',
    ]);
    const d = doc(text);
    const messages = new Map(hadolint(d).map((f) => [f.code, f.message]));
    assert.equal(messages.get('DL3014'), 'Use the `-y` switch to avoid manual input `apt-get -y install <package>`');
    assert.equal(messages.get('DL3015'), 'Avoid additional packages by specifying `--no-install-recommends`');
  });

  test('DL3009: lists left behind in a stage that ships', () => {
    const text = [
      'FROM debian:12 AS builder',
      'RUN apt-get update && apt-get install -y --no-install-recommends gcc',
      'FROM debian:12 AS base',
      'RUN apt-get update && apt-get install -y --no-install-recommends curl',
      'FROM base',
      'RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends git',
      'RUN apt-get update \\',
      ' && apt-get install -y --no-install-recommends make \\',
      ' && rm -rf /var/lib/apt/lists/*',
      'RUN apt-get update',
    ];
    // The builder stage is only copied from: its lists never reach the image.
    assert.deepEqual(found(text), ['3:4-3:11 DL3009 "apt-get"', '9:4-9:11 DL3009 "apt-get"']);
  });

  test('DL3003: cd, wherever the command is', () => {
    const text = [
      'FROM alpine:3.20',
      'RUN cd /tmp && make',
      'RUN if [ -d x ]; then cd x; fi',
      'RUN (cd sub && make) || true',
      'RUN echo cd && echo "cd /x" && mkdir cdrom && git clone x --config core.cd=1',
    ];
    assert.deepEqual(found(text), ['1:4-1:6 DL3003 "cd"', '2:22-2:24 DL3003 "cd"', '3:5-3:7 DL3003 "cd"']);
  });

  test('DL3020: ADD for local files, not for URLs or archives', () => {
    const text = [
      'FROM alpine:3.20',
      'ADD app.conf /etc/app/',
      'ADD https://example.com/tool /usr/bin/tool',
      'ADD rootfs.tar.gz /',
      'ADD "vendor.tgz" /vendor/',
      'ADD git@github.com:moby/buildkit.git /src',
      'add --chown=1:1 dir/ /dir/',
    ];
    assert.deepEqual(found(text), ['1:0-1:3 DL3020 "ADD"', '6:0-6:3 DL3020 "add"']);
    assert.equal(CODES.get('DL3020')?.severity, 'error');
  });

  test('DL4006: pipes without pipefail, where the shell is POSIX', () => {
    const text = [
      'FROM alpine:3.20 AS a',
      'RUN wget -O- https://example.com | tar x',
      'RUN set -o pipefail && wget -O- https://example.com | tar x',
      'RUN set -euxo pipefail; curl x | sh',
      'RUN true || false',
      'RUN echo "a|b" \'c|d\' && case "$x" in amd64 | arm64) echo ok ;; *) exit 1 ;; esac && echo $((1 | 2))',
      'RUN ["sh", "-c", "a | b"]',
      'FROM a AS b',
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      'RUN curl x | sh',
      'FROM b',
      'RUN curl x | sh',
      'FROM mcr.microsoft.com/windows/servercore:ltsc2022',
      'RUN dir | findstr x',
      'FROM alpine:3.20',
      'SHELL ["pwsh", "-c"]',
      'RUN a | b',
    ];
    assert.deepEqual(found(text), ['1:33-1:34 DL4006 "|"']);
    assert.match(hadolint(doc(text))[0].message, /^Set the SHELL option -o pipefail before RUN with a pipe in it\./);
  });

  test('DL4006 in a heredoc run as a script, not in one fed to another program', () => {
    const text = ['FROM alpine:3.20', 'RUN <<EOF', 'curl x | sh', 'EOF', 'RUN python3 <<EOF', 'print("a | b")', 'EOF', 'RUN <<EOF', '#!/usr/bin/env python3', 'x | y', 'EOF'];
    assert.deepEqual(found(text), ['2:7-2:8 DL4006 "|"']);
  });

  test('DL3002: the last USER of the final stage is root', () => {
    assert.deepEqual(found(['FROM alpine:3.20', 'USER app', 'USER root']), ['2:5-2:9 DL3002 "root"']);
    assert.deepEqual(found(['FROM alpine:3.20 AS base', 'USER 0:0', 'FROM base']), ['1:5-1:8 DL3002 "0:0"']);
    assert.deepEqual(found(['FROM alpine:3.20 AS build', 'USER root', 'FROM alpine:3.20', 'USER root', 'USER 1000']), []);
  });

  test('# hadolint ignore=… on the line before, and global ignore', () => {
    const text = ['# hadolint global ignore=DL3003', 'FROM ubuntu', 'RUN cd /x', '# hadolint ignore=DL3006', 'FROM debian', 'FROM fedora'];
    assert.deepEqual(found(text), ['1:5-1:11 DL3006 "ubuntu"', '5:5-5:11 DL3006 "fedora"']);
  });

  test('bad input never throws', () => {
    for (const text of ['FROM', 'RUN "unterminated', "FROM a\nRUN 'x", 'FROM a\nRUN $(( ', 'FROM a\nRUN ${x', 'FROM a\nRUN <<EOF\n', 'FROM a\nRUN a >', 'FROM a\nRUN case x in', 'FROM a\nRUN \\', 'FROM a\nRUN ' + 'a | '.repeat(20_000)]) {
      assert.doesNotThrow(() => lint(doc(text), ctx));
    }
  });
});

describe('quick fixes', () => {
  test('DL3014 adds -y, DL3015 adds --no-install-recommends, after install', () => {
    const text = ['FROM debian:12', 'RUN apt-get update \\', '  && apt-get install curl \\', '  && rm -rf /var/lib/apt/lists/*'];
    assert.equal(fixed(text, 'DL3014'), text.join('\n').replace('install curl', 'install -y curl'));
    assert.equal(fixed(text, 'DL3015'), text.join('\n').replace('install curl', 'install --no-install-recommends curl'));
  });

  test('DL3020 turns ADD into COPY, keeping the casing, and not where ADD-only flags are used', () => {
    assert.equal(fixed(['FROM alpine:3.20', 'ADD a /a'], 'DL3020'), 'FROM alpine:3.20\nCOPY a /a');
    assert.equal(fixed(['from alpine:3.20', 'add a /a'], 'DL3020'), 'from alpine:3.20\ncopy a /a');
    const finding = hadolint(doc(['FROM alpine:3.20', 'ADD --checksum=sha256:00 a /a'])).find((f) => f.code === 'DL3020');
    assert.deepEqual(finding?.fixes ?? [], []);
  });
});

describe('the shell splitter', () => {
  const split = (src: string) => splitShell(src, (start, end) => ({ start, end }));
  const commands = (src: string) => split(src).commands.map((c) => [c.name.text, ...c.args.map((a) => a.text)].join(' '));

  test('splits on operators and newlines, removes quotes, skips assignments and redirections', () => {
    assert.deepEqual(commands('A=1 /usr/bin/apt-get -y install "a b" c\'d\' && cd /x; make 2>&1 >/dev/null | tee log\nsudo -E ls'), [
      'apt-get -y install a b cd',
      'cd /x',
      'make',
      'tee log',
      'ls',
    ]);
    assert.deepEqual(split('a | b || c |& d').pipes, [2, 11]);
  });

  test('knows case patterns, arithmetic, parameter expansion and command substitution', () => {
    assert.deepEqual(commands('case "$a" in x|y) cd a ;; *) cd b ;; esac; echo ${v//a|b/c} $((1|2)) "$(cd q)"'), ['cd a', 'cd b', 'echo ${v//a|b/c} $((1|2)) $(cd q)']);
    assert.deepEqual(split('case "$a" in x|y) a ;; esac; echo ${v//a|b/c} $((1|2))').pipes, []);
    assert.deepEqual(commands('x=$(cd /y && pwd)'), ['cd /y', 'pwd']);
  });

  test('words map back to where they are written', () => {
    const { commands: [cmd] } = split('  apt-get   install  x');
    assert.deepEqual([cmd.name.start, cmd.name.end], [2, 9]);
    assert.deepEqual(cmd.args.map((a) => [a.start, a.end]), [[12, 19], [21, 22]]);
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

  test('published with hadolint’s severities and wiki links', async () => {
    const uri = 'file:///tmp/tug-test/hadolint/e2e/Dockerfile';
    await client.open(uri, ['FROM debian', 'RUN apt-get update && apt-get install curl | tee log', 'ADD app /app', 'USER root'].join('\n'));
    const { diagnostics } = await client.waitForDiagnostics(uri);
    const got = diagnostics
      .filter((d) => d.source === 'hadolint')
      .map((d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.severity} ${d.code}`)
      .sort();
    assert.deepEqual(got, [
      '0:5-0:11 2 DL3006',
      '1:22-1:37 2 DL3014',
      '1:22-1:37 3 DL3015',
      '1:4-1:11 3 DL3009',
      '1:43-1:44 2 DL4006',
      '2:0-2:3 1 DL3020',
      '3:5-3:9 2 DL3002',
    ]);
    const dl3006 = diagnostics.find((d) => d.code === 'DL3006')!;
    assert.equal(dl3006.message, 'Always tag the version of an image explicitly');
    assert.equal(dl3006.codeDescription?.href, 'https://github.com/hadolint/hadolint/wiki/DL3006');
  });

  test('the severity setting applies to hadolint codes too', async () => {
    const tug = { diagnostics: { severity: { DL3006: 'off', DL3020: 'hint' } } };
    const tuned = await LspClient.start('node', ['dist/server.js', '--stdio'], { initializationOptions: tug, settings: { tug } });
    try {
      const uri = 'file:///tmp/tug-test/hadolint/e2e/tuned.Dockerfile';
      await tuned.open(uri, ['FROM debian', 'ADD app /app'].join('\n'));
      const { diagnostics } = await tuned.waitForDiagnostics(uri);
      assert.deepEqual(diagnostics.filter((d) => d.source === 'hadolint').map((d) => [d.code, d.severity]), [['DL3020', 4]]);
    } finally {
      await tuned.stop();
    }
  });
});

test('no official Dockerfile gets an error from the hadolint rules', () => {
  const dir = join(import.meta.dirname, '../fixtures/dockerfiles/official');
  const files = readdirSync(dir).filter((f) => f.endsWith('Dockerfile'));
  assert.ok(files.length > 10);
  for (const file of files) {
    const d = new Document(`file://${join(dir, file)}`, 1, readFileSync(join(dir, file), 'utf8'));
    const errors = toDiagnostics(d, hadolint(d), ctx).filter((x) => x.severity === 1);
    assert.deepEqual(errors, [], file);
  }
});
