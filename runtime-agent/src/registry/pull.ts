// `docker pull`: resolve a reference to a manifest (choosing this platform's from an index),
// download the config and layers into the content store (three layers at a time, as Docker
// does, each verified against its digest as it streams), unpack the layers into snapshots in
// order as soon as each one is there, and record the image under its tag and repo digest.
// Progress is reported in Docker's JSON messages, in Docker's order and words.

import { formatPlatform, hostPlatform, type Platform } from '../../../server/src/dockerfile/platform';
import { ContentStore, DigestMismatchError, digestHex, SizeMismatchError } from '../images/content';
import { chainIds, type SnapshotInfo, type Snapshots } from '../images/snapshots';
import { familiarName, type ImageConfig, type ImageRecord, type ImageStore, type LayerRef } from '../images/store';
import { limiter } from '../limiter';
import { MEDIA, RegistryError, Repository, type Descriptor, type RegistryAuth } from './client';
import { formatReference, parseReference, type Reference } from './reference';

/** One line of Docker's pull progress (`POST /images/create`), keys in Docker's order. */
export interface ProgressMessage {
  status: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  id?: string;
}

export interface PullOptions {
  content: ContentStore;
  store: ImageStore;
  snapshots: Snapshots;
  /** Default: this machine's. */
  platform?: Platform;
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  /** Credentials (the API's X-Registry-Auth); otherwise Docker's config.json is consulted. */
  auth?: RegistryAuth;
  /** Where Docker's config.json is (default ~/.docker/config.json or $DOCKER_CONFIG). */
  dockerConfig?: string;
  onProgress: (message: ProgressMessage) => void;
  signal?: AbortSignal;
}

/** Docker downloads three layers at a time. */
const CONCURRENT_DOWNLOADS = 3;

const IMAGE_CONFIGS = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const LAYERS = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** Docker's layer IDs in progress: the first 12 hex digits of the blob digest. */
const shortId = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** Sizes as Docker prints them: decimal units, four significant digits (Go's %.4g). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${Number(size.toPrecision(4))}${units[unit]}`;
}

/** The `progress` string Docker sends beside progressDetail (its width without a terminal: a bar). */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const filled = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}] `;
  return bar + (current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`);
}

/**
 * Byte progress of one layer, sent as Docker's progress reader sends it: after each 1% (at most
 * 512 KiB) of progress, no more than ten a second, and always when the end is reached.
 */
export function progressOf(emit: (m: ProgressMessage) => void, id: string, status: string, total: number) {
  const every = Math.min(512 * 1024, Math.floor(total / 100));
  let current = 0;
  let lastUpdate = 0;
  let lastSent = -1;
  let lastTime = 0;
  const send = () => {
    emit({ status, progressDetail: { current, total }, progress: progressBar(current, total), id });
    lastSent = current;
    lastTime = Date.now();
  };
  return {
    add(n: number) {
      current += n;
      if (current - lastUpdate > every) {
        if (current === total || Date.now() - lastTime >= 100) send();
        lastUpdate = current;
      }
    },
    /** The last count, unless it was already sent. */
    done() {
      if (lastSent !== current) send();
    },
  };
}


/** How close an offered variant is to the wanted one: 0 exact, higher for older compatible ones, -1 unusable. */
function variantRank(offered: Platform, wanted: Platform): number {
  const normal = (p: Platform) => {
    if (p.architecture === 'arm64') return p.variant && p.variant !== '8' ? p.variant : 'v8';
    if (p.architecture === 'amd64') return p.variant ?? 'v1';
    if (p.architecture === 'arm') return p.variant ?? 'v7';
    return p.variant ?? '';
  };
  const have = normal(offered);
  const want = normal(wanted);
  if (have === want) return 0;
  // A newer CPU runs code built for an older variant of its architecture (arm v7 runs v6, v5).
  const level = (v: string) => (/^v\d+$/.test(v) ? Number(v.slice(1)) : NaN);
  if (['arm', 'amd64'].includes(wanted.architecture) && level(have) < level(want)) return level(want) - level(have);
  return -1;
}

/** The index entry for a platform, as Docker chooses it. */
export function choosePlatform(manifests: readonly Descriptor[], wanted: Platform): Descriptor | undefined {
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const m of manifests) {
    const p = m.platform;
    if (!p || p.os !== wanted.os || p.architecture !== wanted.architecture) continue;
    const rank = variantRank(p, wanted);
    if (rank >= 0 && rank < bestRank) {
      best = m;
      bestRank = rank;
    }
  }
  return best;
}

interface ManifestBody {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

function parseManifest(bytes: Buffer, what: string): ManifestBody {
  try {
    const body = JSON.parse(bytes.toString('utf8')) as ManifestBody;
    if (body && typeof body === 'object') return body;
  } catch {
    // Said below.
  }
  throw new Error(`${what} is not valid JSON`);
}

function checkDescriptor(d: Descriptor | undefined, what: string): Descriptor {
  if (!d || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new Error(`${what} is malformed (a descriptor needs a digest and a size)`);
  }
  digestHex(d.digest);
  return d;
}

function checkConfig(config: unknown, digest: string, layers: number): ImageConfig {
  const c = config as ImageConfig | null;
  if (!c || typeof c !== 'object' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids)) throw new Error(`image config ${digest} has no rootfs.diff_ids`);
  if (c.rootfs.diff_ids.length !== layers) {
    throw new Error(`image config ${digest} lists ${c.rootfs.diff_ids.length} layers (rootfs.diff_ids) but its manifest has ${layers}`);
  }
  for (const d of c.rootfs.diff_ids) digestHex(String(d));
  return c;
}

/** Registry errors as Docker words them for a pull. */
async function translate(error: unknown, ref: Reference, repo: Repository): Promise<unknown> {
  if (!(error instanceof RegistryError)) return error;
  const repository = familiarName(`${ref.domain}/${ref.path}`).replace(/:latest$/, '');
  const denied = (cause: string) =>
    new RegistryError(`pull access denied for ${repository}, repository does not exist or may require 'docker login': ${cause}`, 404, error.code, cause);
  if (error.code === 'MANIFEST_UNKNOWN' || (error.status === 404 && !error.code)) {
    // A registry answers "manifest unknown" for a repository it has never heard of too; its tag
    // list tells the two apart.
    if (!ref.digest) {
      try {
        await repo.tags();
      } catch (tagsError) {
        if (tagsError instanceof RegistryError && tagsError.code === 'NAME_UNKNOWN') return denied(tagsError.detail ?? 'name unknown');
      }
    }
    const detail = error.detail ?? 'manifest unknown';
    return new RegistryError(`manifest for ${familiarName(formatReference(ref))} not found: ${detail}`, 404, error.code, detail);
  }
  if (error.code === 'NAME_UNKNOWN' || error.code === 'DENIED' || error.code === 'UNAUTHORIZED' || error.status === 401 || error.status === 403) {
    return denied(error.detail ?? 'denied: requested access to the resource is denied');
  }
  return error;
}

/** Pulls an image; resolves with its record once it is unpacked and recorded. */
export async function pull(reference: string, options: PullOptions): Promise<ImageRecord> {
  const ref = parseReference(reference);
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const repo = new Repository(ref, { insecure: options.insecure, dockerConfig: options.dockerConfig, auth: options.auth, signal: controller.signal });
  try {
    return await pullImage(ref, repo, options, controller);
  } catch (error) {
    throw await translate(error, ref, repo);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

async function pullImage(ref: Reference, repo: Repository, options: PullOptions, controller: AbortController): Promise<ImageRecord> {
  const { content, store, snapshots, onProgress: emit } = options;
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const requested = familiarName(formatReference(ref));
  const wanted = options.platform ?? hostPlatform();

  const top = await repo.manifestBytes(tagOrDigest);
  emit({ status: `Pulling from ${ref.path}`, id: tagOrDigest });
  let manifest = top;
  let body = parseManifest(top.bytes, `manifest ${tagOrDigest}`);
  if (body.schemaVersion === 1 || /^application\/vnd\.docker\.distribution\.manifest\.v1\+/.test(top.mediaType)) {
    throw new Error(`${requested} uses image manifest schema 1, which is not supported: ask its author to push it as an OCI image or Docker schema 2`);
  }
  if (top.mediaType === MEDIA.ociIndex || top.mediaType === MEDIA.dockerList || Array.isArray(body.manifests)) {
    const chosen = choosePlatform(body.manifests ?? [], wanted);
    if (!chosen) throw new Error(`no matching manifest for ${formatPlatform(wanted)} in the manifest list entries`);
    checkDescriptor(chosen, 'the manifest list entry');
    manifest = await repo.manifestBytes(chosen.digest);
    body = parseManifest(manifest.bytes, `manifest ${chosen.digest}`);
  }
  const configDesc = checkDescriptor(body.config, `manifest ${manifest.digest}: its config`);
  if (configDesc.mediaType && !IMAGE_CONFIGS.has(configDesc.mediaType)) {
    throw new Error(`${requested} is not a container image (its config has media type ${configDesc.mediaType})`);
  }
  if (!Array.isArray(body.layers)) throw new Error(`manifest ${manifest.digest} has no layers list`);
  const descs = body.layers.map((l, i) => checkDescriptor(l, `manifest ${manifest.digest}: layer ${i}`));
  for (const d of descs) {
    if (d.mediaType && /zstd/.test(d.mediaType)) throw new Error(`layer ${d.digest} has media type ${d.mediaType}: zstd-compressed layers are not supported`);
    if (d.mediaType && !LAYERS.has(d.mediaType)) throw new Error(`layer ${d.digest} has media type ${d.mediaType}, which is not a layer this engine can unpack`);
  }

  // Keep the manifests, for `docker save` and pushes later.
  await content.write(top.bytes, { digest: top.digest, size: top.bytes.length });
  if (manifest !== top) await content.write(manifest.bytes, { digest: manifest.digest, size: manifest.bytes.length });

  // An image whose config is already here needs nothing else (Docker's shortcut too).
  let result: { config: ImageConfig; layers: LayerRef[]; size: number };
  const present = store.get(configDesc.digest);
  const complete = present && (await Promise.all(chainIds(present.layers.map((l) => l.diffId)).map((c) => snapshots.exists(c)))).every(Boolean);
  if (present && complete) result = { config: present.config, layers: present.layers, size: present.size };
  else result = await fetchLayers(configDesc, descs, repo, options, controller);

  const tagName = ref.tag && !ref.digest ? formatReference({ ...ref, digest: null }) : null;
  const digestName = `${ref.domain}/${ref.path}@${top.digest}`;
  const before = store.get(tagName ?? digestName)?.id;
  const record = await store.add({
    id: configDesc.digest,
    repoTags: tagName ? [tagName] : [],
    repoDigests: [digestName],
    manifestDigest: top.digest,
    config: result.config,
    layers: result.layers,
    created: result.config.created ?? new Date().toISOString(),
    size: result.size,
  });
  emit({ status: `Digest: ${top.digest}` });
  emit({ status: `Status: ${before === record.id ? 'Image is up to date' : 'Downloaded newer image'} for ${requested}` });
  return record;
}

async function fetchLayers(
  configDesc: Descriptor,
  descs: Descriptor[],
  repo: Repository,
  options: PullOptions,
  controller: AbortController,
): Promise<{ config: ImageConfig; layers: LayerRef[]; size: number }> {
  const { content, store, snapshots, onProgress: emit } = options;

  // Layers already unpacked: their diffIDs are known from the images that have them, so their
  // chain can be checked before the config arrives.
  const known = new Map<string, string>();
  for (const image of store.list()) for (const l of image.layers) known.set(l.digest, l.diffId);
  const exists: boolean[] = [];
  const predicted: string[] = [];
  for (const d of descs) {
    const diffId = known.get(d.digest);
    if (diffId === undefined || predicted.length !== exists.length) {
      exists.push(false);
      continue;
    }
    predicted.push(diffId);
    exists.push(await snapshots.exists(chainIds(predicted)[predicted.length - 1]));
  }

  const announced = new Set<string>();
  for (const [i, d] of descs.entries()) {
    if (announced.has(d.digest)) continue;
    announced.add(d.digest);
    emit({ status: exists[i] ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: shortId(d.digest) });
  }

  // Each blob once, however many layers share it.
  const needed = new Map<string, Descriptor>();
  for (const [i, d] of descs.entries()) if (!exists[i]) needed.set(d.digest, d);
  const fetch = new Map<string, boolean>();
  for (const digest of needed.keys()) fetch.set(digest, !(await content.has(digest)));
  [...fetch].filter(([, f]) => f).slice(CONCURRENT_DOWNLOADS).forEach(([digest]) => emit({ status: 'Waiting', progressDetail: {}, id: shortId(digest) }));

  const limit = limiter(CONCURRENT_DOWNLOADS);
  const download = async (d: Descriptor): Promise<void> => {
    const id = shortId(d.digest);
    const progress = progressOf(emit, id, 'Downloading', d.size);
    const body = await repo.blob(d.digest, { verify: false });
    const source = (async function* () {
      yield* body;
      progress.done();
      emit({ status: 'Verifying Checksum', progressDetail: {}, id });
    })();
    try {
      await content.write(source, { digest: d.digest, size: d.size }, (n) => progress.add(n));
    } catch (error) {
      if (error instanceof DigestMismatchError) throw new DigestMismatchError(error.expected, error.actual, `filesystem layer verification failed for digest ${d.digest}`);
      if (error instanceof SizeMismatchError) throw new Error(`filesystem layer verification failed for digest ${d.digest}: ${error.message}`);
      throw error;
    }
    emit({ status: 'Download complete', progressDetail: {}, id });
  };
  const downloads = new Map<string, Promise<void>>();
  for (const [digest, d] of needed) {
    downloads.set(
      digest,
      fetch.get(digest) ? limit(() => download(d)) : Promise.resolve().then(() => emit({ status: 'Download complete', progressDetail: {}, id: shortId(digest) })),
    );
  }

  const configDownload = (async () => {
    try {
      if (!(await content.has(configDesc.digest))) {
        await content.write(await repo.blob(configDesc.digest, { verify: false }), { digest: configDesc.digest, size: configDesc.size });
      }
    } catch (error) {
      if (error instanceof DigestMismatchError) throw new DigestMismatchError(error.expected, error.actual, `image config verification failed for digest ${configDesc.digest}`);
      throw error;
    }
    return checkConfig(await content.readJson<unknown>(configDesc.digest), configDesc.digest, descs.length);
  })();

  // Unpacks begun: an abort lets them finish (a worker cannot be stopped midway) and clean up.
  const unpacks: (Promise<SnapshotInfo> | null)[] = [];
  // Unpacking goes in order, each layer as soon as it and the ones below are in.
  const extraction = (async () => {
    const config = await configDownload;
    const layers: LayerRef[] = descs.map((d, i) => ({
      digest: d.digest,
      diffId: config.rootfs.diff_ids[i],
      size: d.size,
      mediaType: d.mediaType || 'application/vnd.oci.image.layer.v1.tar',
    }));
    // Each layer unpacks as soon as it is downloaded, side by side with the others; they are
    // put in place (and reported complete) bottom up.
    unpacks.push(...descs.map((d, i) => {
      if (exists[i]) return null;
      return downloads.get(d.digest)!.then(() => {
        controller.signal.throwIfAborted();
        const progress = progressOf(emit, shortId(d.digest), 'Extracting', d.size);
        return snapshots.unpack(layers, i, (n) => progress.add(n), controller.signal).then((info) => {
          progress.done();
          return info;
        });
      });
    }));
    for (const p of unpacks) p?.catch(() => {}); // awaited in order below
    let size = 0;
    for (const [i, d] of descs.entries()) {
      controller.signal.throwIfAborted();
      if (exists[i]) {
        if (predicted[i] !== layers[i].diffId) throw new Error(`layer ${d.digest}: the image config says diffID ${layers[i].diffId}, but it unpacked to ${predicted[i]} before`);
        size += (await snapshots.info(chainIds(predicted.slice(0, i + 1))[i]))?.size ?? 0;
        continue;
      }
      const info = await unpacks[i]!;
      emit({ status: 'Pull complete', progressDetail: {}, id: shortId(d.digest) });
      size += info.size;
    }
    return { config, layers, size };
  })();

  const others: Promise<unknown>[] = [configDownload, ...downloads.values()];
  const firstFailure = new Promise<never>((_, reject) => others.forEach((p) => p.catch(reject)));
  try {
    return await Promise.race([extraction, firstFailure]);
  } catch (error) {
    // Stop the other downloads, and let everything settle before saying so.
    controller.abort(error);
    await Promise.allSettled([...others, extraction, ...unpacks]);
    throw error;
  }
}
