// Snapshots: each layer unpacked once, into <root>/<chainID hex>/ (root is the data root's
// snapshots/), where it serves as an overlayfs lower dir for every image whose layers start with
// the same chain. A layer is unpacked into a temp dir beside its place and renamed into place
// only when it is complete and its diffID checked, so a snapshot that exists is whole; a crash
// leaves at most a `.tmp-<pid>-…` dir, removed the next time this process' successor unpacks.
// A small <hex>.json beside each one says what it holds (diffID, parent, size).

import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { alive } from '../runtime/shim';
import { BlobNotFoundError, ContentStore, digestHex, syncDir, writeFileAtomic } from './content';
import { applyLayerInWorker } from './layer-worker';
import { applyLayer, settleLowerDirs } from './layers';
import { limiter } from '../limiter';
import type { ImageRecord, LayerRef } from './store';

/** ChainID(1) = DiffID(1); ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)), as the OCI image spec defines. */
export function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const parent = chains[chains.length - 1];
    chains.push(parent ? `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}` : diffId);
  }
  return chains;
}

export interface SnapshotInfo {
  chainId: string;
  diffId: string;
  parent: string | null;
  /** The blob it was unpacked from. */
  digest: string;
  /** Bytes of file data. */
  size: number;
}

export interface UnpackProgress {
  layer: LayerRef;
  index: number;
  /** Compressed bytes read so far, of `total`. */
  current: number;
  total: number;
}


export class Snapshots {
  /** Unpacks running now, by chain ID: a second request for the same chain waits for the first. */
  private readonly unpacking = new Map<string, Promise<SnapshotInfo>>();
  /** Layers above waiting for a chain whose unpack has not begun yet. */
  private readonly awaited = new Map<string, ((work: Promise<SnapshotInfo>) => void)[]>();
  /** Extractions at once: one per core, since creating files is what takes the time. */
  private readonly extracting = limiter(Math.max(2, availableParallelism()));
  /** Chains an operation of this process relies on right now: garbage collection leaves them. */
  private readonly busy = new Map<string, number>();
  private swept = false;

  /** `root` is the snapshots' own folder (the data root's snapshots/). */
  constructor(
    readonly root: string,
    private readonly content: ContentStore,
  ) {}

  dir(chainId: string): string {
    return join(this.root, digestHex(chainId));
  }

  private infoFile(chainId: string): string {
    return join(this.root, `${digestHex(chainId)}.json`);
  }

  /** An image's overlay lower dirs, top layer first (whether unpacked yet or not). */
  lowerDirs(image: ImageRecord): string[] {
    return chainIds(image.layers.map((l) => l.diffId))
      .map((c) => this.dir(c))
      .reverse();
  }

  async exists(chainId: string): Promise<boolean> {
    try {
      return (await stat(this.dir(chainId))).isDirectory();
    } catch {
      return false;
    }
  }

  async info(chainId: string): Promise<SnapshotInfo | null> {
    if (!(await this.exists(chainId))) return null;
    try {
      return JSON.parse(await readFile(this.infoFile(chainId), 'utf8')) as SnapshotInfo;
    } catch {
      return null;
    }
  }

  /** Every complete snapshot's chain ID. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Temp dirs of unpacks whose process is gone (a crash) are removed once. */
  private async sweep(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^\.(?:tmp|trash)-(\d+)-/.exec(name);
      if (m && !alive(Number(m[1]))) await rm(join(this.root, name), { recursive: true, force: true });
    }
  }

  private hold(chains: string[]): () => void {
    for (const c of chains) this.busy.set(c, (this.busy.get(c) ?? 0) + 1);
    return () => {
      for (const c of chains) {
        const n = (this.busy.get(c) ?? 1) - 1;
        if (n) this.busy.set(c, n);
        else this.busy.delete(c);
      }
    };
  }

  /**
   * Unpacks layer `index` of `layers` unless its snapshot exists; `onBytes` hears the compressed
   * bytes read. Layers unpack side by side (up to one per core): each is extracted at once and
   * put in place only after the layers below it, which the caller unpacks too (or has).
   */
  async unpack(layers: readonly LayerRef[], index: number, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<SnapshotInfo> {
    const chains = chainIds(layers.map((l) => l.diffId));
    const chainId = chains[index];
    const existing = await this.info(chainId);
    if (existing) return existing;
    const running = this.unpacking.get(chainId);
    if (running) return running;
    const release = this.hold(chains.slice(0, index + 1));
    const work = this.unpackOne(layers[index], chains, index, onBytes, signal).finally(() => {
      this.unpacking.delete(chainId);
      release();
    });
    this.unpacking.set(chainId, work);
    this.announce(chainId, work);
    return work;
  }

  /** Settles when a chain's snapshot is in place (rejects if its unpack fails or is aborted). */
  private async whenUnpacked(chainId: string, signal?: AbortSignal): Promise<void> {
    if (await this.exists(chainId)) return;
    const running = this.unpacking.get(chainId);
    if (running) return void (await running);
    await new Promise<void>((resolve, reject) => {
      const abort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      const list = this.awaited.get(chainId) ?? [];
      list.push((work) =>
        work.then(
          () => resolve(),
          (error: unknown) => reject(error),
        ),
      );
      this.awaited.set(chainId, list);
    });
  }

  /** Tells those waiting for a chain that its unpack has begun. */
  private announce(chainId: string, work: Promise<SnapshotInfo>): void {
    for (const waiter of this.awaited.get(chainId) ?? []) waiter(work);
    this.awaited.delete(chainId);
  }

  private async unpackOne(layer: LayerRef, chains: string[], index: number, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<SnapshotInfo> {
    const chainId = chains[index];
    await mkdir(this.root, { recursive: true });
    await this.sweep();
    if (!(await this.content.has(layer.digest))) throw new BlobNotFoundError(layer.digest);
    const tmp = await mkdtemp(join(this.root, `.tmp-${process.pid}-`));
    try {
      await chmod(tmp, 0o755);
      const applied = await this.extracting(() =>
        applyLayerInWorker(this.content.path(layer.digest), tmp, { mediaType: layer.mediaType, onBytes, deferLower: index > 0 }),
      );
      if (applied.diffId !== layer.diffId) {
        throw new Error(`layer ${layer.digest} unpacks to ${applied.diffId}, but the image config says ${layer.diffId}`);
      }
      // What this layer owes the ones below it, once they are in place.
      const lower: string[] = [];
      for (let i = index - 1; i >= 0; i--) {
        await this.whenUnpacked(chains[i], signal);
        lower.push(this.dir(chains[i]));
      }
      settleLowerDirs(tmp, applied, lower);
      const info: SnapshotInfo = { chainId, diffId: layer.diffId, parent: index ? chains[index - 1] : null, digest: layer.digest, size: applied.size };
      await writeFileAtomic(this.infoFile(chainId), `${JSON.stringify(info)}\n`);
      try {
        await rename(tmp, this.dir(chainId));
      } catch (error) {
        // Another process got there first with the same content.
        if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      }
      await syncDir(this.root);
      return info;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Takes `dir`, an overlay upper dir whose changes are layer `index` of `layers` (a build step's,
   * just diffed into it), as that chain's snapshot: renamed into place rather than unpacked
   * again from the blob. False (and `dir` left alone) when the snapshot exists or is on its way.
   */
  async adopt(layers: readonly LayerRef[], index: number, dir: string): Promise<boolean> {
    const chains = chainIds(layers.map((l) => l.diffId));
    const chainId = chains[index];
    if (this.unpacking.has(chainId) || (await this.exists(chainId))) return false;
    for (let i = 0; i < index; i++) if (!(await this.exists(chains[i]))) return false;
    await mkdir(this.root, { recursive: true });
    const layer = layers[index];
    // Size: the layer's tar, as near as the upper dir tells without walking it.
    const info: SnapshotInfo = { chainId, diffId: layer.diffId, parent: index ? chains[index - 1] : null, digest: layer.digest, size: layer.size };
    await writeFileAtomic(this.infoFile(chainId), `${JSON.stringify(info)}\n`);
    try {
      await rename(dir, this.dir(chainId));
    } catch (error) {
      if (['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
      throw error;
    }
    await syncDir(this.root);
    return true;
  }

  /** Unpacks what is missing of an image; returns its overlay lower dirs, top layer first. */
  async prepare(image: ImageRecord, onProgress?: (progress: UnpackProgress) => void): Promise<string[]> {
    const release = this.hold(chainIds(image.layers.map((l) => l.diffId)));
    try {
      for (let index = 0; index < image.layers.length; index++) {
        const layer = image.layers[index];
        let current = 0;
        await this.unpack(image.layers, index, onProgress ? (n) => onProgress({ layer, index, current: (current += n), total: layer.size }) : undefined);
      }
      return this.lowerDirs(image);
    } finally {
      release();
    }
  }

  /** The copying fallback: every layer applied in turn into one directory, whiteouts deleting. */
  async flattenInto(image: ImageRecord, dir: string): Promise<void> {
    for (const layer of image.layers) {
      const applied = await applyLayer(this.content.read(layer.digest), dir, { flatten: true, mediaType: layer.mediaType });
      if (applied.diffId !== layer.diffId) throw new Error(`layer ${layer.digest} unpacks to ${applied.diffId}, but the image config says ${layer.diffId}`);
    }
  }

  /** The chain IDs the given images need (every prefix of each one's layers). */
  inUse(images: Iterable<ImageRecord>): Set<string> {
    const used = new Set<string>();
    for (const image of images) for (const c of chainIds(image.layers.map((l) => l.diffId))) used.add(c);
    return used;
  }

  /** Deletes a snapshot: first moved aside (so it vanishes at once), then removed. */
  async remove(chainId: string): Promise<boolean> {
    if (this.busy.has(chainId)) throw new Error(`snapshot ${chainId} is in use`);
    const trash = join(this.root, `.trash-${process.pid}-${digestHex(chainId)}`);
    try {
      await rename(this.dir(chainId), trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    await rm(this.infoFile(chainId), { force: true });
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** Garbage collection: removes every snapshot none of `images` needs; returns their chain IDs. */
  async collect(images: Iterable<ImageRecord>): Promise<string[]> {
    const used = this.inUse(images);
    const removed: string[] = [];
    for (const chainId of await this.list()) {
      if (used.has(chainId) || this.busy.has(chainId)) continue;
      if (await this.remove(chainId)) removed.push(chainId);
    }
    return removed;
  }
}
