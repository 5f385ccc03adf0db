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

// eBPF for cgroup v2, which has no devices.allow: the kernel runs a BPF_PROG_TYPE_CGROUP_DEVICE
// program attached to the container's cgroup on every open and mknod of a device node, with
// { access_type = access << 16 | type, major, minor } as its context; 1 allows, 0 refuses.
const DEV_TYPE = { b: 1, c: 2 } as const;
const DEV_ACCESS = { m: 1, r: 2, w: 4 } as const;
const EBPF = {
  ldxw: 0x61, // dst = *(u32 *)(src + off)
  and32: 0x54, // dst &= imm
  rsh32: 0x74, // dst >>= imm
  mov64: 0xb7, // dst = imm
  jne: 0x55, // if dst != imm: skip off
  jset: 0x45, // if dst & imm: skip off
  exit: 0x95,
} as const;

export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  /** null: any (`*`). */
  major: number | null;
  minor: number | null;
  access: string;
}

/** A devices.allow line (`c 1:3 rwm`, `b *:* m`); null for `a` alone (every device, all access). */
export function parseDeviceRule(rule: string): DeviceRule | null {
  if (rule === 'a') return null;
  const match = /^([acb]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/.exec(rule);
  if (!match) throw new Error(`invalid device cgroup rule "${rule}": "TYPE MAJOR:MINOR ACCESS" is needed, as "c 1:3 rwm"`);
  const number = (n: string) => (n === '*' ? null : Number(n));
  return { type: match[1] as DeviceRule['type'], major: number(match[2]), minor: number(match[3]), access: match[4] };
}

/**
 * The device rules (`c 1:3 rwm`, `b *:* m`, as devices.allow takes them) as an eBPF program for
 * the native helper to attach to a cgroup v2 (struct bpf_insn[], little-endian): a node is
 * allowed when one rule covers its type, numbers and every access asked for; else refused.
 * Null for `a` (everything allowed: no program).
 */
export function deviceProgram(rules: readonly string[]): Buffer | null {
  const insns: [number, number, number, number, number][] = []; // code, dst, src, off, imm
  const add = (code: number, dst: number, src: number, off: number, imm: number) => insns.push([code, dst, src, off, imm]);
  // r2 = type, r3 = access, r4 = major, r5 = minor
  add(EBPF.ldxw, 2, 1, 0, 0);
  add(EBPF.and32, 2, 0, 0, 0xffff);
  add(EBPF.ldxw, 3, 1, 0, 0);
  add(EBPF.rsh32, 3, 0, 0, 16);
  add(EBPF.ldxw, 4, 1, 4, 0);
  add(EBPF.ldxw, 5, 1, 8, 0);
  let matchesAll = false;
  for (const rule of rules.map(parseDeviceRule)) {
    if (!rule) return null;
    const { type, major, minor, access } = rule;
    const allowed = [...access].reduce((bits, a) => bits | DEV_ACCESS[a as keyof typeof DEV_ACCESS], 0);
    // Each test skips to the next rule's block when it fails: the block's length is known once built.
    const tests: [number, number, number][] = type === 'a' ? [] : [[EBPF.jne, 2, DEV_TYPE[type]]];
    if (allowed !== 7) tests.push([EBPF.jset, 3, ~allowed & 7]);
    if (major !== null) tests.push([EBPF.jne, 4, major]);
    if (minor !== null) tests.push([EBPF.jne, 5, minor]);
    tests.forEach(([code, reg, imm], i) => add(code, reg, 0, tests.length - i - 1 + 2, imm));
    add(EBPF.mov64, 0, 0, 0, 1);
    add(EBPF.exit, 0, 0, 0, 0);
    // A rule that matches every node (`a *:* rwm`) ends the program: the verifier refuses code
    // that cannot be reached.
    if (!tests.length) {
      matchesAll = true;
      break;
    }
  }
  if (!matchesAll) {
    add(EBPF.mov64, 0, 0, 0, 0);
    add(EBPF.exit, 0, 0, 0, 0);
  }
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, dst, src, off, imm], i) => {
    out.writeUInt8(code, i * 8);
    out.writeUInt8((src << 4) | dst, i * 8 + 1);
    out.writeInt16LE(off, i * 8 + 2);
    out.writeInt32LE(imm | 0, i * 8 + 4);
  });
  return out;
}
