// The devices a container may use: Docker's default device cgroup rules, and the host's devices
// that `--device HOST[:CONTAINER[:PERMISSIONS]]` adds (a directory adds every device below it).

import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { badRequest } from '../api/errors';
import type { Device } from './spec';

/**
 * What every container may use, as Docker allows it: mknod of any device (opening one is what
 * matters), /dev/null, zero, full, random, urandom, tty, console, ptmx, its pseudo-terminals
 * and /dev/net/tun.
 */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  'c *:* m', 'b *:* m',
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
  'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm',
];

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

/** HostConfig.Devices as nodes to make in the container and the cgroup rules that let it use them. */
export async function hostDevices(mappings: readonly DeviceMapping[] | null | undefined): Promise<{ devices: Device[]; rules: string[] }> {
  const devices: Device[] = [];
  const rules: string[] = [];
  for (const m of mappings ?? []) {
    const host = m.PathOnHost ?? '';
    const inContainer = m.PathInContainer || host;
    const permissions = m.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(permissions)) throw badRequest(`invalid device mode: ${permissions}`);
    const add = async (path: string, target: string, top: boolean) => {
      const info = await lstat(path, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
        throw badRequest(`error gathering device information while adding custom device "${host}": ${error.code === 'ENOENT' ? 'no such file or directory' : error.message}`);
      });
      if (info.isDirectory()) {
        for (const name of (await readdir(path)).sort()) await add(join(path, name), posix.join(target, name), false);
        return;
      }
      if (!info.isCharacterDevice() && !info.isBlockDevice()) {
        if (top) throw badRequest(`error gathering device information while adding custom device "${host}": not a device node`);
        return;
      }
      const type = info.isCharacterDevice() ? 'c' : 'b';
      // glibc's gnu_dev_major/minor split of st_rdev.
      const rdev = info.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      devices.push({ path: target, type, major, minor, mode: Number(info.mode & 0o7777n), uid: Number(info.uid), gid: Number(info.gid) });
      rules.push(`${type} ${major}:${minor} ${permissions}`);
    };
    if (!host.startsWith('/') || !inContainer.startsWith('/')) throw badRequest(`invalid device path: "${host}" (an absolute path is needed)`);
    await add(host, posix.normalize(inContainer), true);
  }
  return { devices, rules };
}
