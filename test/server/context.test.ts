import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import { LspClient } from '../lsp-client';

// A real build context on disk, with a .dockerignore.

let dir: string;
let client: LspClient;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-context-'));
  await mkdir(join(dir, 'src/lib'), { recursive: true });
  await writeFile(join(dir, 'package.json'), '{}');
  await writeFile(join(dir, 'src/index.js'), '');
  await writeFile(join(dir, 'src/lib/a.js'), '');
  await writeFile(join(dir, 'secret.env'), 'X=1');
  await writeFile(join(dir, 'notes.md'), '');
  await writeFile(join(dir, '.dockerignore'), '*.env\n*.md\n!README.md\n');
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
});
after(async () => {
  await client?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function contextDiagnostics(name: string, text: string): Promise<Diagnostic[]> {
  const uri = pathToFileURL(join(dir, name)).href;
  await client.open(uri, text);
  const deadline = Date.now() + 3000;
  let last: Diagnostic[] = [];
  // The context check is asynchronous: wait for the second publish, or settle on the first.
  while (Date.now() < deadline) {
    last = (client.lastDiagnostics(uri)?.diagnostics ?? []).filter((d) => d.code === 'SourceNotFound' || d.code === 'CopyIgnoredFile');
    if (last.length) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}

test('missing sources and .dockerignored sources are reported on the source word', async () => {
  const text = [
    'FROM node:20 AS build',
    'ARG SRC=src',
    'COPY package.json missing.json ./',
    'COPY ${SRC}/index.js ${SRC}/lib/*.js /app/',
    'COPY src/*.ts /app/',
    'ADD secret.env /etc/',
    'COPY ["notes.md", "/docs/"]',
    'COPY --from=build /app /app',
    'ADD https://example.com/x.tgz /tmp/',
    'COPY <<EOF /etc/motd',
    'hello',
    'EOF',
    'COPY ../package.json /abs/',
  ].join('\n');
  const found = await contextDiagnostics('Dockerfile', text);
  const summary = found
    .map((d) => `${d.code} ${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.message}`)
    .sort();
  assert.deepEqual(summary, [
    `CopyIgnoredFile 5:4-14 Attempting to Add file "secret.env" that is excluded by .dockerignore`,
    `CopyIgnoredFile 6:6-16 Attempting to Copy file "notes.md" that is excluded by .dockerignore`,
    `SourceNotFound 2:18-30 COPY source "missing.json" not found in the build context (${dir})`,
    `SourceNotFound 4:5-13 COPY source "src/*.ts" not found in the build context (${dir})`,
  ]);
  assert.equal(found.find((d) => d.code === 'CopyIgnoredFile')!.source, 'buildkit');
});

test('the build-context check can be turned off', async () => {
  const off = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: { tug: { diagnostics: { buildContext: false } } } });
  try {
    const uri = pathToFileURL(join(dir, 'off.Dockerfile')).href;
    await off.open(uri, 'FROM node:20\nCOPY missing.json /\n');
    await off.waitForDiagnostics(uri);
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual((off.lastDiagnostics(uri)?.diagnostics ?? []).filter((d) => d.code === 'SourceNotFound'), []);
  } finally {
    await off.stop();
  }
});
