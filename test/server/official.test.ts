import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { LspClient } from '../lsp-client';

// Valid Dockerfiles in the style of the official images get no error from any source, the
// asynchronous ones (shellcheck, the build context) included.

const DIR = join(__dirname, '../fixtures/dockerfiles/official');
let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio'], { settings: { tug: { diagnostics: { registry: false } } } });
});
after(async () => {
  await client?.stop();
});

test('no official-style Dockerfile gets an error', async () => {
  const files = readdirSync(DIR);
  assert.ok(files.length >= 40);
  const uris = [];
  for (const name of files) {
    const uri = pathToFileURL(join(DIR, name)).href;
    await client.open(uri, readFileSync(join(DIR, name), 'utf8'));
    uris.push(uri);
  }
  // Wait until shellcheck has spoken for the files that have shell: a publish with SC codes or
  // the quiet period passing twice over.
  await new Promise((r) => setTimeout(r, 2500));
  const errors = uris.flatMap((uri) =>
    (client.lastDiagnostics(uri)?.diagnostics ?? [])
      .filter((d) => d.severity === 1)
      .map((d) => `${uri.split('/').pop()}:${d.range.start.line + 1} ${d.source} ${d.code} ${d.message}`),
  );
  assert.deepEqual(errors, []);
  assert.ok(uris.some((uri) => client.lastDiagnostics(uri)?.diagnostics.some((d) => d.source === 'shellcheck')), 'shellcheck ran');
});
