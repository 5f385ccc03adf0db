// `docker commit`: a container's changes (its overlay upper dir, whiteouts and all) as one more
// layer on its image, with the config it ran with, changed by the request's config and
// `--change` instructions; a history entry that says who and why, as Docker writes one; and a
// name, when one is asked for.

import { ApiError, badRequest, notFound } from '../api/errors';
import { applyChanges, ChangeError } from '../build/changes';
import type { Engine } from '../engine';
import { sha256 } from '../images/content';
import { diffLayer } from '../images/diff';
import { familiarName, type ContainerConfig, type HistoryEntry, type ImageConfig, type ImageRecord, type LayerRef } from '../images/store';
import { formatReference, parseReference } from '../registry/reference';
import type { ContainerRecord } from './containers';

export interface CommitOptions {
  /** The request's config (Docker's container config): what the image's config starts from. */
  config: ContainerConfig | null;
  /** Dockerfile instructions applied to it. */
  changes: string[];
  comment: string;
  author: string;
  /** Freeze a running container while its changes are read (Docker's default). */
  pause: boolean;
  /** repo[:tag] to name the image, or null. */
  reference: string | null;
}

/** The layer of a container that changed nothing: an empty tar (1024 zero bytes). */
const EMPTY_LAYER = sha256(Buffer.alloc(1024));
const LAYER_MEDIA = 'application/vnd.oci.image.layer.v1.tar';

/** A name as `repo` and `tag` give it, checked; null without a repo. */
export function commitReference(repo: string, tag: string): string | null {
  if (!repo) return null;
  try {
    const ref = parseReference(tag ? `${repo}:${tag}` : repo);
    if (ref.digest) throw new Error('refusing to create a tag with a digest reference');
    return formatReference(ref);
  } catch (error) {
    throw badRequest((error as Error).message);
  }
}

export async function commitContainer(engine: Engine, ref: string, options: CommitOptions): Promise<ImageRecord> {
  const { containers } = engine;
  const record = containers.get(ref);
  if (record.Driver !== 'overlay2') throw new ApiError(501, "docker commit needs the overlay2 storage driver; this engine copies each container's root (vfs)");
  const image = engine.images.get(record.Image);
  if (!image) throw notFound(`No such image: ${record.Image}`);
  let config: ContainerConfig;
  try {
    config = merge(applyChanges(options.config ?? configOf(record), options.changes), configOf(record));
  } catch (error) {
    if (error instanceof ChangeError) throw badRequest(error.message);
    throw error;
  }
  const pause = options.pause && record.State.Running && !record.State.Paused;
  // Garbage collection leaves the layer's blob alone until an image holds it.
  engine.pulls++;
  try {
    if (pause) await containers.pause(record.Id, true);
    let layer: LayerRef | null;
    try {
      const { upper } = await containers.layers(record.Id);
      const { digest, size } = await engine.content.add(diffLayer(upper));
      layer = digest === EMPTY_LAYER ? null : { digest, diffId: digest, size, mediaType: LAYER_MEDIA };
    } finally {
      if (pause) await containers.pause(record.Id, false).catch(() => {});
    }
    const committed = await engine.images.add(await imageRecord(engine, image, layer, config, record, options));
    if (options.reference) await engine.images.tag(committed.id, options.reference);
    containers.emit('commit', record, { comment: options.comment, imageID: committed.id, imageRef: options.reference ? familiarName(options.reference) : '' });
    if (options.reference) engine.events.emit('image', 'tag', committed.id, { name: familiarName(options.reference) });
    return committed;
  } finally {
    engine.pulls--;
  }
}

/** The new image: the container's image, one layer more (unless it changed nothing), its config and history entry. */
async function imageRecord(engine: Engine, image: ImageRecord, layer: LayerRef | null, config: ContainerConfig, record: ContainerRecord, options: CommitOptions): Promise<ImageRecord> {
  const created = new Date().toISOString();
  const said = { ...(options.author ? { author: options.author } : {}), ...(options.comment ? { comment: options.comment } : {}) };
  const history: HistoryEntry = { created, ...said, created_by: (record.Config.Cmd ?? []).join(' '), ...(layer ? {} : { empty_layer: true }) };
  const { author: _author, comment: _comment, ...base } = image.config;
  const imageConfig: ImageConfig = {
    ...base,
    ...said,
    created,
    config,
    rootfs: { type: 'layers', diff_ids: [...image.config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
    history: [...(image.config.history ?? []), history],
  };
  const json = JSON.stringify(imageConfig);
  const id = sha256(json);
  await engine.content.write(Buffer.from(json), { digest: id });
  const layers = [...image.layers, ...(layer ? [layer] : [])];
  return { id, repoTags: [], repoDigests: [], manifestDigest: '', config: imageConfig, layers, created, size: layers.reduce((n, l) => n + l.size, 0), parent: image.id };
}

/** The part of a container's config an image keeps. */
function configOf(record: ContainerRecord): ContainerConfig {
  const c = record.Config;
  return {
    User: c.User, ExposedPorts: c.ExposedPorts ?? null, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Volumes: c.Volumes,
    WorkingDir: c.WorkingDir, Labels: c.Labels, OnBuild: c.OnBuild, ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}), ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
  };
}

const empty = (value: object | null | undefined) => !value || Object.keys(value).length === 0;

/** Docker's merge of the config asked for with the container's: what the first leaves unset, the second gives. */
function merge(wanted: ContainerConfig, container: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = { ...wanted };
  out.User ||= container.User;
  out.ExposedPorts = empty(wanted.ExposedPorts) ? container.ExposedPorts : { ...container.ExposedPorts, ...wanted.ExposedPorts };
  if (!wanted.Env?.length) out.Env = container.Env;
  else {
    const keys = new Set(wanted.Env.map((e) => e.split('=')[0]));
    out.Env = [...wanted.Env, ...(container.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  }
  out.Labels = { ...container.Labels, ...wanted.Labels };
  if (!wanted.Entrypoint?.length) {
    if (!wanted.Cmd?.length) out.Cmd = container.Cmd;
    if (!wanted.Entrypoint) out.Entrypoint = container.Entrypoint;
  }
  if (container.Healthcheck) out.Healthcheck = { ...container.Healthcheck, ...wanted.Healthcheck };
  out.WorkingDir ||= container.WorkingDir;
  out.Volumes = empty(wanted.Volumes) ? container.Volumes : { ...wanted.Volumes, ...container.Volumes };
  out.StopSignal ||= container.StopSignal;
  return out;
}
