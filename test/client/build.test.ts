// The extension's build: a Dockerfile's folder built by a real tugd, its progress as text, a
// failure with the line to put a diagnostic on, and a cancel that leaves nothing running.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage } from '../../client/src/build';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine();
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-client-build-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function project(name: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'docker'), { recursive: true });
  for (const [file, body] of Object.entries(files)) await writeFile(join(root, file), body);
  // A Dockerfile below its context, as projects keep them.
  await writeFile(join(root, 'docker', 'app.Dockerfile'), dockerfile.replaceAll('@BASE@', t.busybox));
  return root;
}

test('builds a Dockerfile in its context, tags the image, and streams the steps', async () => {
  const root = await project('ok', 'FROM @BASE@\nCOPY hello.txt /\nRUN cat /hello.txt\n', { 'hello.txt': 'hello from the context\n', '.dockerignore': 'secret\n', secret: 'no' });
  let text = '';
  const result = await buildImage(t.client, { dockerfile: join(root, 'docker', 'app.Dockerfile'), context: root, tags: ['app:dev'] }, (t) => (text += t));
  assert.ok(result.ok, JSON.stringify(result));
  assert.match(result.imageId, /^sha256:[0-9a-f]{64}$/);
  assert.match(text, /Step 1\/3 : FROM /);
  assert.match(text, /hello from the context/);
  const inspect = await t.engine.docker(['image', 'inspect', '--format', '{{.Id}}', 'app:dev']);
  assert.equal(inspect.stdout.trim(), result.imageId);
});

test('a failed step comes back with its Dockerfile line and exit code', async () => {
  const root = await project('fails', 'FROM @BASE@\nRUN true\nRUN echo broken && exit 7\n');
  const result = await buildImage(t.client, { dockerfile: join(root, 'docker', 'app.Dockerfile'), context: root, tags: [] }, () => {});
  assert.deepEqual(result, { ok: false, message: "The command '/bin/sh -c echo broken && exit 7' returned a non-zero code: 7", line: 3, code: 7 });
});

test('cancelling ends the build and leaves no step running', async () => {
  const root = await project('cancel', 'FROM @BASE@\nRUN echo started && sleep 60\n');
  const controller = new AbortController();
  const started = Date.now();
  const result = await buildImage(t.client, { dockerfile: join(root, 'docker', 'app.Dockerfile'), context: root, tags: [] }, (t) => {
    // The step's output, not its "Step 2/2 : RUN echo started…" line: the container runs by then.
    if (/^started$/m.test(t)) controller.abort();
  }, controller.signal);
  assert.deepEqual(result, { ok: false, message: 'the build was cancelled' });
  assert.ok(Date.now() - started < 30_000);
  // The engine hears the connection close and removes the step's container.
  let left = 'unknown';
  for (let i = 0; i < 100; i++) {
    left = (await t.engine.docker(['ps', '-q'])).stdout.trim();
    if (!left) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(left, '');
  assert.doesNotMatch((await t.engine.docker(['ps', '-a', '--no-trunc', '--format', '{{.Command}}'])).stdout, /sleep 60/);
});
