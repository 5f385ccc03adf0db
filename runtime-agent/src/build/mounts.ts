// The root filesystems a build step works in: an image's layers under a fresh upper dir (what
// the step changes), or read-only (what COPY --from reads). Node has no mount(2); mount(8)
// does it, once per step.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
      else resolve();
    });
  });
}

export interface Rootfs {
  /** The merged view. */
  dir: string;
  /** Writable mounts: the changes made in `dir` (complete once unmounted). */
  upper?: string;
  unmount(): Promise<void>;
  /** Unmounts and deletes it all, upper dir included. */
  release(): Promise<void>;
}

/**
 * Mounts `lower` (top first; none for an empty root) under `base`. Writable: an upper dir takes
 * the changes. Read-only with one lower dir: that dir itself, unmounted.
 */
export async function mountRootfs(base: string, lower: readonly string[], writable: boolean): Promise<Rootfs> {
  await mkdir(base, { recursive: true });
  const tmp = await mkdtemp(join(base, 'rootfs-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const layers = [...lower];
    // overlayfs wants a lower dir, and two without an upper one.
    while (layers.length < (writable ? 1 : 2)) {
      const empty = join(tmp, `empty${layers.length}`);
      await mkdir(empty);
      layers.push(empty);
    }
    if (!writable && lower.length === 1) {
      await rm(join(tmp, 'empty1'), { recursive: true, force: true });
      return { dir: lower[0], unmount: async () => {}, release: cleanup };
    }
    const dir = join(tmp, 'merged');
    await mkdir(dir);
    const options = [`lowerdir=${layers.join(':')}`];
    let upper: string | undefined;
    if (writable) {
      upper = join(tmp, 'upper');
      await mkdir(upper, { mode: 0o755 });
      await mkdir(join(tmp, 'work'));
      options.push(`upperdir=${upper}`, `workdir=${join(tmp, 'work')}`);
    }
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options.join(','), dir]);
    let mounted = true;
    const unmount = async () => {
      if (!mounted) return;
      mounted = false;
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    };
    return {
      dir,
      upper,
      unmount,
      async release() {
        await unmount();
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Unmounts (lazily) and removes what a crashed build left under `base`. */
export async function sweepRootfs(base: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(base);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.startsWith('rootfs-'))) {
    await run('umount', ['-l', join(base, name, 'merged')]).catch(() => {});
    await rm(join(base, name), { recursive: true, force: true });
  }
}
