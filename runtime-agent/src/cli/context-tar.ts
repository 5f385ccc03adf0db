// The build context as `docker build` sends it to the legacy builder (DOCKER_BUILDKIT=0): a tar
// stream of the context directory, written as it is read.
//
// What the docker CLI does, and so this does:
// - the context directory and the Dockerfile are taken by their real paths; `-f` is relative to
//   the working directory, and the default is PATH/Dockerfile (else PATH/dockerfile);
// - .dockerignore patterns exclude, and the Dockerfile and .dockerignore are always sent (the
//   daemon reads them, then drops them from the context if the patterns exclude them): the CLI
//   appends `!<Dockerfile>` and `!.dockerignore` to the patterns when they are excluded;
// - the walk is in lexical order; an excluded directory is entered only when an exception starts
//   with its path, and then without an entry of its own;
// - entries carry their mode and mtime (whole seconds), uid and gid 0 and no user names;
//   directories, symlinks (as links), hard links (as links to the first path sent), fifos and
//   devices; sockets are left out;
// - a Dockerfile from stdin (`-f -`) or outside the context is added at the end under a random
//   name, `.dockerfile.<20 hex digits>`, and that name appended to .dockerignore (which is
//   created if there is none) so that the daemon leaves it out of what COPY sees.
// As BuildKit does, and the legacy CLI does not: `<Dockerfile>.dockerignore` beside the
// Dockerfile is used instead of the context's .dockerignore when it exists.

import { randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DockerIgnore, readDockerIgnore, type IgnoreState } from '../../../server/src/dockerfile/dockerignore';
import { writeTar, type TarWriteEntry } from '../images/tar';

export interface BuildContext {
  /** The context as a tar stream; files are read as it is consumed. */
  readonly tar: AsyncIterable<Uint8Array>;
  /** The Dockerfile's path in the context, for the `dockerfile` query parameter; undefined: the engine's default. */
  readonly dockerfile?: string;
}

/** A context that cannot be made; the message says why, as docker's "unable to prepare context". */
export class ContextError extends Error {}

const errno = (error: unknown) => (error as NodeJS.ErrnoException).code;

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Go sorts directory entries by their bytes, not by UTF-16 units. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The context of a directory. `file` is `-f` (relative to the working directory), `-` for a
 * Dockerfile read from stdin, whose text is then `stdinDockerfile`.
 */
export async function directoryContext(dir: string, options: { file?: string; stdinDockerfile?: Buffer } = {}): Promise<BuildContext> {
  let root: string;
  try {
    root = await realpath(resolve(dir));
  } catch (error) {
    throw new ContextError(`unable to evaluate symlinks in context path: ${(error as Error).message}`);
  }
  if (!(await lstat(root)).isDirectory()) throw new ContextError(`context must be a directory: ${root}`);

  let inContext: string | undefined; // the Dockerfile's path in the context
  let outside: Buffer | undefined; // the text of a Dockerfile from stdin or from outside the context
  let ignoreText: Buffer | undefined;
  if (options.file === '-') {
    outside = options.stdinDockerfile ?? Buffer.alloc(0);
  } else {
    const given = options.file ? resolve(options.file) : await defaultDockerfile(root);
    let real: string;
    try {
      real = await realpath(given);
    } catch (error) {
      if (errno(error) === 'ENOENT') throw new ContextError(`unable to evaluate symlinks in Dockerfile path: lstat ${given}: no such file or directory`);
      throw new ContextError(`unable to evaluate symlinks in Dockerfile path: ${(error as Error).message}`);
    }
    const rel = relative(root, real);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) outside = await readFile(real);
    else inContext = rel.split(sep).join('/');
    ignoreText = await readIfExists(`${given}.dockerignore`);
  }
  ignoreText ??= await readIfExists(join(root, '.dockerignore'));

  const patterns: string[] = [];
  if (ignoreText !== undefined) {
    const text = ignoreText.toString('utf8');
    DockerIgnore.parse(text); // throws, with the line, for a pattern Docker refuses
    patterns.push(...readDockerIgnore(text).map((p) => p.pattern));
  }
  // The daemon must find these, whatever the patterns say.
  for (const path of ['.dockerignore', ...(inContext ? [inContext] : [])]) {
    if (DockerIgnore.fromPatterns(patterns).check(path).excluded) patterns.push(`!${path}`);
  }
  const ignore = DockerIgnore.fromPatterns(patterns);
  const exceptions = ignore.patterns.filter((p) => p.exception).map((p) => `${p.pattern}/`);

  const name = outside && `.dockerfile.${randomBytes(10).toString('hex')}`;
  const now = Math.floor(Date.now() / 1000);
  const linked = new Map<number, string>(); // inode → the first path sent
  let ignoreSent = false;

  async function entry(rel: string, path: string, st: Stats): Promise<TarWriteEntry | undefined> {
    const base = { name: rel, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), uid: 0, gid: 0 };
    if (st.isDirectory()) return { ...base, type: 'dir' };
    if (st.isSocket()) return undefined;
    if (st.nlink > 1) {
      const first = linked.get(st.ino);
      if (first !== undefined) return { ...base, type: 'hardlink', linkname: first };
      linked.set(st.ino, rel);
    }
    if (st.isSymbolicLink()) return { ...base, type: 'symlink', linkname: await readlink(path) };
    if (st.isFIFO()) return { ...base, type: 'fifo' };
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = device(st.rdev);
      return { ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor };
    }
    if (rel === '.dockerignore' && name) {
      ignoreSent = true;
      return { ...base, body: Buffer.concat([await readFile(path), Buffer.from(`\n${name}\n`)]) };
    }
    return { ...base, size: st.size, body: fileBody(path) };
  }

  async function* walk(dir: string, parent: IgnoreState | undefined): AsyncIterable<TarWriteEntry> {
    for (const child of (await readdir(join(root, dir))).sort(byBytes)) {
      const rel = dir ? `${dir}/${child}` : child;
      const path = join(root, rel);
      const st = await lstat(path);
      const state = ignore.check(rel, parent);
      if (state.excluded) {
        if (st.isDirectory() && exceptions.some((e) => e.startsWith(`${rel}/`))) yield* walk(rel, state);
        continue;
      }
      const e = await entry(rel, path, st);
      if (e) yield e;
      if (st.isDirectory()) yield* walk(rel, state);
    }
  }

  async function* entries(): AsyncIterable<TarWriteEntry> {
    yield* walk('', undefined);
    if (name && outside) {
      if (!ignoreSent) yield { name: '.dockerignore', mode: 0o600, mtime: now, body: `.dockerignore\n${name}\n` };
      yield { name, mode: 0o600, mtime: now, body: outside };
    }
  }

  return { tar: writeTar(entries()), dockerfile: name || inContext };
}

async function defaultDockerfile(root: string): Promise<string> {
  const upper = join(root, 'Dockerfile');
  const lower = join(root, 'dockerfile');
  try {
    await lstat(upper);
    return upper;
  } catch {
    return (await lstat(lower).then(() => true, () => false)) ? lower : upper;
  }
}

/** Opens the file only when the tar writer reaches it, so that one file is open at a time. */
async function* fileBody(path: string): AsyncIterable<Uint8Array> {
  yield* createReadStream(path);
}

/** Linux's major and minor numbers of a device number. */
function device(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/**
 * The context from stdin (`docker build -`): a tar (plain or compressed) is passed through as it
 * is; anything else is a Dockerfile, sent alone. `file` is `-f`, a path inside that tar.
 */
export async function stdinContext(input: AsyncIterable<Uint8Array>, file?: string): Promise<BuildContext> {
  const source = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < 1024 && !ended) {
    const next = await source.next();
    if (next.done) ended = true;
    else {
      head.push(Buffer.from(next.value));
      length += next.value.length;
    }
  }
  const prefix = Buffer.concat(head);
  async function* rest(): AsyncIterable<Uint8Array> {
    if (ended) return;
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
  }
  if (isArchive(prefix)) {
    return {
      tar: (async function* () {
        yield prefix;
        yield* rest();
      })(),
      dockerfile: file,
    };
  }
  if (file) throw new ContextError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
  const chunks = [prefix];
  for await (const chunk of rest()) chunks.push(Buffer.from(chunk));
  const mtime = Math.floor(Date.now() / 1000);
  return { tar: writeTar([{ name: 'Dockerfile', mode: 0o644, mtime, body: Buffer.concat(chunks) }]), dockerfile: 'Dockerfile' };
}

/** Compressed (gzip, bzip2, xz, zstd), or a first tar header with a valid checksum. */
function isArchive(head: Buffer): boolean {
  const magic = [[0x1f, 0x8b, 0x08], [0x42, 0x5a, 0x68], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd]];
  if (magic.some((m) => m.every((b, i) => head[i] === b))) return true;
  if (head.length < 512 || head.subarray(0, 512).every((b) => b === 0)) return false;
  const stored = parseInt(head.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').trim(), 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : head[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}
