// The extension's run: a container on a real tugd, attached as a terminal would be — output as
// it comes (stdout and stderr apart without a terminal), keys to a shell in a terminal, the exit
// code, and a detach that leaves the container running.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttachedContainer } from '../../client/src/run';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine({ pull: true });

test('output comes as it is written, stdout and stderr apart, then the exit code', async () => {
  const out: Record<string, string> = { stdout: '', stderr: '' };
  const container = await AttachedContainer.start(t.client, { image: t.busybox, command: ['sh', '-c', 'echo out; echo err >&2; exit 3'], tty: false, interactive: false, autoRemove: true }, (data, stream) => (out[stream] += data.toString()));
  assert.equal(await container.exited, 3);
  assert.deepEqual(out, { stdout: 'out\n', stderr: 'err\n' });
});

test('a shell in a terminal takes keys, is sized as asked, and ends with its code', async () => {
  let text = '';
  const container = await AttachedContainer.start(t.client, { image: t.busybox, tty: true, interactive: true, size: { rows: 33, cols: 101 } }, (data) => (text += data.toString()));
  container.write('stty size; echo $((6*7))\n');
  for (let i = 0; i < 100 && !/42\r?\n/.test(text.split('echo $((6*7))').pop() ?? ''); i++) await new Promise((r) => setTimeout(r, 50));
  await container.resize(20, 60);
  container.write('stty size\nexit 5\n');
  assert.equal(await container.exited, 5);
  assert.match(text, /33 101/);
  assert.match(text, /\b42\r?\n/);
  assert.match(text, /20 60/);
  await t.engine.docker(['rm', container.id]);
});

test('detaching leaves the container running', async () => {
  const container = await AttachedContainer.start(t.client, { image: t.busybox, command: ['sleep', '30'], tty: false, interactive: false }, () => {});
  container.detach();
  const state = await t.engine.docker(['inspect', '--format', '{{.State.Running}}', container.id]);
  assert.equal(state.stdout.trim(), 'true');
  await t.engine.docker(['rm', '-f', container.id]);
});
