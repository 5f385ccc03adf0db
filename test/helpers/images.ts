// Images for tests, built in memory: layers as tars (written with the engine's own tar writer),
// configs, and pushes of single images and multi-platform indexes to a test registry. The base
// image is Debian's busybox-static: /bin/busybox, a few applet symlinks, /etc/passwd.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { collect, writeTar, type TarWriteEntry } from '../../runtime-agent/src/images/tar';
import type { TestRegistry } from './registry';

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export { BUSYBOX_APPLETS, GROUP, PASSWD, busyboxLayer } from '../../scripts/busybox-image';

/** A layer's tar bytes from its entries. */
export function tarOf(entries: TarWriteEntry[]): Promise<Buffer> {
  return collect(writeTar(entries));
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface BuiltImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  platform?: Platform;
  /** More of the config: `config` (Cmd, Env…), `created`, `history`. */
  config?: Record<string, unknown>;
}

export interface PushedImage {
  manifestDigest: string;
  configDigest: string;
  /** The blobs as pushed (gzip), bottom first. */
  layerDigests: string[];
  diffIds: string[];
  manifestSize: number;
}

type Format = 'oci' | 'docker';

function media(format: Format) {
  return format === 'docker'
    ? {
        manifest: 'application/vnd.docker.distribution.manifest.v2+json',
        index: 'application/vnd.docker.distribution.manifest.list.v2+json',
        config: 'application/vnd.docker.container.image.v1+json',
        layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      }
    : {
        manifest: 'application/vnd.oci.image.manifest.v1+json',
        index: 'application/vnd.oci.image.index.v1+json',
        config: 'application/vnd.oci.image.config.v1+json',
        layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
      };
}

/** Uploads an image's blobs and manifest; `reference` is a tag, or omitted to put it by digest. */
export async function pushImage(registry: TestRegistry, repository: string, reference: string | null, image: BuiltImage, format: Format = 'oci'): Promise<PushedImage> {
  const m = media(format);
  const platform = image.platform ?? { os: 'linux', architecture: 'amd64' };
  const blobs = [];
  for (const tar of image.layers) blobs.push(await registry.blob(repository, gzipSync(tar)));
  const diffIds = image.layers.map((t) => sha256(t));
  const config = JSON.stringify({
    created: '2024-01-02T03:04:05Z',
    ...platform,
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...image.config,
  });
  const c = await registry.blob(repository, config);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: m.manifest,
    config: { mediaType: m.config, ...c },
    layers: blobs.map((b) => ({ mediaType: m.layer, ...b })),
  });
  const manifestDigest = await registry.manifest(repository, reference ?? sha256(body), m.manifest, body);
  return { manifestDigest, configDigest: c.digest, layerDigests: blobs.map((b) => b.digest), diffIds, manifestSize: Buffer.byteLength(body) };
}

/** Pushes one image per platform and an index (OCI) or manifest list (Docker) naming them under `tag`. */
export async function pushIndex(
  registry: TestRegistry,
  repository: string,
  tag: string,
  images: (BuiltImage & { platform: Platform })[],
  format: Format = 'oci',
): Promise<{ indexDigest: string; images: PushedImage[] }> {
  const m = media(format);
  const pushed = [];
  for (const image of images) pushed.push(await pushImage(registry, repository, null, image, format));
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: m.index,
    manifests: pushed.map((p, i) => ({ mediaType: m.manifest, digest: p.manifestDigest, size: p.manifestSize, platform: images[i].platform })),
  });
  const indexDigest = await registry.manifest(repository, tag, m.index, index);
  return { indexDigest, images: pushed };
}
