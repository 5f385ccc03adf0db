// `npm start`'s offline path: with no registry reachable, the examples' busybox:latest is made
// from Debian's busybox-static and loaded into the engine, where it runs with all of busybox's
// applets; once there, `npm start` leaves it as it is.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { loadBusybox } from '../../scripts/busybox-image';
import { ensureBusybox } from '../../scripts/start';
import { startEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
});

test('busybox:latest made from busybox-static runs, with every applet, and is then left as it is', async () => {
  const client = new EngineClient(engine.socket);
  await loadBusybox(client, 'busybox:latest');
  const ok = await engine.docker(['run', '--rm', 'busybox:latest', 'sh', '-c', 'echo ok']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'ok\n');
  const run = await engine.docker(['run', '--rm', 'busybox', 'sh', '-c', 'httpd --help 2>&1 | head -1; id -un; ls -d /var /tmp']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^BusyBox v[\d.]+ .*\nroot\n\/tmp\n\/var\n$/);
  const history = await engine.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'busybox']);
  assert.match(history.stdout, /busybox-static/);
  assert.equal(await ensureBusybox(client), 'present');
});
