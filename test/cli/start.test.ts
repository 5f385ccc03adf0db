// `npm start`'s offline path: with no registry reachable (as on every machine here), the
// examples' busybox:latest is made from Debian's busybox-static and loaded into the engine,
// where it runs with all of busybox's applets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { ensureBusybox } from '../../scripts/start';
import { startEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
});

test('busybox:latest is made from busybox-static where Docker Hub is out of reach, once', async () => {
  const client = new EngineClient(engine.socket);
  assert.equal(await ensureBusybox(client), 'made');
  const run = await engine.docker(['run', '--rm', 'busybox', 'sh', '-c', 'wget --help >/dev/null 2>&1; echo $?; httpd --help 2>&1 | head -1; id -un']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^(0|1)\nBusyBox v[\d.]+ .*\nroot\n$/);
  assert.equal(await ensureBusybox(client), 'present');
  const history = await engine.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'busybox']);
  assert.match(history.stdout, /busybox-static/);
});
