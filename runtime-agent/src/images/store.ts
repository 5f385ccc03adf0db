// Image records: which images exist (by ID, the digest of their config), the names that point
// at them (tags, repo digests), their config and layers. All records live in one file,
// <root>/index.json (root is the data root's images/), rewritten whole through a temp file, fsync and rename for every
// change — so a tag that moves from one image to another moves in one step, and a crash leaves
// either the state before a change or the state after it.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_HUB, formatReference, parseReference, type Reference } from '../registry/reference';
import { writeFileAtomic } from './content';

/** The part of an image config a container starts from (Docker's names). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object> | null;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | null;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The OCI image config (application/vnd.oci.image.config.v1+json; Docker's is the same). */
export interface ImageConfig {
  created?: string;
  author?: string;
  /** Docker's configs carry these too. */
  comment?: string;
  docker_version?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

export interface LayerRef {
  /** The blob's digest (compressed as the registry serves it). */
  digest: string;
  /** The digest of the uncompressed tar. */
  diffId: string;
  /** The blob's size in bytes. */
  size: number;
  mediaType: string;
}

export interface ImageRecord {
  /** The config's digest. */
  id: string;
  /** Full names: docker.io/library/busybox:latest. */
  repoTags: string[];
  /** Full names with the manifest digest the image was pulled by: docker.io/library/busybox@sha256:… */
  repoDigests: string[];
  /** The digest a tag resolved to when pulled (an index's, for multi-platform images). */
  manifestDigest: string;
  config: ImageConfig;
  /** Bottom-up. */
  layers: LayerRef[];
  created: string;
  /** Unpacked size in bytes. */
  size: number;
  /** A built image: the image of the step before (Docker's Parent). */
  parent?: string;
}

const ID = /^sha256:[0-9a-f]{64}$/;

/** The full name Docker stores: `busybox` → docker.io/library/busybox:latest. */
export function normalizeName(ref: string): string {
  return formatReference(parseReference(ref));
}

/** The short name Docker shows (RepoTags, RepoDigests): busybox:latest, 127.0.0.1:5000/x:1. */
export function familiarName(ref: string): string {
  return familiar(parseReference(ref));
}

function familiar(ref: Reference): string {
  let name = `${ref.domain}/${ref.path}`;
  if (ref.domain === DOCKER_HUB) {
    name = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice('library/'.length) : ref.path;
  }
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

function parseOrNull(ref: string): Reference | null {
  try {
    return parseReference(ref);
  } catch {
    return null;
  }
}

export class ImageStore {
  private readonly dir: string;
  private readonly file: string;
  private images: Map<string, ImageRecord>;
  /** Writes of the state, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * `root` is the store's own folder (the data root's images/). Loads synchronously, unless given
   * the `records` (a copy of another process's store, which only reads from it).
   */
  constructor(root: string, records?: ImageRecord[]) {
    this.dir = root;
    this.file = join(this.dir, 'index.json');
    this.images = records ? new Map(records.map((r) => [r.id, r])) : this.load();
  }

  private load(): Map<string, ImageRecord> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    // Temp files of a write that never reached its rename.
    for (const name of readdirSync(this.dir)) if (name.startsWith('index.json.tmp-')) rmSync(join(this.dir, name), { force: true });
    let parsed: { images?: ImageRecord[] };
    try {
      parsed = JSON.parse(text) as { images?: ImageRecord[] };
    } catch (error) {
      throw new Error(`the image store ${this.file} is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed.images)) throw new Error(`the image store ${this.file} has no "images" list`);
    return new Map(parsed.images.map((r) => [r.id, r]));
  }

  list(): ImageRecord[] {
    return [...this.images.values()];
  }

  /**
   * An image as Docker finds one: a full ID, a name (`busybox` is docker.io/library/busybox:latest,
   * `name@sha256:…` a repo digest), the ID without `sha256:`, or a unique ID prefix of at least 4
   * hex digits (names are tried first, as Docker does).
   */
  get(ref: string): ImageRecord | undefined {
    const id = this.resolve(ref);
    return id ? this.images.get(id) : undefined;
  }

  private resolve(ref: string): string | undefined {
    if (ID.test(ref)) return this.images.has(ref) ? ref : undefined;
    if (/^[0-9a-f]{64}$/.test(ref)) return this.images.has(`sha256:${ref}`) ? `sha256:${ref}` : undefined;
    const parsed = parseOrNull(ref);
    if (parsed) {
      const repo = `${parsed.domain}/${parsed.path}`;
      const wanted = parsed.digest ? `${repo}@${parsed.digest}` : `${repo}:${parsed.tag}`;
      for (const image of this.images.values()) {
        if ((parsed.digest ? image.repoDigests : image.repoTags).includes(wanted)) return image.id;
      }
    }
    const prefix = /^(?:sha256:)?([0-9a-f]{4,63})$/.exec(ref)?.[1];
    if (!prefix) return undefined;
    const matches = [...this.images.keys()].filter((id) => id.startsWith(`sha256:${prefix}`));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** Adds an image (or merges names into the one with the same ID); its tags move to it. */
  add(record: ImageRecord): Promise<ImageRecord> {
    return this.change((images) => addTo(images, record));
  }

  /** Adds several images in one change: all of them are recorded, or none is. */
  addAll(records: readonly ImageRecord[]): Promise<ImageRecord[]> {
    return this.change((images) => records.map((record) => addTo(images, record)));
  }

  /** Points a tag at an image (found by any name or ID), taking it from the image it named before. */
  tag(id: string, ref: string): Promise<ImageRecord> {
    return this.change((images) => {
      const parsed = parseReference(ref);
      if (parsed.digest) throw new Error(`refusing to create a tag with a digest reference: ${ref}`);
      const name = formatReference(parsed);
      const target = this.resolve(id);
      const image = target ? images.get(target) : undefined;
      if (!image) throw new Error(`No such image: ${id}`);
      untagFrom(images, name, image.id);
      const updated = { ...image, repoTags: image.repoTags.includes(name) ? image.repoTags : [...image.repoTags, name] };
      images.set(image.id, updated);
      return updated;
    });
  }

  /** Removes a tag (or repo digest); the image stays, dangling if it was its last name. */
  untag(ref: string): Promise<ImageRecord | undefined> {
    return this.change((images) => {
      const name = normalizeName(ref);
      const digest = parseReference(ref).digest !== null;
      for (const image of images.values()) {
        const names = digest ? image.repoDigests : image.repoTags;
        if (!names.includes(name)) continue;
        const updated = digest ? { ...image, repoDigests: names.filter((n) => n !== name) } : { ...image, repoTags: names.filter((n) => n !== name) };
        images.set(image.id, updated);
        return updated;
      }
      return undefined;
    });
  }

  /** Forgets an image record (its blobs and snapshots are garbage collection's business). */
  remove(id: string): Promise<boolean> {
    return this.change((images) => images.delete(id));
  }

  /**
   * Applies a change to a copy of the state, which replaces the state at once (so readers see it
   * right away), then writes the state as it is by the time its turn to be written comes. A change
   * that throws changes nothing.
   */
  private change<T>(fn: (images: Map<string, ImageRecord>) => T): Promise<T> {
    let result: T;
    try {
      const next = new Map(this.images);
      result = fn(next);
      this.images = next;
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.queue.then(async () => {
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file, `${JSON.stringify({ images: [...this.images.values()] })}\n`);
      return result;
    });
    this.queue = run.catch(() => {});
    return run;
  }
}

function addTo(images: Map<string, ImageRecord>, record: ImageRecord): ImageRecord {
  if (!ID.test(record.id)) throw new Error(`invalid image ID "${record.id}"`);
  const tags = record.repoTags.map(normalizeName);
  const digests = record.repoDigests.map(normalizeName);
  const existing = images.get(record.id);
  const merged: ImageRecord = {
    ...record,
    repoTags: [...new Set([...(existing?.repoTags ?? []), ...tags])],
    repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...digests])],
  };
  for (const tag of tags) untagFrom(images, tag, record.id);
  images.set(record.id, merged);
  return merged;
}

/** Takes a tag from whichever other image holds it. */
function untagFrom(images: Map<string, ImageRecord>, name: string, keep: string): void {
  for (const image of images.values()) {
    if (image.id !== keep && image.repoTags.includes(name)) images.set(image.id, { ...image, repoTags: image.repoTags.filter((t) => t !== name) });
  }
}
