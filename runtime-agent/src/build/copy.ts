// COPY and ADD as Docker's legacy builder does them (builder/dockerfile/copy.go): which files a
// source word names in the build context or in a stage's root filesystem, where they land in the
// destination root filesystem, and a digest of them for the build cache.
//
// Sources: paths are relative to their root (a leading `/` is the root too); wildcards match
// one component each, as Go's filepath.Match; symlinks on the way and the source itself are
// followed inside the root. In a build context, a symlink that leads outside it (an absolute
// target, or `..` above it) is refused: it means the client's filesystem. In a root filesystem
// an absolute target means that root, as it would inside a container.
//
// Destination: resolved inside its root following symlinks in scope (FollowSymlinkInScope), so
// nothing is written outside; below it, existing entries are replaced rather than followed.

import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  createReadStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
  type Stats,
} from 'node:fs';
import { join, posix } from 'node:path';
import { cleanPath } from '../../../server/src/dockerfile/dockerignore';
import { mknod } from '../images/layers';
import { decompress, readTar, TarFormatError } from '../images/tar';
import { compressionOf, extractTar, lstatOrNull, resolveInScope } from './context';

/** A COPY or ADD that cannot be done; the message is Docker's where Docker has one. */
export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyError';
  }
}

export interface Source {
  /** The directory it was found in: the build context, or a stage's root filesystem. */
  root: string;
  /** Its path in root as named or matched, cleaned (`.` for root): a copied file takes its last component as name. */
  rel: string;
  /** The absolute path it resolves to, symlinks followed inside root. */
  path: string;
  /** A directory, whose contents are copied. */
  dir: boolean;
  /** ADD: copied as it is even if it is an archive (Docker extracts local archives only, not downloads). */
  noExtract?: boolean;
}

export interface ResolveOptions {
  /** `rootfs` for COPY --from: absolute symlinks mean that root, and errors do not speak of a build context. */
  from?: 'context' | 'rootfs';
}

export interface CopyOptions {
  /** The stage's working directory, which a relative destination is in. */
  workdir: string;
  /** --chown, resolved to numbers. */
  chown?: { uid: number; gid: number };
  /** --chmod: the mode of every file and directory copied. */
  chmod?: number;
  /** COPY --from without --chown: keep the sources' owners, as Docker's legacy builder does (otherwise 0:0). */
  preserveOwnership?: boolean;
  /** ADD: local tar archives (plain or gzip) are extracted into the destination. */
  extractArchives?: boolean;
}

type Owner = { uid: number; gid: number };
const ROOT: Owner = { uid: 0, gid: 0 };

/** Docker's containsWildcards: `*`, `?` or `[`, not escaped by `\`. */
function hasWildcards(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (word[i] === '\\') i++;
    else if (word[i] === '*' || word[i] === '?' || word[i] === '[') return true;
  }
  return false;
}

type GlobToken = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; char: string } | { kind: 'class'; negated: boolean; ranges: [number, number][] };

/** One path component of a pattern as Go's filepath.Match reads it; null for a malformed one (which matches nothing). */
function compileGlob(pattern: string): GlobToken[] | null {
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  let i = 0;
  // A class item: a character, maybe escaped; `-` and `]` must be escaped, and the class closed.
  const item = (): number | null => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') return null;
    if (c === '\\') c = chars[++i];
    if (c === undefined) return null;
    i++;
    return c.codePointAt(0)!;
  };
  while (i < chars.length) {
    const c = chars[i++];
    if (c === '*') tokens.push({ kind: 'star' });
    else if (c === '?') tokens.push({ kind: 'any' });
    else if (c === '\\') {
      if (i >= chars.length) return null;
      tokens.push({ kind: 'char', char: chars[i++] });
    } else if (c === '[') {
      const negated = chars[i] === '^';
      if (negated) i++;
      const ranges: [number, number][] = [];
      while (!(chars[i] === ']' && ranges.length)) {
        const lo = item();
        if (lo === null) return null;
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          const h = item();
          if (h === null) return null;
          hi = h;
        }
        ranges.push([lo, hi]);
      }
      i++;
      tokens.push({ kind: 'class', negated, ranges });
    } else tokens.push({ kind: 'char', char: c });
  }
  return tokens;
}

function globMatch(tokens: GlobToken[], name: string): boolean {
  const chars = Array.from(name);
  const one = (t: GlobToken, c: string): boolean => {
    if (t.kind === 'any') return true;
    if (t.kind === 'char') return t.char === c;
    if (t.kind === 'class') {
      const code = c.codePointAt(0)!;
      return t.ranges.some(([lo, hi]) => lo <= code && code <= hi) !== t.negated;
    }
    return false;
  };
  // Every token but `*` takes exactly one character, so backtracking to the last `*` suffices.
  let t = 0;
  let c = 0;
  let star = -1;
  let starC = 0;
  while (c < chars.length) {
    if (t < tokens.length && tokens[t].kind === 'star') {
      star = t++;
      starC = c;
    } else if (t < tokens.length && one(tokens[t], chars[c])) {
      t++;
      c++;
    } else if (star >= 0) {
      t = star + 1;
      c = ++starC;
    } else return false;
  }
  while (t < tokens.length && tokens[t].kind === 'star') t++;
  return t === tokens.length;
}

/**
 * The paths under root a pattern matches, in Docker's walk order. As in Docker's walk, only real
 * directories are looked into: a symlink matches by its name but is not searched.
 */
function expand(root: string, pattern: string): string[] {
  const components = pattern.split('/').map(compileGlob);
  if (components.some((c) => c === null)) return [];
  let current = [''];
  components.forEach((tokens, index) => {
    const last = index === components.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      for (const name of readdirSync(dir ? join(root, dir) : root).sort()) {
        if (!globMatch(tokens!, name)) continue;
        const rel = dir ? `${dir}/${name}` : name;
        if (last || lstatSync(join(root, rel)).isDirectory()) next.push(rel);
      }
    }
    current = next;
  });
  return current;
}

/**
 * The sources a COPY or ADD names, each word already expanded. Errors, as Docker words them
 * (the builder adds "COPY failed: "):
 * - `forbidden path outside the build context: ../x ()` for a path leaving the root;
 * - `no source files were specified` when nothing at all matched;
 * - `file not found in build context or excluded by .dockerignore: stat x: file does not exist`
 *   (in a root filesystem `stat x: file does not exist`);
 * - `forbidden path outside the build context: x (symlink "x" points to "/etc", outside the
 *   build context)` for a context's symlink leading out.
 */
export async function resolveSources(root: string, sources: string[], options: ResolveOptions = {}): Promise<Source[]> {
  const context = options.from !== 'rootfs';
  const out: Source[] = [];
  for (const word of sources) {
    // Docker trims one leading "/" and one "./", and reports paths in that form.
    let given = word.startsWith('/') ? word.slice(1) : word;
    if (given.startsWith('./')) given = given.slice(2);
    const rel = cleanPath(given).replace(/^\/+/, '') || '.';
    if (rel === '..' || rel.startsWith('../')) throw new CopyError(`forbidden path outside the build context: ${given} ()`);
    const matches = hasWildcards(given) ? expand(root, rel) : [rel];
    for (const match of matches) {
      const found = resolveInScope(root, match === '.' ? '' : match, context);
      const shown = match === rel ? given : match;
      if (found.escape) {
        const { link, target } = found.escape;
        throw new CopyError(`forbidden path outside the build context: ${shown} (symlink "${link}" points to "${target}", outside the build context)`);
      }
      const st = lstatOrNull(found.path);
      if (!st) {
        const missing = `stat ${shown}: file does not exist`;
        throw new CopyError(context ? `file not found in build context or excluded by .dockerignore: ${missing}` : missing);
      }
      out.push({ root, rel: match, path: found.path, dir: st.isDirectory() });
    }
  }
  if (!out.length) throw new CopyError('no source files were specified');
  return out;
}

/** Lets the event loop run every few milliseconds during long synchronous work. */
class Pacer {
  private since = performance.now();
  async tick(): Promise<void> {
    if (performance.now() - this.since < 5) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

/** overlayfs's whiteout: a 0/0 character device, never a real one. */
const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** Seconds, whole: Docker copies through tar headers truncated to the second. */
const seconds = (st: Stats) => Math.floor(st.mtimeMs / 1000);

/** Linux's encoding of a device number. */
const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/** Copies entries into the destination, replacing what is in the way; directories merge. */
class Copier {
  private readonly pacer = new Pacer();

  constructor(
    /** null: each entry keeps its source's owner. */
    private readonly owner: Owner | null,
    private readonly chmod: number | undefined,
  ) {}

  private ownerOf(st: Stats): Owner {
    return this.owner ?? { uid: st.uid, gid: st.gid };
  }

  private modeOf(st: Stats): number {
    return this.chmod ?? st.mode & 0o7777;
  }

  async entry(src: string, dst: string, st: Stats): Promise<void> {
    await this.pacer.tick();
    const existing = lstatOrNull(dst);
    if (existing && !(existing.isDirectory() && st.isDirectory())) rmSync(dst, { recursive: true, force: true });
    const owner = this.ownerOf(st);
    if (st.isDirectory()) {
      if (!existing?.isDirectory()) mkdirSync(dst, { mode: 0o700 });
      await this.children(src, dst);
      lchownSync(dst, owner.uid, owner.gid);
      chmodSync(dst, this.modeOf(st)); // after chown, which clears setuid bits
      lutimesSync(dst, seconds(st), seconds(st)); // after the children, which change it
    } else if (st.isFile()) {
      // COPYFILE_EXCL: the new file is created with O_EXCL, so no symlink in its place is followed.
      copyFileSync(src, dst, constants.COPYFILE_EXCL);
      const fd = openSync(dst, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        fchownSync(fd, owner.uid, owner.gid);
        fchmodSync(fd, this.modeOf(st));
        futimesSync(fd, seconds(st), seconds(st));
      } finally {
        closeSync(fd);
      }
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dst);
      lchownSync(dst, owner.uid, owner.gid);
      lutimesSync(dst, seconds(st), seconds(st));
    } else if ((st.isCharacterDevice() && !isWhiteout(st)) || st.isBlockDevice() || st.isFIFO()) {
      const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block' : 'char';
      await mknod(dst, type, st.mode, major(st.rdev), minor(st.rdev));
      lchownSync(dst, owner.uid, owner.gid);
      chmodSync(dst, this.modeOf(st));
      lutimesSync(dst, seconds(st), seconds(st));
    }
    // Sockets (and whiteouts) are not copied, as Docker's tar leaves sockets out.
  }

  /** A directory's contents into an existing directory. */
  async children(src: string, dst: string): Promise<void> {
    for (const name of readdirSync(src)) await this.entry(join(src, name), join(dst, name), lstatSync(join(src, name)));
  }
}

/**
 * Makes sure `path` (inside root, symlinks already resolved) is a directory, creating what is
 * missing as 0755 directories of `owner`. Returns whether `path` itself was created.
 */
function ensureDir(root: string, path: string, owner: Owner, dest: string): boolean {
  const rel = posix.relative(root, path);
  if (rel === '..' || rel.startsWith('../')) throw new Error(`"${path}" is not inside "${root}"`);
  let current = root;
  let created = false;
  for (const part of rel ? rel.split('/') : []) {
    current = join(current, part);
    const st = lstatOrNull(current);
    created = !st;
    if (!st) {
      mkdirSync(current);
      lchownSync(current, owner.uid, owner.gid);
      chmodSync(current, 0o755); // whatever the umask
    } else if (!st.isDirectory()) {
      throw new CopyError(`cannot copy to "${dest}": "/${posix.relative(root, current)}" is not a directory`);
    }
  }
  return created;
}

/** Whether ADD extracts a file: a tar archive, plain or gzip (Go's tar reader accepts its first header). */
async function isArchive(source: Source): Promise<boolean> {
  const head = Buffer.alloc(6);
  const fd = openSync(source.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let length: number;
  try {
    length = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const compression = compressionOf(head.subarray(0, length));
  if (compression && compression !== 'gzip') {
    // Docker would extract it; copying it as a file instead would silently differ.
    throw new CopyError(`cannot extract "${source.rel}": ${compression}-compressed archives are not supported, only plain and gzip-compressed tar (use COPY to copy the file as it is)`);
  }
  const stream = createReadStream(source.path);
  const entries = readTar(decompress(stream))[Symbol.asyncIterator]();
  try {
    return !(await entries.next()).done;
  } catch {
    return false; // not a tar: copied as a file
  } finally {
    await entries.return?.().catch(() => {});
    stream.destroy();
  }
}

/**
 * Copies sources into the root filesystem `destRoot` at `dest` (relative to options.workdir
 * unless absolute), by Docker's rules:
 * - with more than one source the destination must end in `/` (`When using COPY with more than
 *   one source file, the destination must be a directory and end with a /`);
 * - a directory source copies its contents, merged into what is there; if the destination
 *   directory is new it is 0755 (or --chmod) and --chown's, the ones on the way to it root's
 *   (Docker's MkdirAllAndChownNew as root, then the chown of what was copied);
 * - a file goes into `dest` when that ends in `/` or is an existing directory, else it becomes
 *   `dest`; missing parents are created 0755 and owned by --chown's user or root (Docker's
 *   MkdirAllAndChownNew); existing ones are left alone;
 * - copied entries keep their mode (or take --chmod) and mtime (to the second); they belong to
 *   --chown's user, else to 0:0 (or keep their owners with preserveOwnership);
 * - ADD (extractArchives) extracts a local tar archive into `dest` as a directory, keeping the
 *   archive's owners and modes (Docker applies neither --chown nor --chmod there).
 */
export async function copyInto(sources: Source[], destRoot: string, dest: string, options: CopyOptions): Promise<void> {
  const instruction = options.extractArchives ? 'ADD' : 'COPY';
  if (sources.length > 1 && !dest.endsWith('/')) {
    throw new CopyError(`When using ${instruction} with more than one source file, the destination must be a directory and end with a /`);
  }
  const absolute = dest.startsWith('/') ? dest : posix.join('/', options.workdir || '/', dest);
  const target = resolveInScope(destRoot, cleanPath(absolute).slice(1), false).path!;
  const owner = options.chown ?? (options.preserveOwnership ? null : ROOT);
  const copier = new Copier(owner, options.chmod);
  const notDirectory = (what: string) => new CopyError(`cannot copy ${what} to "${dest}": it exists and is not a directory`);

  for (const source of sources) {
    if (source.dir) {
      if (lstatOrNull(target)?.isDirectory() === false) throw notDirectory(`directory "${source.rel}"`);
      // Docker makes the directories on the way as root's, then gives the new one itself to --chown's user.
      if (ensureDir(destRoot, target, ROOT, dest)) {
        if (owner) lchownSync(target, owner.uid, owner.gid);
        if (options.chmod !== undefined) chmodSync(target, options.chmod);
      }
      await copier.children(source.path, target);
    } else if (options.extractArchives && !source.noExtract && (await isArchive(source))) {
      if (lstatOrNull(target)?.isDirectory() === false) throw notDirectory(`archive "${source.rel}"`);
      ensureDir(destRoot, target, ROOT, dest);
      const stream = createReadStream(source.path);
      try {
        await extractTar(stream, target, {
          scope: 'destination directory',
          refuse: (message) => new CopyError(`refusing archive "${source.rel}": ${message}`),
          preserve: true,
        });
      } catch (error) {
        if (error instanceof TarFormatError) throw new CopyError(`cannot extract "${source.rel}": ${error.message}`);
        throw error;
      } finally {
        stream.destroy();
      }
    } else {
      const intoDir = dest.endsWith('/') || lstatOrNull(target)?.isDirectory() === true;
      const file = intoDir ? join(target, posix.basename(source.rel)) : target;
      ensureDir(destRoot, intoDir ? target : posix.dirname(file), owner ?? ROOT, dest);
      await copier.entry(source.path, file, lstatSync(source.path));
    }
  }
}

/**
 * A digest of what the sources copy: for each source (a file by its name, a directory by its
 * contents) every entry's path relative to it, type, mode, owner, and content or link target, in
 * a stable order. Not mtimes: touching a file does not change it.
 */
export async function hashSources(sources: Source[]): Promise<string> {
  const hash = createHash('sha256');
  const pacer = new Pacer();
  const record = (fields: unknown[]) => hash.update(`${JSON.stringify(fields)}\n`);
  const describe = (path: string, st: Stats): unknown[] => {
    const owner = [st.mode & 0o7777, st.uid, st.gid];
    if (st.isFile()) return ['file', ...owner, digestOf(path)];
    if (st.isSymbolicLink()) return ['symlink', ...owner, readlinkSync(path)];
    if (st.isDirectory()) return ['dir', ...owner];
    return ['special', ...owner, st.mode & ~0o7777, st.rdev];
  };
  const tree = async (dir: string, prefix: string): Promise<void> => {
    for (const name of readdirSync(dir).sort()) {
      await pacer.tick();
      const path = join(dir, name);
      const st = lstatSync(path);
      record([`${prefix}${name}`, ...describe(path, st)]);
      if (st.isDirectory()) await tree(path, `${prefix}${name}/`);
    }
  };
  for (const source of sources) {
    if (source.dir) {
      record(['source-dir']);
      await tree(source.path, '');
    } else {
      record(['source-file', posix.basename(source.rel), source.noExtract === true, ...describe(source.path, lstatSync(source.path))]);
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

function digestOf(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
