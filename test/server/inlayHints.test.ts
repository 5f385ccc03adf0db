import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InlayHint, Range } from 'vscode-languageserver-protocol';
import { LspClient, vscodeLikeCapabilities } from '../lsp-client';

// Inlay hints showing what variables in FROM lines resolve to, over the real server.

const uri = 'file:///tmp/tug-test/inlay/Dockerfile';
const long = 'x'.repeat(60);
const lines = [
  /*  0 */ 'ARG NODE_VERSION=20.11',
  /*  1 */ 'ARG PLATFORM=linux/arm64',
  /*  2 */ 'ARG EMPTY=',
  /*  3 */ 'ARG NOVALUE',
  /*  4 */ `ARG LONG=${long}`,
  /*  5 */ 'ARG DERIVED=v${NODE_VERSION}',
  /*  6 */ 'FROM --platform=${PLATFORM} node:${NODE_VERSION}-alpine AS build',
  /*  7 */ 'ARG NODE_VERSION',
  /*  8 */ 'RUN echo $NODE_VERSION',
  /*  9 */ 'FROM node:$NOVALUE$EMPTY',
  /* 10 */ 'FROM busybox:$LONG AS ${NODE_VERSION}',
  /* 11 */ 'FROM \\',
  /* 12 */ '  alpine:$DERIVED',
  /* 13 */ '',
];
const text = lines.join('\n');
const everything: Range = { start: { line: 0, character: 0 }, end: { line: lines.length, character: 0 } };

/** The position just after the nth `needle` on a line. */
function endOf(line: number, needle: string): { line: number; character: number } {
  const at = lines[line].indexOf(needle);
  assert.ok(at >= 0, `no ${needle} on line ${line}`);
  return { line, character: at + needle.length };
}

const hint = (line: number, needle: string, label: string, tooltip: string): InlayHint => ({
  position: endOf(line, needle),
  label,
  kind: 1,
  paddingLeft: true,
  tooltip,
});

const allHints = [
  hint(6, '${PLATFORM}', '= linux/arm64', "PLATFORM is 'linux/arm64' (ARG on line 2)"),
  hint(6, '${NODE_VERSION}', '= 20.11', "NODE_VERSION is '20.11' (ARG on line 1)"),
  hint(9, '$EMPTY', '= ""', 'EMPTY is empty (ARG on line 3)'),
  hint(10, '$LONG', `= ${'x'.repeat(47)}…`, `LONG is '${long}' (ARG on line 5)`),
  hint(12, '$DERIVED', '= v20.11', "DERIVED is 'v20.11' (ARG on line 6)"),
];

async function hintsOf(client: LspClient, range: Range = everything): Promise<InlayHint[]> {
  return client.request<InlayHint[]>('textDocument/inlayHint', { textDocument: { uri }, range });
}

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: { tug: { inlayHints: { variables: true } } } });
  await client.open(uri, text);
});
after(async () => {
  await client?.stop();
});

test('the server announces inlay hints', () => {
  assert.equal(client.serverCapabilities.inlayHintProvider, true);
});

test('FROM images and --platform show what their variables resolve to', async () => {
  assert.deepEqual(await hintsOf(client), allHints);
});

test('only the hints in the requested range', async () => {
  const line6: Range = { start: { line: 6, character: 0 }, end: { line: 7, character: 0 } };
  assert.deepEqual(await hintsOf(client, line6), allHints.slice(0, 2));
  const partOfLine6: Range = { start: { line: 6, character: 30 }, end: { line: 6, character: 60 } };
  assert.deepEqual(await hintsOf(client, partOfLine6), allHints.slice(1, 2));
  assert.deepEqual(await hintsOf(client, { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } }), []);
});

test('hints follow edits', async () => {
  const u = 'file:///tmp/tug-test/inlay/edited.Dockerfile';
  await client.open(u, 'ARG V=1\nFROM alpine:$V\n');
  const range = { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } };
  const first = await client.request<InlayHint[]>('textDocument/inlayHint', { textDocument: { uri: u }, range });
  assert.deepEqual(first.map((h) => h.label), ['= 1']);
  await client.change(u, 'ARG V=3.20\nFROM alpine:$V\n');
  const second = await client.request<InlayHint[]>('textDocument/inlayHint', { textDocument: { uri: u }, range });
  assert.deepEqual(second.map((h) => [h.label, h.position]), [['= 3.20', { line: 1, character: 14 }]]);
});

test('the setting turns hints off through workspace/configuration, and on again', async () => {
  const other = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: { tug: { inlayHints: { variables: false } } } });
  try {
    await other.open(uri, text);
    // The server pulls its settings once initialized; wait until it has asked and applied them.
    const deadline = Date.now() + 5000;
    let hints = await hintsOf(other);
    while (hints.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      hints = await hintsOf(other);
    }
    assert.ok(other.serverRequests.some((r) => r.method === 'workspace/configuration'));
    assert.deepEqual(hints, []);

    other.settings = { tug: { inlayHints: { variables: true } } };
    await other.notify('workspace/didChangeConfiguration', { settings: {} });
    while (!hints.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      hints = await hintsOf(other);
    }
    assert.deepEqual(hints, allHints);
  } finally {
    await other.stop();
  }
});

test('the setting turns hints off through initializationOptions', async () => {
  const capabilities = { ...vscodeLikeCapabilities, workspace: { ...vscodeLikeCapabilities.workspace, configuration: false } };
  const other = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    capabilities,
    initializationOptions: { inlayHints: { variables: false } },
  });
  try {
    await other.open(uri, text);
    assert.deepEqual(await hintsOf(other), []);
    // Pushed settings turn them back on.
    await other.notify('workspace/didChangeConfiguration', { settings: { tug: { inlayHints: { variables: true } } } });
    assert.deepEqual(await hintsOf(other), allHints);
  } finally {
    await other.stop();
  }
});
