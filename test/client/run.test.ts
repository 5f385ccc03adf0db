// The extension's run: a container on a real tugd, attached as a terminal would be — output as
// it comes (stdout and stderr apart without a terminal), keys to a shell in a terminal, the exit
// code, and a detach that leaves the container running.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachedContainer, portBindings, volumeMount } from '../../client/src/run';
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

test('ports and volumes as `docker run` writes them reach the container', async () => {
  assert.deepEqual(portBindings(['8080:80', '127.0.0.1::53/udp', '9000', '[::1]:1:2']), {
    ExposedPorts: { '80/tcp': {}, '53/udp': {}, '9000/tcp': {}, '2/tcp': {} },
    PortBindings: {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
      '2/tcp': [{ HostIp: '::1', HostPort: '1' }],
    },
  });
  assert.throws(() => portBindings(['80/icmp']), /invalid port "80\/icmp"/);
  assert.throws(() => volumeMount('relative'), /invalid volume "relative"/);
  const dir = await mkdtemp(join(tmpdir(), 'tug-volume-'));
  await writeFile(join(dir, 'hello.txt'), 'from the host');
  const out: Record<string, string> = { stdout: '', stderr: '' };
  const container = await AttachedContainer.start(t.client, { image: t.busybox, command: ['sh', '-c', 'cat /data/hello.txt; touch /data/x'], volumes: [`${dir}:/data:ro`], tty: false, interactive: false, autoRemove: true }, (d, stream) => (out[stream] += d.toString()));
  assert.equal(await container.exited, 1);
  assert.deepEqual(out, { stdout: 'from the host', stderr: 'touch: /data/x: Read-only file system\n' });
  await rm(dir, { recursive: true });
});
