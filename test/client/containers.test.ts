// The Containers view's model against a real tugd: the list read once, then kept current from
// /events, each change named by its container; an engine restart is ridden out.

import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, test } from 'node:test';
import { ContainersModel } from '../../client/src/containers';
import { startEngine } from '../helpers/engine';
import { busyboxEngine } from '../helpers/busybox-engine';
import { until } from '../helpers/wait';

const t = busyboxEngine({ pull: true });
let model: ContainersModel;
const changes: (string | null)[] = [];

after(async () => {
  await model?.stop();
});

test('a container\'s life shows in the model as it happens, each event naming only its container', async () => {
  const existing = (await t.engine.docker(['create', '--name', 'before', t.busybox, 'true'])).stdout.trim();
  model = new ContainersModel(t.client);
  model.onChange((id) => changes.push(id));
  await model.start();
  assert.deepEqual(model.list().map((c) => c.Id), [existing]);
  assert.deepEqual(changes, [null]);

  const id = (await t.engine.docker(['run', '-d', '--name', 'web', t.busybox, 'sleep', '30'])).stdout.trim();
  await until('the new container running', () => model.get(id)?.State === 'running');
  assert.deepEqual(model.list().map((c) => c.Names[0]), ['/web', '/before']);
  await t.engine.docker(['stop', '-t', '0', id]);
  await until('it exited', () => model.get(id)?.State === 'exited');
  await t.engine.docker(['rm', id, existing]);
  await until('both gone', () => model.list().length === 0);
  // After the first read, every change named a container: nothing made the whole list render again.
  assert.deepEqual(changes.slice(1).filter((c) => c === null), []);
  assert.ok(changes.slice(1).every((c) => c === id || c === existing), JSON.stringify(changes));
});

test('an engine restart drops the stream; the model reconnects, reads the list again and follows on', async () => {
  await t.engine.stop({ keep: true });
  await until('the drop noticed', () => !model.connected);
  t.engine = await startEngine({ dir: dirname(t.engine.dataRoot) });
  await until('reconnected', () => model.connected);
  const id = (await t.engine.docker(['run', '-d', t.busybox, 'sleep', '30'])).stdout.trim();
  await until('the container seen after the restart', () => model.get(id)?.State === 'running');
  await t.engine.docker(['rm', '-f', id]);
  await until('it is gone', () => !model.get(id));
});
