// A busybox root filesystem for tests, made from Debian's busybox-static: /bin/busybox, a symlink
// per applet, users root, app (1000) and nobody (65534), and the empty directories a container
// needs as mount points.

import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { BUSYBOX } from '../../scripts/busybox-image';

export { BUSYBOX };

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

const GROUP = ['root:x:0:', 'tty:x:5:', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');

/** Fills `dir` (created if missing) with the root filesystem. */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const sub of ['bin', 'dev', 'etc', 'proc', 'sys', 'root', 'home/app']) await mkdir(join(dir, sub), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await promisify(execFile)(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n')) {
    if (applet === '' || applet === 'busybox' || applet.includes('/')) continue;
    await symlink('busybox', join(dir, 'bin', applet));
  }
  await writeFile(join(dir, 'etc/passwd'), PASSWD);
  await writeFile(join(dir, 'etc/group'), GROUP);
  await chown(join(dir, 'home/app'), 1000, 1000);
}
