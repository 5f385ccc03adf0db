// The validator rules (server/src/rules/validator*.ts): one Dockerfile per code with the exact
// range and message, end to end through the real server for a handful; quick fixes applied to the
// text; a differential run against rcjsuen's dockerfile-utils validator over the fixtures and
// seeded mutations of them; and the official fixtures free of validator errors.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validate, ValidationCode } from 'dockerfile-utils';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import type { FeatureContext } from '../../server/src/context';
import { INSTRUCTION_BY_NAME } from '../../server/src/dockerfile/instructions';
import type { Model } from '../../server/src/dockerfile/model';
import { Document } from '../../server/src/document';
import { lint, toDiagnostics } from '../../server/src/features/diagnostics';
import type { Finding, Fix } from '../../server/src/rules/rule';
import { validatorRule } from '../../server/src/rules/validator';
import { checkDuration, isSignal, unclosedQuote } from '../../server/src/rules/validator-values';
import { DEFAULT_SETTINGS } from '../../server/src/settings';
import { LspClient } from '../lsp-client';
import { mulberry32 } from '../helpers/random';

const ctx: FeatureContext = {
  settings: DEFAULT_SETTINGS,
  client: { snippets: true, markdown: true, hierarchicalSymbols: true },
};
const VALIDATOR_CODES = new Set(validatorRule.codes.map((c) => c.code));
const FIXTURES = join(__dirname, '../fixtures/dockerfiles');

let version = 0;
function doc(text: string): Document {
  return new Document('file:///tmp/tug-test/validator/Dockerfile', ++version, text);
}

/** The validator's findings for a text, through the diagnostics feature's lint(). */
function findings(text: string): Finding[] {
  return lint(doc(text), ctx).filter((f) => VALIDATOR_CODES.has(f.code));
}

/** [line, start, end, message] for findings on one line; [[l, c], [l, c], message] otherwise. */
type Expected = [number, number, number, string] | [[number, number], [number, number], string];

function shown(text: string, list: readonly Finding[]): Expected[] {
  const d = doc(text);
  return list.map((f) => {
    const { start, end } = d.range(f.span);
    return start.line === end.line
      ? [start.line, start.character, end.character, f.message]
      : [[start.line, start.character], [end.line, end.character], f.message];
  });
}

function apply(text: string, fix: Fix): string {
  const edits = [...fix.edits].sort((a, b) => b.span.start - a.span.start);
  for (const e of edits) text = text.slice(0, e.span.start) + e.text + text.slice(e.span.end);
  return text;
}

// ---------------------------------------------------------------------------------------------
// One case per code

interface Case {
  code: string;
  text: string;
  expect: Expected[];
}

const CASES: Case[] = [
  { code: 'InstructionCasing', text: 'FROM alpine\nrun echo hi\nOnBuild copy a /b/', expect: [
    [1, 0, 3, 'Instructions should be written in uppercase letters'],
    [2, 0, 7, 'Instructions should be written in uppercase letters'],
    [2, 8, 12, 'Instructions should be written in uppercase letters'],
  ] },
  { code: 'DirectiveCasing', text: '# Escape=`\n# SYNTAX=docker/dockerfile:1\nFROM alpine', expect: [
    [0, 2, 8, 'Parser directives should be written in lowercase letters'],
    [1, 2, 8, 'Parser directives should be written in lowercase letters'],
  ] },
  { code: 'UnknownInstruction', text: 'FROM alpine\nRUNN echo\nINCLUDE x\nONBUILD CPY a b', expect: [
    [1, 0, 4, 'unknown instruction: RUNN (did you mean RUN?)'],
    [2, 0, 7, 'unknown instruction: INCLUDE'],
    [3, 8, 11, 'unknown instruction: CPY (did you mean COPY?)'],
  ] },
  { code: 'NoSourceImage', text: '# just a comment\n', expect: [[0, 0, 0, 'file with no instructions']] },
  { code: 'NoSourceImage', text: 'ARG VERSION=1\n', expect: [[0, 0, 0, 'dockerfile contains no stages to build']] },
  { code: 'NoBuildStage', text: 'ARG V=1\nRUN echo\nenv A=b\nFROM alpine\nRUN echo', expect: [
    [1, 0, 3, 'no build stage in current context'],
    [2, 0, 3, 'no build stage in current context'],
  ] },
  { code: 'MissingArgument', text: 'FROM alpine\nUSER\nVOLUME\nFROM --platform=linux/amd64\nENTRYPOINT', expect: [
    [1, 0, 4, 'USER requires exactly one argument'],
    [2, 0, 6, 'VOLUME requires at least one argument'],
    [3, 0, 4, 'FROM requires either one or three arguments'],
  ] },
  { code: 'ExtraArgument', text: 'FROM alpine\nSTOPSIGNAL SIGTERM SIGKILL now', expect: [
    [1, 19, 26, 'STOPSIGNAL requires exactly one argument'],
    [1, 27, 30, 'STOPSIGNAL requires exactly one argument'],
  ] },
  { code: 'RequiresOneArgument', text: 'FROM alpine\nUSER app staff # the app user', expect: [
    [1, 9, 29, 'USER requires exactly one argument'],
  ] },
  { code: 'RequiresAtLeastOneArgument', text: 'FROM alpine\nHEALTHCHECK --interval=5s', expect: [
    [1, 0, 11, 'HEALTHCHECK requires at least one argument'],
  ] },
  { code: 'RequiresTwoArguments', text: 'FROM alpine\nENV PATH\nLABEL version', expect: [
    [1, 4, 8, 'ENV must have two arguments'],
    [2, 6, 13, 'LABEL must have two arguments'],
  ] },
  { code: 'RequiresAtLeastTwoArguments', text: 'FROM alpine\nCOPY app.py\nADD ["a"]\nCOPY --chown=1:1', expect: [
    [1, 5, 11, 'COPY requires at least two arguments, but only one was provided. Destination could not be determined.'],
    [2, 5, 8, 'ADD requires at least two arguments, but only one was provided. Destination could not be determined.'],
    [3, 0, 4, 'COPY requires at least two arguments, but only one was provided. Destination could not be determined.'],
  ] },
  { code: 'FromArgumentCount', text: 'FROM alpine AS\nFROM alpine AS a b', expect: [
    [0, 12, 14, 'FROM requires either one or three arguments'],
    [1, 17, 18, 'FROM requires either one or three arguments'],
  ] },
  { code: 'UnnecessaryArgument', text: 'FROM alpine\nHEALTHCHECK NONE CMD true', expect: [
    [1, 17, 25, 'HEALTHCHECK NONE takes no arguments'],
  ] },
  { code: 'InvalidStageName', text: 'FROM alpine AS 1st\nFROM alpine AS my_stage!\nFROM alpine AS Build-1.x', expect: [
    [0, 15, 18, 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
    [1, 15, 24, 'invalid name for build stage: "my_stage!", name can\'t start with a number or contain symbols'],
  ] },
  { code: 'InvalidAs', text: 'FROM alpine IS build', expect: [[0, 12, 14, 'Second argument should be AS']] },
  { code: 'InvalidReferenceFormat', text: 'FROM alpine:\nFROM alpine:3.20@sha256:abc\nFROM alpine:-x\nFROM alpine@sha256:' + 'a'.repeat(64), expect: [
    [0, 5, 12, 'invalid reference format'],
    [1, 17, 27, 'invalid reference format'],
    [2, 12, 14, 'invalid reference format'],
  ] },
  { code: 'BaseNameEmpty', text: 'FROM ${IMAGE}\nARG TAG\nFROM $TAG\nFROM ${NAME:-alpine}\nFROM $BUILDPLATFORM', expect: [
    [0, 5, 13, 'base name (${IMAGE}) should not be blank'],
    [2, 5, 9, 'base name ($TAG) should not be blank'],
  ] },
  { code: 'UnknownFlag', text: 'FROM --plattform=linux/amd64 alpine\nCOPY --chmodd=755 a /b/\nWORKDIR --parents /srv\nRUN --=x true', expect: [
    [0, 5, 16, 'Unknown flag: plattform (did you mean platform?)'],
    [1, 5, 13, 'Unknown flag: chmodd (did you mean chmod?)'],
    [2, 8, 17, 'Unknown flag: parents'],
    [3, 4, 8, 'Unknown flag: '],
  ] },
  { code: 'DuplicateFlag', text: 'FROM alpine\nCOPY --from=a --chown=1 --from=b x /y/\nRUN --mount=type=tmpfs,target=/a --mount=type=tmpfs,target=/b true', expect: [
    [1, 7, 11, 'Duplicate flag specified: from'],
    [1, 26, 30, 'Duplicate flag specified: from'],
  ] },
  { code: 'FlagMissingValue', text: 'FROM alpine\nCOPY --chown --link= a /b/\nRUN --network true', expect: [
    [1, 7, 12, 'Missing a value on flag: chown'],
    [1, 15, 19, 'Missing a value on flag: link'],
    [2, 6, 13, 'Missing a value on flag: network'],
  ] },
  { code: 'ExpectedBoolean', text: 'FROM alpine\nCOPY --link=yes --parents=TRUE a /b/', expect: [
    [1, 12, 15, 'Expecting boolean value for flag link, not: yes'],
  ] },
  { code: 'InvalidFlagValue', text: [
    'FROM alpine',
    'RUN --network=internet --security=privileged true',
    'RUN --mount=type=nope,target=/x true',
    'RUN --mount=type=cache,target=/x,sharing=sometimes,size=1m,targt=/y true',
    'RUN --mount=type=bind,target=/x,ro=maybe,required,mode=0644 true',
    'RUN --mount=type=secret,id=npm,required=true,mode=0400 --mount=type=ssh,required true',
  ].join('\n'), expect: [
    [1, 14, 22, 'invalid network mode "internet"'],
    [1, 34, 44, 'security "privileged" is not valid'],
    [2, 17, 21, 'unsupported mount type "nope"'],
    [3, 41, 50, 'unsupported sharing value "sometimes"'],
    [3, 51, 55, "unexpected key 'size' for mount type 'cache'"],
    [3, 59, 64, "unexpected key 'targt' in 'targt=/y'"],
    [4, 35, 40, 'invalid value for ro: maybe'],
    [4, 41, 49, "unexpected key 'required' for mount type 'bind'"],
    [4, 50, 54, "unexpected key 'mode' for mount type 'bind'"],
  ] },
  { code: 'InvalidFromFlag', text: 'FROM alpine AS build\nCOPY --from=-x a /b/\nCOPY --from= a /b/\nCOPY --from=Build --from=$STAGE a /b/', expect: [
    [1, 12, 14, 'invalid from flag value -x: invalid reference format'],
    [2, 5, 12, 'invalid from flag value : invalid reference format'],
  ] },
  { code: 'InvalidDuration', text: 'FROM alpine\nHEALTHCHECK --interval=abc --timeout=+ CMD true', expect: [
    [1, 23, 26, 'time: invalid duration "abc"'],
    [1, 37, 38, 'time: invalid duration "+"'],
  ] },
  { code: 'DurationMissingUnit', text: 'FROM alpine\nHEALTHCHECK --timeout=30 --interval=0 CMD true', expect: [
    [1, 22, 24, 'time: missing unit in duration "30"'],
  ] },
  { code: 'DurationUnknownUnit', text: 'FROM alpine\nHEALTHCHECK --timeout=30sec CMD true', expect: [
    [1, 22, 27, 'time: unknown unit "sec" in duration "30sec"'],
  ] },
  { code: 'DurationTooShort', text: 'FROM alpine\nHEALTHCHECK --timeout=500us --interval=-1s --start-period=0s CMD true', expect: [
    [1, 14, 21, 'Interval "timeout" cannot be less than 1ms'],
    [1, 30, 38, 'Interval "interval" cannot be less than 1ms'],
  ] },
  { code: 'FlagAtLeastOne', text: 'FROM alpine\nHEALTHCHECK --retries=-1 CMD true\nHEALTHCHECK --retries=0 CMD true', expect: [
    [1, 22, 24, '--retries cannot be negative (-1)'],
  ] },
  { code: 'InvalidSyntax', text: 'FROM alpine\nHEALTHCHECK --retries=three --start-interval=1s CMD true', expect: [
    [1, 22, 27, 'strconv.ParseInt: parsing "three": invalid syntax'],
  ] },
  { code: 'UnknownHealthcheckType', text: 'FROM alpine\nHEALTHCHECK RUN curl -f localhost', expect: [
    [1, 12, 15, 'Unknown type "RUN" in HEALTHCHECK (try CMD)'],
  ] },
  { code: 'HealthcheckMissingCommand', text: 'FROM alpine\nHEALTHCHECK --interval=5s CMD\nHEALTHCHECK CMD [ ]', expect: [
    [1, 26, 29, 'Missing command after HEALTHCHECK CMD'],
    [2, 16, 19, 'Missing command after HEALTHCHECK CMD'],
  ] },
  { code: 'InvalidDestination', text: 'FROM alpine\nCOPY a b dest\nADD ["a", "b", "c"]\nCOPY a b $DIR\nCOPY a b dir/', expect: [
    [1, 9, 13, 'When using COPY with more than one source file, the destination must be a directory and end with a /'],
    [2, 15, 18, 'When using ADD with more than one source file, the destination must be a directory and end with a /'],
  ] },
  { code: 'InvalidPort', text: 'FROM alpine\nEXPOSE 80a 70000 80: 8080-8000 8080', expect: [
    [1, 7, 10, 'invalid containerPort: 80a'],
    [1, 11, 16, 'invalid containerPort: 70000'],
    [1, 17, 20, 'no port specified: 80:<empty>'],
    [1, 21, 30, 'invalid containerPort: 8080-8000'],
  ] },
  { code: 'InvalidProtocol', text: 'FROM alpine\nEXPOSE 53/tpc 80/TCP 443/sctp', expect: [[1, 10, 13, 'invalid proto: tpc']] },
  { code: 'InvalidSignal', text: 'FROM alpine\nSTOPSIGNAL SIGFOO\nSTOPSIGNAL sigquit\nSTOPSIGNAL 0', expect: [
    [1, 11, 17, 'Invalid signal: SIGFOO'],
    [3, 11, 12, 'Invalid signal: 0'],
  ] },
  { code: 'OnbuildChaining', text: 'FROM alpine\nONBUILD ONBUILD RUN x', expect: [
    [1, 8, 15, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
  ] },
  { code: 'OnbuildTriggerDisallowed', text: 'FROM alpine\nONBUILD FROM alpine\nONBUILD maintainer me', expect: [
    [1, 8, 12, "FROM isn't allowed as an ONBUILD trigger"],
    [2, 8, 18, "MAINTAINER isn't allowed as an ONBUILD trigger"],
  ] },
  { code: 'ShellJsonForm', text: 'FROM alpine\nSHELL /bin/bash -c\nSHELL ["/bin/sh" "-c"]', expect: [
    [1, 6, 18, 'SHELL requires the arguments to be in JSON form'],
    [2, 6, 22, 'SHELL requires the arguments to be in JSON form'],
  ] },
  { code: 'ShellRequiresArgument', text: 'FROM alpine\nSHELL [ ]', expect: [[1, 6, 9, 'SHELL requires at least one argument']] },
  { code: 'MissingEquals', text: 'FROM alpine\nENV A=1 B C=2', expect: [
    [1, 8, 9, 'Syntax error - can\'t find = in "B". Must be of the form: name=value'],
  ] },
  { code: 'MissingName', text: 'FROM alpine\nLABEL =x\nARG =1', expect: [
    [1, 6, 8, 'LABEL names can not be blank'],
    [2, 4, 6, 'ARG names can not be blank'],
  ] },
  { code: 'UnterminatedSingleQuote', text: "FROM alpine\nENV A='x y\nCOPY 'a b /c/", expect: [
    [1, 6, 10, 'failed to process "\'x y": unexpected end of statement while looking for matching single-quote'],
    [2, 5, 7, 'failed to process "\'a": unexpected end of statement while looking for matching single-quote'],
  ] },
  { code: 'UnterminatedDoubleQuote', text: 'FROM alpine\nLABEL a="b\nFROM "alpine', expect: [
    [1, 8, 10, 'failed to process "\\"b": unexpected end of statement while looking for matching double-quote'],
    [2, 5, 12, 'failed to process "\\"alpine": unexpected end of statement while looking for matching double-quote'],
  ] },
  { code: 'UnsupportedModifier', text: 'FROM alpine\nENV A=${B:x} C=${D=e} F=${G:-h}\nRUN echo ${A:x}', expect: [
    [1, 10, 11, 'failed to process "${B:x}": unsupported modifier (:x) in substitution'],
    [1, 18, 19, 'failed to process "${D=e}": unsupported modifier (=) in substitution'],
  ] },
  { code: 'JsonInSingleQuotes', text: "FROM alpine\nCMD ['node', 'app.js']\nRUN --network=none ['a',]", expect: [
    [1, 4, 22, 'Instruction written as a JSON array but is using single quotes instead of double quotes'],
    [2, 19, 25, 'Instruction written as a JSON array but is using single quotes instead of double quotes'],
  ] },
];

describe('each code, on its minimal Dockerfile', () => {
  for (const { code, text, expect } of CASES) {
    test(`${code}: ${JSON.stringify(text).slice(0, 60)}`, () => {
      assert.deepEqual(shown(text, findings(text).filter((f) => f.code === code)), expect);
    });
  }

  test('every code of the rule has a case', () => {
    assert.deepEqual([...VALIDATOR_CODES].filter((c) => !CASES.some((k) => k.code === c)), []);
  });

  test('default severities follow dockerfile-utils: warnings for casing and single-quoted JSON', () => {
    const warnings = validatorRule.codes.filter((c) => c.severity === 'warning').map((c) => c.code);
    assert.deepEqual(warnings.sort(), ['DirectiveCasing', 'InstructionCasing', 'JsonInSingleQuotes']);
    assert.ok(validatorRule.codes.every((c) => c.source === 'dockerfile'));
  });

  test('flags of today\'s BuildKit are known, and a valid file gets nothing', () => {
    const text = [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=alpine:3.20',
      'FROM --platform=$BUILDPLATFORM ${BASE} AS build',
      'ARG TARGETOS TARGETARCH',
      'RUN --mount=type=cache,target=/root/.cache,sharing=locked,id=go --mount=type=bind,source=.,target=/src,rw \\',
      '    --mount=type=secret,id=token,env=TOKEN,required --mount=type=tmpfs,target=/tmp,size=64m \\',
      '    --mount=type=ssh --network=none --security=sandbox --device=nvidia.com/gpu=all go build ./...',
      'COPY --link --parents --exclude=*.md --chmod=755 --chown=1000:1000 a b /app/',
      'ADD --keep-git-dir=true --checksum=sha256:0123 --unpack=false --link https://example.com/x.git /src/',
      'FROM scratch',
      'COPY --from=build /out /',
      'COPY <<EOF /etc/motd',
      'hello',
      'EOF',
      'HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0 --start-interval=2s --retries=0 CMD ["true"]',
      'EXPOSE 80 443/tcp 53/udp 8000-8010 9000:9000',
      'STOPSIGNAL SIGRTMIN+3',
      'ENV A=1 B="two words" C=${A:-x}',
      'LABEL org.opencontainers.image.title="x"',
      'USER 1000:1000',
      'ENTRYPOINT ["/app"]',
      'CMD ["--help"]',
      'ONBUILD COPY . /src/',
    ].join('\n');
    assert.deepEqual(shown(text, findings(text)), []);
  });

  test('half-typed and malformed input never throws', () => {
    const nasty = [
      'FROM', 'FROM \\', 'RUN --mount=', 'RUN --mount=,,,=', 'COPY --', 'HEALTHCHECK CMD', 'ONBUILD', 'ONBUILD ONBUILD',
      'ENV "', "ENV '", 'ENV ${', 'EXPOSE ${P', 'STOPSIGNAL $', 'FROM ${', 'SHELL [', 'CMD [\'', 'LABEL =', '\0\0', 'x'.repeat(100_000),
      'FROM a\nCOPY <<EOF', '# escape=`\nFROM a`\n', 'HEALTHCHECK --interval=1\u00b5s --timeout=9999999999999h CMD x',
    ];
    for (const text of nasty) {
      const model = doc(text).model;
      assert.doesNotThrow(() => validatorRule.check({ doc: doc(text), model, ctx, report: () => {} }), text.slice(0, 40));
    }
  });
});

describe('value checks', () => {
  test('durations follow Go\'s time.ParseDuration and BuildKit\'s 1ms minimum', () => {
    assert.equal(checkDuration('1h2m3.5s'), null);
    assert.equal(checkDuration('0'), null);
    assert.equal(checkDuration('-0s'), null);
    assert.equal(checkDuration('1\u00b5s')?.kind, 'tooShort');
    assert.equal(checkDuration('1.5.5s')?.kind, 'missingUnit');
    assert.equal(checkDuration('.s')?.kind, 'invalid');
    assert.deepEqual(checkDuration('1d'), { kind: 'unknownUnit', unit: 'd' });
  });

  test('signals as moby parses them', () => {
    for (const s of ['SIGTERM', 'term', 'SigKill', '9', 'SIGRTMIN+15', 'RTMAX-1']) assert.ok(isSignal(s), s);
    for (const s of ['SIGFOO', '0', 'SIGRTMIN+16', '', 'SIG']) assert.ok(!isSignal(s), s);
  });

  test('quotes left open, with the escape character', () => {
    assert.equal(unclosedQuote('"a\\"b"', '\\'), null);
    assert.equal(unclosedQuote('"a\\"b', '\\'), 'double');
    assert.equal(unclosedQuote("'a\\'", '\\'), null);
    assert.equal(unclosedQuote('a\\\'b', '\\'), null);
    assert.equal(unclosedQuote('"a`"b"', '`'), null);
  });
});

// ---------------------------------------------------------------------------------------------
// Quick fixes

describe('quick fixes', () => {
  function fixes(text: string, code: string): { titles: string[]; preferred: string[]; results: string[] } {
    const f = findings(text).find((x) => x.code === code);
    assert.ok(f, `${code} is reported`);
    const list = f.fixes ?? [];
    return {
      titles: list.map((x) => x.title),
      preferred: list.filter((x) => x.preferred).map((x) => x.title),
      results: list.map((x) => apply(text, x)),
    };
  }

  test('casing: the upper- or lower-cased word, preferred', () => {
    assert.deepEqual(fixes('FROM alpine\nrun x', 'InstructionCasing'), {
      titles: ['Change to RUN'], preferred: ['Change to RUN'], results: ['FROM alpine\nRUN x'],
    });
    assert.deepEqual(fixes('# ESCAPE=`\nFROM alpine', 'DirectiveCasing'), {
      titles: ['Change to escape'], preferred: ['Change to escape'], results: ['# escape=`\nFROM alpine'],
    });
  });

  test('unknown flag: each close flag of the instruction, the closest preferred', () => {
    assert.deepEqual(fixes('FROM alpine\nCOPY --chow=1 a /b/', 'UnknownFlag'), {
      titles: ['Change to --chown', 'Change to --chmod'],
      preferred: ['Change to --chown'],
      results: ['FROM alpine\nCOPY --chown=1 a /b/', 'FROM alpine\nCOPY --chmod=1 a /b/'],
    });
    assert.deepEqual(fixes('FROM alpine\nRUN --mounts=type=cache,target=/c x', 'UnknownFlag').results, [
      'FROM alpine\nRUN --mount=type=cache,target=/c x',
    ]);
    assert.deepEqual(fixes('FROM alpine\nCOPY --zzzzzz a /b/', 'UnknownFlag').titles, []);
  });

  test('unknown instruction: the nearest instruction', () => {
    assert.deepEqual(fixes('FORM alpine', 'UnknownInstruction'), {
      titles: ['Change to FROM'], preferred: ['Change to FROM'], results: ['FROM alpine'],
    });
  });

  test('closed-set values: one fix per valid value', () => {
    assert.deepEqual(fixes('FROM alpine\nRUN --network=nonee x', 'InvalidFlagValue'), {
      titles: ['Change to default', 'Change to none', 'Change to host'],
      preferred: [],
      results: ['FROM alpine\nRUN --network=default x', 'FROM alpine\nRUN --network=none x', 'FROM alpine\nRUN --network=host x'],
    });
    assert.deepEqual(fixes('FROM alpine\nRUN --mount=type=cache,target=/c,sharing=lock x', 'InvalidFlagValue').results, [
      'FROM alpine\nRUN --mount=type=cache,target=/c,sharing=shared x',
      'FROM alpine\nRUN --mount=type=cache,target=/c,sharing=private x',
      'FROM alpine\nRUN --mount=type=cache,target=/c,sharing=locked x',
    ]);
    assert.deepEqual(fixes('FROM alpine\nCOPY --link=yes a /b/', 'ExpectedBoolean').results, [
      'FROM alpine\nCOPY --link=true a /b/',
      'FROM alpine\nCOPY --link=false a /b/',
    ]);
  });

  test('JSON in single quotes: the array with double quotes', () => {
    assert.deepEqual(fixes("FROM alpine\nCMD ['node', 'it\"s.js',]", 'JsonInSingleQuotes'), {
      titles: ['Change to ["node", "it\\"s.js"]'],
      preferred: ['Change to ["node", "it\\"s.js"]'],
      results: ['FROM alpine\nCMD ["node", "it\\"s.js"]'],
    });
  });

  test('AS, and the EXPOSE protocol', () => {
    assert.deepEqual(fixes('FROM alpine As build\nFROM alpine AZ build', 'InvalidAs').results, ['FROM alpine As build\nFROM alpine AS build']);
    assert.deepEqual(fixes('FROM alpine\nEXPOSE 53/ucp', 'InvalidProtocol'), {
      titles: ['Change to tcp', 'Change to udp'],
      preferred: [],
      results: ['FROM alpine\nEXPOSE 53/tcp', 'FROM alpine\nEXPOSE 53/udp'],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real server

describe('over stdio', () => {
  const uri = 'file:///tmp/tug-test/validator/Dockerfile';
  let client: LspClient;
  before(async () => {
    client = await LspClient.start('node', ['dist/server.js', '--stdio']);
  });
  after(async () => {
    await client?.stop();
  });

  const ours = (list: Diagnostic[]) =>
    list
      .filter((d) => VALIDATOR_CODES.has(String(d.code)))
      .map((d) => [d.code, d.severity, d.source, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.message]);

  test('the validator diagnostics of a document, with severities and ranges', async () => {
    const text = [
      'RUN echo early',
      'FROM alpine:3.20 AS build',
      'run --mounts=type=cache,target=/c make',
      'RUN --network=internet curl -f example.com',
      'HEALTHCHECK --timeout=500us CMD true',
      "CMD ['make', 'serve']",
      'EXPORT 8080',
    ].join('\n');
    await client.open(uri, text);
    const published = await client.waitForDiagnostics(uri);
    assert.deepEqual(ours(published.diagnostics), [
      ['NoBuildStage', 1, 'dockerfile', 0, 0, 0, 3, 'no build stage in current context'],
      ['InstructionCasing', 2, 'dockerfile', 2, 0, 2, 3, 'Instructions should be written in uppercase letters'],
      ['UnknownFlag', 1, 'dockerfile', 2, 4, 2, 12, 'Unknown flag: mounts (did you mean mount?)'],
      ['InvalidFlagValue', 1, 'dockerfile', 3, 14, 3, 22, 'invalid network mode "internet"'],
      ['DurationTooShort', 1, 'dockerfile', 4, 14, 4, 21, 'Interval "timeout" cannot be less than 1ms'],
      ['JsonInSingleQuotes', 2, 'dockerfile', 5, 4, 5, 21, 'Instruction written as a JSON array but is using single quotes instead of double quotes'],
      ['UnknownInstruction', 1, 'dockerfile', 6, 0, 6, 6, 'unknown instruction: EXPORT (did you mean EXPOSE?)'],
    ]);
  });

  test('an edit that fixes the file clears them', async () => {
    await client.change(uri, 'FROM alpine:3.20 AS build\nRUN --mount=type=cache,target=/c make\nCMD ["make", "serve"]\nEXPOSE 8080');
    const published = await client.waitForDiagnostics(uri);
    assert.deepEqual(ours(published.diagnostics), []);
  });

  test('a severity setting turns a code off or changes it', async () => {
    client.settings = { tug: { diagnostics: { severity: { InstructionCasing: 'off', UnknownFlag: 'warning' } } } };
    await client.notify('workspace/didChangeConfiguration', { settings: client.settings });
    // The notification is handled before the change, so the first publish reflects it.
    await client.change(uri, 'FROM alpine\nrun --mnt=x true');
    const published = await client.waitForDiagnostics(uri);
    assert.deepEqual(ours(published.diagnostics), [
      ['UnknownFlag', 2, 'dockerfile', 1, 4, 1, 9, 'Unknown flag: mnt (did you mean mount?)'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Differential: dockerfile-utils 0.16.3

/** dockerfile-utils' code → ours. */
const CODE_MAP: Record<string, readonly string[]> = {
  CASING_INSTRUCTION: ['InstructionCasing'],
  CASING_DIRECTIVE: ['DirectiveCasing'],
  ARGUMENT_MISSING: ['MissingArgument'],
  ARGUMENT_EXTRA: ['ExtraArgument'],
  ARGUMENT_REQUIRES_ONE: ['RequiresOneArgument'],
  ARGUMENT_REQUIRES_AT_LEAST_ONE: ['RequiresAtLeastOneArgument'],
  ARGUMENT_REQUIRES_TWO: ['RequiresTwoArguments'],
  ARGUMENT_REQUIRES_AT_LEAST_TWO: ['RequiresAtLeastTwoArguments'],
  ARGUMENT_REQUIRES_ONE_OR_THREE: ['FromArgumentCount'],
  ARGUMENT_UNNECESSARY: ['UnnecessaryArgument'],
  INVALID_BUILD_STAGE_NAME: ['InvalidStageName'],
  FLAG_AT_LEAST_ONE: ['FlagAtLeastOne'],
  FLAG_DUPLICATE: ['DuplicateFlag'],
  FLAG_INVALID_DURATION: ['InvalidDuration'],
  FLAG_LESS_THAN_1MS: ['DurationTooShort'],
  FLAG_MISSING_DURATION: ['DurationMissingUnit'],
  FLAG_MISSING_VALUE: ['FlagMissingValue'],
  FLAG_UNKNOWN_UNIT: ['DurationUnknownUnit'],
  // dockerfile-utils uses one code for a file without FROM and for an instruction before it.
  NO_SOURCE_IMAGE: ['NoSourceImage', 'NoBuildStage'],
  INVALID_AS: ['InvalidAs'],
  INVALID_DESTINATION: ['InvalidDestination'],
  INVALID_PORT: ['InvalidPort'],
  INVALID_PROTO: ['InvalidProtocol'],
  INVALID_REFERENCE_FORMAT: ['InvalidReferenceFormat'],
  INVALID_SIGNAL: ['InvalidSignal'],
  INVALID_SYNTAX: ['InvalidSyntax'],
  ONBUILD_CHAINING_DISALLOWED: ['OnbuildChaining'],
  ONBUILD_TRIGGER_DISALLOWED: ['OnbuildTriggerDisallowed'],
  SHELL_JSON_FORM: ['ShellJsonForm'],
  SHELL_REQUIRES_ONE: ['ShellRequiresArgument'],
  SYNTAX_MISSING_EQUALS: ['MissingEquals'],
  SYNTAX_MISSING_NAMES: ['MissingName'],
  SYNTAX_MISSING_SINGLE_QUOTE: ['UnterminatedSingleQuote'],
  SYNTAX_MISSING_DOUBLE_QUOTE: ['UnterminatedDoubleQuote'],
  UNKNOWN_INSTRUCTION: ['UnknownInstruction'],
  UNKNOWN_ADD_FLAG: ['UnknownFlag'],
  UNKNOWN_COPY_FLAG: ['UnknownFlag'],
  UNKNOWN_FROM_FLAG: ['UnknownFlag'],
  UNKNOWN_HEALTHCHECK_FLAG: ['UnknownFlag'],
  UNKNOWN_TYPE: ['UnknownHealthcheckType'],
  UNSUPPORTED_MODIFIER: ['UnsupportedModifier'],
  HEALTHCHECK_CMD_ARGUMENT_MISSING: ['HealthcheckMissingCommand'],
  FLAG_INVALID_FROM_VALUE: ['InvalidFromFlag'],
  FLAG_EXPECTED_BOOLEAN_VALUE: ['ExpectedBoolean'],
  JSON_IN_SINGLE_QUOTES: ['JsonInSingleQuotes'],
  BASE_NAME_EMPTY: ['BaseNameEmpty'],
  // Reported by the parse rule (rules/parse.ts).
  INVALID_ESCAPE_DIRECTIVE: ['InvalidEscapeDirective'],
  DUPLICATED_ESCAPE_DIRECTIVE: ['DuplicateDirective'],
};

/** Checked by the BuildKit rules (rules/buildkit.ts), not by the validator. */
const NOT_OURS = new Set([
  'DUPLICATE_BUILD_STAGE_NAME',
  'EMPTY_CONTINUATION_LINE',
  'MULTIPLE_INSTRUCTIONS',
  'DEPRECATED_MAINTAINER',
  'WORKDIR_IS_NOT_ABSOLUTE',
]);

interface Theirs {
  code: string;
  start: number;
  end: number;
  /** The document text in their range. */
  text: string;
}

interface Context {
  model: Model;
  ours: readonly Finding[];
}

const overlaps = (f: Finding, d: Theirs) => (f.span.start < d.end && d.start < f.span.end) || (f.span.start === d.start && f.span.end === d.end);
const FLAG_CODE = /^(UNKNOWN_\w+_FLAG|FLAG_\w+|INVALID_SYNTAX)$/;

/** The instruction holding their range, and its ONBUILD trigger. */
function instructionsAt(d: Theirs, c: Context) {
  const i = c.model.instructionAt(d.start);
  return i ? (i.trigger ? [i, i.trigger] : [i]) : [];
}

/**
 * Where today's BuildKit (which we follow) disagrees with dockerfile-utils, so that one of its
 * diagnostics has no counterpart of ours on the same range. Each entry says why and recognizes
 * exactly those places.
 */
const ALLOWED: { why: string; applies(d: Theirs, c: Context): boolean }[] = [
  {
    why: 'BuildKit accepts HEALTHCHECK --retries=0; only a negative count fails',
    applies: (d) => d.code === 'FLAG_AT_LEAST_ONE' && Number(d.text) === 0,
  },
  {
    why: 'dockerfile-utils reads --retries with parseInt, which stops at the first non-digit ("0CMD" is 0); Go\'s strconv.ParseInt refuses the value, and so do we',
    applies: (d, c) => d.code === 'FLAG_AT_LEAST_ONE' && c.ours.some((f) => f.code === 'InvalidSyntax' && f.span.start === d.start && f.span.end === d.end),
  },
  {
    why: 'BuildKit takes a duration of 0 (any unit) as "the default"; only non-zero durations must be at least 1ms',
    applies: (d, c) => {
      if (d.code !== 'FLAG_MISSING_DURATION' && d.code !== 'FLAG_LESS_THAN_1MS') return false;
      const flag = instructionsAt(d, c).flatMap((i) => i.flags).find((f) => f.nameSpan.start === d.start || f.valueSpan?.start === d.start);
      return flag?.value != null && checkDuration(flag.value) === null;
    },
  },
  {
    why: 'Go\'s time.ParseDuration classifies some malformed durations differently (e.g. "1m-5s" is invalid, not an unknown unit "-"); we report Go\'s error on the same flag',
    applies: (d, c) => {
      if (!/^FLAG_(INVALID_DURATION|LESS_THAN_1MS|MISSING_DURATION|UNKNOWN_UNIT)$/.test(d.code)) return false;
      const flag = instructionsAt(d, c).flatMap((i) => i.flags).find((f) => d.start >= f.start && d.end <= f.end);
      return !!flag && c.ours.some((f) => /^(InvalidDuration|Duration\w+)$/.test(f.code) && f.span.start >= flag.start && f.span.end <= flag.end);
    },
  },
  {
    why: 'EXPOSE [ip:]hostPort:containerPort is valid for nat.ParsePortSpec (BuildKit\'s ExposeInvalidFormat check warns about it)',
    applies: (d) => d.code === 'INVALID_PORT' && /^(\d{1,3}\.){3}\d{1,3}:/.test(d.text.replace(/\\(.)/g, '$1')),
  },
  {
    why: 'ENTRYPOINT without arguments is valid: BuildKit resets the entrypoint',
    applies: (d) => d.code === 'ARGUMENT_MISSING' && d.text.toUpperCase() === 'ENTRYPOINT',
  },
  {
    why: 'STOPSIGNAL names are case-insensitive (moby\'s ParseSignal upper-cases them)',
    applies: (d) => d.code === 'INVALID_SIGNAL' && isSignal(d.text),
  },
  {
    why: 'the word has a quote left open: BuildKit fails on that first, and we report the unterminated quote there',
    applies: (d, c) => c.ours.some((f) => /^Unterminated(Single|Double)Quote$/.test(f.code) && overlaps(f, d)),
  },
  {
    why: 'the quotes are balanced: BuildKit\'s lexer reads "a"b fine, dockerfile-utils wants the quote to end the value',
    applies: (d, c) => /^SYNTAX_MISSING_(SINGLE|DOUBLE)_QUOTE$/.test(d.code) && unclosedQuote(d.text.replace(/\\\r?\n/g, ''), c.model.syntax.escape) === null,
  },
  {
    why: 'BuildKit removes quotes and escapes, and joins continuation lines, before it parses a base image reference',
    applies: (d, c) => d.code === 'INVALID_REFERENCE_FORMAT' && (/['"\n]/.test(d.text) || d.text.includes(c.model.syntax.escape)),
  },
  {
    why: 'instruction boundaries: a line ending with the escape character continues onto the next (a line holding only it included), as in BuildKit; dockerfile-ast starts instructions elsewhere',
    applies: (d, c) =>
      (d.code === 'UNKNOWN_INSTRUCTION' || d.code === 'NO_SOURCE_IMAGE') &&
      (d.text.includes(c.model.syntax.escape) ||
        !c.model.syntax.instructions.some((i) => i.keywordSpan.start === d.start || i.trigger?.keywordSpan.start === d.start)),
  },
  {
    why: 'a line ending with a doubled escape character still continues in BuildKit (the first one stays in the text), so the words around it differ',
    applies: (d, c) => {
      const e = c.model.syntax.escape === '`' ? '`' : '\\\\';
      const doubled = new RegExp(`${e}${e}[ \\t]*\\r?$`, 'm');
      return instructionsAt(d, c).some((i) => doubled.test(c.model.syntax.text.slice(i.start, i.end)));
    },
  },
  {
    why: 'a word running over a continuation line: BuildKit keeps the escaped character (the first of the next line) in it; we report the same problem from the same place',
    applies: (d, c) => c.ours.some((f) => f.span.start === d.start && (d.text.includes('\n') || c.model.syntax.text.slice(f.span.start, f.span.end).includes('\n'))),
  },
  {
    why: 'BuildKit reads flags on every instruction (then refuses them); dockerfile-ast takes them as arguments of STOPSIGNAL, SHELL, ONBUILD, ENV, EXPOSE, …',
    applies: (d, c) => instructionsAt(d, c).some((i) => i.flags.length > 0 && INSTRUCTION_BY_NAME.get(i.keyword)?.flags.length === 0),
  },
  {
    why: 'quotes and backslashes inside a flag: BuildKit removes them (a quote left open takes the rest of the line into the flag)',
    applies: (d, c) =>
      (/^UNKNOWN_\w+_FLAG$/.test(d.code) && /['"\\]/.test(d.text)) ||
      instructionsAt(d, c).some((i) => i.flags.some((f) => /['"\\]/.test(c.model.syntax.text.slice(f.start, f.end)))),
  },
  {
    why: 'a bare `--` ends the flags in BuildKit; what follows are arguments',
    applies: (d, c) =>
      (/^UNKNOWN_\w+_FLAG$/.test(d.code) && d.text === '--') ||
      instructionsAt(d, c).some((i) => /(^|\s)--$/.test(i.logical.text.slice(0, i.argsAt).trimEnd())),
  },
  {
    why: 'flags stop at the first word that does not start with `--` (quoted or escaped ones included); what dockerfile-ast reads as flags after it are arguments',
    applies: (d, c) => FLAG_CODE.test(d.code) && instructionsAt(d, c).some((i) => i.args !== null && d.start >= i.args.start),
  },
  {
    why: 'dockerfile-ast loses arguments that start with the escape character (`ENV \\A=1`)',
    applies: (d, c) => d.code === 'ARGUMENT_MISSING' && instructionsAt(d, c).some((i) => i.args !== null),
  },
  {
    why: 'BuildKit takes the HEALTHCHECK type as written (escapes and quotes included) and refuses it; we report the unknown type',
    applies: (d, c) =>
      /^(UNKNOWN_TYPE|ARGUMENT_REQUIRES_AT_LEAST_ONE|ARGUMENT_UNNECESSARY|HEALTHCHECK_CMD_ARGUMENT_MISSING)$/.test(d.code) &&
      c.ours.some((f) => f.code === 'UnknownHealthcheckType' && instructionsAt(d, c).some((i) => f.span.start >= i.start && f.span.end <= i.end)),
  },
  {
    why: 'dockerfile-utils finds an EXPOSE protocol by the first occurrence of its first letter (and miscounts a one-letter one); we report it after the `/`',
    applies: (d, c) => d.code === 'INVALID_PROTO' && c.ours.some((f) => f.code === 'InvalidProtocol' && overlaps(f, d)),
  },
  {
    why: 'BuildKit expands variables only in ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR (and in ONBUILD triggers of those); elsewhere the shell reads ${…}',
    applies: (d, c) => d.code === 'UNSUPPORTED_MODIFIER' && instructionsAt(d, c).some((i) => !INSTRUCTION_BY_NAME.get((i.trigger ?? i).keyword)?.expands),
  },
  {
    why: 'BuildKit expands variables in COPY --from',
    applies: (d) => d.code === 'FLAG_INVALID_FROM_VALUE' && d.text.includes('$'),
  },
  {
    why: 'ARG declares several names at once; dockerfile-ast sees only one, so the base image variable looks undeclared',
    applies: (d, c) => {
      const name = /^\$\{?(\w+)/.exec(d.text)?.[1];
      return d.code === 'BASE_NAME_EMPTY' && !!name && instructionsAt(d, c).some((i) => !!c.model.lookup(c.model.scopeOf(i), name));
    },
  },
  {
    why: 'BuildKit splits an ONBUILD trigger at whitespace: `FROM\\ x` is the unknown instruction `FROM\\`',
    applies: (d, c) =>
      /^ONBUILD_/.test(d.code) &&
      instructionsAt(d, c).some((i) => !!i.trigger && c.model.syntax.text.slice(i.trigger.keywordSpan.start, i.trigger.keywordSpan.end).includes(c.model.syntax.escape)),
  },
  {
    why: '`\\[]` is not a JSON array for BuildKit, so SHELL is not in JSON form (we say that)',
    applies: (d, c) => d.code === 'SHELL_REQUIRES_ONE' && d.text.includes(c.model.syntax.escape),
  },
  {
    why: 'the escape directive\'s value runs to the end of the line in BuildKit (rules/parse.ts reports all of it)',
    applies: (d, c) => d.code === 'INVALID_ESCAPE_DIRECTIVE' && c.ours.some((f) => f.code === 'InvalidEscapeDirective' && f.span.start === d.start),
  },
];


const BAD_FLAGS = [
  '--foo', '--from=', '--link=maybe', '--interval=5x', '--retries=abc', '--platform', '--chown', '--mount=type=nope',
  '--network=foo', '--timeout=0.5ms', '--', '--=x', '--FROM=a', '--start-period=-1s', '--parents=x', '--security=x',
  '--mount=type=cache,sharing=x,target=/a', '--interval=1.5.5s', '--retries=-2', '--keep-git-dir=',
];

/** One to three of: a case change, a deleted or duplicated word or line, a bad flag, a stray quote or backslash. */
function mutate(text: string, rand: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const lines = text.split('\n');
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const li = Math.floor(rand() * lines.length);
    // Keep a CRLF file's \r at the end of its line (a lone \r is another line break for LSP).
    const cr = lines[li].endsWith('\r') ? '\r' : '';
    let line = cr ? lines[li].slice(0, -1) : lines[li];
    const words = line.split(/(\s+)/);
    const wi = Math.floor(rand() * words.length);
    switch (Math.floor(rand() * 7)) {
      case 0: {
        const w = words.findIndex((x) => x.trim() !== '');
        if (w >= 0) words[w] = rand() < 0.5 ? words[w].toLowerCase() : words[w][0] + words[w].slice(1).toLowerCase();
        line = words.join('');
        break;
      }
      case 1:
        words.splice(wi, 1);
        line = words.join('');
        break;
      case 2:
        words.splice(wi, 0, words[wi] ?? '', ' ');
        line = words.join('');
        break;
      case 3: {
        const m = /^\s*\S+/.exec(line);
        if (m) line = `${m[0]} ${pick(BAD_FLAGS)}${line.slice(m[0].length)}`;
        break;
      }
      case 4: {
        const at = Math.floor(rand() * (line.length + 1));
        line = line.slice(0, at) + (rand() < 0.5 ? "'" : '"') + line.slice(at);
        break;
      }
      case 5: {
        const at = rand() < 0.5 ? line.length : Math.floor(rand() * (line.length + 1));
        line = `${line.slice(0, at)}\\${line.slice(at)}`;
        break;
      }
      default:
        lines.splice(li, 1);
        continue;
    }
    lines[li] = line + cr;
  }
  return lines.join('\n');
}

function fixtures(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const dir of ['broken', 'official']) {
    for (const f of readdirSync(join(FIXTURES, dir)).sort()) out.push({ name: `${dir}/${f}`, text: readFileSync(join(FIXTURES, dir, f), 'utf8') });
  }
  return out;
}

describe('differential against dockerfile-utils', () => {
  const VARIANTS = Number(process.env.VALIDATOR_VARIANTS ?? 400);

  test(`every dockerfile-utils diagnostic on the fixtures and ${VARIANTS} mutations is one of ours, or allowed`, () => {
    const files = fixtures();
    assert.ok(files.length >= 20, 'the fixtures are there');
    const rand = mulberry32(20240611);
    const cases = [...files];
    for (let i = 0; i < VARIANTS; i++) {
      const { name, text } = files[Math.floor(rand() * files.length)];
      cases.push({ name: `${name} (variant ${i})`, text: mutate(text, rand) });
    }

    const missing: string[] = [];
    const allowed = new Map<string, number>();
    let matched = 0;
    let crashes = 0;
    for (const { name, text } of cases) {
      let theirs: ReturnType<typeof validate>;
      try {
        theirs = validate(text);
      } catch {
        // dockerfile-ast throws on some broken heredocs; nothing to compare then.
        crashes++;
        continue;
      }
      const d = doc(text);
      const ours = lint(d, ctx);
      const context: Context = { model: d.model, ours };
      for (const diagnostic of theirs) {
        const code = ValidationCode[diagnostic.code as number];
        if (NOT_OURS.has(code)) continue;
        const mapped = CODE_MAP[code];
        assert.ok(mapped, `no mapping for ${code}`);
        const start = d.offsetAt(diagnostic.range.start);
        const end = d.offsetAt(diagnostic.range.end);
        if (ours.some((f) => mapped.includes(f.code) && f.span.start === start && f.span.end === end)) {
          matched++;
          continue;
        }
        const t: Theirs = { code, start, end, text: text.slice(start, end) };
        const allowance = ALLOWED.find((a) => a.applies(t, context));
        if (allowance) {
          allowed.set(allowance.why, (allowed.get(allowance.why) ?? 0) + 1);
          continue;
        }
        const { line, character } = diagnostic.range.start;
        missing.push(`${name}: ${code} at ${line}:${character} ${JSON.stringify(t.text)} (${diagnostic.message}); line: ${JSON.stringify(d.lines.lineText(line))}`);
      }
    }
    assert.deepEqual(missing, []);
    // The comparison must have compared something, and the allowances stay exceptions.
    assert.ok(matched > 300, `matched ${matched}`);
    const allowedTotal = [...allowed.values()].reduce((a, b) => a + b, 0);
    assert.ok(allowedTotal < matched / 2, `allowed ${allowedTotal} of ${matched + allowedTotal}`);
    assert.ok(crashes < cases.length / 20, `dockerfile-utils crashed on ${crashes} variants`);
  });
});

// ---------------------------------------------------------------------------------------------
// The official fixtures

describe('official fixtures', () => {
  for (const f of readdirSync(join(FIXTURES, 'official')).sort()) {
    test(`${f} has no validator error`, () => {
      const d = doc(readFileSync(join(FIXTURES, 'official', f), 'utf8'));
      const ours = lint(d, ctx).filter((x) => VALIDATOR_CODES.has(x.code));
      const errors = toDiagnostics(d, ours, ctx).filter((x) => x.severity === 1);
      assert.deepEqual(errors.map((x) => `${x.code} ${x.range.start.line}:${x.range.start.character} ${x.message}`), []);
    });
  }
});
