// Image archives, as `docker save` writes them and `docker load` reads them.
//
// Save writes what Docker 25 and later write: an OCI image layout (oci-layout, index.json naming
// each tag with containerd's and OCI's annotations, blobs/sha256/<hex>) that is also Docker's own
// format (manifest.json: each image's config, tags and layer paths; repositories). Layers go out
// as they are stored, compressed or not, described by a manifest made here. Everything streams
// from the content store; only the small JSON files are made in memory.
//
// Load reads that format, an OCI layout alone (index.json, as podman and skopeo write one), and
// the docker-archive format of Docker before 25 (manifest.json, <id>.json, <id>/layer.tar). An
// archive is untrusted input. Its files are never written under their own names: each goes into
// the content store by the digest it hashes to as it streams (small JSON files are held in
// memory, within limits), and paths are looked up in a table, links included, where no path or
// link may leave the archive. A file named by a digest must hash to it. Layers unpack into
// snapshots under the layer rules (no entry leaves its snapshot) and must match the config's
// diffIDs; the images are recorded only once all of them are whole, in one change. What a
// failed load put in the content store and snapshots, and no image uses, is removed.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { hostPlatform, type Platform } from '../../../server/src/dockerfile/platform';
import { MEDIA, type Descriptor } from '../registry/client';
import { choosePlatform, progressOf, type ProgressMessage } from '../registry/pull';
import { formatReference, parseReference } from '../registry/reference';
import { ContentStore, DigestMismatchError, digestHex, sha256 } from './content';
import { chainIds, type Snapshots } from './snapshots';
import { familiarName, type ImageConfig, type ImageRecord, type ImageStore, type LayerRef } from './store';
import { decompress, readTar, writeTar, type TarWriteEntry } from './tar';

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const IMAGE_NAME = 'io.containerd.image.name';
const REF_NAME = 'org.opencontainers.image.ref.name';

/** A JSON file of an archive (manifest.json, a config, a manifest) is a few KiB; more is refused. */
export const MAX_JSON = 8 * 1024 * 1024;
/** All JSON files of one archive held in memory at once. */
const MAX_JSON_TOTAL = 64 * 1024 * 1024;
/** Entries of one archive: thousands of layers' worth. */
const MAX_ENTRIES = 100_000;
const MAX_LINK_HOPS = 40;

/** The archive is not one that can be loaded (its message says why). */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(`invalid archive: ${message}`);
    this.name = 'ArchiveError';
  }
}

/** A name given to save matches no image (Docker's words in the message). */
export class ImageNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageNotFoundError';
  }
}

// Saving.

/** One image to save and the tags (full names) it goes out under. */
export interface SaveImage {
  record: ImageRecord;
  tags: string[];
}

/** Whether a reference names its tag itself (`busybox:1`) rather than implying latest. */
function hasTag(name: string): boolean {
  const bare = name.split('@')[0];
  return bare.lastIndexOf(':') > bare.lastIndexOf('/');
}

/**
 * The images `docker save NAME…` writes, as Docker picks them: a tag names its image, a bare
 * repository all of its tags, an ID or a digest reference an image without tags.
 */
export function selectImages(store: ImageStore, names: readonly string[]): SaveImage[] {
  const chosen = new Map<string, SaveImage>();
  const add = (record: ImageRecord, tag?: string) => {
    const entry = chosen.get(record.id) ?? { record, tags: [] };
    if (tag && !entry.tags.includes(tag)) entry.tags.push(tag);
    chosen.set(record.id, entry);
  };
  for (const name of names) {
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      ref = null;
    }
    if (!ref || ref.digest || /^(?:sha256:)?[0-9a-f]{64}$/.test(name)) {
      const record = store.get(name);
      if (!record) throw new ImageNotFoundError(`No such image: ${name}`);
      add(record);
    } else if (hasTag(name)) {
      const full = formatReference(ref);
      const record = store.get(full);
      if (!record) throw new ImageNotFoundError('reference does not exist');
      add(record, full);
    } else {
      const prefix = `${ref.domain}/${ref.path}:`;
      const tagged = store.list().flatMap((record) => record.repoTags.filter((t) => t.startsWith(prefix)).map((t) => ({ record, t })));
      for (const { record, t } of tagged) add(record, t);
      if (tagged.length) continue;
      // An ID prefix looks like a repository name.
      const record = store.get(name);
      if (!record) throw new ImageNotFoundError(`No such image: ${name}`);
      add(record);
    }
  }
  return [...chosen.values()];
}

type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** How a blob is compressed, from its first bytes. */
async function compressionOf(file: string): Promise<Compression> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await handle.read(head, 0, 6, 0);
    const starts = (magic: number[]) => bytesRead >= magic.length && magic.every((b, i) => head[i] === b);
    if (starts([0x1f, 0x8b])) return 'gzip';
    if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
    if (starts([0x42, 0x5a, 0x68])) return 'bzip2';
    if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
    return 'none';
  } finally {
    await handle.close();
  }
}

interface PlannedImage extends SaveImage {
  manifest: Buffer;
  manifestDigest: string;
  configSize: number;
}

/** What a save will write, every blob checked to be in the content store before a byte is sent. */
export interface SavePlan {
  images: PlannedImage[];
}

export async function planSave(content: ContentStore, selected: readonly SaveImage[]): Promise<SavePlan> {
  const images: PlannedImage[] = [];
  for (const image of selected) {
    const { record } = image;
    const configSize = await content.size(record.id);
    const layers = [];
    for (const layer of record.layers) {
      const size = await content.size(layer.digest);
      const kind = await compressionOf(content.path(layer.digest));
      layers.push({ mediaType: kind === 'gzip' ? OCI_LAYER_GZIP : kind === 'none' ? OCI_LAYER : `${OCI_LAYER}+${kind}`, digest: layer.digest, size });
    }
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: OCI_CONFIG, digest: record.id, size: configSize }, layers }),
    );
    images.push({ ...image, manifest, manifestDigest: sha256(manifest), configSize });
  }
  return { images };
}

function platformOf(config: ImageConfig): Platform {
  return { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
}

const blobPath = (digest: string) => `blobs/sha256/${digestHex(digest)}`;
const seconds = (date: string | undefined) => Math.max(0, Math.floor(Date.parse(date ?? '') / 1000) || 0);

/** The archive as a tar stream; blobs are read from the content store as they are written. */
export async function* writeArchive(content: ContentStore, plan: SavePlan): AsyncIterable<Uint8Array> {
  const blobs = new Map<string, TarWriteEntry>();
  const blob = (digest: string, size: number, mtime: number, body?: Buffer) => {
    if (!blobs.has(digest)) blobs.set(digest, { name: blobPath(digest), size, mtime, body: body ?? content.read(digest) });
  };
  const index: object[] = [];
  const manifest: object[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const saved = new Set(plan.images.map((i) => i.record.id));
  for (const image of plan.images) {
    const { record } = image;
    const created = seconds(record.config.created);
    blob(record.id, image.configSize, created);
    for (const layer of record.layers) blob(layer.digest, layer.size, created);
    blob(image.manifestDigest, image.manifest.length, 0, image.manifest);
    const descriptor = { mediaType: MEDIA.ociManifest, digest: image.manifestDigest, size: image.manifest.length, platform: platformOf(record.config) };
    for (const tag of image.tags) {
      const ref = parseReference(tag);
      index.push({ ...descriptor, annotations: { [IMAGE_NAME]: tag, [REF_NAME]: ref.tag } });
      const familiar = familiarName(tag);
      const repo = familiar.slice(0, familiar.lastIndexOf(':'));
      const top = record.config.rootfs.diff_ids.at(-1);
      if (top) (repositories[repo] ??= {})[ref.tag!] = digestHex(top);
    }
    // Docker leaves an untagged image out of index.json; an OCI reader needs it there.
    if (!image.tags.length) index.push(descriptor);
    manifest.push({
      Config: blobPath(record.id),
      RepoTags: image.tags.length ? image.tags.map(familiarName) : null,
      Layers: record.layers.map((l) => blobPath(l.digest)),
      ...(record.parent && saved.has(record.parent) ? { Parent: record.parent } : {}),
    });
  }
  const entries: TarWriteEntry[] = [
    { name: 'blobs', type: 'dir', mode: 0o755 },
    { name: 'blobs/sha256', type: 'dir', mode: 0o755 },
    ...[...blobs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: index }) },
    { name: 'manifest.json', body: `${JSON.stringify(manifest)}\n` },
    { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
    ...(Object.keys(repositories).length ? [{ name: 'repositories', body: `${JSON.stringify(repositories)}\n` }] : []),
  ];
  yield* writeTar(entries.map((e) => ({ mode: 0o644, ...e })));
}

// Loading.

type Stored = { kind: 'blob'; digest: string; size: number } | { kind: 'data'; data: Buffer };

/** JSON files and the few small files beside them are held in memory; the rest are blobs. */
const isMeta = (path: string) => /(?:^|\/)(?:[^/]*\.json|json|repositories|oci-layout|VERSION)$/.test(path);
const NAMED_BLOB = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** An archive path made plain; one that is absolute or goes up (`..`) is refused. */
function archivePath(name: string): string {
  if (name.includes('\0')) throw new ArchiveError(`path "${name}" has a NUL byte`);
  if (name.startsWith('/')) throw new ArchiveError(`path "${name}" is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(`path "${name}" leaves the archive`);
  return parts.join('/');
}

/** Where a symlink points, as a path of the archive; one pointing out of it is refused. */
function linkTarget(path: string, target: string): string {
  const out = () => new ArchiveError(`symlink "${path}" points outside the archive (to "${target}")`);
  if (target.startsWith('/') || target.includes('\0')) throw out();
  const parts = path.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (!parts.pop()) throw out();
  }
  return parts.join('/');
}

async function readLimited(body: AsyncIterable<Uint8Array>, limit: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw new ArchiveError(`${what} is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function* once(data: Buffer): AsyncIterable<Uint8Array> {
  yield data;
}

/** The files of an archive, by path, as read from its tar stream. */
class ArchiveFiles {
  private readonly files = new Map<string, Stored>();
  private readonly symlinks = new Map<string, string>();
  private held = 0;
  /** Blobs this load put in the content store that were not there before. */
  readonly added = new Set<string>();

  constructor(private readonly content: ContentStore) {}

  async read(source: AsyncIterable<Uint8Array>): Promise<void> {
    let count = 0;
    for await (const entry of readTar(source)) {
      if (++count > MAX_ENTRIES) throw new ArchiveError(`it has more than ${MAX_ENTRIES} entries`);
      const path = archivePath(entry.name);
      if (path === '') continue;
      this.files.delete(path);
      this.symlinks.delete(path);
      if (entry.type === 'dir') continue;
      if (entry.type === 'symlink') this.symlinks.set(path, linkTarget(path, entry.linkname));
      else if (entry.type === 'hardlink') {
        const target = this.lookup(archivePath(entry.linkname));
        if (!target) throw new ArchiveError(`hardlink "${path}" points to "${entry.linkname}", which is not in the archive before it`);
        this.files.set(path, target);
      } else if (entry.type === 'file') this.files.set(path, await this.store(path, entry.body));
      else throw new ArchiveError(`"${path}" is a ${entry.type === 'fifo' ? 'fifo' : 'device'}, which no image archive holds`);
    }
  }

  private async store(path: string, body: AsyncIterable<Uint8Array>): Promise<Stored> {
    if (isMeta(path)) {
      const data = await readLimited(body, MAX_JSON, path);
      this.held += data.length;
      if (this.held > MAX_JSON_TOTAL) throw new ArchiveError(`its JSON files take more than ${MAX_JSON_TOTAL} bytes`);
      return { kind: 'data', data };
    }
    const stored = await this.content.add(body);
    if (!stored.existed) this.added.add(stored.digest);
    const named = NAMED_BLOB.exec(path);
    if (named && stored.digest !== `sha256:${named[1]}`) throw new DigestMismatchError(`sha256:${named[1]}`, stored.digest, `invalid archive: ${path}`);
    return { kind: 'blob', digest: stored.digest, size: stored.size };
  }

  /** The file at a path, through any links (which never leave the archive). */
  private lookup(path: string, hops = 0): Stored | undefined {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const link = this.symlinks.get(parts.slice(0, i).join('/'));
      if (link === undefined) continue;
      if (hops >= MAX_LINK_HOPS) throw new ArchiveError(`too many levels of symbolic links at "${path}"`);
      return this.lookup([link, ...parts.slice(i)].filter(Boolean).join('/'), hops + 1);
    }
    return this.files.get(path);
  }

  has(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  /** The file a path of a manifest names; a path named by a digest must hash to it. */
  file(path: unknown, what: string): Stored {
    if (typeof path !== 'string' || path === '') throw new ArchiveError(`${what} has no path`);
    const clean = archivePath(path);
    const stored = this.lookup(clean);
    if (!stored) throw new ArchiveError(`${what} "${path}" is not in the archive`);
    const named = NAMED_BLOB.exec(clean);
    const digest = stored.kind === 'blob' ? stored.digest : sha256(stored.data);
    if (named && digest !== `sha256:${named[1]}`) throw new DigestMismatchError(`sha256:${named[1]}`, digest, `invalid archive: ${path}`);
    return stored;
  }

  /** The file of a descriptor (blobs/<algorithm>/<hex>), checked against its digest and size. */
  blob(descriptor: unknown, what: string): Stored {
    const d = descriptor as Partial<Descriptor> | null;
    if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || typeof d.size !== 'number') {
      throw new ArchiveError(`${what} is malformed (a descriptor needs a digest and a size)`);
    }
    const stored = this.file(`blobs/sha256/${digestHex(d.digest)}`, what);
    const size = stored.kind === 'blob' ? stored.size : stored.data.length;
    if (size !== d.size) throw new ArchiveError(`${what} ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
    return stored;
  }

  async bytes(stored: Stored, what: string): Promise<Buffer> {
    if (stored.kind === 'data') return stored.data;
    if (stored.size > MAX_JSON) throw new ArchiveError(`${what} is larger than ${MAX_JSON} bytes`);
    return readLimited(this.content.read(stored.digest), MAX_JSON, what);
  }

  async json<T>(stored: Stored, what: string): Promise<T> {
    const bytes = await this.bytes(stored, what);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      throw new ArchiveError(`${what} is not valid JSON: ${(error as Error).message}`);
    }
  }

  /** A file as a blob of the content store (a layer kept in memory goes there now). */
  async asBlob(stored: Stored): Promise<{ digest: string; size: number }> {
    if (stored.kind === 'blob') return stored;
    const added = await this.content.add(once(stored.data));
    if (!added.existed) this.added.add(added.digest);
    return added;
  }
}

/** One image found in an archive. */
interface LoadItem {
  what: string;
  config: Buffer;
  id: string;
  parsed: ImageConfig;
  layers: Stored[];
  tags: string[];
  manifestDigest: string;
  parent?: string;
}

function parseConfig(bytes: Buffer, what: string): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (error) {
    throw new ArchiveError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (!config || typeof config !== 'object' || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw new ArchiveError(`${what} has no rootfs.diff_ids`);
  for (const d of config.rootfs.diff_ids) {
    if (typeof d !== 'string') throw new ArchiveError(`${what} has a diffID that is not a string`);
    digestHex(d);
  }
  if ((config.os ?? 'linux') !== 'linux') throw new Error(`cannot load ${config.os} image on linux`);
  return config;
}

/** RepoTags as Docker takes them: each a name with a tag (full names are returned). */
function parseTags(tags: unknown, what: string): string[] {
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new ArchiveError(`the RepoTags of ${what} are not a list of names`);
  return (tags as string[]).map((tag) => {
    const ref = parseReference(tag);
    if (ref.digest || !hasTag(tag)) throw new Error(`invalid tag "${tag}"`);
    return formatReference(ref);
  });
}

/** A full name from an OCI layout's annotations: containerd's, or a ref.name that is a whole reference. */
function tagOf(annotations: unknown): string[] {
  const a = (annotations && typeof annotations === 'object' ? annotations : {}) as Record<string, unknown>;
  for (const name of [a[IMAGE_NAME], a[REF_NAME]]) {
    if (typeof name !== 'string' || !/[:/]/.test(name)) continue;
    try {
      const ref = parseReference(name);
      if (!ref.digest && hasTag(name)) return [formatReference(ref)];
    } catch {
      // Not a reference: a plain tag without a name says nothing to tag.
    }
  }
  return [];
}

/** The images of Docker's manifest.json (Docker 25 and later, and the docker-archive format). */
async function fromManifestJson(files: ArchiveFiles, manifest: Stored): Promise<LoadItem[]> {
  const list = await files.json<unknown>(manifest, 'manifest.json');
  if (list === null) throw new Error('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(list)) throw new ArchiveError('manifest.json is not a list');
  const items: LoadItem[] = [];
  for (const [i, entry] of list.entries()) {
    const what = `image ${i + 1} of manifest.json`;
    const m = (entry && typeof entry === 'object' ? entry : {}) as { Config?: unknown; RepoTags?: unknown; Layers?: unknown; Parent?: unknown };
    const config = await files.bytes(files.file(m.Config, `the config of ${what}`), `the config of ${what}`);
    const parsed = parseConfig(config, `the config of ${what}`);
    if (!Array.isArray(m.Layers)) throw new ArchiveError(`${what} has no Layers list`);
    if (m.Layers.length !== parsed.rootfs.diff_ids.length) {
      throw new Error(`invalid manifest, layers length mismatch: expected ${m.Layers.length}, got ${parsed.rootfs.diff_ids.length}`);
    }
    const layers = (m.Layers as unknown[]).map((path, k) => files.file(path, `layer ${k + 1} of ${what}`));
    items.push({
      what,
      config,
      id: sha256(config),
      parsed,
      layers,
      tags: parseTags(m.RepoTags, what),
      manifestDigest: '',
      ...(typeof m.Parent === 'string' && /^sha256:[0-9a-f]{64}$/.test(m.Parent) ? { parent: m.Parent } : {}),
    });
  }
  return items;
}

interface ManifestJson {
  mediaType?: string;
  manifests?: unknown[];
  config?: unknown;
  layers?: unknown[];
}

/** The images of an OCI layout's index.json: each manifest, or this platform's of a nested index. */
async function fromIndexJson(files: ArchiveFiles, indexFile: Stored): Promise<LoadItem[]> {
  const index = await files.json<ManifestJson>(indexFile, 'index.json');
  if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) throw new ArchiveError('index.json has no manifests list');
  const items: LoadItem[] = [];
  for (const [i, entry] of index.manifests.entries()) {
    let what = `manifest ${i + 1} of index.json`;
    let descriptor = entry as Descriptor;
    let body = await files.json<ManifestJson>(files.blob(descriptor, what), what);
    if (body.mediaType === MEDIA.ociIndex || body.mediaType === MEDIA.dockerList || Array.isArray(body.manifests)) {
      const chosen = choosePlatform((body.manifests ?? []) as Descriptor[], hostPlatform());
      if (!chosen) throw new ArchiveError(`${what} has no manifest for this platform`);
      what = `the manifest for this platform in ${what}`;
      descriptor = chosen;
      body = await files.json<ManifestJson>(files.blob(chosen, what), what);
    }
    if (!Array.isArray(body.layers)) throw new ArchiveError(`${what} has no layers list`);
    const config = await files.bytes(files.blob(body.config, `the config of ${what}`), `the config of ${what}`);
    const parsed = parseConfig(config, `the config of ${what}`);
    if (body.layers.length !== parsed.rootfs.diff_ids.length) {
      throw new ArchiveError(`${what} has ${body.layers.length} layers, its config ${parsed.rootfs.diff_ids.length} diffIDs`);
    }
    const layers = body.layers.map((l, k) => files.blob(l, `layer ${k + 1} of ${what}`));
    items.push({ what, config, id: sha256(config), parsed, layers, tags: tagOf((entry as { annotations?: unknown }).annotations), manifestDigest: descriptor.digest });
  }
  return items;
}

/** The sha256 of a layer blob's uncompressed tar. */
async function diffIdOf(content: ContentStore, digest: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of decompress(content.read(digest))) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

export interface LoadOptions {
  content: ContentStore;
  images: ImageStore;
  snapshots: Snapshots;
  /** Docker's "Loading layer" progress (left out when quiet). */
  onProgress?: (message: ProgressMessage) => void;
  /** Each line Docker prints: "Loaded image: busybox:latest". */
  onLine: (line: string) => void;
  /** Whether nothing else is adding blobs and snapshots now, so that unused ones may go. */
  mayDelete: () => boolean;
}

/** Loads the images of an archive; resolves with their records. */
export async function loadArchive(source: AsyncIterable<Uint8Array>, options: LoadOptions): Promise<ImageRecord[]> {
  const { content, images, snapshots } = options;
  const files = new ArchiveFiles(content);
  const created = new Set<string>();
  let ok = false;
  try {
    await files.read(source);
    let items: LoadItem[];
    if (files.has('manifest.json')) items = await fromManifestJson(files, files.file('manifest.json', 'manifest.json'));
    else if (files.has('index.json')) items = await fromIndexJson(files, files.file('index.json', 'index.json'));
    else throw new ArchiveError('it has neither a manifest.json nor an index.json');

    // Blobs known to hold a diffID: the layers of the images here already, then of those loaded.
    const known = new Map<string, LayerRef>();
    for (const record of images.list()) for (const l of record.layers) known.set(l.diffId, l);
    const records: ImageRecord[] = [];
    for (const item of items) {
      const existing = images.get(item.id);
      if (existing) {
        records.push({ ...existing, repoTags: item.tags, repoDigests: [] });
        continue;
      }
      records.push(await unpackItem(item, files, known, options, created));
    }
    // A parent counts only among the images of the same archive, as Docker has it.
    const ids = new Set(records.map((r) => r.id));
    for (const record of records) if (record.parent && !ids.has(record.parent) && !images.get(record.id)) delete record.parent;
    for (const item of items) {
      if (await content.has(item.id)) continue;
      await content.write(item.config, { digest: item.id });
      files.added.add(item.id);
    }
    const before = new Map(records.flatMap((r) => r.repoTags.map((t) => [t, images.get(t)?.id] as const)));
    await images.addAll(records);
    for (const record of records) {
      for (const tag of record.repoTags) {
        const old = before.get(tag);
        if (old && old !== record.id) options.onLine(`The image ${familiarName(tag)} already exists, renaming the old one with ID ${old} to empty string`);
        options.onLine(`Loaded image: ${familiarName(tag)}`);
      }
      if (!record.repoTags.length) options.onLine(`Loaded image ID: ${record.id}`);
    }
    ok = true;
    return records.map((r) => images.get(r.id) ?? r);
  } finally {
    if (options.mayDelete()) {
      const list = images.list();
      const used = new Set(list.flatMap((r) => [r.id, r.manifestDigest, ...r.layers.map((l) => l.digest)]));
      for (const digest of files.added) if (!used.has(digest)) await content.delete(digest).catch(() => false);
      if (!ok) {
        const inUse = snapshots.inUse(list);
        for (const chain of created) if (!inUse.has(chain)) await snapshots.remove(chain).catch(() => false);
      }
    }
  }
}

/** Verifies and unpacks one image's layers; resolves with its record (not yet stored). */
async function unpackItem(item: LoadItem, files: ArchiveFiles, known: Map<string, LayerRef>, options: LoadOptions, created: Set<string>): Promise<ImageRecord> {
  const { content, snapshots } = options;
  const diffIds = item.parsed.rootfs.diff_ids;
  const chains = chainIds(diffIds);
  const layers: LayerRef[] = [];
  const present: boolean[] = [];
  for (const [k, stored] of item.layers.entries()) {
    const what = `layer ${k + 1} of ${item.what}`;
    const have = await snapshots.exists(chains[k]);
    present.push(have);
    const same = known.get(diffIds[k]);
    // Unpacked before: a blob already known to hold this diffID serves, as Docker keeps its own.
    if (have && same && (await content.has(same.digest))) {
      layers.push(same);
      continue;
    }
    const blob = await files.asBlob(stored);
    const kind = await compressionOf(content.path(blob.digest));
    if (kind !== 'gzip' && kind !== 'none') throw new Error(`${what} is ${kind}-compressed, which this engine cannot unpack`);
    const layer: LayerRef = { digest: blob.digest, diffId: diffIds[k], size: blob.size, mediaType: kind === 'gzip' ? OCI_LAYER_GZIP : OCI_LAYER };
    // Its snapshot exists, so unpacking checks nothing: the blob is checked here.
    if (have && !(kind === 'none' && blob.digest === diffIds[k])) {
      const actual = await diffIdOf(content, blob.digest);
      if (actual !== diffIds[k]) throw new Error(`invalid diffID for ${what}: expected "${diffIds[k]}", got "${actual}"`);
    }
    layers.push(layer);
  }
  const unpacks = layers.map((layer, k) => {
    if (present[k]) return snapshots.info(chains[k]);
    created.add(chains[k]);
    const progress = options.onProgress ? progressOf(options.onProgress, digestHex(layer.diffId).slice(0, 12), 'Loading layer', layer.size) : null;
    return snapshots.unpack(layers, k, (n) => progress?.add(n)).then((info) => {
      progress?.done();
      return info;
    });
  });
  const settled = await Promise.allSettled(unpacks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  let size = 0;
  for (const s of settled) if (s.status === 'fulfilled') size += s.value?.size ?? 0;
  for (const layer of layers) known.set(layer.diffId, layer);
  return {
    id: item.id,
    repoTags: item.tags,
    repoDigests: [],
    manifestDigest: item.manifestDigest,
    config: item.parsed,
    layers,
    created: item.parsed.created ?? new Date().toISOString(),
    size,
    ...(item.parent ? { parent: item.parent } : {}),
  };
}
