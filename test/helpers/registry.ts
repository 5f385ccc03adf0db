// A real registry for tests: Debian's docker-registry on 127.0.0.1 with its storage in a temp
// folder, and a way to push images to it through the registry API itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistry {
  /** host:port */
  readonly host: string;
  push(repository: string, tag: string, image: PushImage): Promise<string>;
  stop(): Promise<void>;
}

export interface PushImage {
  /** One manifest per platform; more than one makes an OCI index. */
  platforms: { os: string; architecture: string; variant?: string }[];
  /** Layers as tar bytes (gzip not required by the registry). */
  layers?: Buffer[];
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
    async push(repository, tag, image) {
      const manifests = [];
      for (const platform of image.platforms) {
        const layers = [];
        for (const layer of image.layers ?? [Buffer.alloc(1024)]) layers.push(await blob(repository, layer));
        const config = JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} });
        const c = await blob(repository, config);
        const body = JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
          layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
        });
        const digest = await manifest(repository, image.platforms.length === 1 ? tag : sha256(body), 'application/vnd.oci.image.manifest.v1+json', body);
        manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: Buffer.byteLength(body), platform });
      }
      if (manifests.length === 1) return manifests[0].digest;
      const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
      return manifest(repository, tag, 'application/vnd.oci.image.index.v1+json', index);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
