// What people do with containers after run, through the real docker CLI: pause and unpause (the
// cgroup freezer), rename, stats (one shot and streamed), container prune, system df, diff,
// --tmpfs, --shm-size, capabilities and security options, HEALTHCHECK, and restart policies
// (on-failure with its count, always, a stop that keeps it stopped, and an engine restart that
// starts `always` containers again).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { busyboxEngine } from '../helpers/busybox-engine';
import { startEngine } from '../helpers/engine';
import { until } from '../helpers/wait';

const t = busyboxEngine({ pull: true });

async function docker(...args: string[]): Promise<string> {
  const r = await t.engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const state = async (name: string) => JSON.parse(await docker('inspect', '--format', '{{json .State}}', name)) as { Status: string; Running: boolean; Paused: boolean; Restarting: boolean; ExitCode: number };

test('pause freezes every process (no output while paused, exec refused), unpause lets them run on', async () => {
  await docker('run', '-d', '--name', 'ticker', t.busybox, 'sh', '-c', 'while true; do date +%s%N; sleep 0.05; done');
  await until('output', async () => (await docker('logs', 'ticker')).length > 0);
  await docker('pause', 'ticker');
  assert.deepEqual([(await state('ticker')).Status, (await state('ticker')).Paused], ['paused', true]);
  assert.match(await docker('ps', '--filter', 'name=ticker', '--format', '{{.Status}}'), /^Up .* \(Paused\)\n$/);
  const frozen = (await docker('logs', 'ticker')).length;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await docker('logs', 'ticker')).length, frozen, 'it wrote while paused');
  const exec = await t.engine.docker(['exec', 'ticker', 'true']);
  assert.notEqual(exec.code, 0);
  assert.match(exec.stderr, /is paused, unpause the container before exec/);
  await docker('unpause', 'ticker');
  await until('output again', async () => (await docker('logs', 'ticker')).length > frozen);
  assert.equal((await state('ticker')).Status, 'running');
  // A paused container still stops.
  await docker('pause', 'ticker');
  await docker('stop', '-t', '1', 'ticker');
  assert.equal((await state('ticker')).Running, false);
  await docker('rm', 'ticker');
});

test('rename: the new name finds it, the old one no longer does; a taken name is refused', async () => {
  await docker('create', '--name', 'before', t.busybox, 'true');
  await docker('create', '--name', 'other', t.busybox, 'true');
  await docker('rename', 'before', 'after');
  assert.equal((await docker('inspect', '--format', '{{.Name}}', 'after')).trim(), '/after');
  assert.notEqual((await t.engine.docker(['inspect', 'before'])).code, 0);
  const taken = await t.engine.docker(['rename', 'after', 'other']);
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /The container name "\/other" is already in use/);
  await docker('rm', 'after', 'other');
});

test('stats: CPU, memory and PIDs of a running container from its cgroup, once and streamed', async () => {
  await docker('run', '-d', '--name', 'busy', '--memory', '64m', t.busybox, 'sh', '-c', 'while true; do :; done & sleep 300; true');
  const line = (await docker('stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'busy')).trim();
  const [name, cpu, used, , limit, pids] = line.split(/\s+/);
  assert.equal(name, 'busy');
  assert.ok(parseFloat(cpu) > 20, `CPU ${cpu}: the loop keeps a core busy`);
  assert.match(used, /^[\d.]+(KiB|MiB|B)$/);
  assert.equal(limit, '64MiB');
  assert.equal(pids, '3');
  // The stream sends a sample a second until the client goes.
  const stream = spawn('docker', ['stats', '--format', '{{.Name}}', 'busy'], { env: { ...process.env, DOCKER_HOST: t.engine.host } });
  let out = '';
  stream.stdout.on('data', (d) => (out += d));
  await until('two samples', async () => (out.match(/busy/g) ?? []).length >= 2);
  stream.kill('SIGKILL'); // the docker CLI's stats ignores SIGTERM
  await docker('rm', '-f', 'busy');
});

test('container prune removes what does not run, and keeps what runs', async () => {
  await docker('run', '--name', 'done', t.busybox, 'true');
  await docker('run', '-d', '--name', 'running', t.busybox, 'sleep', '300');
  const pruned = await docker('container', 'prune', '-f');
  assert.match(pruned, /Deleted Containers:\n[0-9a-f]{64}\n/);
  assert.deepEqual((await docker('ps', '-a', '--format', '{{.Names}}')).trim().split('\n'), ['running']);
  await docker('rm', '-f', 'running');
});

test('--cap-drop, --cap-add (ALL too), --privileged, --read-only and --security-opt no-new-privileges, as the process sees them; exec gets the container\'s', async () => {
  const caps = async (...flags: string[]) => (await docker('run', '--rm', ...flags, t.busybox, 'sh', '-c', 'grep CapEff /proc/self/status')).trim();
  assert.equal(await caps(), 'CapEff:\t00000000a80425fb');
  assert.equal(await caps('--cap-drop', 'ALL', '--cap-add', 'CHOWN'), 'CapEff:\t0000000000000001');
  assert.equal(await caps('--cap-drop', 'NET_RAW', '--cap-add', 'cap_sys_admin'), 'CapEff:\t00000000a82405fb');
  // Every capability the engine has itself (this machine's bounding set).
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1];
  assert.equal(await caps('--privileged'), `CapEff:\t${bounding}`);
  const unknown = await t.engine.docker(['run', '--rm', '--cap-add', 'NOT_A_CAP', t.busybox, 'true']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown capability: "CAP_NOT_A_CAP"/);
  // SYS_ADMIN lets it mount; without, it may not.
  assert.equal(await docker('run', '--rm', '--cap-add', 'SYS_ADMIN', t.busybox, 'sh', '-c', 'mkdir /m && mount -t tmpfs x /m && echo mounted'), 'mounted\n');
  const ro = await t.engine.docker(['run', '--rm', '--read-only', t.busybox, 'sh', '-c', 'touch /new']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  assert.equal(await docker('run', '--rm', '--security-opt', 'no-new-privileges', t.busybox, 'sh', '-c', 'grep NoNewPrivs /proc/self/status'), 'NoNewPrivs:\t1\n');
  await docker('run', '-d', '--name', 'capped', '--cap-drop', 'ALL', t.busybox, 'sleep', '300');
  assert.equal((await docker('exec', 'capped', 'sh', '-c', 'grep CapEff /proc/self/status')).trim(), 'CapEff:\t0000000000000000');
  assert.equal((await docker('exec', '--privileged', 'capped', 'sh', '-c', 'grep CapEff /proc/self/status')).trim(), `CapEff:\t${bounding}`);
  await docker('rm', '-f', 'capped');
});

test('--tmpfs with its options, --shm-size, and docker diff of what a container changed', async () => {
  const mounts = await docker('run', '--rm', '--tmpfs', '/scratch:size=1m,mode=700', '--shm-size', '8m', t.busybox, 'sh', '-c', "grep -E ' /(scratch|dev/shm) ' /proc/mounts");
  assert.match(mounts, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700 /m);
  assert.match(mounts, /^shm \/dev\/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k /m);

  const dir = await mkdtemp(join(tmpdir(), 'tug-diff-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), `FROM ${t.busybox}\nRUN mkdir /data && echo a > /data/keep && echo b > /data/gone\n`);
    await docker('build', '-q', '-t', 'for-diff', dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await docker('run', '--name', 'changer', 'for-diff', 'sh', '-c', 'rm /data/gone; echo c >> /data/keep; mkdir /fresh; touch /fresh/file');
  assert.deepEqual((await docker('diff', 'changer')).trim().split('\n'), ['C /data', 'D /data/gone', 'C /data/keep', 'A /fresh', 'A /fresh/file']);
  await docker('rm', 'changer');
});

test('HEALTHCHECK: unhealthy after its retries fail, healthy once it passes; ps and inspect show it', async () => {
  await docker('run', '-d', '--name', 'checked', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '200ms', '--health-retries', '2', t.busybox, 'sh', '-c', 'mkdir -p /tmp; sleep 300');
  const health = async () => JSON.parse(await docker('inspect', '--format', '{{json .State.Health}}', 'checked')) as { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] };
  await until('unhealthy', async () => (await health()).Status === 'unhealthy');
  assert.ok((await health()).FailingStreak >= 2);
  assert.match(await docker('ps', '--filter', 'name=checked', '--format', '{{.Status}}'), /^Up .* \(unhealthy\)\n$/);
  await docker('exec', 'checked', 'sh', '-c', 'touch /tmp/ok');
  await until('healthy', async () => (await health()).Status === 'healthy');
  const last = (await health()).Log.at(-1)!;
  assert.deepEqual([last.ExitCode, last.Output], [0, 'fine\n']);
  assert.match(await docker('ps', '--filter', 'name=checked', '--format', '{{.Status}}'), /^Up .* \(healthy\)\n$/);
  await docker('rm', '-f', 'checked');
});

test('system df: images, containers with their writable layer, volumes with their size and users', async () => {
  await docker('volume', 'create', 'sized');
  await docker('run', '--name', 'writer', '-v', 'sized:/v', t.busybox, 'sh', '-c', 'head -c 3000 /dev/zero > /v/data; head -c 2000 /dev/zero > /written');
  const table = await docker('system', 'df');
  // The busybox image is the one in use (others may be there from other tests); nothing is counted twice.
  assert.match(table, /^Images\s+\d+\s+1\s+[\d.]+[kM]B\s+[\d.]+[kM]?B \(\d+%\)$/m);
  assert.match(table, /^Containers\s+1\s+0\s+2kB\s/m);
  assert.match(table, /^Local Volumes\s+1\s+1\s+3kB\s/m);
  await docker('rm', 'writer');
  await docker('volume', 'rm', 'sized');
});

test('restart policies: on-failure restarts a failing container its number of times; always restarts until stopped', async () => {
  await docker('run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', t.busybox, 'sh', '-c', 'exit 3');
  await until('two restarts, then stopped', async () => {
    const s = await state('flaky');
    return !s.Running && !s.Restarting && (await docker('inspect', '--format', '{{.RestartCount}}', 'flaky')).trim() === '2';
  });
  assert.equal((await state('flaky')).ExitCode, 3);
  await docker('run', '-d', '--name', 'fine', '--restart', 'on-failure', t.busybox, 'true');
  await until('exited', async () => (await state('fine')).Status === 'exited');
  assert.equal((await docker('inspect', '--format', '{{.RestartCount}}', 'fine')).trim(), '0');

  await docker('run', '-d', '--name', 'phoenix', '--restart', 'always', t.busybox, 'sh', '-c', 'sleep 0.2');
  await until('restarted', async () => Number((await docker('inspect', '--format', '{{.RestartCount}}', 'phoenix')).trim()) >= 2);
  await docker('stop', 'phoenix');
  const count = (await docker('inspect', '--format', '{{.RestartCount}}', 'phoenix')).trim();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await docker('inspect', '--format', '{{.RestartCount}}', 'phoenix')).trim(), count, 'a stopped container was restarted');
  assert.equal((await state('phoenix')).Running, false);
  await docker('rm', '-f', 'flaky', 'fine', 'phoenix');
  const refused = await t.engine.docker(['run', '--rm', '--restart', 'always', t.busybox, 'true']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /can't create 'AutoRemove' container with restart policy|conflicting options/);
});

test('an engine that starts again starts its restart=always containers, and leaves unless-stopped ones that were stopped', async () => {
  const engine = await startEngine();
  let again: Awaited<ReturnType<typeof startEngine>> | undefined;
  try {
    const on = async (e: typeof engine, ...args: string[]) => {
      const r = await e.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await on(engine, 'pull', t.busybox);
    await on(engine, 'run', '-d', '--name', 'keeper', '--restart', 'always', t.busybox, 'sleep', '300');
    await on(engine, 'run', '-d', '--name', 'resting', '--restart', 'unless-stopped', t.busybox, 'sleep', '300');
    await on(engine, 'stop', '-t', '0', 'keeper', 'resting');
    await engine.stop({ keep: true });
    again = await startEngine({ dir: dirname(engine.dataRoot) });
    const e = again;
    await until('keeper running again', async () => (await on(e, 'inspect', '--format', '{{.State.Running}}', 'keeper')).trim() === 'true');
    assert.equal((await on(e, 'inspect', '--format', '{{.State.Running}}', 'resting')).trim(), 'false');
  } finally {
    await again?.stop();
    await engine.stop().catch(() => {});
  }
});

test('--stop-signal and --stop-timeout are what docker stop uses; docker restart runs the command again', async () => {
  await docker('run', '-d', '--name', 'polite', '--stop-signal', 'SIGUSR1', t.busybox, 'sh', '-c', 'trap "echo got USR1; exit 7" USR1; while true; do sleep 0.1; done');
  await until('the trap set', async () => (await docker('top', 'polite')).includes('sleep'));
  await docker('stop', 'polite');
  assert.equal((await state('polite')).ExitCode, 7);
  assert.equal((await docker('logs', 'polite')).trim(), 'got USR1');
  // PID 1 ignores SIGTERM it has no handler for: killed once its own timeout (1 s, not 10) has passed.
  await docker('run', '-d', '--name', 'stubborn', '--stop-timeout', '1', t.busybox, 'sleep', '300');
  assert.equal((await docker('inspect', '--format', '{{.Config.StopTimeout}}', 'stubborn')).trim(), '1');
  const began = Date.now();
  await docker('stop', 'stubborn');
  assert.ok(Date.now() - began < 8_000, 'stopped after the container\'s timeout, not the default 10 s');
  assert.equal((await state('stubborn')).ExitCode, 137);

  await docker('run', '-d', '--name', 'again', t.busybox, 'sh', '-c', 'echo started; sleep 300');
  await until('started once', async () => (await docker('logs', 'again')).includes('started'));
  const first = JSON.parse(await docker('inspect', '--format', '{{json .State}}', 'again')) as { Pid: number; StartedAt: string };
  await docker('restart', '-t', '0', 'again');
  const second = JSON.parse(await docker('inspect', '--format', '{{json .State}}', 'again')) as { Pid: number; StartedAt: string; Running: boolean };
  assert.equal(second.Running, true);
  assert.notEqual(second.Pid, first.Pid);
  assert.ok(Date.parse(second.StartedAt) > Date.parse(first.StartedAt));
  await until('started twice', async () => (await docker('logs', 'again')) === 'started\nstarted\n');
  // A stopped container is started by restart too.
  await docker('restart', 'polite');
  assert.equal((await state('polite')).Running, true);
  await docker('rm', '-f', 'polite', 'stubborn', 'again');
});

test('on cgroup v2 (this host\'s cgroup2 mount, beside its v1 controllers): run, exec, top, stats, pause and unpause, stop', async (context) => {
  const unified = '/sys/fs/cgroup/unified';
  if (!existsSync(join(unified, 'cgroup.controllers'))) return context.skip('no cgroup2 mount beside v1 controllers (a pure v2 host runs every other test on v2)');
  const engine = await startEngine({ args: ['--cgroup-mount', unified] });
  const on = async (...args: string[]) => {
    const r = await engine.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  try {
    assert.equal(await on('info', '--format', '{{.CgroupVersion}}'), '2');
    await on('pull', t.busybox);
    await on('run', '-d', '--name', 'v2', t.busybox, 'sh', '-c', 'while true; do date +%s%N; sleep 0.05; done');
    // A v2 cgroup of its own (the root of its cgroup namespace inside).
    const [id, pid] = (await on('inspect', '--format', '{{.Id}} {{.State.Pid}}', 'v2')).split(' ');
    assert.match(await readFile(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/.*tug/${id}$`, 'm'));
    assert.match(await on('exec', 'v2', 'cat', '/proc/self/cgroup'), /^0::\/$/m);
    assert.match(await on('top', 'v2'), /sleep 0\.05|date/);
    assert.match(await on('stats', '--no-stream', '--format', '{{.PIDs}}', 'v2'), /^[1-9]\d*$/);
    await on('pause', 'v2');
    assert.equal(await on('inspect', '--format', '{{.State.Status}}', 'v2'), 'paused');
    const frozen = (await on('logs', 'v2')).length;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await on('logs', 'v2')).length, frozen, 'it wrote while paused');
    await on('unpause', 'v2');
    await until('output again', async () => (await on('logs', 'v2')).length > frozen);
    await on('stop', '-t', '1', 'v2');
    assert.equal(await on('inspect', '--format', '{{.State.Status}}', 'v2'), 'exited');
  } finally {
    await engine.stop();
  }
});
