// The build context as the engine receives it: a tar (maybe gzip-compressed) unpacked into a
// directory of its own, then cut down by .dockerignore.
//
// A context is untrusted input. An entry whose cleaned path leaves the directory (`..`, absolute
// names), that goes through a symlink, or a hardlink to something not inside, fails the whole
// context; every parent is checked with lstat and files are created with O_EXCL|O_NOFOLLOW, so
// nothing is written outside. Symlinks are created as they are and never followed. Names are
// taken literally: `.wh.` files are layer semantics, not a context's.
//
// The same extraction, keeping owners and creating device nodes, unpacks ADD's local archives.

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
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { cleanPath, DockerIgnore, DockerIgnoreError } from '../../../server/src/dockerfile/dockerignore';
import { mknod, setXattr } from '../images/layers';
import { decompress, readTar, TarFormatError, type TarEntry } from '../images/tar';

/** The context cannot be used as sent: the message says which entry and why. */
export class ContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextError';
  }
}

export interface ExtractOptions {
  /** What the entries must stay inside, for messages ("build context"). */
  scope: string;
  /** Makes the error thrown for a refused entry. */
  refuse: (message: string) => Error;
  /**
   * Keep the entries' owners and xattrs and create device nodes and fifos (ADD of an archive,
   * as Docker's untar does). Without it everything belongs to the engine's user (root) and
   * special files are skipped.
   */
  preserve?: boolean;
}

/** Returns a stat, or null where nothing is (a missing name, or a file where a directory was expected). */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/** The compression a stream's first bytes announce, or null for none we know. */
export function compressionOf(head: Uint8Array): 'gzip' | 'bzip2' | 'xz' | 'zstd' | null {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts([0x1f, 0x8b])) return 'gzip';
  if (starts([0x42, 0x5a, 0x68])) return 'bzip2';
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  return null;
}

/** Reads the first n bytes of a stream and gives back the whole stream, those bytes included. */
async function peek(source: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; stream: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < n && !ended) {
    const next = await iterator.next();
    if (next.done) ended = true;
    else {
      chunks.push(next.value);
      length += next.value.length;
    }
  }
  const head = Buffer.concat(chunks);
  const stream = async function* () {
    if (head.length) yield head;
    if (ended) return;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  };
  return { head, stream: stream() };
}

/**
 * Unpacks a build-context tar (plain or gzip) into `dir`, an existing empty directory. Files keep
 * their mode bits and mtime; owners are not applied (the docker CLI sends everything as 0:0).
 * Device nodes and fifos are skipped: COPY has no use for them, and a context is no place to
 * make them.
 */
export async function extractContext(source: AsyncIterable<Uint8Array>, dir: string): Promise<void> {
  const { head, stream } = await peek(source, 6);
  const compression = compressionOf(head);
  if (compression && compression !== 'gzip') {
    throw new ContextError(`the build context is ${compression}-compressed: only a plain or gzip-compressed tar is supported`);
  }
  try {
    await extractTar(stream, dir, { scope: 'build context', refuse: (message) => new ContextError(`refusing build context: ${message}`) });
  } catch (error) {
    if (error instanceof ContextError) throw error;
    // A malformed archive (bad headers, corrupt gzip) is the sender's mistake, not the engine's.
    if (error instanceof TarFormatError || (error instanceof Error && error.message.startsWith('corrupt gzip data'))) {
      throw new ContextError(`invalid build context: ${error.message}`);
    }
    throw error;
  }
}

/** Unpacks a tar (plain or gzip) into `dir`, refusing any entry that would reach outside it. */
export async function extractTar(source: AsyncIterable<Uint8Array>, dir: string, options: ExtractOptions): Promise<void> {
  const extractor = new Extractor(dir, options);
  let since = performance.now();
  for await (const entry of readTar(decompress(source))) {
    await extractor.add(entry);
    // File operations are synchronous; every few milliseconds the event loop gets its turn.
    if (performance.now() - since > 5) {
      await new Promise((resolve) => setImmediate(resolve));
      since = performance.now();
    }
  }
  extractor.finish();
}

class Extractor {
  /** Paths (relative) known to be real directories. */
  private readonly dirs = new Set<string>(['']);
  /** Directory times, set last, since adding entries changes them. */
  private readonly dirTimes = new Map<string, number>();
  private readonly preserve: boolean;

  constructor(
    private readonly dir: string,
    private readonly options: ExtractOptions,
  ) {
    this.preserve = options.preserve === true;
  }

  private refuse(message: string): Error {
    return this.options.refuse(message);
  }

  private abs(rel: string): string {
    return rel ? join(this.dir, rel) : this.dir;
  }

  /** The path's components inside the directory, or a refusal if it would leave it. */
  private clean(name: string, what: string): string[] {
    if (name.includes('\0')) throw this.refuse(`${what} has a NUL byte in its path`);
    if (name.startsWith('/')) throw this.refuse(`${what} has an absolute path`);
    const parts: string[] = [];
    for (const part of name.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (!parts.length) throw this.refuse(`${what} leaves the ${this.options.scope}`);
        parts.pop();
      } else parts.push(part);
    }
    return parts;
  }

  /** Makes sure each parent is a real directory, creating missing ones. */
  private parents(parts: string[], name: string): void {
    let rel = '';
    for (const part of parts) {
      rel = rel ? `${rel}/${part}` : part;
      if (this.dirs.has(rel)) continue;
      const st = lstatOrNull(this.abs(rel));
      if (st?.isSymbolicLink()) throw this.refuse(`entry "${name}" goes through the symlink "${rel}"`);
      if (st && !st.isDirectory()) throw this.refuse(`entry "${name}" needs "${rel}" to be a directory, and it is not`);
      if (!st) {
        mkdirSync(this.abs(rel));
        chmodSync(this.abs(rel), 0o755); // whatever the umask
      }
      this.dirs.add(rel);
    }
  }

  /** Forgets what was known about a path and everything under it (it was replaced). */
  private forget(rel: string): void {
    for (const known of this.dirs) if (known === rel || known.startsWith(`${rel}/`)) this.dirs.delete(known);
  }

  /** The target of a hardlink: an entry already there, reached through real directories only. */
  private linkTarget(entry: TarEntry, rel: string): string {
    const what = `hardlink "${entry.name}" to "${entry.linkname}"`;
    const target = this.clean(entry.linkname, what);
    if (!target.length) throw this.refuse(`${what} points at the ${this.options.scope}'s root`);
    if (target.join('/') === rel) throw this.refuse(`${what} links to itself`);
    let prefix = '';
    for (const part of target.slice(0, -1)) {
      prefix = prefix ? `${prefix}/${part}` : part;
      const st = lstatOrNull(this.abs(prefix));
      if (st?.isSymbolicLink()) throw this.refuse(`${what} goes through the symlink "${prefix}"`);
      if (!st?.isDirectory()) throw this.refuse(`${what}: the target does not exist`);
    }
    const st = lstatOrNull(this.abs(target.join('/')));
    if (!st) throw this.refuse(`${what}: the target does not exist`);
    if (st.isDirectory()) throw this.refuse(`${what}: the target is a directory`);
    return this.abs(target.join('/'));
  }

  async add(entry: TarEntry): Promise<void> {
    const parts = this.clean(entry.name, `entry "${entry.name}"`);
    if (parts.length === 0) {
      // "./": the directory itself, which keeps its own attributes (as Docker's untar does).
      if (entry.type !== 'dir') throw this.refuse(`entry "${entry.name}" would replace the ${this.options.scope}'s root`);
      return;
    }
    const special = entry.type === 'char' || entry.type === 'block' || entry.type === 'fifo';
    if (special && !this.preserve) return;
    this.parents(parts.slice(0, -1), entry.name);
    const rel = parts.join('/');
    const path = this.abs(rel);
    const linkTarget = entry.type === 'hardlink' ? this.linkTarget(entry, rel) : '';

    // A later entry replaces an earlier one, except that directories merge.
    const existing = lstatOrNull(path);
    const keepDir = existing?.isDirectory() === true && entry.type === 'dir';
    if (existing && !keepDir) {
      rmSync(path, { recursive: true, force: true });
      this.forget(rel);
    }

    switch (entry.type) {
      case 'dir':
        if (!keepDir) mkdirSync(path, { mode: 0o700 });
        this.dirs.add(rel);
        if (this.preserve) lchownSync(path, entry.uid, entry.gid);
        chmodSync(path, entry.mode); // after chown, which clears setuid bits
        this.dirTimes.set(rel, entry.mtime);
        break;
      case 'file': {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry.body) for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
          if (this.preserve) fchownSync(fd, entry.uid, entry.gid);
          fchmodSync(fd, entry.mode);
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        symlinkSync(entry.linkname, path);
        if (this.preserve) lchownSync(path, entry.uid, entry.gid);
        lutimesSync(path, entry.mtime, entry.mtime);
        break;
      case 'hardlink':
        linkSync(linkTarget, path);
        return; // the attributes are the target's
      case 'char':
      case 'block':
      case 'fifo':
        await mknod(path, entry.type, entry.mode, entry.devmajor, entry.devminor);
        lchownSync(path, entry.uid, entry.gid);
        chmodSync(path, entry.mode);
        lutimesSync(path, entry.mtime, entry.mtime);
        break;
    }
    if (this.preserve) {
      for (const [name, value] of Object.entries(entry.xattrs)) {
        // overlayfs reads its own markers from trusted.overlay.*: an archive may not set them.
        if (!name.startsWith('trusted.overlay.')) await setXattr(path, name, value);
      }
    }
  }

  /** Directory times, deepest first, once nothing more will be added to them. */
  finish(): void {
    const depth = (rel: string) => rel.split('/').length;
    for (const [rel, mtime] of [...this.dirTimes].sort((a, b) => depth(b[0]) - depth(a[0]))) {
      if (lstatOrNull(this.abs(rel))?.isDirectory()) lutimesSync(this.abs(rel), mtime, mtime);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paths inside a root

/** Where a path leads inside a root, or the symlink that would lead out of it. */
export type InScope = { path: string; escape?: undefined } | { path?: undefined; escape: { link: string; target: string } };

/**
 * Follows a path (relative to `root`, already cleaned) through the symlinks it meets, every one
 * of them, the last included, as Docker's FollowSymlinkInScope does: an absolute target starts
 * again from `root` and `..` stops at it. With `confine`, a symlink that leads out (an absolute
 * target, or `..` above the root) is not followed but reported: a build context's symlinks mean
 * the client's filesystem, and reaching outside the context is refused. Missing components are
 * taken as they are.
 */
export function resolveInScope(root: string, rel: string, confine: boolean): InScope {
  /** Each pending component, with the symlink it came from (for `..` that leaves the root). */
  const pending: { part: string; from?: { link: string; target: string } }[] = rel.split('/').map((part) => ({ part }));
  const resolved: string[] = [];
  let links = 0;
  while (pending.length) {
    const { part, from } = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length) resolved.pop();
      else if (confine && from) return { escape: from };
      continue;
    }
    const path = join(root, ...resolved, part);
    const st = lstatOrNull(path);
    if (!st?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > 255) throw new Error(`too many levels of symbolic links in "${rel}"`);
    const target = readlinkSync(path);
    const link = { link: [...resolved, part].join('/'), target };
    if (target.startsWith('/')) {
      if (confine) return { escape: link };
      resolved.length = 0;
    }
    pending.unshift(...target.split('/').map((p) => ({ part: p, from: link })));
  }
  return { path: resolved.length ? join(root, ...resolved) : root };
}

/**
 * A regular file of the context (the Dockerfile, .dockerignore), symlinks followed inside it
 * only; null when there is none.
 */
export function readContextFile(dir: string, rel: string): Buffer | null {
  const clean = cleanPath(rel).replace(/^\/+/, '');
  if (clean === '..' || clean.startsWith('../')) throw new ContextError(`"${rel}" is outside the build context`);
  const found = resolveInScope(dir, clean === '.' ? '' : clean, true);
  if (found.escape) throw new ContextError(`"${rel}" goes through the symlink "${found.escape.link}" to "${found.escape.target}", outside the build context`);
  if (!lstatOrNull(found.path)?.isFile()) return null;
  const fd = openSync(found.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

function parseIgnore(text: string): DockerIgnore {
  try {
    return DockerIgnore.parse(text);
  } catch (error) {
    if (error instanceof DockerIgnoreError) throw new ContextError(`error reading .dockerignore: ${error.message}`);
    throw error;
  }
}

/**
 * Removes from the context what the patterns of a .dockerignore exclude, judged as the docker
 * CLI and BuildKit judge them (DockerIgnore): the last matching pattern wins, `!` re-includes,
 * and an excluded directory with an exception inside keeps the excepted paths (and itself, to
 * hold them). Symlinks are judged by their own names and never followed.
 */
export async function applyDockerIgnore(dir: string, patternsText: string): Promise<void> {
  const ignore = parseIgnore(patternsText);
  if (!ignore.patterns.length) return;
  let since = performance.now();
  const prune = async (rel: string): Promise<void> => {
    for (const name of readdirSync(rel ? join(dir, rel) : dir)) {
      const child = rel ? `${rel}/${name}` : name;
      const path = join(dir, child);
      const excluded = ignore.matches(child);
      if (lstatSync(path).isDirectory() && ignore.mayIncludeBelow(child)) {
        await prune(child);
        if (excluded && readdirSync(path).length === 0) rmdirSync(path);
      } else if (excluded) {
        rmSync(path, { recursive: true, force: true });
      }
      if (performance.now() - since > 5) {
        await new Promise((resolve) => setImmediate(resolve));
        since = performance.now();
      }
    }
  };
  await prune('');
}

/**
 * Applies the context's .dockerignore once the builder has read the Dockerfile and the
 * .dockerignore. Docker's legacy builder: those two are always sent and read, then removed
 * from what COPY sees if the patterns exclude them (or a parent of them). Everything else the
 * patterns exclude is removed too, since a client other than the docker CLI may send it all.
 */
export async function pruneContext(dir: string, dockerfilePath: string): Promise<void> {
  const text = readContextFile(dir, '.dockerignore');
  if (text === null) return;
  const ignore = parseIgnore(text.toString('utf8'));
  for (const file of ['.dockerignore', dockerfilePath]) {
    const rel = cleanPath(file).replace(/^\/+/, '');
    if (rel === '.' || rel === '..' || rel.startsWith('../')) continue;
    // Judged with its parents' paths (patternmatcher's MatchesOrParentMatches). The entry itself
    // goes, not what a symlink of that name points to.
    if (!ignore.check(rel).excluded) continue;
    const slash = rel.lastIndexOf('/');
    const parent = slash === -1 ? { path: dir } : resolveInScope(dir, rel.slice(0, slash), true);
    if (parent.path !== undefined) rmSync(join(parent.path, rel.slice(slash + 1)), { recursive: true, force: true });
  }
  await applyDockerIgnore(dir, text.toString('utf8'));
}
