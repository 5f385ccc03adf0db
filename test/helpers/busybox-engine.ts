// The setup most engine-facing tests share: a registry on 127.0.0.1 holding the busybox image,
// and a fresh tugd; both gone after the file's tests.

import { after, before } from 'node:test';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { startEngine, type TestEngine } from './engine';
import { busyboxLayer, pushImage } from './images';
import { startRegistry, type TestRegistry } from './registry';

export interface BusyboxEngine {
  registry: TestRegistry;
  /** Replaceable (a test that restarts the engine puts the new one here, for the cleanup). */
  engine: TestEngine;
  client: EngineClient;
  /** The image's name in the registry. */
  busybox: string;
}

/** Registers the setup with the file's before/after hooks; the fields are set once it ran. `pull`: the engine has the image already. */
export function busyboxEngine(options: { pull?: boolean } = {}): BusyboxEngine {
  const it = {} as BusyboxEngine;
  before(async () => {
    it.registry = await startRegistry();
    it.engine = await startEngine();
    it.client = new EngineClient(it.engine.socket);
    await pushImage(it.registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
    it.busybox = `${it.registry.host}/library/busybox:latest`;
    if (options.pull) {
      const pulled = await it.engine.docker(['pull', it.busybox]);
      if (pulled.code !== 0) throw new Error(`docker pull ${it.busybox}: ${pulled.stderr}`);
    }
  });
  after(async () => {
    await it.engine?.stop();
    await it.registry?.stop();
  });
  return it;
}
