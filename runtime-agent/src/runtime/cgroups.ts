// Cgroups: one interface over cgroup v1 (one hierarchy per controller, found in
// /proc/self/mountinfo) and cgroup v2 (one unified tree). The engine's cgroups live under a
// parent cgroup (`tug`) below the cgroup this process is in, so the engine never writes to a
// cgroup it did not create. Limits are converted the way Docker and runc convert them.

import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rmdir, stat } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { parseDeviceRule } from './devices';
import { MS, type Mount as SpecMount } from './spec';

export interface Limits {
  /** Bytes (--memory); -1 is unlimited. */
  memory?: number;
  /** Memory plus swap in bytes (--memory-swap); -1 is unlimited swap. */
  memorySwap?: number;
  /** CPUs (--cpus), e.g. 1.5; 0 removes the limit. */
  cpus?: number;
  /** Relative weight (--cpu-shares), Docker's 2..262144, 1024 by default. */
  cpuShares?: number;
  /** Processes (--pids-limit); <= 0 is unlimited. */
  pidsLimit?: number;
  /**
   * The devices its processes may open or mknod, as v1's devices.allow lines (`c 1:3 rwm`,
   * `b *:* m`, `a` for all); every other is denied. Enforced by v1's devices controller; on
   * cgroup v2 by an eBPF program (devices.ts) the native helper attaches to the cgroup.
   */
  devices?: string[];
}

export interface CgroupStats {
  memoryUsage: number;
  /** The limit, or the host's memory when there is none (as `docker stats` shows it). */
  memoryLimit: number;
  cpuUsageNanos: number;
  pids: number;
  /** Bytes read from and written to block devices (v2's io.stat; 0 on v1, where the engine joins no blkio hierarchy). */
  ioReadBytes: number;
  ioWriteBytes: number;
}

export interface Cgroup {
  /** cgroup.procs of each hierarchy: the native helper writes the container's pid there. */
  readonly procsFiles: string[];
  /**
   * cgroup v2: the directory a process can be cloned straight into (CLONE_INTO_CGROUP), which
   * spares it the move; null on v1, where a process is cloned into one hierarchy at most.
   */
  readonly cloneInto: string | null;
  update(limits: Limits): Promise<void>;
  oomKilled(): Promise<boolean>;
  /** Every process in it (and in cgroups below it), ascending. */
  pids(): Promise<number[]>;
  stats(): Promise<CgroupStats>;
  /** Signals every process, with the cgroup frozen meanwhile so no fork escapes. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Freezes every process (`docker pause`), or thaws them; resolves once the kernel says it is done. */
  freeze(frozen: boolean): Promise<void>;
  /** Kills what is left, waits until it is empty and removes it from every hierarchy. */
  destroy(): Promise<void>;
}

export interface CgroupManager {
  readonly version: 1 | 2;
  /** The engine's parent cgroup directory in each hierarchy. */
  readonly parentDirs: string[];
  create(name: string, limits: Limits): Promise<Cgroup>;
  /** A cgroup made earlier (by this engine or one before it), by name. */
  open(name: string): Cgroup;
  /** The names of the cgroups under the engine's parent. */
  names(): Promise<string[]>;
  /**
   * Whether cgroups can be renamed with their processes in them: cgroup v1 can, v2 cannot (its
   * kernfs has no rename). A standby monitor's cgroup becomes a container's by renaming.
   */
  readonly renames: boolean;
  /** `cgroup` under a new name, with `limits` applied; checks the limits before it renames. */
  rename(cgroup: Cgroup, name: string, limits: Limits): Promise<Cgroup>;
  /**
   * What a container sees at /sys/fs/cgroup, read-only, as runc mounts it: cgroup2 itself, or on
   * v1 a tmpfs holding each of the host's hierarchies. Mounted in its cgroup namespace, each
   * shows the container's own cgroup as its root.
   */
  readonly containerMounts: SpecMount[];
}

export interface CgroupOptions {
  /** Where cgroup2 is mounted on a pure v2 host; default /sys/fs/cgroup. */
  root?: string;
  /**
   * The engine's parent cgroup: an absolute cgroup path ("/tug") is taken from the root of each
   * hierarchy, a relative one is put under the cgroup this process is in. Default: `tug`.
   */
  parent?: string;
}

const CFS_PERIOD = 100_000;
const MIN_MEMORY = 6 * 1024 * 1024; // Docker's minimum --memory
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
/** The v1 controllers the engine puts its containers in (devices is for device rules later). */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'devices', 'freezer'];
/** The v2 controllers enabled for containers: limits and `docker stats`. */
const V2_CONTROLLERS = ['cpu', 'memory', 'pids'];

export async function detectCgroups(options: CgroupOptions = {}): Promise<CgroupManager> {
  const root = options.root ?? '/sys/fs/cgroup';
  const mounts = await readMountinfo();
  const own = await readOwnCgroups();
  if (await exists(join(root, 'cgroup.controllers'))) {
    // The cgroup2 mount may show only part of the tree (a container's view): its root field says which.
    const mount = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === resolve(root));
    const ownPath = own.find((c) => c.id === '0')?.path ?? '/';
    const parent = parentPath(ownPath, options.parent);
    const inside = relativeTo(mount?.root ?? '/', parent);
    if (inside === undefined) throw new Error(`cgroup ${parent} is outside the part of the cgroup2 tree mounted at ${root} (${mount?.root})`);
    return new V2Manager(join(root, inside), [{ source: 'cgroup', target: '/sys/fs/cgroup', type: 'cgroup2', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.RDONLY }]);
  }
  const hierarchies: V1Hierarchy[] = [];
  for (const line of own) {
    const controllers = line.controllers.filter((c) => V1_CONTROLLERS.includes(c));
    if (line.id === '0' || controllers.length === 0) continue;
    for (const mount of mounts) {
      if (mount.fsType !== 'cgroup' || !line.controllers.every((c) => mount.superOptions.includes(c))) continue;
      const parent = parentPath(line.path, options.parent);
      const inside = relativeTo(mount.root, parent);
      if (inside === undefined) continue; // This mount shows another part of the hierarchy.
      hierarchies.push({ controllers, parentDir: join(mount.mountPoint, inside) });
      break;
    }
  }
  if (hierarchies.length === 0) throw new Error('no cgroup v1 hierarchy is mounted (see /proc/self/mountinfo) and no cgroup2 at ' + root);
  const containerMounts: SpecMount[] = [{ source: 'tmpfs', target: '/sys/fs/cgroup', type: 'tmpfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME, data: 'mode=755' }];
  for (const mount of mounts) {
    if (mount.fsType !== 'cgroup' || posix.dirname(mount.mountPoint) !== '/sys/fs/cgroup') continue;
    // The subsystems (or name=…) of the hierarchy: the options a new mount of it takes.
    const subsystems = mount.superOptions.filter((o) => o !== 'rw' && o !== 'ro').join(',');
    containerMounts.push({ source: 'cgroup', target: mount.mountPoint, type: 'cgroup', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.RDONLY, data: subsystems });
  }
  return new V1Manager(hierarchies, containerMounts);
}

// ---------------------------------------------------------------------------------------------
// Limits: validation and the conversions Docker and runc make.

interface Converted {
  memory?: number; // -1 unlimited
  memorySwap?: number; // memory + swap; -1 unlimited
  quota?: number; // CFS quota in µs per CFS_PERIOD; -1 unlimited
  shares?: number;
  pids?: number | 'max';
  devices?: string[];
}

function convert(limits: Limits, creating: boolean): Converted {
  const out: Converted = {};
  const integer = (field: string, value: number) => {
    if (!Number.isSafeInteger(value)) throw new Error(`invalid ${field}: ${value} (an integer is needed)`);
  };
  if (limits.memory !== undefined && limits.memory !== 0) {
    integer('memory limit', limits.memory);
    if (limits.memory !== -1 && limits.memory < MIN_MEMORY) throw new Error(`invalid memory limit ${limits.memory}: the minimum is 6MB (${MIN_MEMORY} bytes)`);
    out.memory = limits.memory;
  }
  if (limits.memorySwap !== undefined && limits.memorySwap !== 0) {
    integer('memory+swap limit', limits.memorySwap);
    if (limits.memorySwap < -1) throw new Error(`invalid memory+swap limit ${limits.memorySwap}: -1 (unlimited) or a number of bytes is needed`);
    if (limits.memorySwap !== -1) {
      if (out.memory === undefined && creating) throw new Error(`a memory+swap limit (${limits.memorySwap}) needs a memory limit too`);
      if (out.memory !== undefined && (out.memory === -1 || limits.memorySwap < out.memory)) {
        throw new Error(`the memory+swap limit (${limits.memorySwap}) must be at least the memory limit (${out.memory})`);
      }
    }
    out.memorySwap = limits.memorySwap;
  } else if (creating && out.memory !== undefined && out.memory > 0) {
    // Docker's default when only --memory is given: as much swap as memory.
    out.memorySwap = out.memory * 2;
  }
  if (limits.cpus !== undefined) {
    const cpus = limits.cpus;
    const available = availableParallelism();
    if (!Number.isFinite(cpus) || cpus < 0 || (cpus > 0 && cpus < 0.01) || cpus > available) {
      throw new Error(`invalid cpus ${cpus}: the range of CPUs is from 0.01 to ${available.toFixed(2)}, as there are only ${available} CPUs available`);
    }
    out.quota = cpus === 0 ? -1 : Math.round(cpus * CFS_PERIOD);
  }
  if (limits.cpuShares !== undefined && limits.cpuShares !== 0) {
    integer('cpu shares', limits.cpuShares);
    if (limits.cpuShares < 0) throw new Error(`invalid cpu shares ${limits.cpuShares}: ${MIN_SHARES} to ${MAX_SHARES} is needed`);
    // The kernel clamps v1 shares to this range; clamping here makes v2 agree.
    out.shares = Math.min(MAX_SHARES, Math.max(MIN_SHARES, limits.cpuShares));
  }
  if (limits.pidsLimit !== undefined) {
    integer('pids limit', limits.pidsLimit);
    out.pids = limits.pidsLimit > 0 ? limits.pidsLimit : 'max';
  }
  if (limits.devices !== undefined) {
    limits.devices.forEach(parseDeviceRule);
    out.devices = limits.devices;
  }
  return out;
}

/** runc's conversion of --cpu-shares (2..262144) to cgroup v2's cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - MIN_SHARES) * 9999) / (MAX_SHARES - MIN_SHARES));
}

// ---------------------------------------------------------------------------------------------
// cgroup v1

interface V1Hierarchy {
  controllers: string[];
  parentDir: string;
}

class V1Manager implements CgroupManager {
  readonly renames = true;
  readonly version = 1;
  readonly parentDirs: string[];
  constructor(
    private readonly hierarchies: V1Hierarchy[],
    readonly containerMounts: SpecMount[],
  ) {
    this.parentDirs = hierarchies.map((h) => h.parentDir);
  }

  private dirs(name: string): Map<string, string> {
    const dirs = new Map<string, string>();
    for (const h of this.hierarchies) for (const c of h.controllers) dirs.set(c, join(h.parentDir, name));
    return dirs;
  }

  open(name: string): Cgroup {
    checkName(name);
    return new V1Cgroup(name, this.dirs(name));
  }

  names(): Promise<string[]> {
    return childCgroups(this.hierarchies[0].parentDir);
  }

  async rename(cgroup: Cgroup, name: string, limits: Limits): Promise<Cgroup> {
    checkName(name);
    const converted = convert(limits, true);
    const dirs = this.dirs(name);
    requireControllers(converted, (c) => dirs.has(c), 'is not mounted');
    if (!(cgroup instanceof V1Cgroup)) throw new Error('not a cgroup of this manager');
    await cgroup.renameTo(name);
    const renamed = new V1Cgroup(name, dirs);
    await renamed.apply(converted);
    return renamed;
  }

  async create(name: string, limits: Limits): Promise<Cgroup> {
    checkName(name);
    const converted = convert(limits, true);
    const dirs = this.dirs(name);
    requireControllers(converted, (c) => dirs.has(c), 'is not mounted');
    const created: string[] = [];
    try {
      for (const h of this.hierarchies) {
        await mkdir(h.parentDir, { recursive: true });
        const dir = join(h.parentDir, name);
        if (await makeCgroupDir(dir)) created.push(dir);
        // A new v1 cpuset has no CPUs or memory nodes and refuses processes: copy them, as runc does.
        if (h.controllers.includes('cpuset')) await inheritCpuset(dir);
      }
      const cgroup = new V1Cgroup(name, dirs);
      await cgroup.apply(converted);
      return cgroup;
    } catch (err) {
      for (const dir of created) await rmdir(dir).catch(() => {});
      throw err;
    }
  }
}

async function inheritCpuset(dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((await readText(join(dir, file))).trim() !== '') continue;
    const parent = posix.dirname(dir);
    if ((await readText(join(parent, file))).trim() === '') await inheritCpuset(parent);
    await writeValue(join(dir, file), (await readText(join(parent, file))).trim());
  }
}

class V1Cgroup implements Cgroup {
  readonly procsFiles: string[];
  readonly cloneInto = null;
  private readonly dirs: string[];
  constructor(
    private readonly name: string,
    private readonly byController: Map<string, string>,
  ) {
    this.dirs = [...new Set(byController.values())];
    this.procsFiles = this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  private file(controller: string, file: string): string | undefined {
    const dir = this.byController.get(controller);
    return dir && join(dir, file);
  }

  /** Renames its directory in every hierarchy; an empty one already there (left by a crash) goes first. */
  async renameTo(name: string): Promise<void> {
    checkName(name);
    for (const dir of this.dirs) {
      const target = join(dirname(dir), name);
      try {
        await rename(dir, target).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST' && err.code !== 'ENOTEMPTY' && err.code !== 'EBUSY') throw err;
          await rmdir(target);
          await rename(dir, target);
        });
      } catch (err) {
        throw new CgroupRenameError(`cannot rename cgroup ${dir} to ${name}: ${(err as Error).message}`);
      }
    }
  }

  async update(limits: Limits): Promise<void> {
    const converted = convert(limits, false);
    requireControllers(converted, (c) => this.byController.has(c), 'is not mounted');
    await this.apply(converted);
  }

  async apply(l: Converted): Promise<void> {
    const memory = this.file('memory', 'memory.limit_in_bytes');
    const memsw = this.file('memory', 'memory.memsw.limit_in_bytes');
    // memory.memsw.* exists only with swap accounting; without it Docker drops the swap limit too.
    if (memory && memsw && l.memorySwap !== undefined && (await exists(memsw))) {
      // The kernel wants memory <= memory+swap at every step: raise memsw first, lower it last.
      const current = Number(await readText(memsw));
      const swapFirst = l.memorySwap === -1 || l.memorySwap >= current;
      if (swapFirst) await writeValue(memsw, l.memorySwap);
      if (l.memory !== undefined) await writeValue(memory, l.memory);
      if (!swapFirst) await writeValue(memsw, l.memorySwap);
    } else if (memory && l.memory !== undefined) {
      await writeValue(memory, l.memory);
    }
    if (l.quota !== undefined) {
      await writeValue(this.file('cpu', 'cpu.cfs_period_us')!, CFS_PERIOD);
      await writeValue(this.file('cpu', 'cpu.cfs_quota_us')!, l.quota);
    }
    if (l.shares !== undefined) await writeValue(this.file('cpu', 'cpu.shares')!, l.shares);
    if (l.pids !== undefined) await writeValue(this.file('pids', 'pids.max')!, l.pids);
    const deny = this.file('devices', 'devices.deny');
    if (l.devices !== undefined && deny) {
      // Everything denied, then what is allowed: a cgroup starts with its parent's rules.
      await writeValue(deny, 'a');
      for (const rule of l.devices) await writeValue(this.file('devices', 'devices.allow')!, rule);
    }
  }

  async oomKilled(): Promise<boolean> {
    const file = this.file('memory', 'memory.oom_control');
    if (!file) return false;
    const fields = keyValues(await readText(file, ''));
    return (fields.get('oom_kill') ?? 0) > 0 || fields.get('under_oom') === 1;
  }

  async pids(): Promise<number[]> {
    const dir = ['pids', 'freezer', 'memory', 'cpu'].map((c) => this.byController.get(c)).find((d) => d) ?? this.dirs[0];
    return listPids(dir);
  }

  async stats(): Promise<CgroupStats> {
    const number = async (controller: string, file: string) => {
      const path = this.file(controller, file);
      return path ? Number((await readText(path, '0')).trim()) || 0 : 0;
    };
    const pidsCurrent = this.file('pids', 'pids.current');
    return {
      memoryUsage: await number('memory', 'memory.usage_in_bytes'),
      memoryLimit: hostCapped(await number('memory', 'memory.limit_in_bytes')),
      cpuUsageNanos: await number('cpuacct', 'cpuacct.usage'),
      pids: pidsCurrent ? await number('pids', 'pids.current') : (await this.pids()).length,
      ioReadBytes: 0,
      ioWriteBytes: 0,
    };
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const state = this.file('freezer', 'freezer.state');
    if (!state || !(await exists(state))) return signalAll(await this.pids(), signal);
    try {
      await this.freeze(true);
      signalAll(await this.pids(), signal);
    } finally {
      await this.freeze(false).catch(() => {});
    }
  }

  async freeze(frozen: boolean): Promise<void> {
    const state = this.file('freezer', 'freezer.state');
    if (!state) throw new Error('the freezer controller is not mounted: containers cannot be paused here');
    const want = frozen ? 'FROZEN' : 'THAWED';
    await writeValue(state, want);
    await waitFor(async () => (await readText(state, want)).trim() === want, 2000);
  }

  async destroy(): Promise<void> {
    await killUntilEmpty(this, this.name);
    for (const dir of this.dirs) await removeCgroupTree(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// cgroup v2

class V2Manager implements CgroupManager {
  readonly renames = false;
  readonly version = 2;
  readonly parentDirs: string[];
  open(name: string): Cgroup {
    checkName(name);
    return new V2Cgroup(name, join(this.parentDir, name));
  }

  names(): Promise<string[]> {
    return childCgroups(this.parentDir);
  }

  rename(): Promise<Cgroup> {
    return Promise.reject(new Error('cgroup v2 cannot rename a cgroup'));
  }

  constructor(
    private readonly parentDir: string,
    readonly containerMounts: SpecMount[],
  ) {
    this.parentDirs = [parentDir];
  }

  async create(name: string, limits: Limits): Promise<Cgroup> {
    checkName(name);
    const converted = convert(limits, true);
    await mkdir(this.parentDir, { recursive: true });
    // A child gets a controller only when its parent enables it in cgroup.subtree_control; the
    // parent gets it from above, which is the host's (or systemd's delegation) to decide.
    const controllersFile = join(this.parentDir, 'cgroup.controllers');
    const available = (await readText(controllersFile)).split(/\s+/).filter(Boolean);
    requireControllers(converted, (c) => available.includes(c), `is not available in ${controllersFile} ("${available.join(' ')}")`);
    const subtreeFile = join(this.parentDir, 'cgroup.subtree_control');
    const enabled = (await readText(subtreeFile)).split(/\s+/).filter(Boolean);
    const enable = V2_CONTROLLERS.filter((c) => available.includes(c) && !enabled.includes(c));
    if (enable.length > 0) await writeValue(subtreeFile, enable.map((c) => `+${c}`).join(' '));
    const dir = join(this.parentDir, name);
    const created = await makeCgroupDir(dir);
    const cgroup = new V2Cgroup(name, dir);
    try {
      await cgroup.apply(converted);
    } catch (err) {
      if (created) await rmdir(dir).catch(() => {});
      throw err;
    }
    return cgroup;
  }
}

class V2Cgroup implements Cgroup {
  readonly procsFiles: string[];
  readonly cloneInto: string;
  constructor(
    private readonly name: string,
    private readonly dir: string,
  ) {
    this.procsFiles = [join(dir, 'cgroup.procs')];
    this.cloneInto = dir;
  }

  async update(limits: Limits): Promise<void> {
    await this.apply(convert(limits, false));
  }

  async apply(l: Converted): Promise<void> {
    const swapFile = join(this.dir, 'memory.swap.max');
    if (l.memorySwap !== undefined && (await exists(swapFile))) {
      // v2 limits swap alone, where Docker's --memory-swap is memory plus swap (runc's conversion).
      let swap: number | 'max' = 'max';
      if (l.memorySwap !== -1) {
        const memory = l.memory ?? Number((await readText(join(this.dir, 'memory.max'))).trim());
        if (!Number.isFinite(memory) || memory < 0) throw new Error(`a memory+swap limit (${l.memorySwap}) needs a memory limit too`);
        swap = l.memorySwap - memory;
      }
      await writeValue(swapFile, swap);
    }
    if (l.memory !== undefined) await writeValue(join(this.dir, 'memory.max'), l.memory === -1 ? 'max' : l.memory);
    if (l.quota !== undefined) await writeValue(join(this.dir, 'cpu.max'), `${l.quota === -1 ? 'max' : l.quota} ${CFS_PERIOD}`);
    if (l.shares !== undefined) await writeValue(join(this.dir, 'cpu.weight'), sharesToWeight(l.shares));
    if (l.pids !== undefined) await writeValue(join(this.dir, 'pids.max'), l.pids);
  }

  async oomKilled(): Promise<boolean> {
    return (keyValues(await readText(join(this.dir, 'memory.events'), '')).get('oom_kill') ?? 0) > 0;
  }

  pids(): Promise<number[]> {
    return listPids(this.dir);
  }

  async stats(): Promise<CgroupStats> {
    const number = async (file: string) => Number((await readText(join(this.dir, file), '0')).trim()) || 0;
    const max = (await readText(join(this.dir, 'memory.max'), 'max')).trim();
    return {
      memoryUsage: await number('memory.current'),
      memoryLimit: hostCapped(max === 'max' ? Infinity : Number(max)),
      cpuUsageNanos: (keyValues(await readText(join(this.dir, 'cpu.stat'), '')).get('usage_usec') ?? 0) * 1000,
      pids: (await exists(join(this.dir, 'pids.current'))) ? await number('pids.current') : (await this.pids()).length,
      ...(await ioStat(join(this.dir, 'io.stat'))),
    };
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const killFile = join(this.dir, 'cgroup.kill');
    if (signal === 'SIGKILL' && (await exists(killFile))) return writeValue(killFile, 1); // Linux 5.14+
    if (!(await exists(join(this.dir, 'cgroup.freeze')))) return signalAll(await this.pids(), signal);
    try {
      await this.freeze(true);
      signalAll(await this.pids(), signal);
    } finally {
      await this.freeze(false).catch(() => {});
    }
  }

  async freeze(frozen: boolean): Promise<void> {
    const file = join(this.dir, 'cgroup.freeze');
    if (!(await exists(file))) throw new Error('cgroup.freeze is missing (Linux 5.2 or later is needed): containers cannot be paused here');
    await writeValue(file, frozen ? 1 : 0);
    await waitFor(async () => keyValues(await readText(join(this.dir, 'cgroup.events'), `frozen ${frozen ? 1 : 0}`)).get('frozen') === (frozen ? 1 : 0), 2000);
  }

  async destroy(): Promise<void> {
    await killUntilEmpty(this, this.name);
    await removeCgroupTree(this.dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(name)) {
    throw new Error(`invalid cgroup name ${JSON.stringify(name)}: letters, digits, '_', '.' and '-' only, starting with a letter or digit`);
  }
}

/** Fails before anything is written when a limit needs a controller this host does not give us. */
function requireControllers(l: Converted, has: (controller: string) => boolean, why: string): void {
  const needs: [boolean, string, string][] = [
    [l.memory !== undefined || l.memorySwap !== undefined, 'memory', '--memory'],
    [l.quota !== undefined || l.shares !== undefined, 'cpu', '--cpus/--cpu-shares'],
    [l.pids !== undefined, 'pids', '--pids-limit'],
  ];
  for (const [needed, controller, flag] of needs) {
    if (needed && !has(controller)) throw new Error(`cannot apply ${flag}: the ${controller} cgroup controller ${why}`);
  }
}

/** A cgroup could not take its new name (its processes are where they were). */
export class CgroupRenameError extends Error {}

/** The cgroups directly below `dir` (none when it does not exist yet). */
async function childCgroups(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

/** mkdir for a container's cgroup; true when it made it. An empty one left by a crash is reused. */
async function makeCgroupDir(dir: string): Promise<boolean> {
  try {
    await mkdir(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create cgroup ${dir}: ${(err as Error).message}`);
  }
  const pids = await listPids(dir);
  if (pids.length > 0) throw new Error(`cgroup ${dir} already exists and has processes (${pids.join(', ')})`);
  return false;
}

async function killUntilEmpty(cgroup: Cgroup, name: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let pids = await cgroup.pids(); pids.length > 0; pids = await cgroup.pids()) {
    if (Date.now() > deadline) throw new Error(`cgroup ${name}: processes ${pids.join(', ')} are still there after SIGKILL`);
    await cgroup.kill('SIGKILL');
    await delay(10);
  }
}

/** Removes a cgroup and any cgroups the container made below it, deepest first. */
async function removeCgroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  // The kernel may still hold a just-killed process for a moment: EBUSY until it is released.
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 200) throw new Error(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
      await delay(10);
    }
  }
}

async function listPids(dir: string): Promise<number[]> {
  const found = new Set<number>();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // Removed meanwhile.
      throw err;
    }
    for (const line of (await readText(join(d, 'cgroup.procs'), '')).split('\n')) {
      // Never 0 (a task the kernel shows no pid for): kill(0) would signal the engine's own group.
      if (/^[1-9]\d*$/.test(line)) found.add(Number(line));
    }
    for (const entry of entries) if (entry.isDirectory()) await walk(join(d, entry.name));
  };
  await walk(dir);
  return [...found].sort((a, b) => a - b);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // Exited meanwhile.
    }
  }
}

function hostCapped(limit: number): number {
  return Math.min(limit, totalmem());
}

/** "key value" lines (memory.events, memory.oom_control, cpu.stat) as numbers. */
function keyValues(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) map.set(key, Number(value));
  }
  return map;
}

/** Reads a cgroup file; `missing` is returned when it (or its cgroup) does not exist, if given. */
async function readText(file: string, missing?: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (missing !== undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Writes one value in one write(2), as cgroup files want. No O_CREAT: a missing file means a
 * missing controller, which must be an error, not a new file.
 */
async function writeValue(file: string, value: string | number): Promise<void> {
  try {
    const handle = await open(file, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await handle.write(String(value));
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new Error(`cannot write "${value}" to ${file}: ${(err as Error).message}`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) await delay(5);
}

// ---------------------------------------------------------------------------------------------
// Where the hierarchies are and where this process is in them.

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

async function readMountinfo(): Promise<Mount[]> {
  const mounts: Mount[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    // id parent major:minor root mount-point options [optional fields…] - fstype source super-options
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 4) continue;
    mounts.push({
      root: unescapeMount(fields[3]),
      mountPoint: unescapeMount(fields[4]),
      fsType: fields[dash + 1],
      superOptions: fields[dash + 3].split(','),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** /proc/self/cgroup: "id:controllers:path" per hierarchy; id 0 is cgroup v2. */
async function readOwnCgroups(): Promise<{ id: string; controllers: string[]; path: string }[]> {
  const result = [];
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match) result.push({ id: match[1], controllers: match[2].split(',').filter(Boolean), path: match[3] });
  }
  return result;
}

function parentPath(ownPath: string, parent = 'tug'): string {
  return parent.startsWith('/') ? posix.normalize(parent) : posix.join(ownPath, parent);
}

/** `path` relative to a mount's root, or undefined when the mount does not show it. */
function relativeTo(mountRoot: string, path: string): string | undefined {
  if (mountRoot === '/') return path;
  if (path === mountRoot) return '/';
  return path.startsWith(mountRoot + '/') ? path.slice(mountRoot.length) : undefined;
}

/** v2's io.stat, summed over devices: `8:0 rbytes=… wbytes=… rios=…` per line. */
async function ioStat(file: string): Promise<{ ioReadBytes: number; ioWriteBytes: number }> {
  let [ioReadBytes, ioWriteBytes] = [0, 0];
  for (const line of (await readText(file, '')).split('\n')) {
    ioReadBytes += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
    ioWriteBytes += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { ioReadBytes, ioWriteBytes };
}
