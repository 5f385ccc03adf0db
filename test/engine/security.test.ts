// What a container may not do, through the real docker CLI: the default seccomp filter (and
// unconfined, and a profile in Docker's JSON format), rlimits, devices, --init, and escape
// attempts that must fail. The probe (test/helpers/probe.c) makes each system call itself and
// prints what the kernel answered.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { busyboxEngine } from '../helpers/busybox-engine';
import { startEngine, type TestEngine } from '../helpers/engine';
import { probeDir } from '../helpers/probe';

const t = busyboxEngine({ pull: true });
let probe: string[];
before(async () => {
  probe = ['-v', `${await probeDir()}:/probe:ro`];
});

async function docker(...args: string[]): Promise<string> {
  const r = await t.engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Each probe action's answer in one container run with `flags`. */
async function probes(flags: string[], actions: string[]): Promise<Record<string, string>> {
  const script = actions.map((a) => `echo "${a}=$(/probe/probe ${a})"`).join('; ');
  const out = await docker('run', '--rm', ...probe, ...flags, t.busybox, 'sh', '-c', script);
  return Object.fromEntries(out.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

const seccompMode = async (...flags: string[]) => (await docker('run', '--rm', ...flags, t.busybox, 'grep', 'Seccomp:', '/proc/self/status')).trim();

test('the default seccomp filter refuses what Docker\'s refuses; unconfined and --privileged run without one', async () => {
  assert.equal(await seccompMode(), 'Seccomp:\t2');
  assert.equal(await seccompMode('--security-opt', 'seccomp=unconfined'), 'Seccomp:\t0');
  assert.equal(await seccompMode('--privileged'), 'Seccomp:\t0');
  const refused = ['unshare_user', 'clone_newuser', 'keyctl', 'add_key', 'bpf', 'perf_event_open', 'kexec_load', 'finit_module', 'vsock', 'personality 40000'];
  const allowed = ['personality 0', 'personality ffffffff'];
  const confined = await probes([], [...refused, ...allowed]);
  for (const a of refused) assert.equal(confined[a], 'EPERM', `${a} under the default filter`);
  for (const a of allowed) assert.equal(confined[a], 'ok', `${a} under the default filter`);
  // The same calls without the filter: the kernel would have let these through.
  const unconfined = await probes(['--security-opt', 'seccomp=unconfined'], ['unshare_user', 'clone_newuser', 'keyctl', 'add_key']);
  assert.deepEqual(unconfined, { unshare_user: 'ok', clone_newuser: 'ok', keyctl: 'ok', add_key: 'ok' });
  // A capability lets through what it stands for.
  assert.equal((await probes(['--cap-add', 'SYS_ADMIN'], ['unshare_user']))['unshare_user'], 'ok');
});

test('a seccomp profile in Docker\'s JSON format: its rules and errno; a bad one is refused at create', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tug-seccomp-'));
  try {
    const profile = join(dir, 'profile.json');
    await writeFile(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    }));
    const denied = await t.engine.docker(['run', '--rm', '--security-opt', `seccomp=${profile}`, t.busybox, 'mkdir', '/made']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Permission denied/);
    // Everything else runs: the profile allows by default (a new user namespace too).
    assert.equal(await docker('run', '--rm', '--security-opt', `seccomp=${profile}`, t.busybox, 'sh', '-c', 'touch /made && echo made'), 'made\n');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_SOMETIMES' }));
    const bad = await t.engine.docker(['create', '--security-opt', `seccomp=${profile}`, t.busybox, 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /seccomp profile: defaultAction: .*SCMP_ACT_SOMETIMES/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an exec gets the container\'s filter and rlimits; --ulimit sets soft and hard limits', async () => {
  const limits = (await docker('run', '--rm', '--ulimit', 'nofile=100:200', '--ulimit', 'nproc=50', t.busybox, 'sh', '-c', "grep -E '^Max (open files|processes)' /proc/self/limits")).trim().split('\n').map((l) => l.split(/\s{2,}/).slice(0, 3).join('|'));
  assert.deepEqual(limits, ['Max processes|50|50', 'Max open files|100|200']);
  await docker('run', '-d', '--name', 'limited', ...probe, '--ulimit', 'nofile=64:128', t.busybox, 'sleep', '300');
  try {
    assert.match(await docker('exec', 'limited', 'grep', '-E', '^(Max open files|Seccomp:)', '/proc/self/status', '/proc/self/limits'), /Seccomp:\t2[\s\S]*Max open files\s+64\s+128\s/);
    assert.equal((await docker('exec', 'limited', '/probe/probe', 'unshare_user')).trim(), 'EPERM');
  } finally {
    await docker('rm', '-f', 'limited');
  }
  const bad = await t.engine.docker(['run', '--rm', '--ulimit', 'nofile=200:100', t.busybox, 'true']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /soft limit must be less than or equal to hard limit/);
});

test('devices: a node made with mknod cannot be opened; --device lets the container use that one — on cgroup v1 by the devices controller, on v2 by an eBPF program', async () => {
  const checks = async (engine: TestEngine) => {
    const on = async (...args: string[]) => {
      const r = await engine.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    // mknod is allowed (CAP_MKNOD), opening is what the device rules decide.
    assert.equal(await on('run', '--rm', ...probe, t.busybox, 'sh', '-c', 'mknod /loop b 7 0 && /probe/probe read /loop'), 'EPERM');
    assert.equal(await on('run', '--rm', ...probe, t.busybox, '/probe/probe', 'read', '/dev/null'), '0');
    // An unattached loop device reads as empty once opening it is allowed.
    assert.equal(await on('run', '--rm', ...probe, '--device', '/dev/loop0:/dev/xloop:r', t.busybox, '/probe/probe', 'read', '/dev/xloop'), '0');
    assert.equal(await on('run', '--rm', ...probe, '--privileged', t.busybox, 'sh', '-c', 'mknod /loop b 7 0 && /probe/probe read /loop'), '0');
    // --device-cgroup-rule: loop devices readable (not writable), or every device. (The write
    // writes nothing: opening for writing is what the rules decide.)
    const loop = (...flags: string[]) => on('run', '--rm', ...probe, ...flags, t.busybox, 'sh', '-c', 'mknod /loop b 7 0 && /probe/probe read /loop && /probe/probe write /loop ""');
    assert.equal(await loop('--device-cgroup-rule', 'b 7:* r'), '0\nEPERM');
    assert.equal(await loop('--device-cgroup-rule', 'a *:* rwm'), '0\nok');
    const missing = await engine.docker(['run', '--rm', '--device', '/dev/not-there', t.busybox, 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/not-there": no such file or directory/);
  };
  await checks(t.engine);
  // A hybrid host (v1 controllers, cgroup2 beside them): an engine on its cgroup2 mount runs
  // containers on v2. (A pure v2 host's engine above was on v2 already.)
  const unified = '/sys/fs/cgroup/unified';
  if (!existsSync(join(unified, 'cgroup.controllers'))) return;
  const v2 = await startEngine({ args: ['--cgroup-mount', unified] });
  try {
    assert.equal((await v2.docker(['info', '--format', '{{.CgroupVersion}}'])).stdout.trim(), '2');
    assert.equal((await v2.docker(['pull', t.busybox])).code, 0);
    await checks(v2);
  } finally {
    await v2.stop();
  }
});

test('--init: PID 1 reaps orphans and passes signals on, so docker stop ends the command at once', async () => {
  // The orphaned `sleep 0.1` becomes PID 1's child; `sleep 300` as PID 1 never waits for it.
  const zombies = async (name: string) => (await docker('exec', name, 'sh', '-c', 'grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l')).trim();
  const orphan = 'sh -c "sleep 0.1 &"; exec sleep 300';
  await docker('run', '-d', '--name', 'bare', t.busybox, 'sh', '-c', orphan);
  await docker('run', '-d', '--name', 'inited', '--init', t.busybox, 'sh', '-c', orphan);
  try {
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await zombies('bare'), '1');
    assert.equal(await zombies('inited'), '0');
    assert.equal(await docker('exec', 'inited', 'sh', '-c', "tr '\\0' ' ' < /proc/1/cmdline"), '/sbin/docker-init -- sh -c sh -c "sleep 0.1 &"; exec sleep 300 ');
    // SIGTERM reaches sleep through the init (a bare PID 1 ignores it, so stop has to kill).
    await docker('stop', '-t', '20', 'inited');
    assert.equal((await docker('inspect', '--format', '{{.State.ExitCode}}', 'inited')).trim(), '143');
    await docker('stop', '-t', '1', 'bare');
    assert.equal((await docker('inspect', '--format', '{{.State.ExitCode}}', 'bare')).trim(), '137');
  } finally {
    await docker('rm', '-f', 'bare', 'inited');
  }
});

test('the engine\'s file descriptors never reach a container or an exec', async () => {
  const fds = (out: string) => out.trim().split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(fds(await docker('run', '--rm', ...probe, t.busybox, '/probe/probe', 'fds')), ['0', '1', '2']);
  await docker('run', '-d', '--name', 'fds', ...probe, t.busybox, 'sleep', '300');
  try {
    assert.deepEqual(fds(await docker('exec', 'fds', '/probe/probe', 'fds')), ['0', '1', '2']);
    assert.deepEqual(fds(await docker('exec', 'fds', 'sh', '-c', 'ls /proc/1/fd')), ['0', '1', '2']);
  } finally {
    await docker('rm', '-f', 'fds');
  }
});

test('escapes that must fail: mount, a module, a new user namespace, /proc/sysrq-trigger, /proc/kcore, ptrace of a host process', async () => {
  const tried = await probes([], ['mount /mnt', 'finit_module', 'unshare_user', 'write /proc/sysrq-trigger h', 'read /proc/kcore', 'read /proc/timer_list', 'write /proc/sys/vm/drop_caches 1']);
  assert.equal(tried['mount /mnt'], 'EPERM');
  assert.equal(tried['finit_module'], 'EPERM');
  assert.equal(tried['unshare_user'], 'EPERM');
  assert.match(tried['write /proc/sys/vm/drop_caches 1'], /^E(ROFS|PERM|ACCES)$/);
  // Masked with /dev/null: reads nothing. (Some kernels have no kcore or sysrq-trigger: then
  // the container has none either.)
  assert.equal(tried['read /proc/timer_list'], '0');
  assert.equal(tried['read /proc/kcore'], existsSync('/proc/kcore') ? '0' : 'ENOENT');
  assert.match(tried['write /proc/sysrq-trigger h'], existsSync('/proc/sysrq-trigger') ? /^E(ROFS|PERM|ACCES)$/ : /^ENOENT$/);
  // busybox's unshare too.
  const unshare = await t.engine.docker(['run', '--rm', t.busybox, 'busybox', 'unshare', '-U', 'true']);
  assert.notEqual(unshare.code, 0);
  assert.match(unshare.stderr, /Operation not permitted/);
  // A host process, seen through the host's pid namespace, cannot be traced.
  const host = spawn('sleep', ['300'], { stdio: 'ignore' });
  try {
    assert.equal((await docker('run', '--rm', ...probe, '--pid', 'host', t.busybox, '/probe/probe', 'ptrace', String(host.pid))).trim(), 'EPERM');
    assert.equal(host.exitCode, null);
  } finally {
    host.kill('SIGKILL');
  }
});

test('a symlink raced onto a mount target inside a shared volume never puts the mount outside the container', async () => {
  // One container swaps /shared/d between a directory and a symlink to / as fast as it can;
  // another is started again and again with a tmpfs mounted at that path of the same volume.
  await docker('volume', 'create', 'raced');
  await docker('run', '-d', '--name', 'swapper', '-v', 'raced:/shared', t.busybox, 'sh', '-c',
    'mkdir -p /shared/d; while true; do mv /shared/d /shared/x; ln -s / /shared/d; rm /shared/d; mv /shared/x /shared/d; done');
  // The host's mounts but the network namespaces' (each running container has one).
  const mounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => !l.includes(' - nsfs ')).join('\n');
  const hostMounts = await mounts();
  try {
    for (let i = 0; i < 15; i++) {
      const r = await t.engine.docker(['run', '--rm', '-v', 'raced:/m', '--tmpfs', '/m/d', t.busybox, 'sh', '-c', 'grep " tmpfs " /proc/self/mountinfo | cut -d" " -f5']);
      if (r.code !== 0) continue; // the target was a symlink at that moment: refused, as runc refuses it
      // Besides /dev's and the masks: the one asked for, in the volume (at /m/x if the directory
      // was renamed after the mount) — or none, when the engine made a missing /m/d and the
      // swapper then renamed its directory over it, which detaches what was mounted there.
      const points = r.stdout.trim().split('\n').filter((p) => p && !/^\/(dev|proc|sys)\//.test(p) && p !== '/dev');
      assert.ok(points.length <= 1, `at most one tmpfs of the volume's: ${points}`);
      for (const point of points) assert.match(point, /^\/m\/[dx]$/);
    }
  } finally {
    await docker('rm', '-f', 'swapper');
    await docker('volume', 'rm', 'raced');
  }
  assert.equal(await mounts(), hostMounts, 'the host\'s mounts changed');
});
