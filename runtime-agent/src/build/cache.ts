// The build cache: a step's key → the image it made. A key covers everything that decides what
// a step makes (its parent image, the instruction after expansion, the build args it sees, the
// content of what it copies), so a hit can be used as is. Entries live in one file, rewritten
// whole (temp file, fsync, rename) after each build, and survive a restart; an entry whose
// image is gone is a miss.

import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../images/content';

export function cacheKey(parts: readonly unknown[]): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`;
}

export class BuildCache {
  private entries = new Map<string, string>();
  private loaded: Promise<void> | null = null;
  private saving: Promise<void> = Promise.resolve();
  /** Whether the entries changed since the last save (a rebuild from the cache writes nothing). */
  private dirty = false;

  constructor(private readonly root: string) {}

  private get file(): string {
    return join(this.root, 'cache.json');
  }

  private load(): Promise<void> {
    this.loaded ??= readFile(this.file, 'utf8').then(
      (text) => {
        const parsed = JSON.parse(text) as { entries?: Record<string, string> };
        this.entries = new Map(Object.entries(parsed.entries ?? {}));
      },
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw new Error(`the build cache ${this.file} cannot be read: ${error.message}`);
      },
    );
    return this.loaded;
  }

  async get(key: string): Promise<string | undefined> {
    await this.load();
    return this.entries.get(key);
  }

  async set(key: string, imageId: string): Promise<void> {
    await this.load();
    if (this.entries.get(key) === imageId) return;
    this.entries.set(key, imageId);
    this.dirty = true;
  }

  /** Writes the entries (after a build); saves run one after another. */
  save(): Promise<void> {
    if (!this.dirty) return this.saving;
    this.dirty = false;
    const json = `${JSON.stringify({ entries: Object.fromEntries(this.entries) })}\n`;
    this.saving = this.saving.then(async () => {
      await mkdir(this.root, { recursive: true });
      await writeFileAtomic(this.file, json);
    });
    return this.saving;
  }

  /** Forgets every entry; returns the images they named. */
  async clear(): Promise<string[]> {
    await this.load();
    const images = [...new Set(this.entries.values())];
    this.entries.clear();
    this.dirty = true;
    await this.save();
    return images;
  }

  /** Forgets the entries whose image is gone. */
  async forget(exists: (imageId: string) => boolean): Promise<void> {
    await this.load();
    for (const [key, id] of this.entries) {
      if (exists(id)) continue;
      this.entries.delete(key);
      this.dirty = true;
    }
  }
}
