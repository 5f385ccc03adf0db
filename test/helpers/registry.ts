// A real registry for tests: Debian's docker-registry on 127.0.0.1 with its storage in a temp
// folder, and a way to push images to it through the registry API itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistry {
  /** host:port */
  readonly host: string;
  /** Pushes an image (one manifest per platform); resolves with the digest the tag names. */
  push(repository: string, tag: string, image: PushImage): Promise<string>;
  /** Uploads one blob. */
  blob(repository: string, data: Buffer | string): Promise<{ digest: string; size: number }>;
  /** Puts a manifest (or index) under a tag or digest; resolves with its digest. */
  manifest(repository: string, reference: string, mediaType: string, body: string): Promise<string>;
  stop(): Promise<void>;
}

export interface PushImage {
  /** One manifest per platform; more than one makes an index. */
  platforms: { os: string; architecture: string; variant?: string }[];
  /** Layers as uncompressed tar bytes (the default is one empty tar). */
  layers?: Buffer[];
  /** Push the layers gzip-compressed (diff_ids stay the digests of the tars). */
  gzip?: boolean;
  /** More of the image config: `config` (Cmd, Env…), `created`, `history`. */
  config?: Record<string, unknown>;
  /** OCI media types (the default) or Docker's schema 2 and manifest list. */
  format?: 'oci' | 'docker';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function startRegistry(): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'tug-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: ${host}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const base = `http://${host}/v2`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  async function blob(repository: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256(bytes);
    const start = await fetch(`${base}/${repository}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
    const location = new URL(start.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
    return { digest, size: bytes.length };
  }

  async function manifest(repository: string, reference: string, mediaType: string, body: string): Promise<string> {
    const response = await fetch(`${base}/${repository}/manifests/${reference}`, { method: 'PUT', body, headers: { 'Content-Type': mediaType } });
    if (response.status !== 201) throw new Error(`manifest: ${response.status} ${await response.text()}`);
    return sha256(body);
  }

  return {
    host,
    blob,
    manifest,
    async push(repository, tag, image) {
      const docker = image.format === 'docker';
      const media = {
        manifest: docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
        index: docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json',
        config: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
        layer: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : `application/vnd.oci.image.layer.v1.tar${image.gzip ? '+gzip' : ''}`,
      };
      const manifests = [];
      for (const platform of image.platforms) {
        const tars = image.layers ?? [Buffer.alloc(1024)];
        const layers = [];
        for (const tar of tars) layers.push(await blob(repository, image.gzip || docker ? gzipSync(tar) : tar));
        const config = JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) }, config: {}, ...image.config });
        const c = await blob(repository, config);
        const body = JSON.stringify({
          schemaVersion: 2,
          mediaType: media.manifest,
          config: { mediaType: media.config, ...c },
          layers: layers.map((l) => ({ mediaType: media.layer, ...l })),
        });
        const digest = await manifest(repository, image.platforms.length === 1 ? tag : sha256(body), media.manifest, body);
        manifests.push({ mediaType: media.manifest, digest, size: Buffer.byteLength(body), platform });
      }
      if (manifests.length === 1) return manifests[0].digest;
      const index = JSON.stringify({ schemaVersion: 2, mediaType: media.index, manifests });
      return manifest(repository, tag, media.index, index);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
