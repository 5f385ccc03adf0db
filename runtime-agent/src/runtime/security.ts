// What a container's process may do, from its HostConfig as Docker reads it: capabilities,
// no-new-privileges, the seccomp filter (Docker's default, unconfined, or a profile in Docker's
// JSON format) and rlimits (--ulimit). A container's exec gets the same.

import { badRequest } from '../api/errors';
import type { HostConfig } from './containers';
import { compileSeccomp, seccompProfileOf, seccompSupported, type SeccompProfile } from './seccomp';
import { capabilityNames, containerCapabilities, RLIMIT_NAMES, type Rlimit } from './spec';

export interface Security {
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  /** undefined: no filter (unconfined, --privileged, or a machine without seccomp support). */
  seccomp?: SeccompProfile;
  rlimits: Rlimit[];
}

/**
 * `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt` and `--ulimit`, checked; a 400
 * with what is wrong otherwise.
 */
export function securityOf(host: HostConfig): Security {
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  const privileged = host.Privileged === true;
  let noNewPrivileges = false;
  for (const option of list(host.SecurityOpt)) {
    // Docker accepts key=value and the older key:value.
    const [key, value] = option.split(/[=:](.*)/s, 2);
    if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw badRequest(`invalid --security-opt 2: "${option}"`);
      noNewPrivileges = value !== 'false';
    } else if (key !== 'seccomp' || value === undefined) {
      throw badRequest(`invalid --security-opt 1: "${option}"`);
    }
  }
  const seccomp = seccompProfileOf(list(host.SecurityOpt), privileged) ?? undefined;
  const rlimits: Rlimit[] = [];
  for (const u of (host.Ulimits as { Name?: unknown; Soft?: unknown; Hard?: unknown }[] | null | undefined) ?? []) {
    const name = String(u.Name);
    if (!RLIMIT_NAMES.includes(name)) throw badRequest(`invalid ulimit type: ${name}`);
    const soft = limitValue(u.Soft);
    const hard = limitValue(u.Hard);
    if (soft === undefined || hard === undefined) throw badRequest(`invalid ulimit value for ${name}: ${u.Soft}:${u.Hard}`);
    if (soft > hard) throw badRequest(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
    rlimits.push({ name, soft, hard });
  }
  const security = { capAdd: list(host.CapAdd), capDrop: list(host.CapDrop), privileged, noNewPrivileges, seccomp: seccompSupported() ? seccomp : undefined, rlimits };
  try {
    containerCapabilities(security.capAdd, security.capDrop, privileged);
  } catch (error) {
    throw badRequest((error as Error).message);
  }
  return security;
}

/** -1 is unlimited, as Docker's API has it. */
function limitValue(value: unknown): bigint | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) return undefined;
  return value === -1 ? (1n << 64n) - 1n : BigInt(value);
}

/** Compiled filters by profile and capabilities: every start and exec (health checks too) needs one. */
const compiled = new WeakMap<SeccompProfile, Map<bigint, Buffer>>();

/** The filter for a process with these capabilities (a profile's rules can depend on them). */
export function seccompFilter(security: Security, capabilities: bigint): Buffer | undefined {
  const profile = security.seccomp;
  if (!profile) return undefined;
  let byCaps = compiled.get(profile);
  if (!byCaps) compiled.set(profile, (byCaps = new Map()));
  let filter = byCaps.get(capabilities);
  if (!filter) byCaps.set(capabilities, (filter = compileSeccomp(profile, { capabilities: new Set(capabilityNames(capabilities)) })));
  return filter;
}
