import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type {
  DocumentHighlight,
  Location,
  Position,
  Range,
  TextEdit,
  WorkspaceEdit,
} from 'vscode-languageserver-protocol';
import { LspClient } from '../lsp-client';

// Definition, references, document highlight and rename over the real server: stages, ARG/ENV
// variables with BuildKit's scoping, and heredoc delimiters.

const uri = 'file:///tmp/tug-test/navigation/Dockerfile';
const lines = [
  /*  0 */ 'ARG BASE=alpine',
  /*  1 */ 'ARG VERSION=3.19',
  /*  2 */ 'FROM --platform=$TARGETPLATFORM ${BASE}:${VERSION} AS build',
  /*  3 */ 'ARG VERSION',
  /*  4 */ 'ENV APP=/app',
  /*  5 */ "RUN echo $VERSION $APP 'literal $APP'",
  /*  6 */ 'FROM build AS test',
  /*  7 */ 'RUN echo $APP',
  /*  8 */ 'COPY --from=build <<EOF /etc/app.conf',
  /*  9 */ 'home=${APP}',
  /* 10 */ 'EOF',
  /* 11 */ 'FROM alpine AS other',
  /* 12 */ 'ENV APP=/other',
  /* 13 */ 'RUN --mount=type=cache,from=BUILD,target=/c echo $APP $BASE',
  /* 14 */ 'ONBUILD RUN echo $APP',
  /* 15 */ '',
];
const text = lines.join('\n');

/** The range of the nth `needle` on a line. */
function word(line: number, needle: string, nth = 0): Range {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = lines[line].indexOf(needle, at + 1);
    assert.ok(at >= 0, `no ${needle} #${nth} on line ${line}`);
  }
  return { start: { line, character: at }, end: { line, character: at + needle.length } };
}

/** A position inside the nth `needle` on a line (one character in). */
function inside(line: number, needle: string, nth = 0): Position {
  const { start } = word(line, needle, nth);
  return { line, character: start.character + 1 };
}

const loc = (range: Range): Location => ({ uri, range });

function applyEdits(source: string, edits: TextEdit[]): string {
  const offset = (p: Position) => source.split('\n').slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let out = source;
  for (const e of sorted) out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
  await client.open(uri, text);
});
after(async () => {
  await client?.stop();
});

const definition = (position: Position) => client.request<Location[]>('textDocument/definition', { textDocument: { uri }, position });
const references = (position: Position, includeDeclaration = true) =>
  client.request<Location[]>('textDocument/references', { textDocument: { uri }, position, context: { includeDeclaration } });
const highlights = (position: Position) =>
  client.request<DocumentHighlight[]>('textDocument/documentHighlight', { textDocument: { uri }, position });
const rename = (position: Position, newName: string) =>
  client.request<WorkspaceEdit>('textDocument/rename', { textDocument: { uri }, position, newName });
const prepareRename = (position: Position) =>
  client.request<{ range: Range; placeholder: string } | null>('textDocument/prepareRename', { textDocument: { uri }, position });

test('the server announces the navigation capabilities', () => {
  const caps = client.serverCapabilities;
  assert.equal(caps.definitionProvider, true);
  assert.equal(caps.referencesProvider, true);
  assert.equal(caps.documentHighlightProvider, true);
  assert.deepEqual(caps.renameProvider, { prepareProvider: true });
});

test('definition: a stage ARG without a value leads to itself and to the global ARG it redeclares', async () => {
  assert.deepEqual(await definition(inside(5, '$VERSION')), [loc(word(3, 'VERSION')), loc(word(1, 'VERSION'))]);
  assert.deepEqual(await definition(inside(3, 'VERSION')), [loc(word(3, 'VERSION')), loc(word(1, 'VERSION'))]);
});

test('definition: FROM reads the global ARGs', async () => {
  assert.deepEqual(await definition(inside(2, '${VERSION}')), [loc(word(1, 'VERSION'))]);
  assert.deepEqual(await definition(inside(2, 'BASE')), [loc(word(0, 'BASE'))]);
});

test('definition: ENV is inherited by a stage built on its stage, even in a heredoc body', async () => {
  assert.deepEqual(await definition(inside(7, 'APP')), [loc(word(4, 'APP'))]);
  assert.deepEqual(await definition(inside(9, 'APP')), [loc(word(4, 'APP'))]);
  // A stage built on another image has its own APP.
  assert.deepEqual(await definition(inside(13, 'APP')), [loc(word(12, 'APP'))]);
});

test('definition: a global ARG is not visible in a stage that does not redeclare it', async () => {
  assert.deepEqual(await definition(inside(13, 'BASE')), []);
});

test('definition: stage references lead to the name after AS, case-insensitively', async () => {
  assert.deepEqual(await definition(inside(6, 'build')), [loc(word(2, 'build'))]);
  assert.deepEqual(await definition(inside(8, 'build')), [loc(word(2, 'build'))]);
  assert.deepEqual(await definition(inside(13, 'BUILD')), [loc(word(2, 'build'))]);
});

test('definition: a heredoc terminator leads to its marker', async () => {
  assert.deepEqual(await definition({ line: 10, character: 1 }), [loc(word(8, 'EOF'))]);
  // The end of a word counts as on it.
  assert.deepEqual(await definition({ line: 10, character: 3 }), [loc(word(8, 'EOF'))]);
});

test('definition: nothing for predefined args, keywords and plain text', async () => {
  assert.deepEqual(await definition(inside(2, 'TARGETPLATFORM')), []);
  assert.deepEqual(await definition({ line: 5, character: 1 }), []);
  assert.deepEqual(await definition(inside(5, 'literal')), []);
});

test('references: one variable across stages built on each other, quotes respected', async () => {
  const all = [word(4, 'APP'), word(5, 'APP'), word(7, 'APP'), word(9, 'APP')].map(loc);
  assert.deepEqual(await references(inside(7, 'APP')), all);
  assert.deepEqual(await references(inside(4, 'APP'), false), all.slice(1));
  // The other stage's APP, and its ONBUILD trigger (listed once).
  assert.deepEqual(await references(inside(13, 'APP')), [word(12, 'APP'), word(13, 'APP'), word(14, 'APP')].map(loc));
});

test('references: a global ARG and the stage ARG that redeclares it are one symbol', async () => {
  const all = [word(1, 'VERSION'), word(2, 'VERSION'), word(3, 'VERSION'), word(5, 'VERSION')].map(loc);
  assert.deepEqual(await references(inside(1, 'VERSION')), all);
  assert.deepEqual(await references(inside(5, 'VERSION')), all);
});

test('references: an undeclared use in another stage is not the global ARG', async () => {
  assert.deepEqual(await references(inside(0, 'BASE')), [loc(word(0, 'BASE')), loc(word(2, 'BASE'))]);
  assert.deepEqual(await references(inside(13, 'BASE')), [loc(word(13, 'BASE'))]);
});

test('document highlight: a stage, written once and read by FROM, COPY --from and a mount', async () => {
  assert.deepEqual(await highlights(inside(6, 'build')), [
    { range: word(2, 'build'), kind: 3 },
    { range: word(6, 'build'), kind: 2 },
    { range: word(8, 'build'), kind: 2 },
    { range: word(13, 'BUILD'), kind: 2 },
  ]);
});

test('document highlight: a variable with its declarations as writes', async () => {
  assert.deepEqual(await highlights(inside(12, 'APP')), [
    { range: word(12, 'APP'), kind: 3 },
    { range: word(13, 'APP'), kind: 2 },
    { range: word(14, 'APP'), kind: 2 },
  ]);
  assert.deepEqual(await highlights({ line: 8, character: 22 }), [
    { range: word(8, 'EOF'), kind: 3 },
    { range: word(10, 'EOF'), kind: 2 },
  ]);
  assert.deepEqual(await highlights(inside(5, 'echo')), []);
});

test('prepareRename: the name under the cursor, or null where there is no symbol', async () => {
  assert.deepEqual(await prepareRename(inside(7, 'APP')), { range: word(7, 'APP'), placeholder: 'APP' });
  // On the `$` of a reference, the name is what gets renamed.
  assert.deepEqual(await prepareRename(word(7, '$APP').start), { range: word(7, 'APP'), placeholder: 'APP' });
  assert.deepEqual(await prepareRename(inside(13, 'BUILD')), { range: word(13, 'BUILD'), placeholder: 'BUILD' });
  assert.equal(await prepareRename({ line: 5, character: 1 }), null);
  assert.equal(await prepareRename(inside(5, 'literal')), null);
});

test('prepareRename refuses predefined args and variables this file does not declare', async () => {
  await assert.rejects(prepareRename(inside(2, 'TARGETPLATFORM')), {
    message: 'TARGETPLATFORM is a predefined build argument and cannot be renamed',
  });
  await assert.rejects(prepareRename(inside(13, 'BASE')), {
    message: 'BASE is not declared by an ARG or ENV in this Dockerfile and cannot be renamed',
  });
});

test('rename: a variable across stages and a heredoc body, leaving single quotes alone', async () => {
  const edit = await rename(inside(9, 'APP'), 'APP_HOME');
  assert.deepEqual(Object.keys(edit.changes ?? {}), [uri]);
  const expected = [...lines];
  expected[4] = 'ENV APP_HOME=/app';
  expected[5] = "RUN echo $VERSION $APP_HOME 'literal $APP'";
  expected[7] = 'RUN echo $APP_HOME';
  expected[9] = 'home=${APP_HOME}';
  assert.equal(applyEdits(text, edit.changes![uri]), expected.join('\n'));
});

test('rename: a global ARG together with its redeclaration', async () => {
  const edit = await rename(inside(3, 'VERSION'), 'ALPINE_VERSION');
  const expected = [...lines];
  expected[1] = 'ARG ALPINE_VERSION=3.19';
  expected[2] = 'FROM --platform=$TARGETPLATFORM ${BASE}:${ALPINE_VERSION} AS build';
  expected[3] = 'ARG ALPINE_VERSION';
  expected[5] = "RUN echo $ALPINE_VERSION $APP 'literal $APP'";
  assert.equal(applyEdits(text, edit.changes![uri]), expected.join('\n'));
});

test('rename: a stage everywhere it is named', async () => {
  const edit = await rename(inside(8, 'build'), 'compile');
  assert.deepEqual(edit.changes![uri], [
    { range: word(2, 'build'), newText: 'compile' },
    { range: word(6, 'build'), newText: 'compile' },
    { range: word(8, 'build'), newText: 'compile' },
    { range: word(13, 'BUILD'), newText: 'compile' },
  ]);
});

test('rename: a heredoc delimiter and its terminator', async () => {
  const edit = await rename({ line: 10, character: 0 }, 'CONF');
  assert.deepEqual(edit.changes![uri], [
    { range: word(8, 'EOF'), newText: 'CONF' },
    { range: word(10, 'EOF'), newText: 'CONF' },
  ]);
});

test('rename refuses invalid names, taken stage names and non-symbols', async () => {
  await assert.rejects(rename(inside(4, 'APP'), '1APP'), {
    code: -32602,
    message: "'1APP' is not a valid variable name: use letters, digits and _, not starting with a digit",
  });
  await assert.rejects(rename(inside(4, 'APP'), 'TARGETARCH'), { message: "'TARGETARCH' is a predefined build argument" });
  await assert.rejects(rename(inside(6, 'build'), 'Bad Name'), {
    message: "'Bad Name' is not a valid stage name: it must start with a letter and contain only letters, digits, '-', '_' and '.'",
  });
  await assert.rejects(rename(inside(6, 'build'), '2nd'), /not a valid stage name/);
  await assert.rejects(rename(inside(6, 'build'), 'OTHER'), { message: "a stage named 'OTHER' already exists" });
  await assert.rejects(rename(word(8, 'EOF').start, 'home=${APP}'), /not a valid heredoc delimiter/);
  await assert.rejects(rename(inside(2, 'TARGETPLATFORM'), 'PLATFORM'), {
    code: -32803,
    message: 'TARGETPLATFORM is a predefined build argument and cannot be renamed',
  });
  await assert.rejects(rename({ line: 5, character: 1 }, 'x'), {
    code: -32803,
    message: 'there is no stage, variable or heredoc to rename here',
  });
});

test('rename refuses a heredoc delimiter that a body line would match', async () => {
  const u = 'file:///tmp/tug-test/navigation/heredoc.Dockerfile';
  await client.open(u, 'FROM alpine\nRUN <<-EOF\n\techo hi\n\tDONE\n\tEOF\n');
  await assert.rejects(
    client.request('textDocument/rename', { textDocument: { uri: u }, position: { line: 1, character: 8 }, newName: 'DONE' }),
    { message: "the heredoc's body has a line 'DONE', which would end it early" },
  );
  const edit = await client.request<WorkspaceEdit>('textDocument/rename', {
    textDocument: { uri: u },
    position: { line: 4, character: 2 },
    newName: 'END',
  });
  assert.deepEqual(edit.changes![u], [
    { range: { start: { line: 1, character: 7 }, end: { line: 1, character: 10 } }, newText: 'END' },
    { range: { start: { line: 4, character: 1 }, end: { line: 4, character: 4 } }, newText: 'END' },
  ]);
});

test('navigation follows edits and survives half-typed and hostile text', async () => {
  const u = 'file:///tmp/tug-test/navigation/broken.Dockerfile';
  await client.open(u, 'FROM alpine AS a\nENV X=1\nRUN echo ${X');
  const defs = await client.request<Location[]>('textDocument/definition', {
    textDocument: { uri: u },
    position: { line: 2, character: 12 },
  });
  assert.deepEqual(defs, [{ uri: u, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 5 } } }]);
  await client.change(u, 'FROM alpine AS a\nENV Y=1\nRUN echo ${X');
  assert.deepEqual(
    await client.request('textDocument/definition', { textDocument: { uri: u }, position: { line: 2, character: 12 } }),
    [],
  );
  const hostile = ['FROM \u0000 AS \u0000', 'RUN <<"EOF', `ARG ${'A'.repeat(100_000)}`, 'COPY --from=', 'RUN --mount=from', 'FROM a AS', ''].join('\n');
  await client.change(u, hostile);
  for (let line = 0; line < 6; line++) {
    for (const character of [0, 5, 12]) {
      const position = { line, character };
      await client.request('textDocument/definition', { textDocument: { uri: u }, position });
      await client.request('textDocument/references', { textDocument: { uri: u }, position, context: { includeDeclaration: true } });
      await client.request('textDocument/documentHighlight', { textDocument: { uri: u }, position });
      await client.request('textDocument/prepareRename', { textDocument: { uri: u }, position }).catch(() => null);
    }
  }
  assert.doesNotMatch(client.stderr, /failed/);
  assert.equal(client.notifications.some((n) => n.method === 'window/logMessage' && /failed on/.test(JSON.stringify(n.params))), false);
});

test('ENV shadows ARG: each use leads to what it reads, and all are one variable of the stage', async () => {
  const u = 'file:///tmp/tug-test/navigation/shadow.Dockerfile';
  const src = ['FROM alpine', 'ARG MODE=dev', 'RUN echo $MODE', 'ENV MODE=prod', 'RUN echo $MODE', 'ARG MODE=test', 'RUN echo $MODE', 'RUN <<EOF', "echo '$MODE' \"$MODE\"", 'EOF', ''];
  await client.open(u, src.join('\n'));
  const at = (line: number, character: number) => ({ textDocument: { uri: u }, position: { line, character } });
  const r = (line: number, start: number, length = 4) => ({ start: { line, character: start }, end: { line, character: start + length } });
  assert.deepEqual(await client.request('textDocument/definition', at(2, 11)), [{ uri: u, range: r(1, 4) }]);
  assert.deepEqual(await client.request('textDocument/definition', at(4, 11)), [{ uri: u, range: r(3, 4) }]);
  assert.deepEqual(await client.request('textDocument/definition', at(6, 11)), [{ uri: u, range: r(3, 4) }]);
  // Single quotes in a RUN heredoc keep `$MODE` literal for the shell: not renamed.
  const edit = await client.request<WorkspaceEdit>('textDocument/rename', { ...at(1, 5), newName: 'PROFILE' });
  assert.deepEqual(
    edit.changes![u].map((e) => e.range),
    [r(1, 4), r(2, 10), r(3, 4), r(4, 10), r(5, 4), r(6, 10), r(8, 15)],
  );
});
