import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SemanticTokens, SemanticTokensDelta, SemanticTokensLegend } from 'vscode-languageserver-protocol';
import { LspClient } from '../lsp-client';
import { Document } from '../../server/src/document';
import { diffTokens, fullTokens, rangeTokens } from '../../server/src/features/semanticTokens';

// Semantic tokens through the real server: decoded back into (line, character, text, type,
// modifiers) and checked against a sample, delta edits replayed, ranges compared with the
// full result.

const QUIET = { tug: { diagnostics: { shellcheck: false, buildContext: false, registry: false } } };
const FIXTURES = join(__dirname, '../fixtures/dockerfiles');

let client: LspClient;
let legend: SemanticTokensLegend;
let count = 0;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: QUIET });
  legend = client.serverCapabilities.semanticTokensProvider!.legend;
});
after(async () => {
  await client?.stop();
});

async function open(text: string): Promise<string> {
  const uri = `file:///work/tokens-${++count}/Dockerfile`;
  await client.open(uri, text);
  return uri;
}

function full(uri: string): Promise<SemanticTokens> {
  return client.request<SemanticTokens>('textDocument/semanticTokens/full', { textDocument: { uri } });
}

type Token = [line: number, character: number, length: number, type: string, modifiers: string[]];

function decode(data: readonly number[]): Token[] {
  assert.equal(data.length % 5, 0);
  const tokens: Token[] = [];
  let line = 0;
  let character = 0;
  for (let i = 0; i < data.length; i += 5) {
    line += data[i];
    character = data[i] === 0 ? character + data[i + 1] : data[i + 1];
    const modifiers = legend.tokenModifiers.filter((_, bit) => data[i + 4] & (1 << bit));
    tokens.push([line, character, data[i + 2], legend.tokenTypes[data[i + 3]], modifiers]);
  }
  return tokens;
}

/** Tokens with the text they cover, for readable expectations. */
function show(text: string, data: readonly number[]): [number, number, string, string, ...string[]][] {
  const lines = text.split('\n');
  return decode(data).map(([line, ch, length, type, mods]) => [line, ch, lines[line].slice(ch, ch + length), type, ...mods]);
}

/** Sorted, not overlapping, each on one line, inside the line. */
function assertWellFormed(text: string, data: readonly number[], what: string): void {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let prevLine = -1;
  let prevEnd = 0;
  for (const [line, ch, length] of decode(data)) {
    assert.ok(length > 0, `${what}: empty token`);
    assert.ok(line > prevLine || ch >= prevEnd, `${what}: token at ${line}:${ch} overlaps or is out of order`);
    assert.ok(ch + length <= lines[line].length, `${what}: token at ${line}:${ch} runs past its line`);
    prevLine = line;
    prevEnd = ch + length;
  }
}

const SAMPLE = [
  '# syntax=docker/dockerfile:1',
  '# Build the app.',
  'ARG VERSION=1.22',
  'FROM --platform=$BUILDPLATFORM golang:${VERSION} AS build',
  'RUN --mount=type=cache,target=/root/.cache \\',
  '    # a comment inside',
  '    go build -o "/out/app" ./... && echo "$HOME"',
  'COPY --from=build --chmod=755 --link /out/app /bin/app',
  'ENV A="x y" B=${A:-z}',
  'LABEL org.opencontainers.image.title=app',
  'EXPOSE 8080/tcp',
  'MAINTAINER me',
  'ONBUILD RUN echo $VERSION',
  'HEALTHCHECK --interval=30s --retries=3 CMD ["curl", "-f", "http://x"]',
  'RUN <<-EOF cat',
  '\techo $HOME',
  '\tEOF',
  'FROM build',
  "RUN echo 'a \\",
  "  b' $A$B",
  '',
].join('\n');

test('the legend and the requests the server offers', () => {
  const provider = client.serverCapabilities.semanticTokensProvider!;
  assert.deepEqual(provider.full, { delta: true });
  assert.equal(provider.range, true);
  assert.deepEqual(legend.tokenTypes, ['keyword', 'comment', 'string', 'number', 'operator', 'parameter', 'variable', 'property', 'class', 'macro', 'enumMember']);
  assert.deepEqual(legend.tokenModifiers, ['declaration', 'deprecated', 'defaultLibrary']);
});

test('full tokens of a sample, decoded', async () => {
  const uri = await open(SAMPLE);
  const result = await full(uri);
  assert.equal(typeof result.resultId, 'string');
  assert.deepEqual(show(SAMPLE, result.data), [
    [0, 2, 'syntax', 'macro'],
    [0, 9, 'docker/dockerfile:1', 'string'],
    [1, 0, '# Build the app.', 'comment'],
    [2, 0, 'ARG', 'keyword'],
    [2, 4, 'VERSION', 'variable', 'declaration'],
    [2, 11, '=', 'operator'],
    [2, 12, '1.22', 'string'],
    [3, 0, 'FROM', 'keyword'],
    [3, 5, '--platform', 'parameter'],
    [3, 15, '=', 'operator'],
    [3, 16, '$BUILDPLATFORM', 'variable', 'defaultLibrary'],
    [3, 38, '${VERSION}', 'variable'],
    [3, 49, 'AS', 'keyword'],
    [3, 52, 'build', 'class', 'declaration'],
    [4, 0, 'RUN', 'keyword'],
    [4, 4, '--mount', 'parameter'],
    [4, 11, '=', 'operator'],
    [4, 12, 'type', 'property'],
    [4, 17, 'cache', 'string'],
    [4, 23, 'target', 'property'],
    [4, 30, '/root/.cache', 'string'],
    [4, 43, '\\', 'operator'],
    [5, 4, '# a comment inside', 'comment'],
    [6, 16, '"/out/app"', 'string'],
    [6, 41, '"', 'string'],
    [6, 42, '$HOME', 'variable'],
    [6, 47, '"', 'string'],
    [7, 0, 'COPY', 'keyword'],
    [7, 5, '--from', 'parameter'],
    [7, 11, '=', 'operator'],
    [7, 12, 'build', 'class'],
    [7, 18, '--chmod', 'parameter'],
    [7, 25, '=', 'operator'],
    [7, 26, '755', 'string'],
    [7, 30, '--link', 'parameter'],
    [8, 0, 'ENV', 'keyword'],
    [8, 4, 'A', 'variable', 'declaration'],
    [8, 5, '=', 'operator'],
    [8, 6, '"x y"', 'string'],
    [8, 12, 'B', 'variable', 'declaration'],
    [8, 13, '=', 'operator'],
    [8, 14, '${A:-z}', 'variable'],
    [9, 0, 'LABEL', 'keyword'],
    [9, 6, 'org.opencontainers.image.title', 'property'],
    [9, 36, '=', 'operator'],
    [9, 37, 'app', 'string'],
    [10, 0, 'EXPOSE', 'keyword'],
    [10, 7, '8080', 'number'],
    [11, 0, 'MAINTAINER', 'keyword', 'deprecated'],
    [12, 0, 'ONBUILD', 'keyword'],
    [12, 8, 'RUN', 'keyword'],
    [12, 17, '$VERSION', 'variable'],
    [13, 0, 'HEALTHCHECK', 'keyword'],
    [13, 12, '--interval', 'parameter'],
    [13, 22, '=', 'operator'],
    [13, 23, '30s', 'number'],
    [13, 27, '--retries', 'parameter'],
    [13, 36, '=', 'operator'],
    [13, 37, '3', 'number'],
    [13, 39, 'CMD', 'keyword'],
    [13, 44, '"curl"', 'string'],
    [13, 52, '"-f"', 'string'],
    [13, 58, '"http://x"', 'string'],
    [14, 0, 'RUN', 'keyword'],
    [14, 4, '<<-', 'operator'],
    [14, 7, 'EOF', 'string'],
    // The heredoc body has no tokens; its terminator does.
    [16, 1, 'EOF', 'string'],
    [17, 0, 'FROM', 'keyword'],
    [17, 5, 'build', 'class'],
    [18, 0, 'RUN', 'keyword'],
    // A string across a continuation: split at the line end, the escape character apart.
    [18, 9, "'a ", 'string'],
    [18, 12, '\\', 'operator'],
    [19, 0, "  b'", 'string'],
    [19, 5, '$A', 'variable'],
    [19, 7, '$B', 'variable'],
  ]);
});

test('flag values by kind, and the escape directive', () => {
  const text = [
    '# escape=`',
    'FROM alpine AS base',
    'RUN --network=host --security=insecure --mount=type=secret,id=npm `',
    '    echo "one `',
    '    two"',
    'COPY --from=0 --from=other --link=true a b',
    'STOPSIGNAL 9',
    'EXPOSE 80 443/udp',
  ].join('\n');
  assert.deepEqual(show(text, fullTokens(new Document('file:///x', 1, text))), [
    [0, 2, 'escape', 'macro'],
    [0, 9, '`', 'string'],
    [1, 0, 'FROM', 'keyword'],
    [1, 12, 'AS', 'keyword'],
    [1, 15, 'base', 'class', 'declaration'],
    [2, 0, 'RUN', 'keyword'],
    [2, 4, '--network', 'parameter'],
    [2, 13, '=', 'operator'],
    [2, 14, 'host', 'enumMember'],
    [2, 19, '--security', 'parameter'],
    [2, 29, '=', 'operator'],
    [2, 30, 'insecure', 'enumMember'],
    [2, 39, '--mount', 'parameter'],
    [2, 46, '=', 'operator'],
    [2, 47, 'type', 'property'],
    [2, 52, 'secret', 'string'],
    [2, 59, 'id', 'property'],
    [2, 62, 'npm', 'string'],
    [2, 66, '`', 'operator'],
    [3, 9, '"one ', 'string'],
    [3, 14, '`', 'operator'],
    [4, 0, '    two"', 'string'],
    [5, 0, 'COPY', 'keyword'],
    [5, 5, '--from', 'parameter'],
    [5, 11, '=', 'operator'],
    [5, 12, '0', 'number'],
    [5, 14, '--from', 'parameter'],
    [5, 20, '=', 'operator'],
    [5, 21, 'other', 'string'],
    [5, 27, '--link', 'parameter'],
    [5, 33, '=', 'operator'],
    [5, 34, 'true', 'enumMember'],
    [6, 0, 'STOPSIGNAL', 'keyword'],
    [6, 11, '9', 'number'],
    [7, 0, 'EXPOSE', 'keyword'],
    [7, 7, '80', 'number'],
    [7, 10, '443', 'number'],
  ]);
});

test('delta: the edits applied to the previous data give the new full result', async () => {
  const uri = await open(SAMPLE);
  const first = await full(uri);
  // Insert an instruction in the middle, as an incremental change.
  await client.change(uri, [{ range: { start: { line: 7, character: 0 }, end: { line: 7, character: 0 } }, text: 'WORKDIR /app\nUSER ${UID}\n' }]);
  const delta = await client.request<SemanticTokensDelta>('textDocument/semanticTokens/full/delta', {
    textDocument: { uri },
    previousResultId: first.resultId,
  });
  assert.ok(delta.edits, 'a delta, not a full result');
  assert.notEqual(delta.resultId, first.resultId);
  let data = [...first.data];
  for (const edit of [...delta.edits].sort((a, b) => b.start - a.start)) {
    data.splice(edit.start, edit.deleteCount, ...(edit.data ?? []));
  }
  const now = await full(uri);
  assert.deepEqual(data, now.data);
  // The edit is small: the two new lines' tokens and the next token's relative line.
  assert.equal(delta.edits.length, 1);
  assert.ok(delta.edits[0].deleteCount <= 5 && (delta.edits[0].data?.length ?? 0) <= 25, JSON.stringify(delta.edits));
  assert.deepEqual(show(client.text(uri)!, now.data).slice(27, 31), [
    [7, 0, 'WORKDIR', 'keyword'],
    [8, 0, 'USER', 'keyword'],
    [8, 5, '${UID}', 'variable'],
    [9, 0, 'COPY', 'keyword'],
  ]);

  // A delta against the latest result, with no change in between, has nothing to do.
  const again = await client.request<SemanticTokensDelta>('textDocument/semanticTokens/full/delta', {
    textDocument: { uri },
    previousResultId: now.resultId,
  });
  assert.deepEqual(again.edits, []);
  // An unknown previous result gets the full tokens.
  const unknown = await client.request<SemanticTokens>('textDocument/semanticTokens/full/delta', {
    textDocument: { uri },
    previousResultId: 'nope',
  });
  assert.deepEqual(unknown.data, now.data);
});

test('diffTokens: one edit aligned to whole tokens', () => {
  assert.deepEqual(diffTokens([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), []);
  assert.deepEqual(diffTokens([1, 2, 3, 4, 5, 0, 1, 1, 0, 0], [1, 2, 3, 4, 5, 0, 2, 1, 0, 0]), [{ start: 5, deleteCount: 5, data: [0, 2, 1, 0, 0] }]);
  assert.deepEqual(diffTokens([], [1, 0, 3, 0, 0]), [{ start: 0, deleteCount: 0, data: [1, 0, 3, 0, 0] }]);
  assert.deepEqual(diffTokens([1, 0, 3, 0, 0, 1, 0, 3, 0, 0], [1, 0, 3, 0, 0]), [{ start: 5, deleteCount: 5, data: [] }]);
  // Equal numbers across a token boundary do not shift the edit off the tokens.
  assert.deepEqual(diffTokens([0, 0, 1, 0, 0, 0, 0, 2, 0, 0], [0, 0, 1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 2, 0, 0]), [
    { start: 5, deleteCount: 0, data: [1, 0, 2, 0, 0] },
  ]);
});

test('range tokens are the slice of the full tokens over whole instructions', async () => {
  const uri = await open(SAMPLE);
  const all = decode((await full(uri)).data);
  const range = async (from: number, to: number) =>
    decode(
      (
        await client.request<SemanticTokens>('textDocument/semanticTokens/range', {
          textDocument: { uri },
          range: { start: { line: from, character: 0 }, end: { line: to, character: 1 } },
        })
      ).data,
    );
  const slice = (from: number, to: number) => all.filter(([line]) => line >= from && line <= to);
  // Line 5 is inside the RUN of lines 4-6: the whole RUN comes.
  assert.deepEqual(await range(5, 5), slice(4, 6));
  assert.deepEqual(await range(0, 2), slice(0, 2));
  // From the middle of the RUN to the middle of the heredoc: RUN through the terminator.
  assert.deepEqual(await range(6, 15), slice(4, 16));
  assert.deepEqual(await range(18, 20), slice(18, 20));
});

test('every fixture: tokens well formed, and every range the slice of the full result', () => {
  for (const dir of ['official', 'broken']) {
    for (const name of readdirSync(join(FIXTURES, dir))) {
      const text = readFileSync(join(FIXTURES, dir, name), 'utf8');
      const doc = new Document('file:///x/Dockerfile', 1, text);
      const data = fullTokens(doc);
      assertWellFormed(text, data, `${dir}/${name}`);
      const all = decode(data);
      for (const ins of doc.model.syntax.instructions) {
        const mid = Math.floor((ins.startLine + ins.endLine) / 2);
        const got = decode(rangeTokens(doc, { start: { line: mid, character: 0 }, end: { line: mid, character: 1 } }));
        assert.deepEqual(got, all.filter(([line]) => line >= ins.startLine && line <= ins.lastLine), `${dir}/${name} line ${mid}`);
      }
    }
  }
});

test('a 10,000-line file answers full, range and delta requests', async () => {
  const block = [
    'FROM alpine:3.20 AS s',
    'ARG V=1',
    'ENV A=${V} B="b c"',
    '# a comment',
    'RUN --mount=type=cache,target=/c apk add \\',
    '    curl && echo "$A"',
    'COPY --from=s /a /b',
    'RUN <<EOF',
    'echo $B',
    'EOF',
  ].join('\n');
  const text = Array.from({ length: 1000 }, () => block).join('\n') + '\n';
  const perBlock = fullTokens(new Document('file:///x', 1, block)).length;
  const uri = await open(text);
  const result = await full(uri);
  assert.equal(result.data.length, perBlock * 1000);
  assertWellFormed(text, result.data, 'big');
  const range = await client.request<SemanticTokens>('textDocument/semanticTokens/range', {
    textDocument: { uri },
    range: { start: { line: 5000, character: 0 }, end: { line: 5009, character: 3 } },
  });
  assert.equal(range.data.length, perBlock);
  // A comment added at the end: one token appended.
  await client.change(uri, [{ range: { start: { line: 10000, character: 0 }, end: { line: 10000, character: 0 } }, text: '# end' }]);
  const delta = await client.request<SemanticTokensDelta>('textDocument/semanticTokens/full/delta', {
    textDocument: { uri },
    previousResultId: result.resultId,
  });
  const comment = legend.tokenTypes.indexOf('comment');
  assert.deepEqual(delta.edits, [{ start: result.data.length, deleteCount: 0, data: [1, 0, 5, comment, 0] }]);
});

test('bad input never throws', () => {
  const texts = [
    '',
    '\u0000',
    '# escape=`\n\u0000 `',
    'RUN echo "unterminated \\\n  more',
    'RUN <<EOF\nno end',
    'RUN <<',
    'ENV ${',
    'FROM a AS',
    'COPY --from= a b',
    'RUN --mount=type=cache,,=,target= x',
    'ONBUILD',
    'ONBUILD ONBUILD RUN $X',
    `RUN ${'"x'.repeat(50_000)}`,
    '\\\n\\\n',
    'RUN a \\\n# c \\\n\n',
    'RUN a\r\nRUN "b \\\r\n c"\r\n',
  ];
  for (const text of texts) {
    const doc = new Document('file:///x/Dockerfile', 1, text);
    const data = fullTokens(doc);
    assertWellFormed(text, data, JSON.stringify(text.slice(0, 40)));
    rangeTokens(doc, { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } });
  }
});
