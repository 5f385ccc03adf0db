// The Images view's data against a real tugd: images by repository and tag, and a built image's
// layers as the instructions of its Dockerfile.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { imageLayers, instruction, listImages } from '../../client/src/images';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine();
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-client-images-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('images by tag, and a built image\'s layers as its Dockerfile\'s instructions', async () => {
  await writeFile(join(dir, 'Dockerfile'), `FROM ${t.busybox}\nARG WHO="two words"\nCOPY a.txt /a.txt\nRUN echo "$WHO" > /who\nENV X=1\nCMD ["cat", "/who"]\n`);
  await writeFile(join(dir, 'a.txt'), 'a'.repeat(1000));
  const built = await t.engine.docker(['build', '-t', 'app:1', '-t', 'app:latest', dir]);
  assert.equal(built.code, 0, built.stderr);
  const client = t.client;
  const items = await listImages(client);
  assert.deepEqual(
    items.map((i) => `${i.repository}:${i.tag}`),
    ['app:1', 'app:latest', t.busybox],
  );
  assert.equal(items[0].id, items[1].id);
  const layers = await imageLayers(client, 'app:1');
  const own = layers.slice(-5);
  assert.deepEqual(own.map((l) => l.instruction.replace(/file:[0-9a-f]+/, 'file:…')), [
    'ARG WHO=two words',
    'COPY file:… in /a.txt',
    'RUN echo "$WHO" > /who',
    'ENV X=1',
    'CMD ["cat" "/who"]',
  ]);
  assert.ok(own[1].size >= 1000, JSON.stringify(own[1]));
  assert.equal(own[3].size, 0);
});

test('history lines of both builders read as instructions', () => {
  assert.equal(instruction('/bin/sh -c #(nop)  EXPOSE 80/tcp'), 'EXPOSE 80/tcp');
  assert.equal(instruction('|2 A=1 B=two words /bin/sh -c make all'), 'RUN make all');
  assert.equal(instruction('RUN /bin/sh -c apk add curl # buildkit'), 'RUN /bin/sh -c apk add curl');
  assert.equal(instruction('COPY . /app # buildkit'), 'COPY . /app');
  assert.equal(instruction('/bin/sh -c echo hi'), 'RUN echo hi');
});
