// The engine's state: its stores, its containers and its event stream, under one data root.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Events } from './events';
import { ContentStore } from './images/content';
import { Snapshots } from './images/snapshots';
import { ImageStore } from './images/store';
import { detectCgroups, type CgroupManager } from './runtime/cgroups';
import { readFile } from 'node:fs/promises';
import { Containers, type StorageDriver } from './runtime/containers';
import { Execs } from './runtime/execs';
import { HealthChecks } from './runtime/health';
import { Networks } from './runtime/networks';
import { Monitors } from './runtime/shim';
import { Volumes } from './runtime/volumes';

export interface EngineOptions {
  dataRoot: string;
  /** Registries (host[:port]) reached over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
  /** overlay2 where the kernel has overlayfs, else vfs (a copy of the image per container). */
  storageDriver?: StorageDriver;
  /**
   * The cgroup filesystem containers go in: /sys/fs/cgroup (v2, or v1's hierarchies below it),
   * or a hybrid host's cgroup2 mount (/sys/fs/cgroup/unified) to use v2 there.
   */
  cgroupMount?: string;
}

/** overlay2 when the kernel offers overlayfs. */
async function defaultStorageDriver(): Promise<StorageDriver> {
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  return /\toverlay$/m.test(filesystems) ? 'overlay2' : 'vfs';
}

export class Engine {
  /** Pulls under way: garbage collection waits for them, since their blobs have no image yet. */
  pulls = 0;

  private constructor(
    readonly options: Required<EngineOptions>,
    readonly content: ContentStore,
    readonly images: ImageStore,
    readonly snapshots: Snapshots,
    readonly cgroups: CgroupManager,
    readonly monitors: Monitors,
    readonly containers: Containers,
    readonly events: Events,
  ) {
    this.execs = new Execs(containers);
    this.health = new HealthChecks(containers, this.execs, events);
    for (const record of containers.list()) if (record.State.Running) this.health.begin(record.Id);
  }

  /** The running containers' HEALTHCHECKs. */
  readonly health: HealthChecks;

  /** `docker exec` processes, kept in memory as Docker keeps them. */
  readonly execs: Execs;

  /**
   * Deletes the snapshots and blobs no image needs any more; returns the snapshots' chain IDs.
   * Skipped while a pull is under way.
   */
  async collectGarbage(): Promise<string[]> {
    if (this.pulls > 0) return [];
    const images = this.images.list();
    const removed = await this.snapshots.collect(images);
    const keep = new Set<string>();
    for (const image of images) {
      keep.add(image.id);
      keep.add(image.manifestDigest);
      for (const layer of image.layers) keep.add(layer.digest);
      // An index keeps the manifests it lists.
      const index = await this.content.readJson<{ manifests?: { digest: string }[] }>(image.manifestDigest).catch(() => null);
      for (const m of index?.manifests ?? []) keep.add(m.digest);
    }
    for (const digest of await this.content.list()) if (!keep.has(digest) && this.pulls === 0) await this.content.delete(digest);
    return removed;
  }

  static async open(options: EngineOptions): Promise<Engine> {
    const full = { insecureRegistries: [], ...options, cgroupMount: options.cgroupMount ?? '/sys/fs/cgroup', storageDriver: options.storageDriver ?? (await defaultStorageDriver()) };
    const root = full.dataRoot;
    await mkdir(root, { recursive: true, mode: 0o710 });
    const content = new ContentStore(join(root, 'content'));
    // Downloads a killed engine left half done; a pull starts them again.
    await content.pruneIngest();
    const images = new ImageStore(join(root, 'images'));
    const snapshots = new Snapshots(join(root, 'snapshots'), content);
    const cgroups = await detectCgroups({ root: full.cgroupMount });
    const events = new Events();
    const monitors = new Monitors(cgroups);
    const networks = await Networks.open(root, events);
    const volumes = await Volumes.open(join(root, 'volumes'), events);
    const containers = new Containers({ root: join(root, 'containers'), images, snapshots, cgroups, monitors, events, storageDriver: full.storageDriver, networks, volumes });
    await containers.load();
    await monitors.open();
    // As dockerd: containers whose restart policy says so run again (in the background).
    void containers.startByPolicy();
    return new Engine(full, content, images, snapshots, cgroups, monitors, containers, events);
  }
}
