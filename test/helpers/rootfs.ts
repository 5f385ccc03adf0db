// A busybox root filesystem for tests as plain files, for the shim without an engine: the same
// tree as the tests' busybox image (scripts/busybox-image.ts), with every applet linked.

import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BUSYBOX, BUSYBOX_DIRS, GROUP, PASSWD, busyboxApplets } from '../../scripts/busybox-image';

/** Fills `dir` (created if missing) with the root filesystem. */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const { name, mode, owner } of BUSYBOX_DIRS) {
    await mkdir(join(dir, name), { recursive: true });
    await chmod(join(dir, name), mode);
    if (owner !== undefined) await chown(join(dir, name), owner, owner);
  }
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const applet of await busyboxApplets()) await symlink('busybox', join(dir, 'bin', applet));
  await writeFile(join(dir, 'etc/passwd'), PASSWD);
  await writeFile(join(dir, 'etc/group'), GROUP);
}
