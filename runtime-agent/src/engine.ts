// The engine's state: its stores, its containers and its event stream, under one data root.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Events } from './events';
import { ContentStore } from './images/content';
import { Snapshots } from './images/snapshots';
import { ImageStore } from './images/store';
import { detectCgroups, type CgroupManager } from './runtime/cgroups';
import { Containers } from './runtime/containers';

export interface EngineOptions {
  dataRoot: string;
  /** Registries (host[:port]) reached over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
}

export class Engine {
  private constructor(
    readonly options: Required<EngineOptions>,
    readonly content: ContentStore,
    readonly images: ImageStore,
    readonly snapshots: Snapshots,
    readonly cgroups: CgroupManager,
    readonly containers: Containers,
    readonly events: Events,
  ) {}

  static async open(options: EngineOptions): Promise<Engine> {
    const full = { insecureRegistries: [], ...options };
    const root = full.dataRoot;
    await mkdir(root, { recursive: true, mode: 0o710 });
    const content = new ContentStore(join(root, 'content'));
    const images = new ImageStore(join(root, 'images'));
    const snapshots = new Snapshots(join(root, 'snapshots'), content);
    const cgroups = await detectCgroups();
    const events = new Events();
    const containers = new Containers({ root: join(root, 'containers'), images, snapshots, cgroups, events });
    await containers.load();
    return new Engine(full, content, images, snapshots, cgroups, containers, events);
  }
}
