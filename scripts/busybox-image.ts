// A busybox image made on this machine from Debian's busybox-static: the tests' base image (and
// their plain root filesystem, test/helpers/rootfs.ts), and the examples' `busybox:latest` where
// Docker Hub cannot be reached. One layer: /bin/busybox, its applets as symlinks, /etc/passwd and
// /etc/group, and the usual empty directories.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { EngineClient } from '../runtime-agent/src/cli/client';
import { collect, writeTar, type TarWriteEntry } from '../runtime-agent/src/images/tar';

export const BUSYBOX = '/bin/busybox';

/** The applets the tests' image links (a small, fixed set keeps its digest stable). */
export const BUSYBOX_APPLETS = ['sh', 'ls', 'cat', 'echo', 'id', 'ps', 'true', 'false', 'env', 'sleep', 'test', 'grep', 'mkdir', 'rm'];

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const GROUP = 'root:x:0:\ntty:x:5:\napp:x:1000:\nnogroup:x:65534:\n';

/** The directories, parents first: homes, /tmp, and the mount points a container needs. */
export const BUSYBOX_DIRS: readonly { name: string; mode: number; owner?: number }[] = [
  { name: 'bin', mode: 0o755 },
  { name: 'dev', mode: 0o755 },
  { name: 'etc', mode: 0o755 },
  { name: 'home', mode: 0o755 },
  { name: 'home/app', mode: 0o755, owner: 1000 },
  { name: 'proc', mode: 0o555 },
  { name: 'root', mode: 0o700 },
  { name: 'sys', mode: 0o555 },
  { name: 'tmp', mode: 0o1777 },
];

/** Every applet this busybox offers (`busybox --list`), but busybox itself. */
export async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await promisify(execFile)(BUSYBOX, ['--list']);
  return stdout.split('\n').filter((a) => a !== '' && a !== 'busybox' && !a.includes('/'));
}

const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A busybox root filesystem as one layer's tar; `dirs`: more directories than BUSYBOX_DIRS. */
export async function busyboxLayer(applets: readonly string[] = BUSYBOX_APPLETS, dirs: readonly string[] = []): Promise<Buffer> {
  const busybox = await readFile(BUSYBOX);
  const mtime = 1_700_000_000;
  const entries: TarWriteEntry[] = [
    ...BUSYBOX_DIRS.map(({ name, mode, owner }): TarWriteEntry => ({ name, type: 'dir', mode, uid: owner, gid: owner, mtime })),
    ...dirs.map((name): TarWriteEntry => ({ name, type: 'dir', mode: 0o755, mtime })),
    { name: 'bin/busybox', mode: 0o755, body: busybox, mtime },
    ...applets.filter((a) => a !== 'busybox').map((applet): TarWriteEntry => ({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mtime })),
    { name: 'etc/passwd', body: PASSWD, mtime },
    { name: 'etc/group', body: GROUP, mtime },
  ];
  return collect(writeTar(entries));
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/**
 * `tag` as an archive that `docker load` (POST /images/load) takes: the docker-archive format,
 * with every applet busybox offers and a /var, as Docker Hub's busybox has.
 */
export async function busyboxArchive(tag: string): Promise<Buffer> {
  const layer = await busyboxLayer(await busyboxApplets(), ['var']);
  const diffId = sha256hex(layer);
  const created = new Date(1_700_000_000_000).toISOString();
  const config = JSON.stringify({
    architecture: ARCH[process.arch] ?? process.arch,
    os: 'linux',
    created,
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created, created_by: `COPY ${BUSYBOX} and its applets (Debian's busybox-static)` }],
  });
  const configName = `${sha256hex(config)}.json`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: [`${diffId}/layer.tar`] }]);
  return collect(
    writeTar([
      { name: configName, body: config },
      { name: diffId, type: 'dir', mode: 0o755 },
      { name: `${diffId}/layer.tar`, body: layer },
      { name: 'manifest.json', body: manifest },
    ]),
  );
}

/** Makes `tag` from busybox-static and loads it into the engine (`docker load`). */
export async function loadBusybox(client: EngineClient, tag: string): Promise<void> {
  const archive = await busyboxArchive(tag);
  for await (const m of client.upload<{ error?: string }>('POST', '/images/load?quiet=1', Readable.from([archive]), { 'Content-Type': 'application/x-tar' })) {
    if (m.error) throw new Error(`loading ${tag}: ${m.error}`);
  }
}
