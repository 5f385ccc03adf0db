// `RUN --mount=…`: what a RUN step sees besides its image, as BuildKit documents it. A bind of
// the context (or of a stage), a cache directory kept between builds, a tmpfs, a secret given
// to the build. None of them ends up in the step's layer.

import { rmdir, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { lstatOrNull } from './context';

export type RunMount =
  | { type: 'bind'; target: string; source: string; from?: string; readWrite: boolean }
  | { type: 'cache'; target: string; id: string; readOnly: boolean; sharing: 'shared' | 'private' | 'locked'; mode: number; uid: number; gid: number }
  | { type: 'tmpfs'; target: string; size?: number }
  | { type: 'secret'; target?: string; env?: string; id: string; required: boolean; mode: number; uid: number; gid: number };

export class MountError extends Error {}

const TRUE = ['', 'true', '1'];
const FALSE = ['false', '0'];

function bool(key: string, value: string): boolean {
  if (TRUE.includes(value.toLowerCase())) return true;
  if (FALSE.includes(value.toLowerCase())) return false;
  throw new MountError(`invalid value for ${key}: ${value}`);
}

function int(key: string, value: string, radix: number): number {
  const n = Number.parseInt(value, radix);
  if (!/^[0-9a-fA-F]+$/.test(value) || !Number.isSafeInteger(n)) throw new MountError(`invalid value for ${key}: ${value}`);
  return n;
}

/** Sizes as tmpfs's `size=`: bytes, or with a k/m/g suffix. */
function size(value: string): number {
  const match = /^(\d+)([kmg]?)b?$/i.exec(value);
  if (!match) throw new MountError(`invalid value for size: ${value}`);
  return Number(match[1]) * 1024 ** ' kmg'.indexOf(match[2].toLowerCase() || ' ');
}

/** The comma-separated fields of one `--mount` value (already expanded). */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of text.split(',')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).trim().toLowerCase();
    out.set(key, eq === -1 ? '' : field.slice(eq + 1));
  }
  return out;
}

const ALIASES: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', rw: 'readwrite' };

export function parseRunMount(text: string): RunMount {
  const f = new Map<string, string>();
  for (const [key, value] of fields(text)) f.set(ALIASES[key] ?? key, value);
  const type = f.get('type') ?? 'bind';
  const known: Record<string, string[]> = {
    bind: ['type', 'target', 'source', 'from', 'readonly', 'readwrite'],
    cache: ['type', 'target', 'id', 'readonly', 'sharing', 'from', 'source', 'mode', 'uid', 'gid'],
    tmpfs: ['type', 'target', 'size'],
    secret: ['type', 'target', 'id', 'env', 'required', 'mode', 'uid', 'gid'],
  };
  if (type === 'ssh') throw new MountError('RUN --mount=type=ssh needs an SSH agent forwarded through a BuildKit session, which this engine does not have');
  if (!known[type]) throw new MountError(`unsupported mount type "${type}"`);
  for (const key of f.keys()) if (!known[type].includes(key)) throw new MountError(`unexpected key '${key}' in '${text}'`);
  const target = f.get('target');
  if (type !== 'secret' && !target) throw new MountError('mount destination not set');
  const absolute = (path: string) => posix.resolve('/', path);
  const readOnly = f.has('readonly') ? bool('readonly', f.get('readonly')!) : f.has('readwrite') ? !bool('readwrite', f.get('readwrite')!) : undefined;
  switch (type) {
    case 'bind':
      return { type, target: target!, source: f.get('source') || '.', ...(f.get('from') ? { from: f.get('from') } : {}), readWrite: readOnly === false };
    case 'cache': {
      if (f.get('from') || f.get('source')) throw new MountError('RUN --mount=type=cache with from or source is not supported by this engine');
      const sharing = f.get('sharing') ?? 'shared';
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') throw new MountError(`unrecognized sharing mode "${sharing}"`);
      return {
        type,
        target: target!,
        id: f.get('id') || absolute(target!),
        readOnly: readOnly === true,
        sharing,
        mode: f.has('mode') ? int('mode', f.get('mode')!, 8) : 0o755,
        uid: f.has('uid') ? int('uid', f.get('uid')!, 10) : 0,
        gid: f.has('gid') ? int('gid', f.get('gid')!, 10) : 0,
      };
    }
    case 'tmpfs':
      return { type, target: target!, ...(f.has('size') ? { size: size(f.get('size')!) } : {}) };
    default: {
      const env = f.get('env') || undefined;
      const id = f.get('id') || (target ? posix.basename(target) : env ?? '');
      if (!id) throw new MountError('secret ID missing from mount options');
      // Without a target or env, a secret is a file at /run/secrets/<id>.
      const file = target ?? (env ? undefined : `/run/secrets/${id}`);
      return {
        type: 'secret',
        ...(file ? { target: file } : {}),
        ...(env ? { env } : {}),
        id,
        required: f.has('required') ? bool('required', f.get('required')!) : false,
        mode: f.has('mode') ? int('mode', f.get('mode')!, 8) : 0o400,
        uid: f.has('uid') ? int('uid', f.get('uid')!, 10) : 0,
        gid: f.has('gid') ? int('gid', f.get('gid')!, 10) : 0,
      };
    }
  }
}

/** One holder at a time per key (cache mounts with sharing=locked or private). */
export class KeyedLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the key; answers the release. */
  async take(key: string): Promise<() => Promise<void>> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    return async () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}

/**
 * Removes what a RUN's mounts left in its upper dir: the empty file or directory made for the
 * mount point, and its parents while empty, up to a path the image has.
 */
export async function removeMountStub(upper: string, lower: readonly string[], target: string): Promise<void> {
  for (let path = posix.normalize(target); path !== '/'; path = posix.dirname(path)) {
    if (lower.some((dir) => lstatOrNull(join(dir, path)))) return;
    const st = lstatOrNull(join(upper, path));
    if (!st) continue;
    try {
      if (st.isDirectory()) await rmdir(join(upper, path));
      else if (st.isFile() && st.size === 0) await unlink(join(upper, path));
      else return;
    } catch {
      return; // not empty: the step wrote there
    }
  }
}
