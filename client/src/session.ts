// One engine in use: its client, and the models the views show, followed from its /events stream.
// Choosing another engine (the `tug.engine.host` setting) disposes this one and makes a new one.
// A remote engine's link (SSH, reconnecting) belongs to the session and closes with it.

import { EngineClient, socketPath } from '../../runtime-agent/src/cli/client';
import type { LinkState, ReconnectingEngine } from '../../runtime-agent/src/remote/reconnecting-engine';
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

  /** `host`: `unix:///path` (a bare path too), or `ssh://…` with its `link`. Throws for hosts this version cannot reach. */
  constructor(
    readonly host: string,
    readonly link?: ReconnectingEngine,
  ) {
    this.client = new EngineClient(link ?? socketPath(host));
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

  /** Hears the events stream open and drop, and a remote link's state change. */
  onConnection(listener: () => void): () => void {
    const unsubscribe = [this.containers.onConnection(listener), this.link?.onState(listener)];
    return () => unsubscribe.forEach((u) => u?.());
  }

  /** Why the engine does not answer, where the session knows more than that. */
  problem(): LinkProblem | undefined {
    return this.link && linkProblem(this.link.state);
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
    this.link?.close();
  }
}

/** What a view says of a remote link that is not up: a few words, the whole story, and whether it is being retried. */
export interface LinkProblem {
  summary: string;
  detail: string;
  retrying: boolean;
}

export function linkProblem(state: LinkState): LinkProblem | undefined {
  switch (state.status) {
    case 'connected':
      return undefined;
    case 'idle':
      return { summary: 'not connected', detail: 'not connected', retrying: false };
    case 'connecting':
      return state.attempt > 1
        ? { summary: 'reconnecting…', detail: `reconnecting (attempt ${state.attempt})`, retrying: true }
        : { summary: 'connecting…', detail: 'connecting', retrying: false };
    case 'disconnected':
      if (state.retryAt === undefined) return { summary: 'not connected', detail: `not connected: ${state.error.message}`, retrying: false };
      return { summary: 'disconnected · reconnecting', detail: `${state.error.message}; trying again at ${new Date(state.retryAt).toLocaleTimeString()}`, retrying: true };
  }
}
