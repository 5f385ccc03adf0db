// A container's mounts from `HostConfig.Mounts` (the API's `--mount`) and `HostConfig.Binds`
// (`-v`): bind mounts of host paths, volumes (named, or anonymous: a name chosen for them) and
// tmpfs. Checked at create, as Docker checks them, so a bad one never reaches a start.

import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { badRequest } from '../api/errors';
import { MS, type Mount } from './spec';

/** One entry of `HostConfig.Mounts`, as the API sends it. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** One entry of `Mounts` in `docker inspect`. */
export interface MountPoint {
  Type: string;
  /** A volume's name. */
  Name?: string;
  Driver?: string;
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

function invalid(type: string, why: string): never {
  throw badRequest(`invalid mount config for type "${type}": ${why}`);
}

/** Checks the mounts of a create request; answers what `inspect` shows of them. */
export function checkMounts(mounts: unknown): MountPoint[] {
  if (mounts === undefined || mounts === null) return [];
  if (!Array.isArray(mounts)) throw badRequest('HostConfig.Mounts must be an array');
  const targets = new Set<string>();
  return (mounts as ApiMount[]).map((m) => {
    const type = m.Type ?? '';
    if (type !== 'bind' && type !== 'tmpfs' && type !== 'volume') throw badRequest(`mount type "${type}" is not supported: bind, volume and tmpfs are`);
    const target = m.Target ?? '';
    if (!target) invalid(type, 'field Target must not be empty');
    if (!posix.isAbsolute(target)) invalid(type, `invalid mount path: '${target}' mount path must be absolute`);
    const destination = posix.normalize(target);
    if (targets.has(destination)) throw badRequest(`Duplicate mount point: ${destination}`);
    targets.add(destination);
    if (type === 'bind') {
      const source = m.Source ?? '';
      if (!source) invalid(type, 'field Source must not be empty');
      if (!posix.isAbsolute(source)) invalid(type, `invalid mount path: '${source}' mount path must be absolute`);
      try {
        statSync(source);
      } catch {
        invalid(type, `bind source path does not exist: ${source}`);
      }
      return { Type: 'bind', Source: source, Destination: destination, Mode: '', RW: m.ReadOnly !== true, Propagation: 'rprivate' };
    }
    if (type === 'volume') {
      // The volume's folder is filled in once the volume exists (see Containers.create).
      return { Type: 'volume', Name: m.Source ?? '', Source: '', Destination: destination, Driver: 'local', Mode: 'z', RW: m.ReadOnly !== true, Propagation: '' };
    }
    if (m.Source) invalid(type, 'field Source must not be specified');
    return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: m.ReadOnly !== true, Propagation: '' };
  });
}

/**
 * `-v` values as mounts: `/host/path:/target[:ro]` binds a path, `name:/target[:ro]` mounts a
 * named volume, `/target` alone an anonymous one.
 */
export function parseBinds(binds: unknown): ApiMount[] {
  if (binds === undefined || binds === null) return [];
  if (!Array.isArray(binds)) throw badRequest('HostConfig.Binds must be an array');
  return (binds as string[]).map((bind) => {
    const parts = typeof bind === 'string' ? bind.split(':') : [];
    const [first = '', second, mode = ''] = parts;
    const modes = mode.split(',').filter(Boolean);
    if (!first || parts.length > 3 || (second !== undefined && !second) || modes.some((m) => !/^(ro|rw|z|Z|r?shared|r?slave|r?private|nocopy)$/.test(m))) {
      throw badRequest(`invalid volume specification: '${String(bind)}'`);
    }
    if (second === undefined) return { Type: 'volume', Source: '', Target: first };
    return { Type: first.startsWith('/') ? 'bind' : 'volume', Source: first, Target: second, ReadOnly: modes.includes('ro') };
  });
}

/** The spec's mounts for checked mounts (tmpfs options from the request). */
export function specMounts(points: readonly MountPoint[], requested: readonly ApiMount[]): Mount[] {
  return points.map((point) => {
    const readOnly = point.RW ? 0 : MS.RDONLY;
    if (point.Type === 'bind' || point.Type === 'volume') return { source: point.Source, target: point.Destination, type: 'bind', flags: MS.BIND | MS.REC | readOnly };
    const options = requested.find((m) => m.Type === 'tmpfs' && m.Target && posix.normalize(m.Target) === point.Destination)?.TmpfsOptions;
    const data = [`mode=${(options?.Mode ?? 0o1777).toString(8)}`, ...(options?.SizeBytes ? [`size=${options.SizeBytes}`] : [])];
    return { source: 'tmpfs', target: point.Destination, type: 'tmpfs', flags: MS.NOSUID | MS.NODEV | readOnly, data: data.join(',') };
  });
}

/** --tmpfs options that set (true) or clear a mount flag. */
const TMPFS_FLAGS: Record<string, [number, boolean]> = {
  ro: [MS.RDONLY, true], rw: [MS.RDONLY, false], noexec: [MS.NOEXEC, true], exec: [MS.NOEXEC, false],
  nosuid: [MS.NOSUID, true], suid: [MS.NOSUID, false], nodev: [MS.NODEV, true], dev: [MS.NODEV, false],
};

/**
 * `--tmpfs TARGET[:OPTIONS]` (HostConfig.Tmpfs) as mounts: Docker's defaults noexec, nosuid and
 * nodev unless the options say exec, suid or dev; size, mode, uid and gid passed to tmpfs.
 */
export function tmpfsMounts(tmpfs: unknown): Mount[] {
  if (tmpfs === undefined || tmpfs === null) return [];
  if (typeof tmpfs !== 'object' || Array.isArray(tmpfs)) throw badRequest('HostConfig.Tmpfs must be an object');
  return Object.entries(tmpfs as Record<string, string>).map(([target, options]) => {
    if (!posix.isAbsolute(target)) invalid('tmpfs', `invalid mount path: '${target}' mount path must be absolute`);
    let flags = MS.NOEXEC | MS.NOSUID | MS.NODEV;
    const data: string[] = [];
    for (const option of String(options ?? '').split(',').filter(Boolean)) {
      const toggle = TMPFS_FLAGS[option];
      if (toggle) flags = toggle[1] ? flags | toggle[0] : flags & ~toggle[0];
      else if (/^(size|mode|uid|gid|nr_inodes)=[\w%]+$/.test(option)) data.push(option);
      else invalid('tmpfs', `unknown option "${option}" for ${target}`);
    }
    return { source: 'tmpfs', target: posix.normalize(target), type: 'tmpfs', flags, data: data.join(',') };
  });
}
