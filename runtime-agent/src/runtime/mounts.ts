// A container's mounts from `HostConfig.Mounts` (the API's `--mount`): bind mounts of host paths
// and tmpfs. Checked at create, as Docker checks them, so a bad one never reaches a start.

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
    if (type !== 'bind' && type !== 'tmpfs') throw badRequest(`mount type "${type}" is not supported: bind and tmpfs are`);
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
    if (m.Source) invalid(type, 'field Source must not be specified');
    return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: m.ReadOnly !== true, Propagation: '' };
  });
}

/** The spec's mounts for checked mounts (tmpfs options from the request). */
export function specMounts(points: readonly MountPoint[], requested: readonly ApiMount[]): Mount[] {
  return points.map((point, i) => {
    const readOnly = point.RW ? 0 : MS.RDONLY;
    if (point.Type === 'bind') return { source: point.Source, target: point.Destination, type: 'bind', flags: MS.BIND | MS.REC | readOnly };
    const options = requested[i]?.TmpfsOptions;
    const data = [`mode=${(options?.Mode ?? 0o1777).toString(8)}`, ...(options?.SizeBytes ? [`size=${options.SizeBytes}`] : [])];
    return { source: 'tmpfs', target: point.Destination, type: 'tmpfs', flags: MS.NOSUID | MS.NODEV | readOnly, data: data.join(',') };
  });
}
