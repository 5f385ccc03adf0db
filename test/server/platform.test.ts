import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import { LspClient } from '../lsp-client';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { hostPlatform } from '../../server/src/dockerfile/platform';

// A real registry (Debian's docker-registry on 127.0.0.1) answers which platforms an image has.

let registry: TestRegistry;
let client: LspClient;
const host = hostPlatform();
const other = host.architecture === 'arm64' ? { os: 'linux', architecture: 'amd64' } : { os: 'linux', architecture: 'arm64' };

before(async () => {
  registry = await startRegistry();
  await registry.push('single/other', '1', { platforms: [other] });
  await registry.push('single/host', '1', { platforms: [host] });
  await registry.push('multi/app', '2', { platforms: [host, { os: 'linux', architecture: 's390x' }] });
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
});
after(async () => {
  await client?.stop();
  await registry?.stop();
});

async function platformDiagnostics(uri: string, text: string, expectAny: boolean): Promise<Diagnostic[]> {
  await client.open(uri, text);
  const deadline = Date.now() + (expectAny ? 10_000 : 2_000);
  for (;;) {
    const found = (client.lastDiagnostics(uri)?.diagnostics ?? []).filter((d) => d.code === 'InvalidBaseImagePlatform');
    if (found.length || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a single-platform base image for another architecture is reported on the image', async () => {
  const text = `FROM ${registry.host}/single/other:1\nRUN true\n`;
  const found = await platformDiagnostics('file:///tmp/tug-test/platform/a.Dockerfile', text, true);
  assert.equal(found.length, 1);
  assert.equal(found[0].source, 'buildkit');
  assert.equal(found[0].severity, 2);
  assert.deepEqual(found[0].range, { start: { line: 0, character: 5 }, end: { line: 0, character: 5 + `${registry.host}/single/other:1`.length } });
  assert.match(found[0].message as string, new RegExp(`was pulled with platform "linux/${other.architecture}", expected "linux/${host.architecture}"`));
});

test('--platform picks the platform to check, variables resolved through global ARGs', async () => {
  const text = `ARG P=linux/s390x\nFROM --platform=$P ${registry.host}/multi/app:2 AS a\nFROM --platform=linux/ppc64le ${registry.host}/multi/app:2 AS b\n`;
  const found = await platformDiagnostics('file:///tmp/tug-test/platform/b.Dockerfile', text, true);
  assert.deepEqual(found.map((d) => d.range.start.line), [2]);
  assert.match(found[0].message as string, /offers no "linux\/ppc64le" image \(it has linux\/\w+, linux\/s390x\)/);
});

test('matching images, stages, scratch and unknown images get nothing', async () => {
  const text = [
    `FROM ${registry.host}/single/host:1 AS base`,
    `FROM ${registry.host}/multi/app:2`,
    'FROM base',
    'FROM scratch',
    `FROM ${registry.host}/does/not-exist:1`,
  ].join('\n');
  assert.deepEqual(await platformDiagnostics('file:///tmp/tug-test/platform/c.Dockerfile', text, false), []);
});
