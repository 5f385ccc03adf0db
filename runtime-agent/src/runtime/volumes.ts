// Named and anonymous volumes, as Docker's `local` driver keeps them: a folder each under the
// data root (`volumes/NAME/_data`), its record beside it. A volume is made whole or not at all
// (its folder renamed into place), and cannot be removed while a container uses it.

import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, conflict, notFound } from '../api/errors';
import { writeFileAtomic } from '../images/content';
import type { Events } from '../events';

/** `docker volume inspect`'s fields. */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
}

/** Docker marks anonymous volumes with this label. */
export const ANONYMOUS = 'com.docker.volume.anonymous';

const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class Volumes {
  private readonly records = new Map<string, VolumeRecord>();

  private constructor(
    private readonly root: string,
    private readonly events: Events,
  ) {}

  static async open(root: string, events: Events): Promise<Volumes> {
    const volumes = new Volumes(root, events);
    await mkdir(root, { recursive: true });
    for (const name of await readdir(root)) {
      if (name.startsWith('.')) {
        await rm(join(root, name), { recursive: true, force: true }); // a creation a crash cut short
        continue;
      }
      try {
        volumes.records.set(name, JSON.parse(await readFile(join(root, name, 'volume.json'), 'utf8')) as VolumeRecord);
      } catch {
        // Not a volume of ours.
      }
    }
    return volumes;
  }

  list(): VolumeRecord[] {
    return [...this.records.values()];
  }

  get(name: string): VolumeRecord {
    const record = this.records.get(name);
    if (!record) throw notFound(`get ${name}: no such volume`);
    return record;
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  /** Makes a volume (a random name when none is given); one that exists is answered as it is. */
  async create(name: string | undefined, labels: Record<string, string> = {}): Promise<VolumeRecord> {
    const chosen = name || randomBytes(32).toString('hex');
    if (!VALID_NAME.test(chosen)) throw badRequest(`create ${chosen}: "${chosen}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    const existing = this.records.get(chosen);
    if (existing) return existing;
    const dir = join(this.root, chosen);
    const record: VolumeRecord = { Name: chosen, Driver: 'local', Mountpoint: join(dir, '_data'), CreatedAt: new Date().toISOString(), Labels: labels, Scope: 'local', Options: {} };
    const staging = join(this.root, `.${chosen}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(staging, '_data'), { recursive: true, mode: 0o755 });
    await writeFileAtomic(join(staging, 'volume.json'), JSON.stringify(record));
    await rename(staging, dir);
    this.records.set(chosen, record);
    this.events.emit('volume', 'create', chosen, { driver: 'local' });
    return record;
  }

  /** `users`: the containers that mount it; removal is refused while there are any. */
  async remove(name: string, users: string[]): Promise<void> {
    const record = this.get(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.records.delete(name);
    const trash = join(this.root, `.removing-${name}-${randomBytes(4).toString('hex')}`);
    await rename(join(this.root, record.Name), trash);
    this.events.emit('volume', 'destroy', name, { driver: 'local' });
    await rm(trash, { recursive: true, force: true });
  }

  /** Whether the volume's folder holds nothing yet (it then takes the image's files at its path). */
  async empty(name: string): Promise<boolean> {
    return (await readdir(this.get(name).Mountpoint)).length === 0;
  }

  /** Bytes in the volume (for system df). */
  size(name: string): Promise<number> {
    return folderSize(this.get(name).Mountpoint);
  }
}

/** Bytes of the files under a folder (0 when it is not there). */
export async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) total += (await lstat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
