// One engine in use: its client, and the models the views show, followed from its /events stream.
// Choosing another engine (the `tug.engine.host` setting) disposes this one and makes a new one.

import { EngineClient, socketPath } from '../../runtime-agent/src/cli/client';
import { ContainersModel } from './containers';
import { ImagesModel } from './images';

export interface EngineInfo {
  name: string;
  version: string;
  os: string;
  arch: string;
  kernel: string;
  /** Bytes the engine's images, containers and volumes take, where it says (`/system/df`). */
  diskUse?: number;
}

export class EngineSession {
  readonly client: EngineClient;
  readonly containers: ContainersModel;
  readonly images: ImagesModel;
  private started: Promise<void> | undefined;

  /** `host`: `unix:///path` (a bare path too). Throws for hosts this version cannot reach. */
  constructor(readonly host: string) {
    this.client = new EngineClient(socketPath(host));
    this.containers = new ContainersModel(this.client);
    this.images = new ImagesModel(this.client);
  }

  /** Starts following the engine; resolves once the lists were first read (empty while the engine is down). */
  start(): Promise<void> {
    this.started ??= Promise.all([this.containers.start(), this.images.start()]).then(() => {});
    return this.started;
  }

  get connected(): boolean {
    return this.containers.connected;
  }

  async info(): Promise<EngineInfo> {
    const version = await this.client.call<{ Platform?: { Name?: string }; Version: string; Os: string; Arch: string; KernelVersion: string }>('GET', '/version');
    const info: EngineInfo = { name: version.Platform?.Name ?? 'Docker', version: version.Version, os: version.Os, arch: version.Arch, kernel: version.KernelVersion };
    try {
      const df = await this.client.call<{ LayersSize?: number; Containers?: { SizeRw?: number }[]; Volumes?: { UsageData?: { Size?: number } }[] }>('GET', '/system/df');
      info.diskUse =
        (df.LayersSize ?? 0) +
        (df.Containers ?? []).reduce((n, c) => n + Math.max(0, c.SizeRw ?? 0), 0) +
        (df.Volumes ?? []).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
    } catch {
      // Not every engine answers /system/df: the tooltip leaves it out.
    }
    return info;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.containers.stop(), this.images.stop()]);
  }
}
