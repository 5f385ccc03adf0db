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
//
// BuildKit's additions (the legacy builder has neither):
// - COPY --exclude=PATTERN: patterns as in .dockerignore (DockerIgnore, `!` exceptions included).
//   As BuildKit's reference documents it (`COPY --exclude=*.txt hom* /mydir/`), a source word's
//   matches are judged by their paths in the root; the entries below a directory source by their
//   paths relative to that directory, as BuildKit's copier judges them.
// - COPY --parents: each source keeps the directories leading to it, from the root or from a
//   `/./` in the word (rsync --relative's pivot), below the destination, which is then always a
//   directory. Wildcards after the pivot are .dockerignore patterns there (`**` works), as BuildKit
//   hands them to its copier as include patterns.

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
import { cleanPath, DockerIgnore, DockerIgnoreError, type IgnoreState } from '../../../server/src/dockerfile/dockerignore';
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
  /**
   * COPY --parents: `keep` is the path it takes below the destination (from the pivot, `.` for the
   * pivot itself); `dirs` the directories on the way there in root, resolved, outermost first.
   */
  parents?: { keep: string; dirs: string[] };
  /** COPY --exclude, for a directory source: how the entries below it are judged. */
  exclude?: ExcludeScope;
}

/** Judges entries below a directory: their paths are `prefix/name` (`name` with no prefix), judged after `state`. */
export interface ExcludeScope {
  ignore: DockerIgnore;
  prefix: string;
  state?: IgnoreState;
}

export interface ResolveOptions {
  /** `rootfs` for COPY --from: absolute symlinks mean that root, and errors do not speak of a build context. */
  from?: 'context' | 'rootfs';
  /** COPY --exclude, each flag's pattern in order. */
  exclude?: string[];
  /** COPY --parents. */
  parents?: boolean;
  /**
   * ADD: the source for a word that is not in the root (a URL: fetch.ts's fetchUrl), or undefined
   * for a word to look up there. Keeps every source in the order of its word; --exclude does not
   * apply to these, as in BuildKit.
   */
  remote?: (word: string) => Promise<Source> | undefined;
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
 * With `exclude`, sources the patterns exclude are left out (an empty result is then no error:
 * BuildKit copies nothing), and directory sources carry the patterns for what is below them.
 */
export async function resolveSources(root: string, sources: string[], options: ResolveOptions = {}): Promise<Source[]> {
  const context = options.from !== 'rootfs';
  const ignore = options.exclude?.length ? excludeMatcher(options.exclude) : undefined;
  const out: Source[] = [];
  const remote = new Set<Source>();
  for (const word of sources) {
    const download = options.remote?.(word);
    if (download) {
      const source = await download;
      remote.add(source);
      out.push(source);
    } else {
      out.push(...(options.parents ? resolveWithParents(root, word, context) : resolveWord(root, word, context)));
    }
  }
  if (!out.length) throw new CopyError('no source files were specified');
  return ignore ? out.filter((source) => remote.has(source) || applyExclude(source, ignore)) : out;
}

/** Docker trims one leading "/" and one "./", and reports paths in that form. */
function trimWord(word: string): string {
  const given = word.startsWith('/') ? word.slice(1) : word;
  return given.startsWith('./') ? given.slice(2) : given;
}

/** A trimmed word cleaned to a path in the root: `.` for the root itself. */
const cleanRel = (given: string) => cleanPath(given).replace(/^\/+/, '') || '.';

const leaves = (rel: string) => rel === '..' || rel.startsWith('../');

const outsideContext = (given: string) => new CopyError(`forbidden path outside the build context: ${given} ()`);

/** The entry at `rel` (cleaned, inside root), called `shown` in errors. */
function locate(root: string, rel: string, shown: string, context: boolean): Source {
  const found = resolveInScope(root, rel === '.' ? '' : rel, context);
  if (found.escape) {
    const { link, target } = found.escape;
    throw new CopyError(`forbidden path outside the build context: ${shown} (symlink "${link}" points to "${target}", outside the build context)`);
  }
  const st = lstatOrNull(found.path);
  if (!st) {
    const missing = `stat ${shown}: file does not exist`;
    throw new CopyError(context ? `file not found in build context or excluded by .dockerignore: ${missing}` : missing);
  }
  return { root, rel, path: found.path, dir: st.isDirectory() };
}

function resolveWord(root: string, word: string, context: boolean): Source[] {
  const given = trimWord(word);
  const rel = cleanRel(given);
  if (leaves(rel)) throw outsideContext(given);
  const matches = hasWildcards(given) ? expand(root, rel) : [rel];
  return matches.map((match) => locate(root, match, match === rel ? given : match, context));
}

/**
 * COPY --parents: the word splits at its first `/./` into the pivot (the root without one) and
 * the path kept below the destination. A pivot may have wildcards as a plain source has; the rest,
 * with wildcards, is matched as BuildKit's include pattern is: each entry below the pivot by its
 * path there, a matching directory taken whole, symlinks not looked into.
 */
function resolveWithParents(root: string, word: string, context: boolean): Source[] {
  const cut = word.indexOf('/./');
  const pivotGiven = cut < 0 ? '' : trimWord(word.slice(0, cut));
  const keptGiven = trimWord(cut < 0 ? word : word.slice(cut + 3));
  const pivotRel = cleanRel(pivotGiven);
  if (leaves(pivotRel)) throw outsideContext(pivotGiven);
  const kept = cleanRel(keptGiven);
  if (leaves(kept)) throw cut < 0 ? outsideContext(keptGiven) : new CopyError(`forbidden path outside the --parents base "${pivotRel}": ${keptGiven}`);
  const out: Source[] = [];
  for (const pivot of hasWildcards(pivotGiven) ? expand(root, pivotRel) : [pivotRel]) {
    const under = (rel: string) => (pivot === '.' ? rel : rel === '.' ? pivot : `${pivot}/${rel}`);
    const base = locate(root, pivot, pivot, context);
    const matches = !hasWildcards(keptGiven) ? [kept] : base.dir ? includedBelow(base.path, kept) : [];
    for (let keep of matches) {
      const source = locate(root, under(keep), under(keep), context);
      if (keep === '.' && !source.dir) keep = posix.basename(source.rel); // a file as pivot: just itself
      const parts = keep === '.' ? [] : keep.split('/');
      const dirs = parts.slice(0, -1).map((_, i) => locate(root, under(parts.slice(0, i + 1).join('/')), under(keep), context).path);
      out.push({ ...source, parents: { keep, dirs } });
    }
  }
  return out;
}

/** What an include pattern takes below a directory, in walk order (patternmatcher's rules, as .dockerignore). */
function includedBelow(dir: string, pattern: string): string[] {
  let matcher: DockerIgnore;
  try {
    matcher = DockerIgnore.fromPatterns([pattern]);
  } catch (error) {
    if (error instanceof DockerIgnoreError) throw new CopyError(`invalid pattern "${pattern}": ${error.message}`);
    throw error;
  }
  const out: string[] = [];
  const walk = (abs: string, prefix: string, parent: IgnoreState | undefined) => {
    for (const name of readdirSync(abs).sort()) {
      const rel = prefix ? `${prefix}/${name}` : name;
      const state = matcher.check(rel, parent);
      if (state.excluded) out.push(rel);
      else if (lstatSync(join(abs, name)).isDirectory()) walk(join(abs, name), rel, state);
    }
  };
  walk(dir, '', undefined);
  return out;
}

function excludeMatcher(patterns: string[]): DockerIgnore {
  try {
    return DockerIgnore.fromPatterns(patterns);
  } catch (error) {
    if (error instanceof DockerIgnoreError) throw new CopyError(`invalid exclude pattern "${error.pattern}": ${error.message}`);
    throw error;
  }
}

/**
 * Whether a source stays despite --exclude; a directory that stays gets the scope for its
 * entries. The source is judged by its path in the root (with --parents, below the pivot) and
 * its ancestors' paths. Its entries are judged from scratch, relative to it, as BuildKit's copier
 * judges them; with --parents they continue from the source's own path, so an excluded directory
 * stays when an exception re-includes something inside it.
 */
function applyExclude(source: Source, ignore: DockerIgnore): boolean {
  const path = source.parents ? source.parents.keep : source.rel;
  const state = ignore.check(path);
  const scope: ExcludeScope = source.parents && path !== '.' ? { ignore, prefix: path, state } : { ignore, prefix: '' };
  if (state.excluded && !(source.parents && source.dir && ignore.hasExceptions && keptEntries(source.path, scope).length)) return false;
  if (source.dir) source.exclude = scope;
  return true;
}

/**
 * The entries of a directory that are copied, each with the scope for what is below it. With
 * exceptions, an excluded directory is kept when something inside it is re-included (as
 * BuildKit's copier creates the parents of what it includes); otherwise it is skipped whole.
 */
function keptEntries(dir: string, scope: ExcludeScope | undefined): { name: string; st: Stats; scope?: ExcludeScope }[] {
  const out: { name: string; st: Stats; scope?: ExcludeScope }[] = [];
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    if (!scope) {
      out.push({ name, st });
      continue;
    }
    const path = scope.prefix ? `${scope.prefix}/${name}` : name;
    const state = scope.ignore.check(path, scope.state);
    const child = { ignore: scope.ignore, prefix: path, state };
    if (!state.excluded || (st.isDirectory() && scope.ignore.hasExceptions && keptEntries(join(dir, name), child).length)) {
      out.push({ name, st, scope: child });
    }
  }
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

  async entry(src: string, dst: string, st: Stats, scope?: ExcludeScope): Promise<void> {
    await this.pacer.tick();
    const existing = lstatOrNull(dst);
    if (existing && !(existing.isDirectory() && st.isDirectory())) rmSync(dst, { recursive: true, force: true });
    const owner = this.ownerOf(st);
    if (st.isDirectory()) {
      if (!existing?.isDirectory()) mkdirSync(dst, { mode: 0o700 });
      await this.children(src, dst, scope);
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

  /** A directory's contents into an existing directory, less what `scope` excludes. */
  async children(src: string, dst: string, scope?: ExcludeScope): Promise<void> {
    for (const entry of keptEntries(src, scope)) await this.entry(join(src, entry.name), join(dst, entry.name), entry.st, entry.scope);
  }

  /**
   * A directory on the way to a --parents source, made like its source directory (owner, mode)
   * when missing, as BuildKit's copier creates an included entry's parents; an existing directory
   * is left as it is. Returns whether it was made, so that its mtime is set once it is filled.
   */
  async parentDir(src: string, dst: string): Promise<boolean> {
    await this.pacer.tick();
    const existing = lstatOrNull(dst);
    if (existing?.isDirectory()) return false;
    if (existing) rmSync(dst, { recursive: true, force: true });
    const st = lstatSync(src);
    const owner = this.ownerOf(st);
    mkdirSync(dst, { mode: 0o700 });
    lchownSync(dst, owner.uid, owner.gid);
    chmodSync(dst, this.modeOf(st));
    return true;
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
    if (source.parents) {
      // The destination is a directory, whatever its spelling: BuildKit copies the pivot's contents into it.
      if (lstatOrNull(target)?.isDirectory() === false) throw notDirectory(`"${source.rel}"`);
      if (ensureDir(destRoot, target, ROOT, dest)) {
        if (owner) lchownSync(target, owner.uid, owner.gid);
        if (options.chmod !== undefined) chmodSync(target, options.chmod);
      }
      const { keep, dirs } = source.parents;
      if (keep === '.') {
        await copier.children(source.path, target, source.exclude);
        continue;
      }
      const parts = keep.split('/');
      const made: [string, Stats][] = [];
      for (let i = 0; i < dirs.length; i++) {
        const at = join(target, ...parts.slice(0, i + 1));
        if (await copier.parentDir(dirs[i], at)) made.push([at, lstatSync(dirs[i])]);
      }
      await copier.entry(source.path, join(target, keep), lstatSync(source.path), source.exclude);
      for (const [at, st] of made.reverse()) lutimesSync(at, seconds(st), seconds(st));
    } else if (source.dir) {
      if (lstatOrNull(target)?.isDirectory() === false) throw notDirectory(`directory "${source.rel}"`);
      // Docker makes the directories on the way as root's, then gives the new one itself to --chown's user.
      if (ensureDir(destRoot, target, ROOT, dest)) {
        if (owner) lchownSync(target, owner.uid, owner.gid);
        if (options.chmod !== undefined) chmodSync(target, options.chmod);
      }
      await copier.children(source.path, target, source.exclude);
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
 * a stable order. Not mtimes: touching a file does not change it. What --exclude leaves out is not
 * seen; with --parents, the kept path and the directories on the way count too.
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
  const tree = async (dir: string, prefix: string, scope: ExcludeScope | undefined): Promise<void> => {
    for (const entry of keptEntries(dir, scope).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      await pacer.tick();
      const path = join(dir, entry.name);
      record([`${prefix}${entry.name}`, ...describe(path, entry.st)]);
      if (entry.st.isDirectory()) await tree(path, `${prefix}${entry.name}/`, entry.scope);
    }
  };
  for (const source of sources) {
    if (source.parents) {
      const { keep, dirs } = source.parents;
      record(['parents', keep, ...dirs.map((dir) => describe(dir, lstatSync(dir)))]);
      // Below the pivot a source is copied whole, itself included (a plain directory source copies its contents only).
      if (source.dir && keep !== '.') record(['itself', ...describe(source.path, lstatSync(source.path))]);
    }
    if (source.dir) {
      record(['source-dir']);
      await tree(source.path, '', source.exclude);
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
