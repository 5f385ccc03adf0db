// The Containers view's model against a real tugd: the list read once, then kept current from
// /events, each change named by its container; an engine restart is ridden out.

import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { ContainersModel } from '../../client/src/containers';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { startEngine, type TestEngine } from '../helpers/engine';
import { busyboxLayer, pushImage } from '../helpers/images';
import { startRegistry, type TestRegistry } from '../helpers/registry';

let registry: TestRegistry;
let engine: TestEngine;
let busybox: string;
let model: ContainersModel;
const changes: (string | null)[] = [];

before(async () => {
  registry = await startRegistry();
  engine = await startEngine();
  await pushImage(registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
  busybox = `${registry.host}/library/busybox:latest`;
  assert.equal((await engine.docker(['pull', busybox])).code, 0);
});

after(async () => {
  await model?.stop();
  await engine?.stop();
  await registry?.stop();
});

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), `waited for ${what}`);
}

test('a container\'s life shows in the model as it happens, each event naming only its container', async () => {
  const existing = (await engine.docker(['create', '--name', 'before', busybox, 'true'])).stdout.trim();
  model = new ContainersModel(new EngineClient(engine.socket));
  model.onChange((id) => changes.push(id));
  await model.start();
  assert.deepEqual(model.list().map((c) => c.Id), [existing]);
  assert.deepEqual(changes, [null]);

  const id = (await engine.docker(['run', '-d', '--name', 'web', busybox, 'sleep', '30'])).stdout.trim();
  await until('the new container running', () => model.get(id)?.State === 'running');
  assert.deepEqual(model.list().map((c) => c.Names[0]), ['/web', '/before']);
  await engine.docker(['stop', '-t', '0', id]);
  await until('it exited', () => model.get(id)?.State === 'exited');
  await engine.docker(['rm', id, existing]);
  await until('both gone', () => model.list().length === 0);
  // After the first read, every change named a container: nothing made the whole list render again.
  assert.deepEqual(changes.slice(1).filter((c) => c === null), []);
  assert.ok(changes.slice(1).every((c) => c === id || c === existing), JSON.stringify(changes));
});

test('an engine restart drops the stream; the model reconnects, reads the list again and follows on', async () => {
  await engine.stop({ keep: true });
  await until('the drop noticed', () => !model.connected);
  engine = await startEngine({ dir: dirname(engine.dataRoot) });
  await until('reconnected', () => model.connected);
  const id = (await engine.docker(['run', '-d', busybox, 'sleep', '30'])).stdout.trim();
  await until('the container seen after the restart', () => model.get(id)?.State === 'running');
  await engine.docker(['rm', '-f', id]);
  await until('it is gone', () => !model.get(id));
});
