import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LspClient } from '../lsp-client';

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    settings: { tug: { diagnostics: { shellcheck: false, registry: false, buildContext: false } } },
  });
});
after(async () => {
  await client?.stop();
});

function bigDockerfile(lines: number): string {
  const out = ['FROM debian:12'];
  while (out.length < lines) out.push(`RUN echo ${out.length} \\`, '    && true', `ENV V${out.length}=x`);
  return out.join('\n');
}

test('a burst of edits is checked fewer times than it has edits, ending on the last version', async () => {
  const uri = 'file:///tmp/tug-test/debounce/Dockerfile';
  const text = bigDockerfile(10_000);
  await client.open(uri, text);
  await client.waitForDiagnostics(uri);
  const publishes: number[] = [];
  const counting = setInterval(() => {
    const last = client.lastDiagnostics(uri);
    if (last?.version !== undefined && publishes[publishes.length - 1] !== last.version) publishes.push(last.version);
  }, 1);
  let version = 1;
  for (let k = 0; k < 30; k++) version = await client.change(uri, `${text}\nrun echo ${k}`);
  const final = await client.waitForDiagnostics(uri, version);
  clearInterval(counting);
  assert.equal(final.version, version);
  // The last edit left a lower-case `run`: its diagnostic is there, on the last line.
  assert.ok(final.diagnostics.some((d) => d.code === 'InstructionCasing' && d.range.start.line === 10_000));
  assert.ok(publishes.length < 30, `published ${publishes.length} times for 30 edits`);
});

test('a malformed Dockerfile gets all its errors at once, each with a code and a source', async () => {
  const uri = 'file:///tmp/tug-test/all/Dockerfile';
  await client.open(uri, 'FROM\nrun echo hi\nFROB x\nEXPOSE 80/tcpx\nCOPY a\nHEALTHCHECK --interval=5 CMD true\n');
  const { diagnostics } = await client.waitForDiagnostics(uri);
  const codes = new Set(diagnostics.map((d) => d.code));
  for (const code of ['MissingArgument', 'InstructionCasing', 'UnknownInstruction', 'InvalidProtocol', 'RequiresAtLeastTwoArguments', 'DurationMissingUnit']) {
    assert.ok(codes.has(code), `${code} missing from ${[...codes].join(', ')}`);
  }
  assert.ok(diagnostics.every((d) => typeof d.code === 'string' && typeof d.source === 'string'));
});
