import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FormattingOptions, TextEdit } from 'vscode-languageserver-protocol';
import { LspClient, offsetAt, vscodeLikeCapabilities } from '../lsp-client';
import type { FeatureContext } from '../../server/src/context';
import { Document } from '../../server/src/document';
import { analyze } from '../../server/src/dockerfile/model';
import { formatDocument, formatOnType } from '../../server/src/features/formatting';
import { DEFAULT_SETTINGS } from '../../server/src/settings';

const SPACES: FormattingOptions = { tabSize: 4, insertSpaces: true };
const TABS: FormattingOptions = { tabSize: 4, insertSpaces: false };
const FIXTURES = join(__dirname, '../fixtures/dockerfiles');
// No shellcheck, disk or registry work behind the requests this file makes.
const QUIET = { tug: { diagnostics: { shellcheck: false, buildContext: false, registry: false } } };

let client: LspClient;
let count = 0;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: QUIET });
});
after(async () => {
  await client?.stop();
});

async function open(text: string, c = client): Promise<string> {
  const uri = `file:///work/formatting-${++count}/Dockerfile`;
  await c.open(uri, text);
  return uri;
}

function format(uri: string, options = SPACES, c = client): Promise<TextEdit[]> {
  return c.request<TextEdit[]>('textDocument/formatting', { textDocument: { uri }, options });
}

function edit(line: number, from: number, to: number, newText: string): TextEdit {
  return { range: { start: { line, character: from }, end: { line, character: to } }, newText };
}

/** Applies edits as a client does: they must not overlap. */
function apply(text: string, edits: readonly TextEdit[]): string {
  const spans = edits
    .map((e) => ({
      start: offsetAt(text, e.range.start.line, e.range.start.character),
      end: offsetAt(text, e.range.end.line, e.range.end.character),
      text: e.newText,
    }))
    .sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i].start >= spans[i - 1].end, 'edits overlap');
  let out = text;
  for (const s of spans.reverse()) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

test('the server announces formatting, range formatting and on-type formatting', () => {
  const caps = client.serverCapabilities;
  assert.equal(caps.documentFormattingProvider, true);
  assert.deepEqual(caps.documentRangeFormattingProvider, { rangesSupport: true });
  assert.deepEqual(caps.documentOnTypeFormattingProvider, { firstTriggerCharacter: '\n', moreTriggerCharacter: ['\\', '`'] });
});

test('keywords and comments go to column 0, continuation lines get one indent unit, heredocs and directives stay', async () => {
  const text = [
    '# syntax=docker/dockerfile:1',
    '  # a comment',
    '  FROM alpine AS base',
    '\tRUN apk add \\',
    '  curl \\',
    '# a comment inside the continuation',
    '        git',
    '   ',
    'RUN <<EOF',
    '  echo  indented',
    '    EOF',
    'EOF',
    '  COPY <<-END /x',
    '\t\ttabbed',
    '\tEND',
    '',
  ].join('\n');
  const uri = await open(text);
  const edits = await format(uri);
  assert.deepEqual(edits, [
    edit(1, 0, 2, ''),
    edit(2, 0, 2, ''),
    edit(3, 0, 1, ''),
    edit(4, 0, 2, '    '),
    edit(5, 0, 0, '    '),
    edit(6, 0, 8, '    '),
    edit(7, 0, 3, ''),
    edit(12, 0, 2, ''),
  ]);
  const formatted = apply(text, edits);
  assert.equal(
    formatted,
    [
      '# syntax=docker/dockerfile:1',
      '# a comment',
      'FROM alpine AS base',
      'RUN apk add \\',
      '    curl \\',
      '    # a comment inside the continuation',
      '    git',
      '',
      'RUN <<EOF',
      '  echo  indented',
      '    EOF',
      'EOF',
      'COPY <<-END /x',
      '\t\ttabbed',
      '\tEND',
      '',
    ].join('\n'),
  );
  // Formatting a formatted file changes nothing.
  await client.change(uri, formatted);
  assert.deepEqual(await format(uri), []);
});

test('the indent unit is a tab or tabSize spaces, as the options say', async () => {
  const text = 'FROM a\nRUN a \\\n  b \\\n\tc \\\n    d\n';
  const uri = await open(text);
  assert.deepEqual(await format(uri, TABS), [edit(2, 0, 2, '\t'), edit(4, 0, 4, '\t')]);
  assert.deepEqual(await format(uri, { tabSize: 2, insertSpaces: true }), [edit(3, 0, 1, '  '), edit(4, 0, 4, '  ')]);
  assert.deepEqual(await format(uri, SPACES), [edit(2, 0, 2, '    '), edit(3, 0, 1, '    ')]);
});

test('escape directive: the backtick continues lines', async () => {
  const uri = await open('# escape=`\nFROM a\nRUN echo `\nhello `\n  world\nRUN echo \\\nnot continued\n');
  assert.deepEqual(await format(uri), [edit(3, 0, 0, '    '), edit(4, 0, 2, '    ')]);
});

test('a line that starts inside a quoted string or a glued word keeps its indentation', async () => {
  const text = 'FROM a\nRUN echo "one \\\n   two" \\\n  three\nRUN echo abc\\\ndef\n';
  const uri = await open(text);
  // Re-indenting "   two" would change the string; indenting "def" would split the word.
  assert.deepEqual(await format(uri), [edit(3, 0, 2, '    ')]);
});

test('trailing whitespace and the final newline, only when asked for', async () => {
  const text = '# syntax=docker/dockerfile:1   \nFROM x   \nRUN a   \\  \n    b  \nRUN <<EOF\nkeep   \nEOF\nCMD x';
  const uri = await open(text);
  assert.deepEqual(await format(uri), []);
  const edits = await format(uri, { ...SPACES, trimTrailingWhitespace: true, insertFinalNewline: true });
  assert.deepEqual(edits, [edit(1, 6, 9, ''), edit(2, 9, 11, ''), edit(3, 5, 7, ''), edit(7, 5, 5, '\n')]);
  assert.equal(
    apply(text, edits),
    '# syntax=docker/dockerfile:1   \nFROM x\nRUN a   \\\n    b\nRUN <<EOF\nkeep   \nEOF\nCMD x\n',
  );
  // A file with CRLF line ends gets a CRLF.
  const crlf = await open('FROM x\r\nRUN a \\\r\nb');
  assert.deepEqual(await format(crlf, { ...SPACES, insertFinalNewline: true }), [edit(2, 0, 0, '    '), edit(2, 1, 1, '\r\n')]);
});

test('range formatting formats only the lines of the ranges', async () => {
  const text = '  FROM a\n  RUN b \\\nc \\\nd\n  CMD e\n';
  const uri = await open(text);
  const range = (sl: number, sc: number, el: number, ec: number) => ({ start: { line: sl, character: sc }, end: { line: el, character: ec } });
  const rangeFormat = (r: ReturnType<typeof range>) =>
    client.request<TextEdit[]>('textDocument/rangeFormatting', { textDocument: { uri }, range: r, options: SPACES });
  assert.deepEqual(await rangeFormat(range(1, 3, 2, 1)), [edit(1, 0, 2, ''), edit(2, 0, 0, '    ')]);
  // A selection of whole lines ends at the start of the next line, which it does not include.
  assert.deepEqual(await rangeFormat(range(2, 0, 3, 0)), [edit(2, 0, 0, '    ')]);
  assert.deepEqual(await rangeFormat(range(3, 1, 3, 1)), [edit(3, 0, 0, '    ')]);
  const ranges = await client.request<TextEdit[]>('textDocument/rangesFormatting', {
    textDocument: { uri },
    ranges: [range(4, 0, 4, 3), range(0, 0, 0, 1)],
    options: SPACES,
  });
  assert.deepEqual(ranges, [edit(0, 0, 2, ''), edit(4, 0, 2, '')]);
});

test('on type: a newline after a continued line indents the new line', async () => {
  const onType = (uri: string, line: number, character: number, ch: string, options = SPACES) =>
    client.request<TextEdit[]>('textDocument/onTypeFormatting', { textDocument: { uri }, position: { line, character }, ch, options });
  // The user pressed Enter at the end of `RUN apk add \`.
  assert.deepEqual(await onType(await open('FROM a\nRUN apk add \\\n'), 2, 0, '\n'), [edit(2, 0, 0, '    ')]);
  // The editor's own indentation is replaced by the unit.
  assert.deepEqual(await onType(await open('FROM a\nRUN apk add \\\n  '), 2, 2, '\n'), [edit(2, 0, 2, '    ')]);
  assert.deepEqual(await onType(await open('FROM a\nRUN apk add \\\n    \\\n'), 3, 0, '\n', TABS), [edit(3, 0, 0, '\t')]);
  // At the end of the file, after a comment inside the continuation: still continued.
  assert.deepEqual(await onType(await open('RUN a \\\n    # note\n'), 2, 0, '\n'), [edit(2, 0, 0, '    ')]);
  // Enter in the middle of a line: the rest moves down, indented.
  assert.deepEqual(await onType(await open('RUN a \\\nb\n'), 1, 0, '\n'), [edit(1, 0, 0, '    ')]);
  // Nothing after a line that does not continue, in a heredoc body, or after a comment.
  assert.deepEqual(await onType(await open('FROM a\nRUN b\n'), 2, 0, '\n'), []);
  assert.deepEqual(await onType(await open('RUN <<EOF\necho \\\n\nEOF\n'), 2, 0, '\n'), []);
  assert.deepEqual(await onType(await open('# note \\\n\nFROM a\n'), 1, 0, '\n'), []);
});

test('on type: the escape character typed at the end of a line indents the next line', async () => {
  const onType = (uri: string, line: number, character: number, ch: string) =>
    client.request<TextEdit[]>('textDocument/onTypeFormatting', { textDocument: { uri }, position: { line, character }, ch, options: SPACES });
  assert.deepEqual(await onType(await open('RUN a \\\nb\n'), 0, 7, '\\'), [edit(1, 0, 0, '    ')]);
  assert.deepEqual(await onType(await open('RUN a \\\n  b\n'), 0, 7, '\\'), [edit(1, 0, 2, '    ')]);
  assert.deepEqual(await onType(await open('RUN a \\\n    b\n'), 0, 7, '\\'), []);
  // Not at the end of the line; no next line; a comment; a blank next line.
  assert.deepEqual(await onType(await open('RUN a \\ b\nc\n'), 0, 7, '\\'), []);
  assert.deepEqual(await onType(await open('RUN a \\'), 0, 7, '\\'), []);
  assert.deepEqual(await onType(await open('# a \\\nb\n'), 0, 5, '\\'), []);
  assert.deepEqual(await onType(await open('RUN a \\\n\nb\n'), 0, 7, '\\'), []);
  // Under `# escape=\``, the backtick continues and the backslash does not.
  const backtick = await open('# escape=`\nRUN a `\nb\n');
  assert.deepEqual(await onType(backtick, 1, 7, '`'), [edit(2, 0, 0, '    ')]);
  assert.deepEqual(await onType(await open('# escape=`\nRUN a \\\nb\n'), 1, 7, '\\'), []);
});

test('ignoreMultilineInstructions from workspace/configuration leaves multi-line instructions as written', async () => {
  const c = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    settings: { tug: { formatter: { ignoreMultilineInstructions: true } } },
  });
  try {
    // The server asks for its settings once initialized; a request after that sees them.
    const deadline = Date.now() + 5000;
    while (!c.serverRequests.some((r) => r.method === 'workspace/configuration') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const text = '  FROM a\n  RUN a \\\n b \\   \n     c\n  CMD x   \n';
    const uri = await open(text, c);
    await c.request('textDocument/foldingRange', { textDocument: { uri } });
    const edits = await format(uri, { ...SPACES, trimTrailingWhitespace: true }, c);
    assert.deepEqual(edits, [edit(0, 0, 2, ''), edit(4, 0, 2, ''), edit(4, 7, 10, '')]);
    const onType = await c.request<TextEdit[]>('textDocument/onTypeFormatting', {
      textDocument: { uri },
      position: { line: 1, character: 9 },
      ch: '\\',
      options: SPACES,
    });
    assert.deepEqual(onType, []);
  } finally {
    await c.stop();
  }
});

test('ignoreMultilineInstructions from initializationOptions', async () => {
  const capabilities = { ...vscodeLikeCapabilities, workspace: { ...vscodeLikeCapabilities.workspace, configuration: false } };
  const c = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    capabilities,
    initializationOptions: { formatter: { ignoreMultilineInstructions: true } },
  });
  try {
    const uri = await open('  RUN a \\\n b\n  CMD x\n', c);
    assert.deepEqual(await format(uri, SPACES, c), [edit(2, 0, 2, '')]);
  } finally {
    await c.stop();
  }
});

/** What BuildKit sees of each instruction, with runs of whitespace made one space. */
function meaning(text: string): string[] {
  return analyze(text).syntax.instructions.map((i) => i.logical.text.replace(/\s+/g, ' ').trim());
}

/** Every line indented by two more spaces (but directives and heredocs), so that there is work to do. */
function indentEverything(text: string): string {
  const { syntax } = analyze(text);
  const keep = new Set(syntax.directives.map((d) => d.line));
  for (const i of syntax.instructions) for (let line = i.endLine + 1; line <= i.lastLine; line++) keep.add(line);
  return text
    .split('\n')
    .map((line, n) => (keep.has(n) || line === '' ? line : `  ${line}`))
    .join('\n');
}

test('every fixture: formatting is idempotent and changes no instruction beyond whitespace', async () => {
  const options = { ...SPACES, trimTrailingWhitespace: true, insertFinalNewline: true };
  for (const dir of ['official', 'broken']) {
    for (const name of readdirSync(join(FIXTURES, dir))) {
      const text = readFileSync(join(FIXTURES, dir, name), 'utf8');
      const messy = indentEverything(text);
      const uri = await open(messy);
      const formatted = apply(messy, await format(uri, options));
      assert.deepEqual(meaning(formatted), meaning(text), `${dir}/${name}`);
      await client.change(uri, formatted);
      assert.deepEqual(await format(uri, options), [], `${dir}/${name} formats again`);
    }
  }
});

test('bad input never throws, and an unterminated heredoc gets no final newline', () => {
  const ctx: FeatureContext = { settings: DEFAULT_SETTINGS, client: { snippets: false, markdown: false, hierarchicalSymbols: false } };
  const options = { ...SPACES, trimTrailingWhitespace: true, insertFinalNewline: true };
  const texts = [
    '',
    '\\',
    '  \\\n  \\\n',
    'RUN echo "unterminated \\\n  x',
    'RUN <<EOF\n  body  ',
    'FROM a\u0000\n  RUN \u0000 \\\n\u0000',
    `RUN ${'x '.repeat(100_000)}\\\n  y`,
    '\ufeff  FROM a\n',
    'ONBUILD RUN a \\\n  b',
  ];
  for (const text of texts) {
    const doc = new Document('file:///x/Dockerfile', 1, text);
    const edits = formatDocument(doc, options, ctx);
    apply(text, edits);
    for (let line = 0; line < doc.lines.lineCount; line++) {
      formatOnType(doc, { line, character: 0 }, '\n', options, ctx);
      formatOnType(doc, { line, character: 200 }, '\\', options, ctx);
    }
  }
  const heredoc = new Document('file:///x/Dockerfile', 1, 'RUN <<EOF\n  body  ');
  assert.deepEqual(formatDocument(heredoc, options, ctx), []);
  const bom = new Document('file:///x/Dockerfile', 1, '\ufeff  FROM a\n');
  assert.deepEqual(formatDocument(bom, options, ctx), [edit(0, 1, 3, '')]);
});
