// A container's files as `docker cp` and `docker export` reach them from outside the container:
// its root (a running one's through /proc/<pid>/root, a stopped one's mounted in a namespace of
// the engine's own), paths followed as the container follows them, a path's stat in Docker's
// shape, a tree as tar entries, and an archive extracted into a directory.
//
// The container's symlinks are its own: `/etc` in one of them means the container's /etc, never
// the host's. So paths are resolved here, component by component against the root, and the
// kernel is only handed paths with no symlink in them; entries are read with O_NOFOLLOW and
// written as image layers are (see images/layers.ts: no entry may leave its directory). While
// that happens the container is held still (Containers.holdStill), so that no process of its
// own can swap a checked directory for a symlink in between.

import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { badRequest } from '../api/errors';
import { applyLayer } from '../images/layers';
import type { TarWriteEntry } from '../images/tar';
import type { ContainerRecord, Containers } from './containers';
import { MountNamespace } from './mount-namespace';
import { parseUser } from './users';

/** What Docker's X-Docker-Container-Path-Stat header holds (a Go os.FileMode for `mode`). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** A path found in a container's root. */
export interface FoundPath {
  /** Its path in the container, symlinks of its parents resolved. */
  inside: string;
  /** The host path that reaches it. */
  host: string;
  info: Stats;
  stat: PathStat;
}

export interface RootOptions {
  /** To extract into (a stopped container's root is mounted writable). */
  writable: boolean;
  /** The image's files and the container's changes alone: no volumes, no /proc (`export`). */
  rootfsOnly?: boolean;
}

/**
 * Runs `work` with the host path of a container's `/`, the container held still meanwhile. A
 * running container's is its own (its volumes, binds and /etc/hosts there); a stopped one's is
 * its layers mounted in a namespace of the engine's own, its volumes and binds on them; with
 * `rootfsOnly`, the layers alone for either.
 */
export function withContainerRoot<T>(containers: Containers, ref: string, options: RootOptions, work: (root: string) => Promise<T>): Promise<T> {
  const record = containers.get(ref);
  return containers.holdStill(record.Id, async (pid) => {
    if (pid && !options.rootfsOnly) return work(`/proc/${pid}/root`);
    const namespace = await MountNamespace.open();
    try {
      return await work(await mountRoot(containers, record, namespace, options));
    } finally {
      await namespace.close();
    }
  });
}

/**
 * Mounts the container's root on its `rootfs` dir in `namespace` (overlay2; vfs's is that dir
 * already), then its volumes and binds; returns where the engine sees it. Read-only, the upper
 * dir is mounted as the top lower one: no work dir, so a start meanwhile would not mind.
 */
async function mountRoot(containers: Containers, record: ContainerRecord, namespace: MountNamespace, options: RootOptions): Promise<string> {
  const target = join(containers.dirOf(record.Id), 'rootfs');
  const { upper, work, lower } = await containers.layers(record.Id);
  if (work) {
    const layers = options.writable ? [`lowerdir=${lower.join(':')}`, `upperdir=${upper}`, `workdir=${work}`] : ['ro', `lowerdir=${[upper, ...lower].join(':')}`];
    await namespace.mount(['-t', 'overlay', 'overlay', '-o', layers.join(','), target]);
  }
  const root = namespace.see(target);
  if (options.rootfsOnly) return root;
  const mounts = record.Mounts.filter((m) => m.Type === 'volume' || m.Type === 'bind').sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
  for (const m of mounts) {
    const inside = await resolveInRoot(root, m.Destination);
    const host = hostPath(root, inside);
    const isDir = (await stat(m.Source).catch(() => null))?.isDirectory() ?? false;
    const point = await lstat(host).catch(() => null);
    if (!point) {
      // A mount point the container never had yet: made as its start would make it.
      if (!options.writable) continue;
      if (isDir) await mkdir(host, { recursive: true, mode: 0o755 });
      else await mkdir(posix.dirname(host), { recursive: true, mode: 0o755 }).then(() => writeFile(host, '', { flag: 'wx' }));
    } else if (point.isDirectory() !== isDir) continue;
    await namespace.mount(['--rbind', ...(m.RW ? [] : ['-o', 'ro']), m.Source, join(target, inside)]);
  }
  return root;
}

/**
 * The host path of a path in the container (resolved, so without symlinks). The root's has a
 * trailing slash: /proc/<pid>/root is itself a (magic) symlink, which lstat would not follow.
 */
export function hostPath(root: string, inside: string): string {
  return inside === '/' ? `${root}/` : `${root}${inside}`;
}

/**
 * A path as the container would follow it (Docker's FollowSymlinkInScope): each symlink read and
 * followed against `root`, an absolute target starting again at the container's `/`, `..` never
 * above it; what does not exist is kept as given. Returns the container's path, without symlinks.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = hostPath(root, `/${[...done, part].join('/')}`);
    const info = await lstat(here).catch(() => null);
    if (!info?.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > 255) throw new Error(`too many levels of symbolic links in ${path}`);
    const target = await readlink(here);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/'));
  }
  return `/${done.join('/')}`;
}

/** A request's path as Docker takes it (Go's Join("/", path), then PreserveTrailingDotOrSeparator). */
export function absolutePath(path: string): string {
  let clean = posix.normalize(`/${path}`);
  if (clean.length > 1) clean = clean.replace(/\/+$/, '');
  if (goBase(path) === '.' && goBase(clean) !== '.') clean = `${clean === '/' ? '' : clean}/.`;
  if (path.endsWith('/') && !clean.endsWith('/')) clean += '/';
  return clean;
}

/** Go's filepath.Base: the last element, trailing slashes ignored; `/` for the root. */
function goBase(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return path === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

// Go's os.FileMode bits above the permissions.
const GO_MODE = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, pipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, charDevice: 2 ** 21, sticky: 2 ** 20 };

/** A file's mode as Go's os.FileMode numbers it (what the docker CLI decodes). */
export function goFileMode(info: Stats): number {
  let mode = info.mode & 0o777;
  if (info.mode & 0o4000) mode += GO_MODE.setuid;
  if (info.mode & 0o2000) mode += GO_MODE.setgid;
  if (info.mode & 0o1000) mode += GO_MODE.sticky;
  if (info.isDirectory()) mode += GO_MODE.dir;
  else if (info.isSymbolicLink()) mode += GO_MODE.symlink;
  else if (info.isFIFO()) mode += GO_MODE.pipe;
  else if (info.isSocket()) mode += GO_MODE.socket;
  else if (info.isCharacterDevice()) mode += GO_MODE.device + GO_MODE.charDevice;
  else if (info.isBlockDevice()) mode += GO_MODE.device;
  return mode;
}

/**
 * Docker's stat of a path in a container: its parents' symlinks followed, its own not (a symlink
 * is stat'ed as one, with `linkTarget` the path it leads to); a trailing `/` or `/.` follows it
 * too. Null when it does not exist.
 */
export async function statPath(root: string, path: string): Promise<FoundPath | null> {
  const abs = absolutePath(path);
  const cut = abs.lastIndexOf('/') + 1;
  const base = abs.slice(cut);
  const dir = await resolveInRoot(root, abs.slice(0, cut));
  const inside = base === '' || base === '.' ? dir : posix.join(dir, base);
  const host = hostPath(root, inside);
  const info = await lstat(host).catch(() => null);
  if (!info) return null;
  const linkTarget = info.isSymbolicLink() ? await resolveInRoot(root, abs) : '';
  return { inside, host, info, stat: { name: goBase(abs), size: info.size, mode: goFileMode(info), mtime: info.mtime.toISOString(), linkTarget } };
}

/**
 * A found path as tar entries, named as Docker names them: after the path's last element (`.`
 * for `/` and for `dir/.`, which the CLI takes as "the contents"), then what is under it. A
 * directory that is another filesystem (the container's /proc, /sys, /dev) is not descended
 * into, unless it is one of `mounts` (its volumes and binds).
 */
export function archiveEntries(found: FoundPath, path: string, mounts: ReadonlySet<string>): AsyncIterable<TarWriteEntry> {
  const name = goBase(absolutePath(path));
  return treeEntries(found.host, found.inside, name === '/' ? '.' : name, found.info, mounts, new Map());
}

/** A container's whole root as tar entries, `bin/sh` and the like, the root itself left out (`docker export`). */
export async function* rootEntries(root: string): AsyncIterable<TarWriteEntry> {
  const info = await lstat(hostPath(root, '/'));
  const links = new Map<string, string>();
  for (const name of (await readdir(root)).sort()) {
    const child = await lstat(join(root, name)).catch(() => null);
    if (child) yield* treeEntries(join(root, name), `/${name}`, name, child, new Set(), links, info.dev);
  }
}

/** `links`: the first name of each file with more than one link, by inode (later ones are hardlinks to it). */
async function* treeEntries(host: string, inside: string, name: string, info: Stats, mounts: ReadonlySet<string>, links: Map<string, string>, parentDev = info.dev): AsyncIterable<TarWriteEntry> {
  const base = { name, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, mtime: Math.floor(info.mtimeMs / 1000) };
  if (info.isDirectory()) {
    yield { ...base, type: 'dir' };
    if (info.dev !== parentDev && !mounts.has(inside)) return;
    for (const child of (await readdir(host)).sort()) {
      const childInfo = await lstat(join(host, child)).catch(() => null);
      if (childInfo) yield* treeEntries(join(host, child), posix.join(inside, child), `${name}/${child}`, childInfo, mounts, links, info.dev);
    }
  } else if (info.isSymbolicLink()) {
    yield { ...base, type: 'symlink', linkname: await readlink(host) };
  } else if (info.isFile()) {
    const inode = `${info.dev}:${info.ino}`;
    const first = info.nlink > 1 ? links.get(inode) : undefined;
    if (first !== undefined) {
      yield { ...base, type: 'hardlink', linkname: first };
      return;
    }
    if (info.nlink > 1) links.set(inode, name);
    yield { ...base, type: 'file', size: info.size, body: fileBody(host, info.size) };
  } else if (info.isCharacterDevice() || info.isBlockDevice()) {
    yield { ...base, type: info.isCharacterDevice() ? 'char' : 'block', devmajor: Math.floor(info.rdev / 256) & 0xfff, devminor: (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00) };
  } else if (info.isFIFO()) {
    yield { ...base, type: 'fifo' };
  }
  // Sockets are not archived (as tar does not).
}

/**
 * A file's first `size` bytes, as its tar header promised: O_NOFOLLOW (a symlink put in its place
 * is not followed), O_NONBLOCK (nor a FIFO waited on), and zeros for what it lost meanwhile.
 */
async function* fileBody(path: string, size: number): AsyncIterable<Uint8Array> {
  let sent = 0;
  if (size > 0) {
    const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    for await (const chunk of file.createReadStream({ start: 0, end: size - 1, highWaterMark: 256 * 1024 })) {
      sent += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  while (sent < size) {
    const pad = Math.min(size - sent, 1 << 20);
    sent += pad;
    yield Buffer.alloc(pad);
  }
}

/** The user `docker cp -a` gives what it copies: the container's, from its own /etc/passwd and /etc/group. */
export async function containerUser(root: string, user: string): Promise<{ uid: number; gid: number }> {
  const read = async (file: string) => {
    const inside = await resolveInRoot(root, file);
    return readFile(hostPath(root, inside), { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK }).catch(() => '');
  };
  const [passwd, group] = [await read('/etc/passwd'), await read('/etc/group')];
  try {
    const { uid, gid } = parseUser(passwd, group, user);
    return { uid, gid };
  } catch (error) {
    throw badRequest((error as Error).message);
  }
}

/** Extracts a tar (maybe gzipped) into a directory of a container, as `docker cp` does. */
export async function extractInto(source: AsyncIterable<Uint8Array>, dir: string, options: { owner?: { uid: number; gid: number }; noOverwriteDirNonDir: boolean }): Promise<void> {
  await applyLayer(source, dir, { copy: options });
}
