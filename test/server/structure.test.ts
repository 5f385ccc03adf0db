import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  FoldingRangeKind,
  SymbolKind,
  SymbolTag,
  type DocumentSymbol,
  type FoldingRange,
  type Range,
  type SymbolInformation,
} from 'vscode-languageserver-protocol';
import { LspClient, vscodeLikeCapabilities } from '../lsp-client';
import { Document } from '../../server/src/document';
import { documentSymbols } from '../../server/src/features/documentSymbols';
import { foldingRanges } from '../../server/src/features/foldingRanges';

// Document symbols (nested and flat) and folding ranges, through the real server.

const QUIET = { tug: { diagnostics: { shellcheck: false, buildContext: false, registry: false } } };

const SAMPLE = [
  '# syntax=docker/dockerfile:1', //  0
  '# check=error=true', //            1
  '# The version of Go.', //          2
  '# Another line.', //               3
  'ARG GO=1.22', //                   4
  'FROM golang:${GO} AS build', //    5
  'WORKDIR /src', //                  6
  '# Fetch modules first.', //        7
  'RUN --mount=type=cache,target=/go/pkg/mod \\', // 8
  '    # a comment in the continuation', //          9
  '    # and a second one', //                      10
  '    go build -o /out/app .', //                  11
  'COPY <<EOF /etc/motd', //         12
  'hello', //                        13
  'world', //                        14
  'EOF', //                          15
  '', //                             16
  'FROM alpine', //                  17
  'ENV A=1 B="two words"', //        18
  'LABEL org.opencontainers.image.title=app', // 19
  'COPY --from=build /out/app /usr/local/bin/app', // 20
  'MAINTAINER someone', //           21
  'ONBUILD RUN echo hi', //          22
  'HEALTHCHECK CMD ["true"]', //     23
  'CMD ["app"]', //                  24
  '',
].join('\n');

let client: LspClient;
let flat: LspClient;
let count = 0;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: QUIET });
  const textDocument = { ...vscodeLikeCapabilities.textDocument };
  textDocument.documentSymbol = { ...textDocument.documentSymbol, hierarchicalDocumentSymbolSupport: false };
  flat = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    settings: QUIET,
    capabilities: { ...vscodeLikeCapabilities, textDocument },
  });
});
after(async () => {
  await client?.stop();
  await flat?.stop();
});

async function open(c: LspClient, text: string): Promise<string> {
  const uri = `file:///work/structure-${++count}/Dockerfile`;
  await c.open(uri, text);
  return uri;
}

function r(sl: number, sc: number, el: number, ec: number): Range {
  return { start: { line: sl, character: sc }, end: { line: el, character: ec } };
}

function sym(name: string, detail: string, kind: SymbolKind, range: Range, selectionRange: Range, children?: DocumentSymbol[]): DocumentSymbol {
  const s: DocumentSymbol = { name, detail, kind, range, selectionRange };
  if (children) s.children = children;
  return s;
}

test('nested symbols: global ARGs at the top, each stage with its instructions, names under ARG/ENV/LABEL', async () => {
  const uri = await open(client, SAMPLE);
  const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri } });
  const maintainer = sym('MAINTAINER', 'someone', SymbolKind.Field, r(21, 0, 21, 18), r(21, 0, 21, 10));
  maintainer.tags = [SymbolTag.Deprecated];
  assert.deepEqual(symbols, [
    sym('ARG', 'GO=1.22', SymbolKind.Variable, r(4, 0, 4, 11), r(4, 0, 4, 3), [
      sym('GO', '1.22', SymbolKind.Variable, r(4, 4, 4, 11), r(4, 4, 4, 6)),
    ]),
    sym('build', 'golang:${GO}', SymbolKind.Class, r(5, 0, 15, 3), r(5, 21, 5, 26), [
      sym('WORKDIR', '/src', SymbolKind.Namespace, r(6, 0, 6, 12), r(6, 0, 6, 7)),
      sym('RUN', '--mount=type=cache,target=/go/pkg/mod go build -o /out/app .', SymbolKind.Function, r(8, 0, 11, 26), r(8, 0, 8, 3)),
      sym('COPY', '<<EOF /etc/motd', SymbolKind.File, r(12, 0, 15, 3), r(12, 0, 12, 4)),
    ]),
    sym('alpine', 'stage 1', SymbolKind.Module, r(17, 0, 24, 11), r(17, 5, 17, 11), [
      sym('ENV', 'A=1 B="two words"', SymbolKind.Constant, r(18, 0, 18, 21), r(18, 0, 18, 3), [
        sym('A', '1', SymbolKind.Constant, r(18, 4, 18, 7), r(18, 4, 18, 5)),
        sym('B', '"two words"', SymbolKind.Constant, r(18, 8, 18, 21), r(18, 8, 18, 9)),
      ]),
      sym('LABEL', 'org.opencontainers.image.title=app', SymbolKind.Field, r(19, 0, 19, 40), r(19, 0, 19, 5), [
        sym('org.opencontainers.image.title', 'app', SymbolKind.Field, r(19, 6, 19, 40), r(19, 6, 19, 36)),
      ]),
      sym('COPY', '--from=build /out/app /usr/local/bin/app', SymbolKind.File, r(20, 0, 20, 45), r(20, 0, 20, 4)),
      maintainer,
      sym('ONBUILD', 'RUN echo hi', SymbolKind.Event, r(22, 0, 22, 19), r(22, 0, 22, 7)),
      sym('HEALTHCHECK', 'CMD ["true"]', SymbolKind.Event, r(23, 0, 23, 24), r(23, 0, 23, 11)),
      sym('CMD', '["app"]', SymbolKind.Function, r(24, 0, 24, 11), r(24, 0, 24, 3)),
    ]),
  ]);
});

test('flat symbols for a client that does not nest them', async () => {
  const uri = await open(flat, SAMPLE);
  const symbols = await flat.request<SymbolInformation[]>('textDocument/documentSymbol', { textDocument: { uri } });
  const rows = symbols.map((s) => [s.name, s.kind, s.containerName ?? null, s.location.uri === uri, s.location.range]);
  assert.deepEqual(rows, [
    ['ARG', SymbolKind.Variable, null, true, r(4, 0, 4, 11)],
    ['GO', SymbolKind.Variable, 'ARG', true, r(4, 4, 4, 11)],
    ['build', SymbolKind.Class, null, true, r(5, 0, 15, 3)],
    ['WORKDIR', SymbolKind.Namespace, 'build', true, r(6, 0, 6, 12)],
    ['RUN', SymbolKind.Function, 'build', true, r(8, 0, 11, 26)],
    ['COPY', SymbolKind.File, 'build', true, r(12, 0, 15, 3)],
    ['alpine', SymbolKind.Module, null, true, r(17, 0, 24, 11)],
    ['ENV', SymbolKind.Constant, 'alpine', true, r(18, 0, 18, 21)],
    ['A', SymbolKind.Constant, 'ENV', true, r(18, 4, 18, 7)],
    ['B', SymbolKind.Constant, 'ENV', true, r(18, 8, 18, 21)],
    ['LABEL', SymbolKind.Field, 'alpine', true, r(19, 0, 19, 40)],
    ['org.opencontainers.image.title', SymbolKind.Field, 'LABEL', true, r(19, 6, 19, 40)],
    ['COPY', SymbolKind.File, 'alpine', true, r(20, 0, 20, 45)],
    ['MAINTAINER', SymbolKind.Field, 'alpine', true, r(21, 0, 21, 18)],
    ['ONBUILD', SymbolKind.Event, 'alpine', true, r(22, 0, 22, 19)],
    ['HEALTHCHECK', SymbolKind.Event, 'alpine', true, r(23, 0, 23, 24)],
    ['CMD', SymbolKind.Function, 'alpine', true, r(24, 0, 24, 11)],
  ]);
  assert.deepEqual(symbols.find((s) => s.name === 'MAINTAINER')?.tags, [SymbolTag.Deprecated]);
});

test('symbols: long arguments are cut, odd stages still get a name', () => {
  const long = `RUN ${'apt-get install -y package && '.repeat(20)}true`;
  const doc = new Document('file:///x/Dockerfile', 1, `FROM\n${long}\nFROM a AS\nFROM "quoted" as q\n`);
  const symbols = documentSymbols(doc);
  assert.deepEqual(
    symbols.map((s) => [s.name, s.detail, s.kind]),
    [
      ['FROM', 'stage 0', SymbolKind.Module],
      ['a', 'stage 1', SymbolKind.Module],
      ['q', '"quoted"', SymbolKind.Class],
    ],
  );
  assert.equal(symbols[0].children?.[0].detail, 'apt-get install -y package && apt-get install -y package &&…');
});

test('folding: stages, multi-line instructions, heredoc bodies, comment runs and the directives block', async () => {
  const uri = await open(client, SAMPLE);
  const ranges = await client.request<FoldingRange[]>('textDocument/foldingRange', { textDocument: { uri } });
  const comment = FoldingRangeKind.Comment;
  assert.deepEqual(ranges, [
    { startLine: 0, endLine: 1, kind: comment }, // the directives
    { startLine: 2, endLine: 3, kind: comment },
    { startLine: 5, endLine: 15 }, // stage build
    { startLine: 8, endLine: 11 }, // RUN
    { startLine: 9, endLine: 10, kind: comment }, // comments inside the RUN
    { startLine: 12, endLine: 15 }, // COPY with its heredoc
    { startLine: 13, endLine: 14 }, // the heredoc body
    { startLine: 17, endLine: 24 }, // stage 1
  ]);
});

test('folding: a multi-line FROM folds once, with its stage; short things do not fold', () => {
  const text = [
    'FROM --platform=$BUILDPLATFORM \\', // 0
    '    alpine AS a', //                   1
    'RUN <<EOF', //                         2
    'one line', //                          3
    'EOF', //                               4
    '# one comment', //                     5
    'FROM a', //                            6
    'COPY <<A <<B /x/', //                  7
    'a1', //                                8
    'a2', //                                9
    'A', //                                 10
    'b1', //                                11
    'b2', //                                12
    'B', //                                 13
    'RUN <<EOF', //                         14
    'never', //                             15
    'ended', //                             16
  ].join('\n');
  assert.deepEqual(foldingRanges(new Document('file:///x/Dockerfile', 1, text)), [
    { startLine: 0, endLine: 4 },
    { startLine: 2, endLine: 4 },
    { startLine: 6, endLine: 16 },
    { startLine: 7, endLine: 13 },
    { startLine: 8, endLine: 9 },
    { startLine: 11, endLine: 12 },
    { startLine: 14, endLine: 16 },
    { startLine: 15, endLine: 16 },
  ]);
});

test('structure of bad input: no exception, and an empty file has nothing', () => {
  for (const text of ['', '\u0000', 'FROM', 'ENV', 'ONBUILD', 'RUN <<', '  \\\n', 'LABEL =x', `RUN ${'x'.repeat(200_000)}`]) {
    const doc = new Document('file:///x/Dockerfile', 1, text);
    documentSymbols(doc);
    foldingRanges(doc);
  }
  assert.deepEqual(documentSymbols(new Document('file:///x/Dockerfile', 1, '')), []);
  assert.deepEqual(foldingRanges(new Document('file:///x/Dockerfile', 1, '')), []);
});
