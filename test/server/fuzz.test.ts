import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mulberry32 } from '../helpers/random';
import { LspClient } from '../lsp-client';

// Thousands of random and mutated Dockerfiles through the real server: every request must
// answer, and the server must neither log an exception nor die. FUZZ_COUNT sets how many.

const COUNT = Number(process.env.FUZZ_COUNT ?? 1500);
const FIXTURES = join(__dirname, '../fixtures/dockerfiles');


function seeds(): string[] {
  const out = [
    'FROM alpine:3.20 AS build\nARG V=1\nENV A=${V:-x} B="q r"\nRUN --mount=type=cache,target=/c apk add x \\\n  && echo $A\nCOPY --from=build /a /b\nCMD ["sh"]\n',
    '# syntax=docker/dockerfile:1\n# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN echo `\n  hi\n',
    'FROM debian\nRUN <<EOF\nset -e\necho $HOME\nEOF\nCOPY <<-"X" /f\n\tbody\n\tX\n',
    'ONBUILD ONBUILD RUN x\nHEALTHCHECK --interval=5 CMD\nEXPOSE 80/tcpx 1:2:3\nSTOPSIGNAL SIGNOPE\n',
  ];
  for (const dir of ['official', 'broken']) {
    try {
      for (const f of readdirSync(join(FIXTURES, dir))) out.push(readFileSync(join(FIXTURES, dir, f), 'utf8'));
    } catch {
      // The corpus is optional for this test.
    }
  }
  return out;
}

const PIECES = [
  '\\', '\\\n', '`', '$', '${', '}', '${A:-', '"', "'", '[', ']', '["a",', '<<EOF', '<<-', '\nEOF', '--', '--mount=',
  'type=', ',', '=', '\n', '\r\n', '\t', ' ', '#', '# escape=`\n', '\0', '\uFFFD', '\uD800', '😀', 'FROM ', 'RUN ', 'COPY ',
  'ONBUILD ', 'HEALTHCHECK ', 'ARG ', 'ENV ', 'AS ', ' AS x', 'x'.repeat(5000), '\n\n\n', 'ａ', '\u2028',
];

function mutate(text: string, rand: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  let out = text;
  const edits = 1 + Math.floor(rand() * 8);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rand() * (out.length + 1));
    const op = rand();
    if (op < 0.5) out = out.slice(0, at) + pick(PIECES) + out.slice(at);
    else if (op < 0.75) out = out.slice(0, at) + out.slice(at + Math.floor(rand() * 40));
    else if (op < 0.9) {
      const lines = out.split('\n');
      const i = Math.floor(rand() * lines.length);
      lines.splice(i, 0, lines[Math.floor(rand() * lines.length)] ?? '');
      out = lines.join('\n');
    } else out = out.slice(0, at).toLowerCase() + out.slice(at);
  }
  return out;
}

function randomText(rand: () => number): string {
  let out = '';
  const n = Math.floor(rand() * 60);
  for (let k = 0; k < n; k++) out += PIECES[Math.floor(rand() * PIECES.length)] + (rand() < 0.3 ? String.fromCharCode(Math.floor(rand() * 0x3000)) : '');
  return out;
}

function bigFile(): string {
  const lines = ['ARG BASE=debian:12', 'FROM ${BASE} AS s0'];
  for (let i = 0; lines.length < 10_000; i++) {
    if (i % 500 === 0) lines.push(`FROM s${Math.floor(i / 500)} AS s${Math.floor(i / 500) + 1}`);
    lines.push(`ENV V${i}=$V${i - 1}`, `RUN echo ${i} \\`, `    && true`, `COPY --from=s0 /a${i} /b`);
  }
  return lines.join('\n');
}

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { timeoutMs: 15_000 });
});
after(async () => {
  await client?.stop();
});

/** Every request the server advertises, at a position. */
async function everyRequest(uri: string, line: number, character: number, lineCount: number): Promise<void> {
  const textDocument = { uri };
  const position = { line, character };
  const range = { start: { line: Math.max(0, line - 3), character: 0 }, end: { line: line + 3, character: 0 } };
  const all = { start: { line: 0, character: 0 }, end: { line: lineCount + 1, character: 0 } };
  const requests: [string, unknown][] = [
    ['textDocument/completion', { textDocument, position }],
    ['textDocument/hover', { textDocument, position }],
    ['textDocument/signatureHelp', { textDocument, position }],
    ['textDocument/definition', { textDocument, position }],
    ['textDocument/references', { textDocument, position, context: { includeDeclaration: true } }],
    ['textDocument/documentHighlight', { textDocument, position }],
    ['textDocument/prepareRename', { textDocument, position }],
    ['textDocument/documentSymbol', { textDocument }],
    ['textDocument/foldingRange', { textDocument }],
    ['textDocument/semanticTokens/full', { textDocument }],
    ['textDocument/semanticTokens/range', { textDocument, range }],
    ['textDocument/documentLink', { textDocument }],
    ['textDocument/inlayHint', { textDocument, range: all }],
    ['textDocument/codeAction', { textDocument, range, context: { diagnostics: [] } }],
    ['textDocument/formatting', { textDocument, options: { tabSize: 4, insertSpaces: true } }],
    ['textDocument/rangeFormatting', { textDocument, range, options: { tabSize: 2, insertSpaces: false } }],
    ['textDocument/onTypeFormatting', { textDocument, position, ch: '\n', options: { tabSize: 4, insertSpaces: true } }],
  ];
  for (const [method, params] of requests) {
    if (!client.supports(method)) continue;
    try {
      await client.request(method, params);
    } catch (error) {
      // A rename refusal is an answer; a timeout or an internal error is not.
      if (!(method === 'textDocument/prepareRename' && /rename/i.test(String(error)))) throw new Error(`${method} at ${line}:${character} of ${uri}: ${error}`);
    }
  }
}

test(`${COUNT} random and mutated Dockerfiles: every request answers, nothing is logged`, async () => {
  const rand = mulberry32(20261128);
  const base = seeds();
  for (let n = 0; n < COUNT; n++) {
    const text = rand() < 0.2 ? randomText(rand) : mutate(base[Math.floor(rand() * base.length)], rand);
    const uri = `file:///tmp/tug-fuzz/${n}/Dockerfile`;
    await client.open(uri, text);
    const lines = text.split('\n');
    for (let k = 0; k < 2; k++) {
      const line = Math.floor(rand() * (lines.length + 1));
      const character = Math.floor(rand() * ((lines[line]?.length ?? 0) + 3));
      await everyRequest(uri, line, character, lines.length);
    }
    await client.change(uri, mutate(text, rand));
    await client.waitForDiagnostics(uri);
    await everyRequest(uri, 0, 0, lines.length);
    await client.close(uri);
  }
  const errors = client.notifications.filter((n) => n.method === 'window/logMessage' && (n.params as { type: number }).type === 1);
  assert.deepEqual(errors, []);
  assert.equal(client.stderr, '');
});

test('10,000-line and huge-line files answer every request', async () => {
  for (const [name, text] of [
    ['big', bigFile()],
    ['wide', `FROM alpine\nRUN echo ${'a'.repeat(1_000_000)}\nENV X=${'$Y'.repeat(50_000)}\n`],
  ] as const) {
    const uri = `file:///tmp/tug-fuzz/${name}/Dockerfile`;
    await client.open(uri, text);
    await client.waitForDiagnostics(uri);
    const lines = text.split('\n').length;
    await everyRequest(uri, 1, 5, lines);
    await everyRequest(uri, Math.floor(lines / 2), 3, lines);
    await client.close(uri);
  }
  const errors = client.notifications.filter((n) => n.method === 'window/logMessage' && (n.params as { type: number }).type === 1);
  assert.deepEqual(errors, []);
});

test('invalid UTF-8 on the wire is read as replacement characters, not a crash', async () => {
  const server = spawn('node', ['dist/server.js', '--stdio']);
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const send = (body: Buffer) => server.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  send(json({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } }));
  send(json({ jsonrpc: '2.0', method: 'initialized', params: {} }));
  const open = json({
    jsonrpc: '2.0',
    method: 'textDocument/didOpen',
    params: { textDocument: { uri: 'file:///tmp/x/Dockerfile', languageId: 'dockerfile', version: 1, text: 'FROM alpine\nRUN echo XX\n' } },
  });
  // Replace the two X bytes with an invalid UTF-8 sequence.
  const at = open.indexOf('XX');
  open[at] = 0xc3;
  open[at + 1] = 0x28;
  send(open);
  send(json({ jsonrpc: '2.0', id: 2, method: 'textDocument/hover', params: { textDocument: { uri: 'file:///tmp/x/Dockerfile' }, position: { line: 1, character: 1 } } }));
  const deadline = Date.now() + 10_000;
  while (!(out.includes('"id":2') && out.includes('publishDiagnostics')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  server.kill();
  assert.match(out, /"id":2,"result"/);
  assert.match(out, /publishDiagnostics/);
});
