// Applying one image layer (a tar, maybe gzipped) to a directory, as the OCI image spec says:
// ownership, modes, times, xattrs, hardlinks, symlinks, device nodes, and whiteouts.
//
// Two modes. By default the directory becomes an overlayfs lower dir on top of the layers below,
// so a whiteout is recorded the way overlayfs reads one: `.wh.<name>` becomes a 0/0 character
// device `<name>`, and `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. With
// `flatten`, the directory already holds everything below and whiteouts delete in place (for
// filesystems without overlay).
//
// A layer is untrusted input. An entry whose cleaned path leaves the directory (`..`, absolute
// paths), that goes through a symlink (of this layer or of a lower one), or a hardlink to a path
// outside, fails the whole layer; every parent is checked with lstat and files are created with
// O_EXCL|O_NOFOLLOW, so nothing is ever written outside the directory.
//
// Node has no mknod and no setxattr: device nodes come from mknod(1) (coreutils) and xattrs
// from setfattr(1) (Debian's `attr` package), run only for the entries that need them.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { decompress, readTar, type TarEntry } from './tar';

export interface ApplyOptions {
  /** Delete whiteouts in place instead of recording them for overlayfs. */
  flatten?: boolean;
  /** The directories of the layers below, top first (overlay mode): their symlinks count too. */
  lower?: string[];
  /**
   * Overlay mode, with the layers below not unpacked yet: the directories this layer only
   * implies are made plain and listed in the result, for settleLowerDirs once they are.
   */
  deferLower?: boolean;
  /** The layer's media type, for error messages. */
  mediaType?: string;
  /** Called with each count of (compressed) bytes read from the source. */
  onBytes?: (n: number) => void;
  /**
   * `docker cp` into a container rather than a layer (flatten mode besides): `.wh.` names are
   * plain names, the archive's root entry leaves the directory as it is, a symlink may not point
   * out of the directory (Docker's rule), `owner` owns every entry, and `noOverwriteDirNonDir`
   * keeps a directory from being replaced by a non-directory and the reverse.
   */
  copy?: { owner?: { uid: number; gid: number }; noOverwriteDirNonDir?: boolean };
}

export interface AppliedLayer {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Bytes of file data unpacked. */
  size: number;
  /** With deferLower: the directories made without an entry of their own, and the opaque ones. */
  implied?: string[];
  opaque?: string[];
}

/** The layer tried to reach outside its directory, or is otherwise not one we can apply. */
export class UnsafeLayerError extends Error {
  constructor(message: string, what: Extracted = 'layer') {
    super(`refusing ${what}: ${message}`);
    this.name = 'UnsafeLayerError';
  }
}

/** What is being extracted, for error messages. */
type Extracted = 'layer' | 'archive';

/** Where an extracted entry must stay, as error messages name it. */
const place = (what: Extracted) => (what === 'layer' ? "the layer's directory" : 'the directory it is extracted to');

const OPAQUE = '.wh..wh..opq';
const WHITEOUT = '.wh.';

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const hint = missing && command === 'setfattr' ? " (install Debian's 'attr' package)" : '';
      reject(new Error(`${command} ${args.join(' ')}: ${missing ? `command not found${hint}` : String(stderr).trim() || error.message}`));
    });
  });
}

/** mknod(2) by way of mknod(1). */
export function mknod(path: string, type: 'char' | 'block' | 'fifo', mode: number, major = 0, minor = 0): Promise<void> {
  const kind = type === 'char' ? ['c', String(major), String(minor)] : type === 'block' ? ['b', String(major), String(minor)] : ['p'];
  return run('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, ...kind]);
}

/** lsetxattr(2) by way of setfattr(1); the value goes as hex so any bytes survive. */
export function setXattr(path: string, name: string, value: Uint8Array | string): Promise<void> {
  return run('setfattr', ['-h', '-n', name, '-v', `0x${Buffer.from(value).toString('hex')}`, '--', path]);
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** The path's components inside the layer, or an error if it would leave it. */
function clean(name: string, what = 'entry', extracted: Extracted = 'layer'): string[] {
  if (name.includes('\0')) throw new UnsafeLayerError(`${what} "${name}" has a NUL byte in its path`, extracted);
  if (name.startsWith('/')) throw new UnsafeLayerError(`${what} "${name}" has an absolute path`, extracted);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!parts.length) throw new UnsafeLayerError(`${what} "${name}" leaves ${place(extracted)}`, extracted);
      parts.pop();
    } else parts.push(part);
  }
  return parts;
}

async function* counted(source: AsyncIterable<Uint8Array>, onBytes?: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    onBytes?.(chunk.length);
    yield chunk;
  }
}

async function* hashed(source: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Unpacks one layer into `dir` (created if missing). On an error, `dir` may hold part of it. */
export async function applyLayer(source: AsyncIterable<Uint8Array>, dir: string, options: ApplyOptions = {}): Promise<AppliedLayer> {
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256');
  const applier = new Applier(dir, options);
  const tar = hashed(decompress(counted(source, options.onBytes), options.mediaType), hash);
  let since = performance.now();
  for await (const entry of readTar(tar)) {
    await applier.apply(entry);
    // File operations are synchronous (a thread-pool round trip per call made unpacking I/O-bound
    // on waiting); every few milliseconds the event loop gets its turn.
    if (performance.now() - since > 5) {
      await new Promise((resolve) => setImmediate(resolve));
      since = performance.now();
    }
  }
  await applier.finish();
  const result: AppliedLayer = { diffId: `sha256:${hash.digest('hex')}`, size: applier.size };
  if (options.deferLower) {
    result.implied = [...applier.implied];
    result.opaque = [...applier.opaque];
  }
  return result;
}

/**
 * The checks and copy-ups an overlay layer unpacked with deferLower owes its lower layers, once
 * they are unpacked: a directory it implied may not be a symlink (or a file) below, and it takes
 * on what the directory looks like below, as overlayfs would show it.
 */
export function settleLowerDirs(dir: string, applied: AppliedLayer, lower: readonly string[]): void {
  const opaque = new Set(applied.opaque ?? []);
  // Parents first: a check on a/b relies on a having been checked.
  for (const rel of [...(applied.implied ?? [])].sort((a, b) => a.split('/').length - b.split('/').length)) {
    const below = lowerStat(lower, opaque, rel);
    if (below?.isSymbolicLink()) throw new UnsafeLayerError(`"${rel}" goes through a symlink of a lower layer`);
    if (below && !below.isDirectory()) throw new UnsafeLayerError(`"${rel}" needs to be a directory, and it is not in a lower layer`);
    const path = join(dir, rel);
    if (!below || !lstatOrNull(path)?.isDirectory()) continue;
    lchownSync(path, below.uid, below.gid);
    chmodSync(path, below.mode & 0o7777);
    lutimesSync(path, below.mtimeMs / 1000, below.mtimeMs / 1000);
  }
}

function underOpaque(opaque: ReadonlySet<string>, rel: string): boolean {
  if (opaque.has('')) return true;
  let prefix = '';
  for (const part of rel.split('/')) {
    prefix = prefix ? `${prefix}/${part}` : part;
    if (opaque.has(prefix)) return true;
  }
  return false;
}

/**
 * What the layers below show at a path: the topmost layer that has it decides, a whiteout hides
 * it, and a layer is only looked into below a path where it has a real directory (so lstat never
 * follows a lower layer's symlink). Opaque directories of lower layers are not seen (reading
 * xattrs needs another tool), which can only make a check stricter.
 */
function lowerStat(lower: readonly string[], opaque: ReadonlySet<string>, rel: string): Stats | null {
  if (!lower.length || underOpaque(opaque, rel)) return null;
  const parts = rel.split('/');
  let layers = lower;
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    let top: Stats | null = null;
    const below: string[] = [];
    for (const layer of layers) {
      const st = lstatOrNull(join(layer, prefix));
      if (!st) continue;
      top ??= st;
      if (!st.isDirectory()) break; // hides every layer further down
      below.push(layer);
    }
    if (!top || isWhiteout(top)) return null;
    if (i === parts.length - 1 || !top.isDirectory()) return top;
    layers = below;
  }
  return null;
}

class Applier {
  size = 0;
  private readonly flatten: boolean;
  private readonly lower: string[];
  /** Paths (relative) known to be real directories in `dir`. */
  private readonly dirs = new Set<string>(['']);
  /** Directories this layer made opaque (overlay mode): nothing below shows through them. */
  readonly opaque = new Set<string>();
  /** With deferLower: directories made only because entries below them needed them. */
  readonly implied = new Set<string>();
  private readonly deferLower: boolean;
  /** Paths this layer wrote, and their parents: what an opaque directory keeps (flatten mode). */
  private readonly written = new Set<string>();
  private readonly parentsOfWritten = new Set<string>(['']);
  /** Directory times, set last, since adding entries changes them. */
  private readonly dirTimes = new Map<string, number>();
  private readonly copy: ApplyOptions['copy'];
  private readonly extracted: Extracted;

  constructor(
    private readonly dir: string,
    options: ApplyOptions,
  ) {
    this.copy = options.copy;
    this.extracted = this.copy ? 'archive' : 'layer';
    this.flatten = options.flatten === true || this.copy !== undefined;
    this.lower = this.flatten ? [] : (options.lower ?? []);
    this.deferLower = !this.flatten && options.deferLower === true;
  }

  private abs(rel: string): string {
    return rel ? join(this.dir, rel) : this.dir;
  }

  private refuse(message: string): UnsafeLayerError {
    return new UnsafeLayerError(message, this.extracted);
  }

  /** The owner an entry gets: its own, or the one `docker cp -a` asks for. */
  private owner(entry: TarEntry): { uid: number; gid: number } {
    return this.copy?.owner ?? entry;
  }

  /** Forgets what was known about a path and everything under it (it was replaced). */
  private forget(rel: string): void {
    for (const known of this.dirs) if (known === rel || known.startsWith(`${rel}/`)) this.dirs.delete(known);
  }

  /** Makes sure each parent of an entry is a real directory in `dir`, creating missing ones. */
  private async parents(parts: string[], name: string): Promise<void> {
    let rel = '';
    for (const part of parts) {
      rel = rel ? `${rel}/${part}` : part;
      if (this.dirs.has(rel)) continue;
      const path = this.abs(rel);
      const st = lstatOrNull(path);
      if (st?.isSymbolicLink()) throw this.refuse(`entry "${name}" goes through the symlink "${rel}"`);
      if (st && isWhiteout(st) && !this.flatten) {
        // Deleted below, recreated here: a new directory that shows nothing of the old one.
        rmSync(path);
        mkdirSync(path, { mode: 0o755 });
        await this.markOpaque(rel);
      } else if (st && !st.isDirectory()) {
        throw this.refuse(`entry "${name}" needs "${rel}" to be a directory, and it is not`);
      } else if (!st) {
        const below = this.deferLower ? null : lowerStat(this.lower, this.opaque, rel);
        if (this.deferLower) this.implied.add(rel);
        if (below?.isSymbolicLink()) throw new UnsafeLayerError(`entry "${name}" goes through the symlink "${rel}" of a lower layer`);
        if (below && !below.isDirectory()) throw new UnsafeLayerError(`entry "${name}" needs "${rel}" to be a directory, and it is not`);
        mkdirSync(path, { mode: 0o755 });
        // Copy up what the directory looks like below, as overlayfs would.
        if (below) {
          lchownSync(path, below.uid, below.gid);
          chmodSync(path, below.mode & 0o7777);
          this.dirTimes.set(rel, below.mtimeMs / 1000);
        }
      }
      this.dirs.add(rel);
    }
  }

  private async markOpaque(rel: string): Promise<void> {
    await setXattr(this.abs(rel), 'trusted.overlay.opaque', 'y');
    this.opaque.add(rel);
  }

  private noteWritten(rel: string): void {
    this.written.add(rel);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) this.parentsOfWritten.add(parts.slice(0, i).join('/'));
  }

  /** Flatten mode's opaque directory: drop everything in it, at any depth, this layer did not write. */
  private async clearBelow(rel: string): Promise<void> {
    for (const name of readdirSync(this.abs(rel))) {
      const child = rel ? `${rel}/${name}` : name;
      if (this.written.has(child) || this.parentsOfWritten.has(child)) {
        if (lstatSync(this.abs(child)).isDirectory()) await this.clearBelow(child);
      } else {
        rmSync(this.abs(child), { recursive: true, force: true });
        this.forget(child);
      }
    }
  }

  async apply(entry: TarEntry): Promise<void> {
    const parts = clean(entry.name, 'entry', this.extracted);
    if (parts.length === 0) {
      // The layer's root ("./"): only its attributes apply (none, to a directory copied into).
      if (entry.type !== 'dir') throw this.refuse(`entry "${entry.name}" would replace the root directory`);
      if (!this.copy) await this.attributes(entry, '');
      return;
    }
    const base = parts[parts.length - 1];
    const parentParts = parts.slice(0, -1);
    await this.parents(parentParts, entry.name);
    const parent = parentParts.join('/');

    // Whiteouts are a layer's business: in a copy, `.wh.` names are names like any other.
    if (!this.copy && base.startsWith(WHITEOUT)) {
      if (base === OPAQUE) {
        if (this.flatten) await this.clearBelow(parent);
        else await this.markOpaque(parent);
        return;
      }
      if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // other aufs bookkeeping: nothing to apply
      const victim = base.slice(WHITEOUT.length);
      if (victim === '' || victim === '.' || victim === '..') throw new UnsafeLayerError(`whiteout "${entry.name}" names no file`);
      const rel = parent ? `${parent}/${victim}` : victim;
      rmSync(this.abs(rel), { recursive: true, force: true });
      this.forget(rel);
      if (!this.flatten) await mknod(this.abs(rel), 'char', 0o600, 0, 0);
      return;
    }

    const rel = parts.join('/');
    const path = this.abs(rel);
    this.noteWritten(rel);
    const existing = lstatOrNull(path);
    if (existing && this.copy?.noOverwriteDirNonDir && existing.isDirectory() !== (entry.type === 'dir')) {
      throw this.refuse(existing.isDirectory() ? `cannot overwrite directory "${rel}" with non-directory "${entry.name}"` : `cannot overwrite non-directory "${rel}" with directory "${entry.name}"`);
    }
    const keepDir = existing?.isDirectory() === true && entry.type === 'dir';
    if (existing && !keepDir) {
      rmSync(path, { recursive: true, force: true });
      if (existing.isDirectory()) this.forget(rel);
    }

    switch (entry.type) {
      case 'dir':
        this.implied.delete(rel); // its own entry says what it looks like
        if (!keepDir) mkdirSync(path, { mode: 0o700 });
        // A directory over a whiteout of this layer shows nothing of what was deleted.
        if (existing && isWhiteout(existing) && !this.flatten) await this.markOpaque(rel);
        this.dirs.add(rel);
        await this.attributes(entry, rel);
        break;
      case 'file': {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry.body) for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
          fchownSync(fd, this.owner(entry).uid, this.owner(entry).gid);
          fchmodSync(fd, entry.mode); // after chown, which clears setuid bits
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        this.size += entry.size;
        await this.xattrs(entry, path);
        break;
      }
      case 'symlink':
        // As Docker's untar: a copied symlink's relative target stays inside the directory.
        if (this.copy && !entry.linkname.startsWith('/')) clean(parent ? `${parent}/${entry.linkname}` : entry.linkname, `symlink "${entry.name}" to`, this.extracted);
        symlinkSync(entry.linkname, path);
        lchownSync(path, this.owner(entry).uid, this.owner(entry).gid);
        lutimesSync(path, entry.mtime, entry.mtime);
        await this.xattrs(entry, path);
        break;
      case 'hardlink': {
        const target = clean(entry.linkname, `hardlink "${entry.name}" to`, this.extracted);
        if (!target.length) throw this.refuse(`hardlink "${entry.name}" points at ${this.copy ? 'the directory it is extracted to' : "the layer's root"}`);
        let prefix = '';
        for (const part of target.slice(0, -1)) {
          prefix = prefix ? `${prefix}/${part}` : part;
          const st = lstatOrNull(this.abs(prefix));
          if (st?.isSymbolicLink()) throw this.refuse(`hardlink "${entry.name}" to "${entry.linkname}" goes through the symlink "${prefix}"`);
          if (!st?.isDirectory()) throw this.refuse(`hardlink "${entry.name}" to "${entry.linkname}": the target is not in this ${this.extracted}`);
        }
        const st = lstatOrNull(this.abs(target.join('/')));
        if (!st) throw this.refuse(`hardlink "${entry.name}" to "${entry.linkname}": the target is not in this ${this.extracted}`);
        if (st.isDirectory()) throw this.refuse(`hardlink "${entry.name}" to "${entry.linkname}": the target is a directory`);
        linkSync(this.abs(target.join('/')), path);
        break;
      }
      case 'char':
      case 'block':
      case 'fifo':
        await mknod(path, entry.type, entry.mode, entry.devmajor, entry.devminor);
        await this.attributes(entry, rel);
        break;
    }
  }

  /** Owner, mode, times and xattrs of something created by path (not a symlink). */
  private async attributes(entry: TarEntry, rel: string): Promise<void> {
    const path = this.abs(rel);
    lchownSync(path, this.owner(entry).uid, this.owner(entry).gid);
    chmodSync(path, entry.mode); // after chown, which clears setuid bits
    if (entry.type === 'dir') this.dirTimes.set(rel, entry.mtime);
    else lutimesSync(path, entry.mtime, entry.mtime);
    await this.xattrs(entry, path);
  }

  private async xattrs(entry: TarEntry, path: string): Promise<void> {
    for (const [name, value] of Object.entries(entry.xattrs)) {
      // overlayfs reads its own markers from trusted.overlay.*: only whiteouts may set them.
      if (name.startsWith('trusted.overlay.')) continue;
      await setXattr(path, name, value);
    }
  }

  /** Directory times, deepest first, once nothing more will be added to them. */
  async finish(): Promise<void> {
    const depth = (rel: string) => (rel === '' ? 0 : rel.split('/').length);
    const byDepth = [...this.dirTimes].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, mtime] of byDepth) {
      try {
        lutimesSync(this.abs(rel), mtime, mtime);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
}
