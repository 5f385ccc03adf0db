// A busybox image made on this machine from Debian's busybox-static: the tests' base image, and
// the examples' `busybox:latest` where Docker Hub cannot be reached. One layer: /bin/busybox, its
// applets as symlinks, /etc/passwd and /etc/group, and the usual empty directories.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { collect, writeTar, type TarWriteEntry } from '../runtime-agent/src/images/tar';

export const BUSYBOX = '/bin/busybox';

/** The applets the tests' image links (a small, fixed set keeps its digest stable). */
export const BUSYBOX_APPLETS = ['sh', 'ls', 'cat', 'echo', 'id', 'ps', 'true', 'false', 'env', 'sleep', 'test', 'grep', 'mkdir', 'rm'];

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const GROUP = 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n';

const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A busybox root filesystem as one layer's tar. */
export async function busyboxLayer(applets: readonly string[] = BUSYBOX_APPLETS): Promise<Buffer> {
  const busybox = await readFile(BUSYBOX);
  const mtime = 1_700_000_000;
  const entries: TarWriteEntry[] = [
    { name: 'bin', type: 'dir', mode: 0o755, mtime },
    { name: 'bin/busybox', mode: 0o755, body: busybox, mtime },
    ...applets.filter((a) => a !== 'busybox').map((applet): TarWriteEntry => ({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mtime })),
    { name: 'etc', type: 'dir', mode: 0o755, mtime },
    { name: 'etc/passwd', body: PASSWD, mtime },
    { name: 'etc/group', body: GROUP, mtime },
    { name: 'root', type: 'dir', mode: 0o700, mtime },
    { name: 'tmp', type: 'dir', mode: 0o1777, mtime },
    { name: 'home', type: 'dir', mode: 0o755, mtime },
    { name: 'home/app', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime },
    { name: 'proc', type: 'dir', mode: 0o555, mtime },
    { name: 'sys', type: 'dir', mode: 0o555, mtime },
    { name: 'dev', type: 'dir', mode: 0o755, mtime },
  ];
  return collect(writeTar(entries));
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/**
 * `tag` as an archive that `docker load` (POST /images/load) takes: the docker-archive format,
 * with every applet busybox offers.
 */
export async function busyboxArchive(tag: string): Promise<Buffer> {
  const { stdout } = await promisify(execFile)(BUSYBOX, ['--list']);
  const layer = await busyboxLayer(stdout.split('\n').filter((a) => /^[\w.[-]+$/.test(a)));
  const diffId = sha256hex(layer);
  const config = JSON.stringify({
    architecture: ARCH[process.arch] ?? process.arch,
    os: 'linux',
    created: new Date(1_700_000_000_000).toISOString(),
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created: new Date(1_700_000_000_000).toISOString(), created_by: `COPY ${BUSYBOX} and its applets (Debian's busybox-static)` }],
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
