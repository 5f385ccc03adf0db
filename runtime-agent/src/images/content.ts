// The content store: blobs (layers, configs, manifests) addressed by their sha256 digest, under
// <root>/blobs/sha256/<hex> (root is the data root's content/). A write goes to a file of its own
// in <root>/ingest/, is
// hashed as it streams, checked against the digest (and size) it must have, fsynced, and only
// then renamed into place — so a blob that exists is always whole and correct, a crash leaves at
// most a stray ingest file (never looked at again), and two writers of the same blob cannot harm
// each other: both produce the same bytes and the second rename replaces the first atomically.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const SHA256 = /^sha256:([0-9a-f]{64})$/;

/** The bytes do not hash to the digest they were announced with. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    context?: string,
  ) {
    super(`${context ? `${context}: ` : ''}digest mismatch: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

/** More or fewer bytes than the descriptor announced. */
export class SizeMismatchError extends Error {
  constructor(
    readonly digest: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`size mismatch for ${digest}: expected ${expected} bytes, got ${actual === -1 ? 'more' : actual}`);
    this.name = 'SizeMismatchError';
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} not found in the content store`);
    this.name = 'BlobNotFoundError';
  }
}

/** The hex part of a sha256 digest; anything else is refused (it would become a file name). */
export function digestHex(digest: string): string {
  const m = SHA256.exec(digest);
  if (!m) throw new Error(`unsupported or invalid digest "${digest}": expected sha256:<64 hex digits>`);
  return m[1];
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** fsync a directory so that a rename into it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file whole or not at all: temp name beside it, rename. `durable` (the default) adds
 * an fsync of the file before the rename and of the folder after, so that it also survives a
 * power loss.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: { durable?: boolean; mode?: number } = {}): Promise<void> {
  const { durable = true, mode = 0o644 } = options;
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (durable) await syncDir(join(file, '..'));
}

export class ContentStore {
  private readonly blobs: string;
  private readonly ingestDir: string;
  /** Ingest files this process is writing now (the rest are leftovers of a crash). */
  private readonly active = new Set<string>();

  /** `root` is the store's own folder (the data root's content/). */
  constructor(readonly root: string) {
    this.blobs = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  path(digest: string): string {
    return join(this.blobs, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    try {
      return (await stat(this.path(digest))).size;
    } catch {
      throw new BlobNotFoundError(digest);
    }
  }

  /** The blob's bytes as a stream. */
  async *read(digest: string): AsyncIterable<Uint8Array> {
    if (!(await this.has(digest))) throw new BlobNotFoundError(digest);
    yield* createReadStream(this.path(digest), { highWaterMark: 256 * 1024 });
  }

  async readJson<T>(digest: string): Promise<T> {
    let text: string;
    try {
      text = await readFile(this.path(digest), 'utf8');
    } catch {
      throw new BlobNotFoundError(digest);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new Error(`blob ${digest} is not valid JSON: ${(error as Error).message}`);
    }
  }

  /**
   * Stores a blob, verifying it while it streams. A blob already present is kept and the source
   * is not read. On any failure (mismatch, source error) nothing is left behind.
   */
  async write(
    source: AsyncIterable<Uint8Array> | Uint8Array,
    expected: { digest: string; size?: number },
    onBytes?: (n: number) => void,
  ): Promise<void> {
    if (await this.has(expected.digest)) return;
    await this.store(source, expected, onBytes);
  }

  /**
   * Stores a blob whose digest is known only once it is written (a layer a build made, a file of
   * an archive being loaded); `existed` says it was there already.
   */
  async add(source: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number; existed: boolean }> {
    return this.store(source, null);
  }

  private async store(
    source: AsyncIterable<Uint8Array> | Uint8Array,
    expected: { digest: string; size?: number } | null,
    onBytes?: (n: number) => void,
  ): Promise<{ digest: string; size: number; existed: boolean }> {
    const hex = expected ? digestHex(expected.digest) : 'new';
    await mkdir(this.ingestDir, { recursive: true });
    await mkdir(this.blobs, { recursive: true });
    const tmp = join(this.ingestDir, `${hex}-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.active.add(tmp);
    try {
      const hash = createHash('sha256');
      let total = 0;
      let actual: string;
      const handle = await open(tmp, 'wx', 0o644);
      try {
        const chunks = source instanceof Uint8Array ? [source] : source;
        for await (const chunk of chunks) {
          total += chunk.length;
          // Stop early rather than fill the disk with a blob that is already wrong.
          if (expected?.size !== undefined && total > expected.size) throw new SizeMismatchError(expected.digest, expected.size, -1);
          hash.update(chunk);
          await handle.write(chunk);
          onBytes?.(chunk.length);
        }
        if (expected?.size !== undefined && total !== expected.size) throw new SizeMismatchError(expected.digest, expected.size, total);
        actual = `sha256:${hash.digest('hex')}`;
        if (expected && actual !== expected.digest) throw new DigestMismatchError(expected.digest, actual);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Same bytes already in place: nothing to rename.
      if (!expected && (await this.has(actual))) return { digest: actual, size: total, existed: true };
      await rename(tmp, this.path(actual));
      await syncDir(this.blobs);
      return { digest: actual, size: total, existed: false };
    } finally {
      this.active.delete(tmp);
      await rm(tmp, { force: true });
    }
  }

  async delete(digest: string): Promise<boolean> {
    const file = this.path(digest);
    try {
      await stat(file);
    } catch {
      return false;
    }
    await rm(file, { force: true });
    return true;
  }

  /** Every blob's digest. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.blobs);
    } catch {
      return [];
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Removes ingest files left by a crash (not the ones being written now); returns how many. */
  async pruneIngest(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.ingestDir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const file = join(this.ingestDir, name);
      if (this.active.has(file)) continue;
      await rm(file, { force: true, recursive: true });
      removed++;
    }
    return removed;
  }
}
