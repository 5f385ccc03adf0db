import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { ClientCapabilities, CompletionItem, CompletionList, MarkupContent, Range, TextEdit } from 'vscode-languageserver-protocol';
import { INSTRUCTIONS, SIGNALS } from '../../server/src/dockerfile/instructions';
import { LspClient, vscodeLikeCapabilities } from '../lsp-client';

// Completion over the real server: keywords (snippets or plain), directives, flags and their
// values, --mount options, variables, stage names, AS, signals and build-context paths.
// `§` marks the cursor in each document.

const SERVER: [string, string[]] = ['node', ['dist/server.js', '--stdio']];

let client: LspClient;
let plain: LspClient;
let count = 0;
let context: string;

before(async () => {
  const capabilities: ClientCapabilities = structuredClone(vscodeLikeCapabilities);
  capabilities.textDocument!.completion!.completionItem!.snippetSupport = false;
  capabilities.textDocument!.hover!.contentFormat = ['plaintext'];
  [client, plain] = await Promise.all([LspClient.start(...SERVER), LspClient.start(...SERVER, { capabilities })]);
  // A build context on disk for COPY/ADD sources.
  context = mkdtempSync(join(tmpdir(), 'tug-completion-'));
  mkdirSync(join(context, 'src', 'lib'), { recursive: true });
  mkdirSync(join(context, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(context, 'src', 'main.ts'), '');
  writeFileSync(join(context, 'README.md'), '');
  writeFileSync(join(context, 'secret.env'), '');
  writeFileSync(join(context, '.dockerignore'), 'node_modules\n*.env\n');
});

after(async () => {
  await Promise.all([client.stop(), plain.stop()]);
  rmSync(context, { recursive: true, force: true });
});

/** Opens `source` (with `§` at the cursor) and asks for completion there. */
async function complete(source: string, options: { with?: LspClient; uri?: string } = {}): Promise<CompletionItem[]> {
  const c = options.with ?? client;
  const offset = source.indexOf('§');
  assert.ok(offset >= 0, 'the source marks the cursor with §');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  const uri = options.uri ?? `file:///tmp/tug-test/completion/${++count}/Dockerfile`;
  await c.open(uri, text);
  const before = text.slice(0, offset).split('\n');
  const position = { line: before.length - 1, character: before[before.length - 1].length };
  const result = await c.request<CompletionList | CompletionItem[] | null>('textDocument/completion', { textDocument: { uri }, position });
  await c.close(uri);
  if (!result) return [];
  return Array.isArray(result) ? result : result.items;
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label);
/** An item's documentation, which comes on completionItem/resolve rather than with the list. */
async function documentation(item: CompletionItem, c = client): Promise<MarkupContent> {
  assert.equal(item.documentation, undefined, 'the list leaves documentation to resolve');
  const resolved = await c.request<CompletionItem>('completionItem/resolve', item);
  return resolved.documentation as MarkupContent;
}
const edit = (item: CompletionItem | undefined): TextEdit => {
  assert.ok(item, 'item exists');
  assert.ok(item.textEdit && 'range' in item.textEdit, `${item.label} has a TextEdit`);
  return item.textEdit;
};
const range = (line: number, start: number, end: number): Range => ({ start: { line, character: start }, end: { line, character: end } });
const item = (items: CompletionItem[], label: string) => items.find((i) => i.label === label);

describe('instruction keywords', () => {
  test('every instruction at the start of an empty file, as snippets', async () => {
    const items = await complete('§');
    assert.deepEqual(labels(items), INSTRUCTIONS.map((i) => i.name));
    const from = item(items, 'FROM')!;
    assert.deepEqual(edit(from), { range: range(0, 0, 0), newText: 'FROM ${1:image}:${2:tag}' });
    assert.equal(from.insertTextFormat, 2);
    assert.equal(from.kind, 14);
    assert.equal(from.detail, 'Start a new build stage from a base image.');
    const doc = await documentation(from);
    assert.equal(doc.kind, 'markdown');
    assert.match(doc.value, /Starts a new build stage/);
    assert.deepEqual(item(items, 'MAINTAINER')!.tags, [1]);
    assert.equal(item(items, 'RUN')!.tags, undefined);
  });

  test('a partly typed keyword is replaced, in lower case when typed in lower case', async () => {
    const items = await complete('FROM alpine\nru§');
    assert.deepEqual(labels(items), INSTRUCTIONS.map((i) => i.name.toLowerCase()));
    assert.deepEqual(edit(item(items, 'run')), { range: range(1, 0, 2), newText: 'run ${1:command}' });
    const upper = await complete('FROM alpine\nRu§');
    assert.equal(edit(item(upper, 'RUN')).newText, 'RUN ${1:command}');
  });

  test('the whole keyword is replaced, without a snippet when arguments follow', async () => {
    const items = await complete('FROM alpine\nCO§PY a b');
    assert.deepEqual(edit(item(items, 'COPY')), { range: range(1, 0, 4), newText: 'COPY' });
    assert.equal(item(items, 'COPY')!.insertTextFormat, 1);
  });

  test('plain keywords and plain-text documentation for a client without snippets or Markdown', async () => {
    const items = await complete('FROM alpine\n§', { with: plain });
    const from = item(items, 'FROM')!;
    assert.deepEqual(edit(from), { range: range(1, 0, 0), newText: 'FROM' });
    assert.equal(from.insertTextFormat, 1);
    const doc = await documentation(from, plain);
    assert.equal(doc.kind, 'plaintext');
    assert.doesNotMatch(doc.value, /```|`/);
  });

  test('after ONBUILD only the instructions allowed as triggers', async () => {
    const items = await complete('FROM alpine\nONBUILD §');
    assert.deepEqual(labels(items), INSTRUCTIONS.filter((i) => i.onbuild).map((i) => i.name));
    for (const banned of ['FROM', 'ONBUILD', 'MAINTAINER']) assert.ok(!labels(items).includes(banned), banned);
    assert.deepEqual(edit(item(items, 'RUN')), { range: range(1, 8, 8), newText: 'RUN ${1:command}' });
    const typed = await complete('FROM alpine\nONBUILD co§');
    assert.deepEqual(edit(item(typed, 'copy')), { range: range(1, 8, 10), newText: 'copy ${1:source} ${2:dest}' });
  });

  test('after HEALTHCHECK: CMD, NONE and its flags', async () => {
    const items = await complete('FROM alpine\nHEALTHCHECK §');
    assert.deepEqual(labels(items), ['CMD', 'NONE', '--interval', '--timeout', '--start-period', '--start-interval', '--retries']);
    assert.deepEqual(edit(item(items, 'CMD')), { range: range(1, 12, 12), newText: 'CMD' });
    assert.deepEqual(edit(item(items, '--interval')), { range: range(1, 12, 12), newText: '--interval=' });
    const later = await complete('FROM alpine\nHEALTHCHECK --interval=5s §');
    assert.deepEqual(labels(later), ['CMD', 'NONE', '--timeout', '--start-period', '--start-interval', '--retries']);
  });

  test('no keywords in the middle of a command', async () => {
    assert.deepEqual(await complete('FROM alpine\nRUN apt-get install §'), []);
    assert.deepEqual(await complete('FROM alpine\n# a comment §'), []);
  });
});

describe('parser directives', () => {
  test('names in a comment at the top of the file', async () => {
    const items = await complete('# §\nFROM alpine');
    assert.deepEqual(labels(items), ['syntax', 'escape', 'check']);
    assert.deepEqual(edit(item(items, 'syntax')), { range: range(0, 2, 2), newText: 'syntax=' });
    const typed = await complete('# syntax=docker/dockerfile:1\n#esc§\nFROM alpine');
    assert.deepEqual(labels(typed), ['escape', 'check']);
    assert.deepEqual(edit(item(typed, 'escape')), { range: range(1, 1, 4), newText: 'escape=' });
  });

  test('values after name=', async () => {
    const items = await complete('# syntax=§\nFROM alpine');
    assert.deepEqual(labels(items), ['docker/dockerfile:1', 'docker/dockerfile:1-labs', 'docker.io/docker/dockerfile:1', 'docker/dockerfile-upstream:master', 'docker/dockerfile-upstream:master-labs']);
    assert.deepEqual(edit(item(items, 'docker/dockerfile:1')), { range: range(0, 9, 9), newText: 'docker/dockerfile:1' });
    const replaced = await complete('# syntax=docker/§dockerfile:1-labs\nFROM alpine');
    assert.deepEqual(edit(item(replaced, 'docker/dockerfile:1')).range, range(0, 9, 33));
    assert.deepEqual(labels(await complete('# escape=§')), ['\\', '`']);
  });

  test('check: names after skip=, booleans after error=', async () => {
    const skip = await complete('# check=skip=JSONArgsRecommended,§\nFROM alpine');
    assert.ok(labels(skip).includes('StageNameCasing'));
    assert.ok(!labels(skip).includes('JSONArgsRecommended'), 'a listed check is not offered again');
    assert.deepEqual(edit(item(skip, 'StageNameCasing')).range, range(0, 33, 33));
    assert.deepEqual(labels(await complete('# check=skip=all;error=§')), ['true', 'false']);
  });

  test('not after an instruction or another comment', async () => {
    assert.deepEqual(await complete('FROM alpine\n# §'), []);
    assert.deepEqual(await complete('# hello\n# §\nFROM alpine'), []);
  });
});

describe('flags', () => {
  test('every flag of the instruction after --, with = where a value follows', async () => {
    const items = await complete('FROM alpine\nRUN --§');
    assert.deepEqual(labels(items), ['--mount', '--network', '--security', '--device']);
    assert.deepEqual(edit(item(items, '--network')), { range: range(1, 4, 6), newText: '--network=' });
    const copy = await complete('FROM alpine\nCOPY -§');
    assert.deepEqual(labels(copy), ['--from', '--chown', '--chmod', '--link', '--parents', '--exclude']);
    assert.equal(edit(item(copy, '--link')).newText, '--link');
    assert.equal(edit(item(copy, '--chown')).newText, '--chown=');
  });

  test('flags already given are left out unless repeatable', async () => {
    const items = await complete('FROM alpine\nCOPY --link --exclude=*.md --ch§ a b');
    assert.deepEqual(labels(items), ['--from', '--chown', '--chmod', '--parents', '--exclude']);
    assert.deepEqual(edit(item(items, '--chmod')).range, range(1, 27, 31));
    const run = await complete('FROM alpine\nRUN --network=none --mount=type=tmpfs,target=/t --§');
    assert.deepEqual(labels(run), ['--mount', '--security', '--device']);
  });

  test('closed value sets and booleans', async () => {
    const network = await complete('FROM alpine\nRUN --network=§ true');
    assert.deepEqual(labels(network), ['default', 'none', 'host']);
    assert.deepEqual(edit(item(network, 'none')), { range: range(1, 14, 14), newText: 'none' });
    assert.deepEqual(labels(await complete('FROM alpine\nRUN --security=in§')), ['sandbox', 'insecure']);
    const link = await complete('FROM alpine\nCOPY --link=§ a b');
    assert.deepEqual(labels(link), ['true', 'false']);
    assert.deepEqual(await complete('FROM alpine\nCOPY --chown=§ a b'), []);
  });
});

describe('--mount', () => {
  test('--mount= offers type=, then the types', async () => {
    const start = await complete('FROM alpine\nRUN --mount=§');
    assert.deepEqual(labels(start), ['type']);
    assert.deepEqual(edit(start[0]), { range: range(1, 12, 12), newText: 'type=' });
    const types = await complete('FROM alpine\nRUN --mount=type=§');
    assert.deepEqual(labels(types), ['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
    assert.deepEqual(edit(item(types, 'cache')), { range: range(1, 17, 17), newText: 'cache' });
  });

  test('after a comma, the options of the mount type not yet given', async () => {
    const cache = await complete('FROM alpine\nRUN --mount=type=cache,§');
    assert.deepEqual(labels(cache), ['id', 'target', 'readonly', 'sharing', 'from', 'source', 'mode', 'uid', 'gid']);
    assert.deepEqual(edit(item(cache, 'target')), { range: range(1, 23, 23), newText: 'target=' });
    assert.deepEqual(edit(item(cache, 'readonly')).newText, 'readonly');
    const secret = await complete('FROM alpine\nRUN --mount=type=secret,id=npm,dst=/root/.npmrc,§ npm ci');
    assert.deepEqual(labels(secret), ['env', 'required', 'mode', 'uid', 'gid', 'source']);
    // Without a type, bind's options (bind is the default) and type=.
    const bind = await complete('FROM alpine\nRUN --mount=target=/src,§');
    assert.deepEqual(labels(bind), ['type', 'source', 'from', 'rw', 'readonly']);
  });

  test('option values: sharing, booleans and stage names', async () => {
    const sharing = await complete('FROM alpine\nRUN --mount=type=cache,target=/c,sharing=§ true');
    assert.deepEqual(labels(sharing), ['shared', 'private', 'locked']);
    assert.deepEqual(edit(item(sharing, 'locked')), { range: range(1, 41, 41), newText: 'locked' });
    const from = await complete('FROM golang AS build\nFROM alpine\nRUN --mount=type=bind,from=§,target=/src ls');
    assert.deepEqual(labels(from), ['build']);
    assert.deepEqual(edit(from[0]), { range: range(2, 27, 27), newText: 'build' });
  });
});

describe('variables', () => {
  const source = ['ARG VERSION=1.2.3', 'ARG UNUSED', 'FROM alpine:${VERSION} AS build', 'ARG VERSION', 'ENV APP=/srv/$VERSION', 'ARG LATER=x'];

  test('after $: ARG/ENV names visible there, with their values, plus usable predefined args', async () => {
    const items = await complete([...source.slice(0, 5), 'RUN echo $§'].join('\n'));
    const names = labels(items);
    assert.deepEqual(names.slice(0, 2), ['APP', 'VERSION']);
    assert.equal(item(items, 'APP')!.detail, '/srv/1.2.3');
    assert.equal(item(items, 'VERSION')!.detail, '1.2.3');
    assert.deepEqual(edit(item(items, 'APP')), { range: range(5, 10, 10), newText: 'APP' });
    // Proxy args are predefined in RUN; platform args need an ARG inside a stage.
    assert.ok(names.includes('HTTP_PROXY'));
    assert.ok(!names.includes('TARGETPLATFORM'));
    assert.ok(!names.includes('UNUSED'), 'a global ARG is not visible in a stage until redeclared');
    assert.ok(!names.includes('LATER'));
  });

  test('after ${ the closing brace is inserted, unless it is there', async () => {
    const items = await complete([...source.slice(0, 5), 'RUN echo ${AP§'].join('\n'));
    assert.deepEqual(edit(item(items, 'APP')), { range: range(5, 11, 13), newText: 'APP}' });
    const closed = await complete([...source.slice(0, 5), 'WORKDIR ${A§}/bin'].join('\n'));
    assert.deepEqual(edit(item(closed, 'APP')), { range: range(5, 10, 11), newText: 'APP' });
  });

  test('FROM sees the global ARGs and the platform args', async () => {
    const items = await complete('ARG VERSION=1.2.3\nARG UNUSED\nFROM --platform=$§ alpine');
    const names = labels(items);
    assert.deepEqual(names.slice(0, 2), ['VERSION', 'UNUSED']);
    assert.equal(item(items, 'UNUSED')!.detail, 'ARG without a value');
    assert.ok(names.includes('BUILDPLATFORM') && names.includes('TARGETPLATFORM'));
    assert.ok(!names.includes('HTTP_PROXY'));
  });

  test('in a heredoc body, and not after an escaped $', async () => {
    const heredoc = await complete('FROM alpine\nENV HOME_DIR=/home\nRUN <<EOF\necho $HO§\nEOF');
    assert.deepEqual(edit(item(heredoc, 'HOME_DIR')), { range: range(3, 6, 8), newText: 'HOME_DIR' });
    assert.deepEqual(await complete('FROM alpine\nENV A=1\nRUN echo \\$§'), []);
  });
});

describe('stages, AS and signals', () => {
  const stages = 'FROM golang:1.22 AS build\nFROM build AS test\nFROM alpine AS final\n';

  test('COPY --from= offers the earlier stages, not its own nor later ones', async () => {
    const items = await complete(`FROM golang:1.22 AS build\nFROM build AS test\nCOPY --from=§ /a /b\nFROM alpine AS final`);
    assert.deepEqual(labels(items), ['build']);
    assert.deepEqual(edit(items[0]), { range: range(2, 12, 12), newText: 'build' });
    assert.equal(items[0].detail, 'stage 0: FROM golang:1.22');
    const all = await complete(`${stages}COPY --from=t§ /a /b`);
    assert.deepEqual(labels(all), ['build', 'test']);
    assert.deepEqual(edit(all[0]).range, range(3, 12, 13));
  });

  test('FROM offers the earlier stage names, then AS', async () => {
    assert.deepEqual(labels(await complete(`${stages}FROM §`)), ['build', 'test', 'final']);
    assert.deepEqual(labels(await complete('FROM §')), []);
    const as = await complete('FROM alpine §');
    assert.deepEqual(labels(as), ['AS']);
    assert.deepEqual(edit(as[0]), { range: range(0, 12, 12), newText: 'AS' });
    assert.deepEqual(labels(await complete('from alpine §')), ['as']);
    assert.deepEqual(await complete('FROM alpine AS §'), []);
  });

  test('STOPSIGNAL offers the signals', async () => {
    const items = await complete('FROM alpine\nSTOPSIGNAL SIGQ§');
    assert.deepEqual(labels(items), [...SIGNALS]);
    assert.deepEqual(edit(item(items, 'SIGQUIT')), { range: range(1, 11, 15), newText: 'SIGQUIT' });
    assert.deepEqual(await complete('FROM alpine\nSTOPSIGNAL SIGTERM §'), []);
  });
});

describe('COPY and ADD sources from the build context', () => {
  const uri = () => pathToFileURL(join(context, 'Dockerfile')).href;

  test('the entries of the context, directories with a trailing slash, .dockerignore applied', async () => {
    const items = await complete('FROM alpine\nCOPY §', { uri: uri() });
    assert.deepEqual(labels(items).sort(), ['.dockerignore', 'README.md', 'src/']);
    assert.deepEqual(edit(item(items, 'src/')), { range: range(1, 5, 5), newText: 'src/' });
    assert.equal(item(items, 'src/')!.kind, 19);
    assert.equal(item(items, 'README.md')!.kind, 17);
  });

  test('the directory being typed', async () => {
    const items = await complete('FROM alpine\nADD --chown=1:1 src/m§ /app/', { uri: uri() });
    assert.deepEqual(labels(items).sort(), ['lib/', 'main.ts']);
    assert.deepEqual(edit(item(items, 'main.ts')), { range: range(1, 20, 21), newText: 'main.ts' });
    assert.deepEqual(labels(await complete('FROM alpine\nCOPY ./src/lib/§', { uri: uri() })), []);
  });

  test('nothing outside the context, for --from, for URLs or for untitled documents', async () => {
    assert.deepEqual(await complete('FROM alpine\nCOPY ../§', { uri: uri() }), []);
    assert.deepEqual(await complete('FROM alpine AS a\nFROM alpine\nCOPY --from=a §', { uri: uri() }), []);
    assert.deepEqual(await complete('FROM alpine\nADD https://§', { uri: uri() }), []);
    assert.deepEqual(await complete('FROM alpine\nCOPY missing/§', { uri: uri() }), []);
    assert.deepEqual(await complete('FROM alpine\nCOPY §', { uri: 'untitled:Untitled-1' }), []);
  });
});

test('a 10,000-line Dockerfile answers from the instruction at the cursor', async () => {
  const lines = ['# syntax=docker/dockerfile:1', 'ARG BASE=alpine:3.20'];
  let s = 0;
  while (lines.length < 10_000) {
    lines.push(`FROM \${BASE} AS stage${s}`, `ARG V${s}=${s}`, `ENV E${s}=$V${s}`);
    for (let k = 0; k < 16; k++) lines.push(`RUN --mount=type=cache,target=/c echo $E${s} \\`, `    && make -j${k}`);
    s++;
  }
  const last = s - 1;
  const stages = await complete(`${lines.join('\n')}\nCOPY --from=§ /a /b`);
  assert.deepEqual(labels(stages), Array.from({ length: last }, (_, i) => `stage${i}`));
  assert.deepEqual(edit(stages[0]).range, range(lines.length, 12, 12));
  const vars = await complete(`${lines.join('\n')}\nRUN echo \${E§`);
  assert.deepEqual(labels(vars).slice(0, 2), [`E${last}`, `V${last}`]);
  assert.equal(item(vars, `E${last}`)!.detail, String(last));
  const middle = [...lines];
  middle[5001] = 'RUN --netw§';
  const flags = await complete(middle.join('\n'));
  assert.deepEqual(labels(flags), ['--mount', '--network', '--security', '--device']);
  assert.deepEqual(edit(item(flags, '--network')).range, range(5001, 4, 10));
});
