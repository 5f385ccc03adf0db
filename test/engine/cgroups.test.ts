// Cgroups (runtime-agent/src/runtime/cgroups.ts). cgroup v1 for real: this machine mounts the
// v1 controllers, so the tests create cgroups under their own parent cgroup, put real processes
// in them and watch the kernel enforce the limits (an OOM kill, a fork bomb held at pids.max).
// cgroup v2: this machine's unified mount has no controllers, so v2 is checked against a
// directory shaped like a cgroup2 tree (the files the kernel would create, laid out by the test)
// and, where a host has a real cgroup2 mount with its controllers delegated to us, for real.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CgroupRenameError, detectCgroups, type Cgroup, type CgroupManager } from '../../runtime-agent/src/runtime/cgroups';
import { cpuTicks } from '../helpers/proc';

const MiB = 1024 * 1024;
const PARENT = `tug-test-cgroups-${process.pid}`;
const children = new Set<ChildProcess>();
const cgroups: Cgroup[] = [];
const managers: CgroupManager[] = [];
const tempDirs: string[] = [];

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cgroup of cgroups) await cgroup.destroy().catch((err) => console.error(err));
  for (const manager of managers) for (const dir of manager.parentDirs) await rmdir(dir).catch(() => {});
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

async function manager(options: Parameters<typeof detectCgroups>[0] = { parent: PARENT }): Promise<CgroupManager> {
  const m = await detectCgroups(options);
  managers.push(m);
  return m;
}

async function create(m: CgroupManager, name: string, limits: Parameters<CgroupManager['create']>[1]): Promise<Cgroup> {
  const cgroup = await m.create(name, limits);
  cgroups.push(cgroup);
  return cgroup;
}

/** The cgroup's directory in the hierarchy that has `file`. */
function dirWith(cgroup: Cgroup, file: string): string {
  const dir = cgroup.procsFiles.map(dirname).find((d) => existsSync(join(d, file)));
  assert.ok(dir, `no hierarchy of this cgroup has ${file}`);
  return dir;
}

const read = async (file: string) => (await readFile(file, 'utf8')).trim();

/** A shell that waits for a line on stdin before running `script`, so it can be put in a cgroup first. */
function gated(script: string): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  children.add(child);
  assert.ok(child.pid);
  return child as ChildProcess & { pid: number };
}

/** What the native helper does: the pid into every hierarchy's cgroup.procs; then it may run. */
async function enterAndGo(cgroup: Cgroup, child: ChildProcess & { pid: number }): Promise<void> {
  for (const file of cgroup.procsFiles) await writeFile(file, String(child.pid));
  child.stdin!.write('go\n');
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function until<T>(what: string, get: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Gone, or (orphaned, waiting for init to reap it) a zombie that runs nothing. */
async function ended(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** The cgroup path this process is in for each v1 controller, from /proc/self/cgroup. */
async function ownV1Paths(): Promise<Map<string, string>> {
  const paths = new Map<string, string>();
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).trim().split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (id !== '0') for (const c of controllers.split(',')) paths.set(c, path);
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------
// cgroup v1, for real

test('v1: the limits are written as Docker converts them, in every hierarchy', { timeout: 30_000 }, async () => {
  const m = await manager();
  assert.equal(m.version, 1);
  const cg = await create(m, 'limits', { memory: 64 * MiB, cpus: 1.5, cpuShares: 512, pidsLimit: 50 });

  const memory = dirWith(cg, 'memory.limit_in_bytes');
  assert.equal(await read(join(memory, 'memory.limit_in_bytes')), String(64 * MiB));
  // Docker's default when only --memory is given: as much swap again (memory+swap = 2 × memory).
  assert.equal(await read(join(memory, 'memory.memsw.limit_in_bytes')), String(128 * MiB));
  const cpu = dirWith(cg, 'cpu.cfs_quota_us');
  assert.equal(await read(join(cpu, 'cpu.cfs_quota_us')), '150000');
  assert.equal(await read(join(cpu, 'cpu.cfs_period_us')), '100000');
  assert.equal(await read(join(cpu, 'cpu.shares')), '512');
  assert.equal(await read(join(dirWith(cg, 'pids.max'), 'pids.max')), '50');
  // A new v1 cpuset is empty and takes no process: the CPUs and memory nodes come from the parent.
  const cpuset = dirWith(cg, 'cpuset.cpus');
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    assert.notEqual(await read(join(cpuset, file)), '');
    assert.equal(await read(join(cpuset, file)), await read(join(dirname(cpuset), file)));
  }

  await cg.update({ memory: 128 * MiB, memorySwap: -1, cpus: 0.5, cpuShares: 2048, pidsLimit: 0 });
  assert.equal(await read(join(memory, 'memory.limit_in_bytes')), String(128 * MiB));
  assert.equal(await read(join(memory, 'memory.memsw.limit_in_bytes')), '9223372036854771712'); // unlimited
  assert.equal(await read(join(cpu, 'cpu.cfs_quota_us')), '50000');
  assert.equal(await read(join(cpu, 'cpu.shares')), '2048');
  assert.equal(await read(join(dirWith(cg, 'pids.max'), 'pids.max')), 'max');

  await cg.update({ cpus: 0, memory: 32 * MiB, memorySwap: 48 * MiB });
  assert.equal(await read(join(cpu, 'cpu.cfs_quota_us')), '-1');
  assert.equal(await read(join(memory, 'memory.limit_in_bytes')), String(32 * MiB));
  assert.equal(await read(join(memory, 'memory.memsw.limit_in_bytes')), String(48 * MiB));

  // An update the kernel refuses (memory above memory+swap): the error names the file and the value.
  await assert.rejects(cg.update({ memory: 64 * MiB }), {
    message: `cannot write "${64 * MiB}" to ${join(memory, 'memory.limit_in_bytes')}: EINVAL: invalid argument, write`,
  });
  assert.equal(await read(join(memory, 'memory.limit_in_bytes')), String(32 * MiB));
});

test('v1: cgroups go under the one this process is in, in each hierarchy; pids, stats, kill and destroy', { timeout: 30_000 }, async () => {
  const m = await manager();
  const cg = await create(m, 'procs', { memory: 64 * MiB, pidsLimit: 20 });
  const child = gated('sleep 30 & sleep 30 & wait');
  await enterAndGo(cg, child);

  const comms = async () => Promise.all((await cg.pids()).map(async (pid) => [pid, await read(`/proc/${pid}/comm`)] as const));
  const found = await until('the shell and its two sleeps', comms, (p) => p.filter(([, comm]) => comm === 'sleep').length === 2);
  assert.deepEqual(found.map(([, comm]) => comm), ['sh', 'sleep', 'sleep']);
  assert.equal(found[0][0], child.pid);
  const pids = found.map(([pid]) => pid);

  // The kernel agrees: each process is in <own cgroup>/<parent>/procs in every hierarchy we use.
  const own = await ownV1Paths();
  for (const pid of pids) {
    for (const line of (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n')) {
      const [, controllers, path] = line.split(':');
      const controller = controllers.split(',').find((c) => ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'devices', 'freezer'].includes(c));
      if (controller) assert.equal(path, `${own.get(controller)!.replace(/\/$/, '')}/${PARENT}/procs`, line);
    }
  }

  const stats = await cg.stats();
  assert.equal(stats.pids, 3);
  assert.equal(stats.memoryLimit, 64 * MiB);
  assert.ok(stats.memoryUsage > 0, `memory usage ${stats.memoryUsage}`);
  assert.ok(stats.cpuUsageNanos > 0, `cpu usage ${stats.cpuUsageNanos}`);
  assert.equal(await cg.oomKilled(), false);

  await cg.kill('SIGTERM');
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGTERM' });
  await until('an empty cgroup', () => cg.pids(), (p) => p.length === 0);
  for (const pid of pids) await until(`process ${pid} to end`, () => ended(pid), (ok) => ok);

  await cg.destroy();
  for (const file of cg.procsFiles) assert.equal(existsSync(dirname(file)), false, `${dirname(file)} is still there`);
  await cg.destroy(); // twice is harmless
});

test('v1: destroy kills what is still running and removes the cgroup everywhere', { timeout: 30_000 }, async () => {
  const m = await manager();
  const cg = await create(m, 'running', {});
  const child = gated('exec sleep 30');
  await enterAndGo(cg, child);
  await until('the sleep', async () => (await read(`/proc/${child.pid}/comm`)) === 'sleep', (ok) => ok);
  assert.deepEqual(await cg.pids(), [child.pid]);
  await cg.destroy();
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
  for (const file of cg.procsFiles) assert.equal(existsSync(dirname(file)), false, `${dirname(file)} is still there`);
});

test('v1: a memory hog in a 32 MiB cgroup is OOM-killed and oomKilled() says so', { timeout: 60_000 }, async () => {
  const m = await manager();
  const cg = await create(m, 'oom', { memory: 32 * MiB });
  // tail keeps everything since the last newline, and /dev/zero has none.
  const child = gated('exec tail /dev/zero');
  assert.equal(await cg.oomKilled(), false);
  await enterAndGo(cg, child);
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
  assert.equal(await cg.oomKilled(), true);
  const oomControl = await read(join(dirWith(cg, 'memory.oom_control'), 'memory.oom_control'));
  assert.match(oomControl, /^oom_kill [1-9]\d*$/m);
  await cg.destroy();
});

test('v1: a fork bomb is held at pids.max and destroy leaves nothing', { timeout: 60_000 }, async () => {
  const LIMIT = 16;
  const m = await manager();
  const cg = await create(m, 'forkbomb', { pidsLimit: LIMIT });
  const pidsDir = dirWith(cg, 'pids.max');
  const child = gated('f() { f & f & wait; }; f');
  await enterAndGo(cg, child);

  // Forks beyond the limit fail (pids.events counts them) and the count never goes past it.
  let peak = 0;
  const seen = new Set<number>();
  const deadline = Date.now() + 1500;
  while (Date.now() < deadline) {
    const pids = await cg.pids();
    for (const pid of pids) seen.add(pid);
    peak = Math.max(peak, pids.length, Number(await read(join(pidsDir, 'pids.current'))));
    await new Promise((r) => setTimeout(r, 20));
  }
  const refused = Number(/^max (\d+)$/m.exec(await read(join(pidsDir, 'pids.events')))?.[1]);
  assert.ok(refused > 0, `pids.events counts no refused fork (${refused})`);
  assert.ok(peak <= LIMIT && peak > 1, `peak ${peak}, limit ${LIMIT}`);
  assert.ok((await cg.stats()).pids <= LIMIT);

  await cg.destroy();
  assert.deepEqual(await cg.pids(), []);
  for (const file of cg.procsFiles) assert.equal(existsSync(dirname(file)), false, `${dirname(file)} is still there`);
  for (const pid of seen) assert.ok(await ended(pid), `process ${pid} survived`);
});

test('v1: one kill() ends a process that keeps forking and everything it forked', { timeout: 30_000 }, async () => {
  const m = await manager();
  const cg = await create(m, 'spawner', { pidsLimit: 2000 });
  // Paced, so that the limit (dash exits when a fork fails) is not reached before the kill.
  const child = gated('while :; do sleep 100 & sleep 0.005; done');
  await enterAndGo(cg, child);
  await until('a few sleeps', () => cg.pids(), (p) => p.length >= 50);
  await cg.kill('SIGKILL');
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
  // Nothing forked meanwhile survives (kill() freezes the cgroup while it signals, as runc does;
  // the race it closes is too narrow to show here reliably): the cgroup empties without another
  // kill, however long a loaded machine takes to reap fifty processes.
  await until('the cgroup to empty', () => cg.pids(), (p) => p.length === 0);
  await cg.destroy();
});

test('v1: a cgroup is renamed with its processes in it, past an empty one a crash left, and limited there', async () => {
  const m = await manager();
  const staged = await create(m, 'staged', {});
  const child = gated('sleep 100');
  await enterAndGo(staged, child);
  const leftover = await create(m, 'renamed', {}); // empty: in the way, and removed
  const renamed = await m.rename(staged, 'renamed', { pidsLimit: 7 });
  cgroups.push(renamed);
  assert.ok((await renamed.pids()).includes(child.pid), 'the process moved with its cgroup');
  assert.equal((await read(join(dirWith(renamed, 'pids.max'), 'pids.max'))).trim(), '7');
  assert.ok(renamed.procsFiles.every((file) => file.includes('/renamed/')));
  for (const file of staged.procsFiles) assert.equal(existsSync(dirname(file)), false);
  // One with processes in it is not removed: the rename fails, and says so.
  const other = await create(m, 'other', {});
  await assert.rejects(m.rename(other, 'renamed', {}), (error: Error) => error instanceof CgroupRenameError && /cannot rename cgroup .*other to renamed/.test(error.message));
  assert.ok(leftover);
  await renamed.kill('SIGKILL');
  await exited(child);
});

test('v1: bad names and limits are refused before anything is created', async () => {
  const m = await manager();
  await assert.rejects(m.create('../escape', {}), {
    message: `invalid cgroup name "../escape": letters, digits, '_', '.' and '-' only, starting with a letter or digit`,
  });
  await assert.rejects(m.create('bad', { cpus: -1 }), { message: /^invalid cpus -1: the range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/ });
  await assert.rejects(m.create('bad', { cpus: 0.001 }), { message: /^invalid cpus 0\.001: the range of CPUs is from 0\.01/ });
  await assert.rejects(m.create('bad', { memory: 1000 }), { message: 'invalid memory limit 1000: the minimum is 6MB (6291456 bytes)' });
  await assert.rejects(m.create('bad', { memory: 64 * MiB, memorySwap: 32 * MiB }), {
    message: `the memory+swap limit (${32 * MiB}) must be at least the memory limit (${64 * MiB})`,
  });
  await assert.rejects(m.create('bad', { memorySwap: 64 * MiB }), { message: `a memory+swap limit (${64 * MiB}) needs a memory limit too` });
  await assert.rejects(m.create('bad', { pidsLimit: 1.5 }), { message: 'invalid pids limit: 1.5 (an integer is needed)' });
  await assert.rejects(m.create('bad', { cpuShares: -5 }), { message: 'invalid cpu shares -5: 2 to 262144 is needed' });
  for (const dir of m.parentDirs) assert.equal(existsSync(join(dir, 'bad')), false, `${dir}/bad was created`);
});

// ---------------------------------------------------------------------------------------------
// cgroup v2

const V2_CHILD_FILES: Record<string, string> = {
  'cgroup.procs': '',
  'memory.max': 'max',
  'memory.swap.max': 'max',
  'cpu.max': 'max 100000',
  'cpu.weight': '100',
  'pids.max': 'max',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
  'memory.current': '1234',
  'cpu.stat': 'usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n',
  'pids.current': '3',
};

/**
 * A directory shaped like a cgroup2 mount. Plain directories get no interface files on mkdir the
 * way cgroupfs does, so the test lays out the container's cgroup as the kernel would create it
 * (the manager reuses an existing cgroup that has no processes, as after a crash).
 */
async function fakeCgroup2(parentControllers: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tug-cgroup2-'));
  tempDirs.push(root);
  await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  await writeFile(join(root, 'cgroup.subtree_control'), 'cpuset cpu io memory pids\n');
  await mkdir(join(root, 'engine', 'c1'), { recursive: true });
  await writeFile(join(root, 'engine', 'cgroup.controllers'), `${parentControllers}\n`);
  await writeFile(join(root, 'engine', 'cgroup.subtree_control'), '\n');
  for (const [file, content] of Object.entries(V2_CHILD_FILES)) await writeFile(join(root, 'engine', 'c1', file), content);
  return root;
}

test('v2 (a cgroup2-shaped directory; this machine has no v2 controllers): controllers enabled, limits converted, files read', async () => {
  const root = await fakeCgroup2('cpuset cpu io memory pids');
  const m = await detectCgroups({ root, parent: '/engine' });
  assert.equal(m.version, 2);
  assert.deepEqual(m.parentDirs, [join(root, 'engine')]);
  const dir = join(root, 'engine', 'c1');
  const cg = await m.create('c1', { memory: 32 * MiB, cpus: 1.5, cpuShares: 1024, pidsLimit: 100 });
  assert.deepEqual(cg.procsFiles, [join(dir, 'cgroup.procs')]);
  assert.equal(await read(join(root, 'engine', 'cgroup.subtree_control')), '+cpu +memory +pids');
  assert.equal(await read(join(dir, 'memory.max')), String(32 * MiB));
  assert.equal(await read(join(dir, 'memory.swap.max')), String(32 * MiB)); // Docker's default: swap = memory
  assert.equal(await read(join(dir, 'cpu.max')), '150000 100000');
  assert.equal(await read(join(dir, 'cpu.weight')), '39'); // 1 + (1024 - 2) × 9999 / 262142
  assert.equal(await read(join(dir, 'pids.max')), '100');

  await cg.update({ memory: 64 * MiB, memorySwap: 96 * MiB, cpus: 0, cpuShares: 2, pidsLimit: -1 });
  assert.equal(await read(join(dir, 'memory.max')), String(64 * MiB));
  assert.equal(await read(join(dir, 'memory.swap.max')), String(32 * MiB)); // memory+swap − memory
  assert.equal(await read(join(dir, 'cpu.max')), 'max 100000');
  assert.equal(await read(join(dir, 'cpu.weight')), '1');
  assert.equal(await read(join(dir, 'pids.max')), 'max');
  await cg.update({ memorySwap: -1, cpuShares: 262_144 });
  assert.equal(await read(join(dir, 'memory.swap.max')), 'max');
  assert.equal(await read(join(dir, 'cpu.weight')), '10000');
  await cg.update({ memory: -1 });
  assert.equal(await read(join(dir, 'memory.max')), 'max');
  await cg.update({ memory: 64 * MiB });

  // pids() reads cgroup.procs of the cgroup and of any cgroup the container made below it.
  await writeFile(join(dir, 'cgroup.procs'), '20\n10\n');
  await mkdir(join(dir, 'inner'));
  await writeFile(join(dir, 'inner', 'cgroup.procs'), '30\n');
  assert.deepEqual(await cg.pids(), [10, 20, 30]);
  // Block I/O: io.stat's bytes summed over devices.
  await writeFile(join(dir, 'io.stat'), '8:0 rbytes=1000 wbytes=200 rios=3 wios=1 dbytes=0 dios=0\n8:16 rbytes=24 wbytes=6 rios=1 wios=1 dbytes=0 dios=0\n');
  assert.deepEqual(await cg.stats(), { memoryUsage: 1234, memoryLimit: 64 * MiB, cpuUsageNanos: 5_000_000, pids: 3, ioReadBytes: 1024, ioWriteBytes: 206 });

  assert.equal(await cg.oomKilled(), false);
  await writeFile(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n');
  assert.equal(await cg.oomKilled(), true);

  // A file the kernel would not have (the controller is off): the error names it and the value.
  await unlink(join(dir, 'cpu.max'));
  await assert.rejects(cg.update({ cpus: 1 }), {
    message: `cannot write "100000 100000" to ${join(dir, 'cpu.max')}: ENOENT: no such file or directory, open '${join(dir, 'cpu.max')}'`,
  });
  // A cgroup that still has processes is never taken over.
  await assert.rejects(m.create('c1', {}), { message: `cgroup ${dir} already exists and has processes (10, 20, 30)` });
});

test('v2 (a cgroup2-shaped directory): a limit whose controller is not delegated is refused, nothing created', async () => {
  const root = await fakeCgroup2('cpu');
  const m = await detectCgroups({ root, parent: '/engine' });
  const parent = join(root, 'engine');
  await assert.rejects(m.create('c2', { memory: 32 * MiB }), {
    message: `cannot apply --memory: the memory cgroup controller is not available in ${parent}/cgroup.controllers ("cpu")`,
  });
  assert.equal(existsSync(join(parent, 'c2')), false);
  assert.equal(await read(join(parent, 'cgroup.subtree_control')), '');
  // Without limits that need it, the cgroup is made with what there is.
  const cg = await m.create('c3', {});
  assert.equal(await read(join(parent, 'cgroup.subtree_control')), '+cpu');
  assert.deepEqual(cg.procsFiles, [join(parent, 'c3', 'cgroup.procs')]);
});

/** A cgroup2 mount where the cgroup this process is in delegates memory, cpu and pids, if any. */
/** This machine's cgroup2 mount, and the controllers delegated to this process' cgroup in it. */
async function cgroup2Mount(): Promise<{ root: string; ownDir: string; delegated: string[] } | { skip: string }> {
  const own = /^0::(.*)$/m.exec(await readFile('/proc/self/cgroup', 'utf8'))?.[1];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || fields[dash + 1] !== 'cgroup2' || own === undefined) continue;
    const mountPoint = fields[4];
    const ownDir = join(mountPoint, fields[3] === '/' ? own : own.slice(fields[3].length));
    const delegated = (await readFile(join(ownDir, 'cgroup.subtree_control'), 'utf8').catch(() => '')).split(/\s+/).filter(Boolean);
    return { root: mountPoint, ownDir, delegated };
  }
  return { skip: 'no cgroup2 mount on this machine; v2 was checked against a cgroup2-shaped directory only' };
}

async function realCgroup2(): Promise<{ root: string } | { skip: string }> {
  const found = await cgroup2Mount();
  if ('skip' in found || ['memory', 'cpu', 'pids'].every((c) => found.delegated.includes(c))) return found;
  return { skip: `the cgroup2 mount at ${found.root} does not delegate memory, cpu and pids to ${found.ownDir} (cgroup.subtree_control: "${found.delegated.join(' ')}"); v2 was checked against a cgroup2-shaped directory only` };
}


test('v2 for real: a cgroup without controllers still freezes and thaws (pause and unpause on cgroup v2), and is killed whole', { timeout: 30_000 }, async (t) => {
  const found = await cgroup2Mount();
  if ('skip' in found) return t.skip(found.skip);
  const m = await manager({ root: found.root, parent: PARENT });
  assert.equal(m.version, 2);
  const cg = await create(m, 'frozen', {});
  if (!existsSync(join(dirname(cg.procsFiles[0]), 'cgroup.freeze'))) return t.skip('this kernel has no cgroup.freeze (Linux 5.2 or later)');
  const child = gated('while :; do :; done');
  await enterAndGo(cg, child);
  const pause = () => new Promise((r) => setTimeout(r, 300));
  await cg.freeze(true);
  const frozenAt = cpuTicks(child.pid);
  await pause();
  assert.equal(cpuTicks(child.pid), frozenAt, 'a frozen process ran');
  await cg.freeze(false);
  await pause();
  assert.ok(cpuTicks(child.pid) > frozenAt, 'a thawed process does not run');
  await cg.destroy();
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
});

test('v2 for real, where the machine has cgroup2 controllers', { timeout: 30_000 }, async (t) => {
  const found = await realCgroup2();
  if ('skip' in found) return t.skip(found.skip);
  const m = await manager({ root: found.root, parent: PARENT });
  assert.equal(m.version, 2);
  const cg = await create(m, 'real', { memory: 32 * MiB, cpus: 1.5, cpuShares: 1024, pidsLimit: 100 });
  const dir = dirname(cg.procsFiles[0]);
  assert.deepEqual((await read(join(m.parentDirs[0], 'cgroup.subtree_control'))).split(' ').filter((c) => ['cpu', 'memory', 'pids'].includes(c)).sort(), ['cpu', 'memory', 'pids']);
  assert.equal(await read(join(dir, 'memory.max')), String(32 * MiB));
  if (existsSync(join(dir, 'memory.swap.max'))) assert.equal(await read(join(dir, 'memory.swap.max')), String(32 * MiB));
  assert.equal(await read(join(dir, 'cpu.max')), '150000 100000');
  assert.equal(await read(join(dir, 'cpu.weight')), '39');
  assert.equal(await read(join(dir, 'pids.max')), '100');
  const child = gated('exec sleep 30');
  await enterAndGo(cg, child);
  assert.deepEqual(await cg.pids(), [child.pid]);
  await cg.destroy();
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
  assert.equal(existsSync(dir), false);
});
