// tugd: the engine behind the Docker Engine API on a Unix socket.

import { mkdir, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildRoutes } from './api/build';
import { commitRoutes } from './api/commit';
import { containerFileRoutes } from './api/container-files';
import { containerRoutes } from './api/containers';
import { execRoutes } from './api/exec';
import { imageRoutes } from './api/images';
import { networkRoutes } from './api/networks';
import { ApiServer } from './api/server';
import { systemRoutes } from './api/system';
import { volumeRoutes } from './api/volumes';
import { Engine, type EngineOptions } from './engine';

export interface DaemonOptions extends EngineOptions {
  socket: string;
  /** Log every API request (method, path, status, milliseconds) to stderr, as dockerd -D does. */
  debug?: boolean;
}

export const DEFAULT_DATA_ROOT = '/var/lib/tug';

export interface Daemon {
  readonly engine: Engine;
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const engine = await Engine.open(options);
  const api = new ApiServer(options.debug ? (line) => process.stderr.write(`${line}\n`) : undefined);
  systemRoutes(api, engine);
  imageRoutes(api, engine);
  containerRoutes(api, engine);
  containerFileRoutes(api, engine);
  commitRoutes(api, engine);
  execRoutes(api, engine);
  buildRoutes(api, engine);
  networkRoutes(api, engine);
  volumeRoutes(api, engine);
  await mkdir(dirname(options.socket), { recursive: true });
  await api.listen(options.socket);
  return {
    engine,
    async close() {
      await api.close();
      await engine.containers.close();
      await engine.monitors.close();
      await engine.containers.flush();
      // The engine's own cgroups go when empty; containers that outlive it keep them.
      for (const dir of engine.cgroups.parentDirs) await rmdir(dir).catch(() => {});
    },
  };
}
