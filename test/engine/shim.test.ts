// The native helper for real: namespaces, mounts, capabilities, users, cgroups, the json-file log,
// stdin, overlay roots and exit statuses, each against a busybox root filesystem. Needs root.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rename, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readExit, SHIM_PATH, startShim, watchExit, type ExitStatus, type ShimProcess } from '../../runtime-agent/src/runtime/shim';
import { CAP, capabilityMask, defaultSpec, DOCKER_DEFAULT_CAPS, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS, MS, serializeSpec, writeSpec, type ContainerSpec } from '../../runtime-agent/src/runtime/spec';
import { deviceProgram } from '../../runtime-agent/src/runtime/devices';
import { makeBusyboxRootfs } from '../helpers/rootfs';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let base = '';
let rootfs = '';
/** Containers still running when a test ends are killed, so that a failure leaves nothing behind. */
const running = new Set<ShimProcess>();
/** Run by afterEach whatever happened: cgroups to remove, mounts to undo. */
const cleanups: (() => Promise<void>)[] = [];

async function buildShimIfStale(): Promise<void> {
  if (process.env.TUG_SHIM) return;
  const source = 'runtime-agent/native/shim.c';
  if (existsSync(SHIM_PATH) && (await stat(SHIM_PATH)).mtimeMs >= (await stat(source)).mtimeMs) return;
  // The build's exact command, to a temp name first so that a concurrent build never sees half a file.
  await mkdir('dist', { recursive: true });
  await run('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', `${SHIM_PATH}.${process.pid}`, source]);
  await run('mv', ['-f', `${SHIM_PATH}.${process.pid}`, SHIM_PATH]);
}

before(async () => {
  if (!isRoot) return;
  await buildShimIfStale();
  base = await mkdtemp(join(tmpdir(), 'tug-shim-test-'));
  rootfs = join(base, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  await writeFile(join(rootfs, 'etc/marker'), 'the container root\n');
});

afterEach(async () => {
  for (const shim of running) {
    try {
      process.kill(shim.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await shim.exited;
  }
  running.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // Every mount happened in the containers' own mount namespaces: none is left in the host's
  // table. (Only ours are checked: other test files may mount meanwhile.)
  if (base) {
    const left = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(base));
    assert.deepEqual(left, [], 'mounts left on the host');
  }
});

after(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

interface Container {
  dir: string;
  spec: ContainerSpec;
  shim: ShimProcess;
}

/** A spec from defaultSpec for the shared busybox root, with files in a fresh directory. */
async function makeSpec(args: string[], change?: (spec: ContainerSpec, dir: string) => void | Promise<void>): Promise<{ dir: string; spec: ContainerSpec }> {
  const dir = await mkdtemp(join(base, 'c-'));
  const spec = defaultSpec(rootfs);
  spec.args = args;
  spec.env = ['PATH=/bin', 'HOME=/root'];
  spec.log = join(dir, 'log');
  spec.pidFile = join(dir, 'pid');
  spec.exitFile = join(dir, 'exit');
  await change?.(spec, dir);
  return { dir, spec };
}

async function start(args: string[], change?: (spec: ContainerSpec, dir: string) => void | Promise<void>): Promise<Container> {
  const { dir, spec } = await makeSpec(args, change);
  const shim = await startShim(join(dir, 'spec'), spec);
  running.add(shim);
  void shim.exited.then(() => running.delete(shim));
  return { dir, spec, shim };
}

interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

async function logEntries(container: { spec: ContainerSpec }): Promise<LogEntry[]> {
  const text = await readFile(container.spec.log, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogEntry);
}

interface Ran {
  status: ExitStatus;
  stdout: string;
  stderr: string;
  container: Container;
}

/** Runs a container to its end: its status and what it wrote. */
async function exec(args: string[], change?: (spec: ContainerSpec, dir: string) => void | Promise<void>): Promise<Ran> {
  const container = await start(args, change);
  const status = await container.shim.exited;
  const entries = await logEntries(container);
  const text = (stream: string) => entries.filter((e) => e.stream === stream).map((e) => e.log).join('');
  return { status, stdout: text('stdout'), stderr: text('stderr'), container };
}

/** A root filesystem of the test's own, for tests that leave files in it. */
async function freshRoot(): Promise<string> {
  const dir = await mkdtemp(join(base, 'image-'));
  await makeBusyboxRootfs(dir);
  return dir;
}

/** A cgroup of our own under the pids hierarchy, removed after the test. */
async function pidsCgroup(): Promise<{ dir: string; path: string }> {
  const line = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => l.split(':')[1]?.split(',').includes('pids'));
  assert.ok(line, 'no pids cgroup hierarchy');
  const own = line.split(':')[2];
  const path = `${own === '/' ? '' : own}/tug-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const dir = `/sys/fs/cgroup/pids${path}`;
  await mkdir(dir);
  cleanups.push(() => removeCgroup(dir));
  return { dir, path };
}

/** rmdir for a cgroup (gone already is fine). */
async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await rmdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (i === 50) throw error;
      await sleep(20); // the last process is still leaving it
    }
  }
}

/** The mount points a container sees, in order, from its /proc/self/mountinfo. */
function mountPoints(mountinfo: string): { point: string; options: string; type: string }[] {
  return mountinfo.split('\n').filter(Boolean).map((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    return { point: fields[4], options: fields[5], type: fields[dash + 1] };
  });
}

describe('the native helper', { skip: isRoot ? false : 'needs root (namespaces, mounts, cgroups)' }, () => {
  test('exit codes pass through: 0, 3, and 128+9 after SIGKILL', async () => {
    assert.equal((await exec(['true'])).status.exitCode, 0);
    const three = await exec(['sh', '-c', 'exit 3']);
    assert.equal(three.status.exitCode, 3);
    assert.equal(three.status.signal, null);
    assert.equal(three.status.error, undefined);

    const started = Date.now();
    const sleeping = await start(['sleep', '60']);
    process.kill(sleeping.shim.pid, 'SIGKILL');
    const killed = await sleeping.shim.exited;
    assert.equal(killed.exitCode, 137);
    assert.equal(killed.signal, 9);
    assert.ok(killed.finishedAt.getTime() >= started - 1000 && killed.finishedAt.getTime() <= Date.now() + 1000);
    // The end is told first; the exit file is on disk once the monitor has gone.
    await sleeping.shim.closed;
    assert.deepEqual(await readExit(sleeping.spec.exitFile), killed);
  });

  test('the process is PID 1 of its own pid namespace and sees no host process', async () => {
    const { stdout } = await exec(['ps', '-o', 'pid,comm']);
    assert.equal(stdout, 'PID   COMMAND\n    1 ps\n');
  });

  test('the hostname is set in its own uts namespace', async () => {
    const before = (await readFile('/proc/sys/kernel/hostname', 'utf8')).trim();
    const { stdout } = await exec(['hostname'], (spec) => {
      spec.hostname = 'tug-box';
    });
    assert.equal(stdout, 'tug-box\n');
    assert.equal((await readFile('/proc/sys/kernel/hostname', 'utf8')).trim(), before);
  });

  test('a new network namespace has only lo, up when asked', async () => {
    const down = await exec(['cat', '/sys/class/net/lo/operstate', '/sys/class/net/lo/flags'], (spec) => {
      spec.namespaces = [...spec.namespaces.filter((n) => n !== 'network'), 'network'];
    });
    assert.equal(down.stdout, 'down\n0x8\n');
    const up = await exec(['sh', '-c', 'cat /sys/class/net/lo/flags; ls /sys/class/net'], (spec) => {
      spec.namespaces = [...spec.namespaces.filter((n) => n !== 'network'), 'network'];
      spec.loopbackUp = true;
    });
    // IFF_UP | IFF_LOOPBACK
    assert.equal(up.stdout, '0x9\nlo\n');
  });

  test('root has Docker\'s default capabilities, and no more', async () => {
    assert.equal(DOCKER_DEFAULT_CAPS, 0xa80425fbn);
    const { stdout } = await exec(['grep', 'Cap', '/proc/self/status']);
    assert.equal(stdout, [
      'CapInh:\t0000000000000000',
      'CapPrm:\t00000000a80425fb',
      'CapEff:\t00000000a80425fb',
      'CapBnd:\t00000000a80425fb',
      'CapAmb:\t0000000000000000',
      '',
    ].join('\n'));
    // Without CAP_SYS_ADMIN, mounting is refused.
    const mount = await exec(['mount', '-t', 'tmpfs', 'x', '/tmp']);
    assert.equal(mount.status.exitCode, 1);
    assert.equal(mount.stderr, 'mount: permission denied (are you root?)\n');
  });

  test('capabilities the engine could pass on (inheritable, ambient) do not reach the container', async () => {
    const { dir, spec } = await makeSpec(['grep', 'Cap', '/proc/self/status']);
    await writeSpec(join(dir, 'spec'), spec);
    // An engine started with inheritable CAP_SYS_ADMIN: root's exec would turn it into a permitted one.
    await run('setpriv', ['--inh-caps', '+sys_admin', SHIM_PATH, join(dir, 'spec')]); // until the monitor exits
    assert.equal((await readExit(spec.exitFile))?.exitCode, 0);
    assert.deepEqual((await logEntries({ spec })).map((e) => e.log), [
      'CapInh:\t0000000000000000\n',
      'CapPrm:\t00000000a80425fb\n',
      'CapEff:\t00000000a80425fb\n',
      'CapBnd:\t00000000a80425fb\n',
      'CapAmb:\t0000000000000000\n',
    ]);
  });

  test('another capability set is applied as given', async () => {
    const mask = capabilityMask(['CAP_CHOWN', 'kill', 'SYS_ADMIN']);
    assert.equal(mask, (1n << BigInt(CAP.CAP_CHOWN)) | (1n << 5n) | (1n << 21n));
    const { stdout } = await exec(['grep', 'CapEff', '/proc/self/status'], (spec) => {
      spec.capabilities = mask;
    });
    assert.equal(stdout, 'CapEff:\t0000000000200021\n');
    assert.throws(() => capabilityMask(['CAP_FLY']), /unknown capability: "CAP_FLY"/);
  });

  test('/proc, a read-only /sys and Docker\'s /dev are mounted', async () => {
    const { stdout } = await exec(['sh', '-c', 'ls -A /dev; cat /proc/self/mountinfo; touch /sys/x']);
    const [devices, mountinfo] = [stdout.split('\n').slice(0, 14), stdout.split('\n').slice(14).join('\n')];
    assert.deepEqual(devices, ['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    const mounts = mountPoints(mountinfo);
    const find = (point: string) => mounts.find((m) => m.point === point);
    assert.equal(find('/proc')?.type, 'proc');
    assert.equal(find('/proc')?.options, 'rw,nosuid,nodev,noexec,relatime');
    assert.equal(find('/sys')?.type, 'sysfs');
    assert.equal(find('/sys')?.options, 'ro,nosuid,nodev,noexec,relatime');
    assert.equal(find('/dev')?.type, 'tmpfs');
    assert.equal(find('/dev')?.options, 'rw,nosuid'); // strictatime: no atime option shown
    assert.equal(find('/dev/pts')?.type, 'devpts');
    assert.equal(find('/dev/shm')?.type, 'tmpfs');
    assert.equal(find('/dev/mqueue')?.type, 'mqueue');

    const ls = await exec(['ls', '-ln', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fd', '/dev/ptmx']);
    const lines = ls.stdout.trim().split('\n').map((line) => line.replace(/\s+\w{3} +\d+ [\d:]+ /, ' ').replace(/\s+/g, ' '));
    assert.deepEqual(lines, [
      'lrwxrwxrwx 1 0 0 13 /dev/fd -> /proc/self/fd',
      'crw-rw-rw- 1 0 0 1, 7 /dev/full',
      'crw-rw-rw- 1 0 0 1, 3 /dev/null',
      'lrwxrwxrwx 1 0 0 8 /dev/ptmx -> pts/ptmx',
      'crw-rw-rw- 1 0 0 1, 8 /dev/random',
      'crw-rw-rw- 1 0 0 5, 0 /dev/tty',
      'crw-rw-rw- 1 0 0 1, 9 /dev/urandom',
      'crw-rw-rw- 1 0 0 1, 5 /dev/zero',
    ]);
  });

  test('the old root is gone: / is the root filesystem and nothing of the host is mounted', async () => {
    const { stdout, stderr } = await exec(['sh', '-c', 'ls -A /; cat /etc/marker; ls /work /tmp/tug-shim-test-* 2>&1; cat /proc/self/mountinfo']);
    const lines = stdout.split('\n');
    assert.deepEqual(lines.slice(0, 8), ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'tmp']);
    assert.equal(lines[8], 'the container root');
    assert.equal(lines[9], 'ls: /work: No such file or directory');
    assert.equal(lines[10], 'ls: /tmp/tug-shim-test-*: No such file or directory');
    assert.equal(stderr, '');
    const points = new Set(mountPoints(lines.slice(11).join('\n')).map((m) => m.point));
    const masked = DOCKER_MASKED_PATHS.filter((path) => existsSync(path));
    const readonly = DOCKER_READONLY_PATHS.filter((path) => existsSync(path));
    assert.deepEqual(points, new Set(['/', '/proc', '/dev', '/dev/pts', '/sys', '/dev/mqueue', '/dev/shm', ...masked, ...readonly]));
  });

  test('masked paths read as empty and read-only paths refuse writes', async () => {
    const masked = DOCKER_MASKED_PATHS.filter((path) => existsSync(path));
    assert.ok(masked.length > 0);
    const script = masked.map((p) => `if [ -d ${p} ]; then echo ${p} $(ls -A ${p} | wc -l); else echo ${p} $(wc -c < ${p}); fi`).join('; ');
    const { stdout } = await exec(['sh', '-c', script]);
    assert.equal(stdout, masked.map((p) => `${p} 0\n`).join(''));
    const { stdout: mountinfo, stderr } = await exec(['sh', '-c', 'echo x > /proc/sys/kernel/hostname; cat /proc/self/mountinfo']);
    assert.equal(stderr, 'sh: can\'t create /proc/sys/kernel/hostname: Read-only file system\n');
    const readonly = DOCKER_READONLY_PATHS.filter((path) => existsSync(path));
    const options = new Map(mountPoints(mountinfo).map((m) => [m.point, m.options]));
    assert.deepEqual(readonly.map((path) => [path, options.get(path)]), readonly.map((path) => [path, 'ro,nosuid,nodev,noexec,relatime']));
  });

  test('a read-only root refuses writes; the tmpfs mounts on it do not', async () => {
    const root = await freshRoot();
    const { stdout, stderr } = await exec(['sh', '-c', 'touch /x; touch /dev/shm/y && echo shm ok'], (spec) => {
      spec.root = root;
      spec.readonlyRoot = true;
    });
    assert.equal(stderr, 'touch: /x: Read-only file system\n');
    assert.equal(stdout, 'shm ok\n');
    assert.equal(existsSync(join(root, 'x')), false);
    const writable = await exec(['touch', '/x'], (spec) => {
      spec.root = root;
    });
    assert.equal(writable.status.exitCode, 0);
    assert.ok(existsSync(join(root, 'x')));
  });

  test('user 1000:1000 runs as app with no capabilities left', async () => {
    const { stdout } = await exec(['sh', '-c', 'id; grep Cap /proc/self/status'], (spec) => {
      spec.user = { uid: 1000, gid: 1000, additionalGids: [] };
    });
    assert.equal(stdout, [
      'uid=1000(app) gid=1000(app)',
      'CapInh:\t0000000000000000',
      'CapPrm:\t0000000000000000',
      'CapEff:\t0000000000000000',
      'CapBnd:\t00000000a80425fb',
      'CapAmb:\t0000000000000000',
      '',
    ].join('\n'));
    const groups = await exec(['id'], (spec) => {
      spec.user = { uid: 65534, gid: 65534, additionalGids: [5, 1000] };
    });
    assert.equal(groups.stdout, 'uid=65534(nobody) gid=65534(nogroup) groups=5(tty),1000(app)\n');
  });

  test('no-new-privileges is set when asked', async () => {
    assert.equal((await exec(['grep', 'NoNewPrivs', '/proc/self/status'])).stdout, 'NoNewPrivs:\t0\n');
    const { stdout } = await exec(['grep', 'NoNewPrivs', '/proc/self/status'], (spec) => {
      spec.noNewPrivileges = true;
    });
    assert.equal(stdout, 'NoNewPrivs:\t1\n');
  });

  test('the environment is exactly the spec\'s, the command is found in its PATH, and cwd is set', async () => {
    const env = await exec(['env'], (spec) => {
      spec.env = ['PATH=/usr/bin:/bin', 'FOO=bar baz', 'EMPTY=', 'UNICODE=é%\n'];
    });
    assert.equal(env.stdout, 'PATH=/usr/bin:/bin\nFOO=bar baz\nEMPTY=\nUNICODE=é%\n\n');
    const pwd = await exec(['pwd'], (spec) => {
      spec.cwd = '/etc';
    });
    assert.equal(pwd.stdout, '/etc\n');
    // The host's PATH plays no part: the container's has no busybox applets.
    await assert.rejects(makeSpec(['ls'], (spec) => {
      spec.env = ['PATH=/usr/local/bin'];
    }).then(({ dir, spec }) => startShim(join(dir, 'spec'), spec)), { message: 'exec: "ls": executable file not found in $PATH' });
  });

  test('a missing command exits 127 with runc\'s message, in the log, the error file and the rejection', async () => {
    const { dir, spec } = await makeSpec(['nope']);
    await assert.rejects(startShim(join(dir, 'spec'), spec), { message: 'exec: "nope": executable file not found in $PATH' });
    const status = await readExit(spec.exitFile);
    assert.equal(status?.exitCode, 127);
    assert.equal(status?.signal, null);
    assert.equal(status?.error, 'exec: "nope": executable file not found in $PATH');
    assert.equal(await readFile(`${spec.exitFile}.error`, 'utf8'), 'exec: "nope": executable file not found in $PATH\n');
    const entries = await logEntries({ spec });
    assert.deepEqual(entries.map(({ log, stream }) => ({ log, stream })), [{ log: 'exec: "nope": executable file not found in $PATH\n', stream: 'stderr' }]);
    assert.equal(existsSync(spec.pidFile), false);

    const cases: [string[], Partial<ContainerSpec>, number, string][] = [
      [['/nope'], {}, 127, 'exec: "/nope": stat /nope: no such file or directory'],
      [['/etc/passwd'], {}, 126, 'exec: "/etc/passwd": permission denied'],
      [['/bin'], {}, 126, 'exec: "/bin": is a directory'],
      [['pwd'], { cwd: '/nowhere' }, 127, 'chdir to cwd ("/nowhere") set in config.json failed: no such file or directory'],
    ];
    for (const [args, change, code, message] of cases) {
      const { dir: d, spec: s } = await makeSpec(args, (spec) => void Object.assign(spec, change));
      await assert.rejects(startShim(join(d, 'spec'), s), { message });
      assert.equal((await readExit(s.exitFile))?.exitCode, code, message);
    }
  });

  test('stdout and stderr land in the json-file log as Docker writes it', async () => {
    const long = 'x'.repeat(20000);
    const script = [
      "printf 'one\\ntwo\\n\\n'",
      `printf '${long}\\n'`,
      "printf 'e1\\n' >&2",
      "printf '<>&\"\\\\\\t\\001\\377\\342\\200\\250 \\r\\n'",
      "printf 'err partial' >&2",
      "printf 'partial'",
    ].join('; ');
    const { container } = await exec(['sh', '-c', script]);
    const raw = (await readFile(container.spec.log, 'utf8')).split('\n');
    assert.equal(raw.pop(), '');
    const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/;
    const lines = raw.map((line) => {
      const match = /^\{"log":(".*"),"stream":"(stdout|stderr)","time":"([^"]+)"\}$/.exec(line);
      assert.ok(match, `not a json-file line: ${line.slice(0, 200)}`);
      assert.match(match[3], time);
      return { json: match[1], stream: match[2], time: match[3] };
    });
    const out = lines.filter((l) => l.stream === 'stdout');
    const err = lines.filter((l) => l.stream === 'stderr');
    assert.deepEqual(out.map((l) => l.json), [
      '"one\\n"',
      '"two\\n"',
      '"\\n"',
      `"${'x'.repeat(16384)}"`,
      `"${'x'.repeat(20000 - 16384)}\\n"`,
      // Docker's escaping: < > & as \u00XX, tab and other control bytes too, invalid UTF-8 as
      // \ufffd, U+2028 escaped, \r and \n short.
      '"\\u003c\\u003e\\u0026\\"\\\\\\u0009\\u0001\\ufffd\\u2028 \\r\\n"',
      '"partial"',
    ]);
    assert.deepEqual(err.map((l) => l.json), ['"e1\\n"', '"err partial"']);
    // The rest of a split line carries the time of its first part.
    assert.equal(out[4].time, out[3].time);
    assert.ok(new Date(out[0].time).getTime() <= new Date(out[6].time).getTime());
  });

  test('stdin comes from the FIFO: the container waits for a writer and sees EOF when it leaves', async () => {
    const container = await start(['sh', '-c', 'cat; echo done'], (spec, dir) => {
      spec.stdin = join(dir, 'stdin');
    });
    const fifo = container.spec.stdin!;
    assert.ok((await lstat(fifo)).isFIFO());
    await sleep(300);
    assert.equal(await readExit(container.spec.exitFile), null, 'cat saw EOF before any writer came');
    const writer = await open(fifo, 'w');
    await writer.write('hello\n');
    await sleep(100);
    await writer.write('world\n');
    await sleep(100);
    assert.equal(await readExit(container.spec.exitFile), null, 'cat saw EOF while the writer was there');
    await writer.close();
    const status = await container.shim.exited;
    assert.equal(status.exitCode, 0);
    assert.deepEqual((await logEntries(container)).map((e) => e.log), ['hello\n', 'world\n', 'done\n']);
  });

  test('an overlay root: writes land in the upper directory and the lower stays unchanged', async () => {
    const layers = await mkdtemp(join(base, 'overlay-'));
    const [upper, work, merged] = ['upper', 'work', 'merged'].map((name) => join(layers, name));
    for (const dir of [upper, work, merged]) await mkdir(dir);
    const { stdout, stderr } = await exec(['sh', '-c', 'echo hi > /tmp/new; rm /etc/group; cat /etc/marker; ls /etc'], (spec) => {
      spec.root = merged;
      spec.overlay = { lower: [rootfs], upper, work };
    });
    assert.equal(stderr, '');
    assert.equal(stdout, 'the container root\nmarker\npasswd\n');
    assert.equal(await readFile(join(upper, 'tmp/new'), 'utf8'), 'hi\n');
    const whiteout = await lstat(join(upper, 'etc/group'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'the deletion is an overlay whiteout');
    assert.equal(existsSync(join(rootfs, 'tmp/new')), false);
    assert.ok(existsSync(join(rootfs, 'etc/group')));
    assert.deepEqual(await readdir(merged), [], 'the overlay is mounted only inside the container');

    // Layers stack top first.
    const top = join(layers, 'top');
    await mkdir(join(top, 'etc'), { recursive: true });
    await writeFile(join(top, 'etc/marker'), 'the top layer\n');
    await rm(upper, { recursive: true });
    await rm(work, { recursive: true });
    await mkdir(upper);
    await mkdir(work);
    const stacked = await exec(['cat', '/etc/marker'], (spec) => {
      spec.root = merged;
      spec.overlay = { lower: [top, rootfs], upper, work };
    });
    assert.equal(stacked.stdout, 'the top layer\n');
  });

  test('mount targets are resolved inside the root: a symlink in the image cannot lead to the host', async () => {
    const outside = await mkdtemp(join(base, 'outside-'));
    const image = await freshRoot();
    await symlink(`../../../../../../../..${outside}`, join(image, 'escape'));
    await symlink(outside, join(image, 'absolute'));
    // Dangling inside the root (its target exists only on the host): refused, nothing created.
    const { dir, spec } = await makeSpec(['true'], (spec) => {
      spec.root = image;
      spec.mounts.push({ source: 'tmpfs', target: '/escape/sub', type: 'tmpfs', flags: 0 });
    });
    await assert.rejects(startShim(join(dir, 'spec'), spec), { message: 'open /escape in the container: no such file or directory' });
    assert.deepEqual(await readdir(outside), []);
    // Where the target exists inside the root, the mounts land there.
    await mkdir(join(image, outside), { recursive: true });
    const { stdout } = await exec(['sh', '-c', 'ls -d /escape/sub /absolute/sub2; grep -c sub /proc/self/mountinfo'], (spec) => {
      spec.root = image;
      spec.mounts.push({ source: 'tmpfs', target: '/escape/sub', type: 'tmpfs', flags: 0 });
      spec.mounts.push({ source: 'tmpfs', target: '/absolute/sub2', type: 'tmpfs', flags: 0 });
    });
    assert.equal(stdout, '/absolute/sub2\n/escape/sub\n2\n');
    assert.deepEqual(await readdir(outside), []);
    assert.deepEqual(await readdir(join(image, outside)), ['sub', 'sub2']);
  });

  test('bind mounts of files and directories, read-only when asked', async () => {
    const shared = await mkdtemp(join(base, 'bind-'));
    const root = await freshRoot();
    await writeFile(join(shared, 'file'), 'bound file\n');
    const { stdout, stderr } = await exec(['sh', '-c', 'cat /etc/bound; ls /data; echo y > /data/new; echo z > /ro/new'], (spec) => {
      spec.root = root;
      spec.mounts.push({ source: join(shared, 'file'), target: '/etc/bound', type: 'bind', flags: MS.BIND });
      spec.mounts.push({ source: shared, target: '/data', type: 'bind', flags: MS.BIND | MS.REC });
      spec.mounts.push({ source: shared, target: '/ro', type: 'bind', flags: MS.BIND | MS.REC | MS.RDONLY });
    });
    assert.equal(stdout, 'bound file\nfile\n');
    assert.equal(stderr, "sh: can't create /ro/new: Read-only file system\n");
    assert.equal(await readFile(join(shared, 'new'), 'utf8'), 'y\n');
    // The targets were created in the root (a file for a file).
    assert.ok((await stat(join(root, 'etc/bound'))).isFile());
    assert.ok((await stat(join(root, 'data'))).isDirectory());
  });

  test('the pid is in the cgroups before the process runs, and limits apply from the start', async () => {
    const cgroup = await pidsCgroup();
    const procs = join(cgroup.dir, 'cgroup.procs');
    // No cgroup namespace: the process sees its cgroup's full path from its very first instruction.
    const seen = await exec(['cat', '/proc/self/cgroup'], (spec) => {
      spec.cgroupProcs = [procs];
    });
    assert.ok(seen.stdout.split('\n').some((line) => line.endsWith(`:pids:${cgroup.path}`)), seen.stdout);
    // With one: that cgroup is its root.
    const namespaced = await exec(['cat', '/proc/self/cgroup'], (spec) => {
      spec.namespaces.push('cgroup');
      spec.cgroupProcs = [procs];
    });
    assert.ok(namespaced.stdout.split('\n').some((line) => /^\d+:pids:\/$/.test(line)), namespaced.stdout);
    // The host sees it there while it runs.
    const sleeping = await start(['sleep', '60'], (spec) => {
      spec.cgroupProcs = [procs];
    });
    assert.ok((await readFile(`/proc/${sleeping.shim.pid}/cgroup`, 'utf8')).includes(`:pids:${cgroup.path}\n`));
    assert.equal((await readFile(procs, 'utf8')).trim(), String(sleeping.shim.pid));
    process.kill(sleeping.shim.pid, 'SIGKILL');
    await sleeping.shim.exited;
    // pids.max = 1: the shell itself is the one process allowed, so its first fork fails.
    await writeFile(join(cgroup.dir, 'pids.max'), '1');
    const limited = await exec(['sh', '-c', 'ls / > /dev/null; echo not reached'], (spec) => {
      spec.cgroupProcs = [procs];
    });
    assert.equal(limited.stderr, "sh: can't fork: Resource temporarily unavailable\n");
    assert.equal(limited.stdout, '');
    assert.equal(limited.status.exitCode, 2);
  });

  test('the container waits until the monitor has put its pid in every cgroup', async () => {
    const cgroup = await pidsCgroup();
    // A FIFO as the first file holds the monitor in its write until we read: the container must
    // not run meanwhile.
    const { dir, spec } = await makeSpec(['cat', '/proc/self/cgroup'], (spec, dir) => {
      spec.cgroupProcs = [join(dir, 'slow'), join(cgroup.dir, 'cgroup.procs')];
    });
    await run('mkfifo', [join(dir, 'slow')]);
    const starting = startShim(join(dir, 'spec'), spec);
    await sleep(300);
    assert.deepEqual(await logEntries({ spec }), [], 'the container ran before its cgroups were set');
    const reader = await open(join(dir, 'slow'), 'r');
    const written = await reader.readFile('utf8');
    await reader.close();
    const shim = await starting;
    running.add(shim);
    assert.equal(written, `${shim.pid}\n`);
    assert.equal((await shim.exited).exitCode, 0);
    const lines = (await logEntries({ spec })).map((e) => e.log);
    assert.ok(lines.some((line) => line.endsWith(`:pids:${cgroup.path}\n`)), lines.join(''));
  });

  test('a standby stages the process in its cgroup ahead of the spec; renamed, the cgroup becomes the container\'s', async () => {
    // Each case: a standby given a cgroup; the cgroup renamed as the engine renames it; a spec.
    const standby = async (change: (spec: ContainerSpec) => void) => {
      const cgroup = await pidsCgroup();
      const monitor = spawn(SHIM_PATH, ['--standby', 'mount,pid,uts,ipc,cgroup,network', join(cgroup.dir, 'cgroup.procs')], { stdio: ['pipe', 'pipe', 'pipe'] });
      const said = await new Promise<string>((resolve) => monitor.stdout.once('data', (data: Buffer) => resolve(data.toString())));
      assert.equal(said, 'staged\n');
      // The process waits in the cgroup before there is any spec.
      const waiting = (await readFile(join(cgroup.dir, 'cgroup.procs'), 'utf8')).trim().split('\n').map(Number);
      assert.equal(waiting.length, 1);
      assert.match(await readFile(`/proc/${waiting[0]}/cgroup`, 'utf8'), new RegExp(`:pids:${cgroup.path}\n`));
      const renamed = { dir: `${cgroup.dir}-renamed`, path: `${cgroup.path}-renamed` };
      await rename(cgroup.dir, renamed.dir);
      cleanups.push(() => removeCgroup(renamed.dir));
      const { dir, spec } = await makeSpec(['cat', '/proc/self/cgroup'], (spec) => {
        spec.cgroupProcs = [join(renamed.dir, 'cgroup.procs')];
        spec.staged = true;
        change(spec);
      });
      const shim = await startShim(join(dir, 'spec'), spec, monitor as Parameters<typeof startShim>[2]);
      running.add(shim);
      const status = await shim.exited;
      const lines = (await logEntries({ spec })).map((e) => e.log);
      return { waiting: waiting[0], shim, status, lines, renamed };
    };
    // The usual namespaces: the waiting process is the container, and runs in the renamed cgroup.
    const same = await standby(() => {});
    assert.equal(same.status.exitCode, 0);
    assert.equal(same.shim.pid, same.waiting);
    assert.ok(same.lines.some((line) => line.endsWith(`:pids:${same.renamed.path}\n`)), same.lines.join(''));
    // The host's network: the waiting process (in a network namespace of its own) goes, and a new
    // one takes its place in the cgroup.
    const other = await standby((spec) => {
      spec.namespaces = spec.namespaces.filter((ns) => ns !== 'network');
      spec.loopbackUp = false;
    });
    assert.equal(other.status.exitCode, 0);
    assert.notEqual(other.shim.pid, other.waiting);
    assert.ok(other.lines.some((line) => line.endsWith(`:pids:${other.renamed.path}\n`)), other.lines.join(''));
    assert.equal(existsSync(`/proc/${other.waiting}`), false, 'the waiting process is gone');
  });

  test('cgroup v2: the process is cloned straight into its cgroup, with no write to cgroup.procs', async (t) => {
    // This machine's cgroup2 mount (beside the v1 controllers) or a pure v2 root.
    const v2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((dir) => existsSync(join(dir, 'cgroup.controllers')));
    if (!v2) return t.skip('no cgroup2 hierarchy is mounted');
    const own = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
    const path = `${own === '/' ? '' : own}/tug-test-into-${process.pid}`;
    const dir = join(v2, path);
    await mkdir(dir);
    cleanups.push(() => removeCgroup(dir));
    // A FIFO as the procs file: a monitor that wrote to it would hang there, and the test with it.
    const { spec } = await makeSpec(['cat', '/proc/self/cgroup'], (spec, d) => {
      spec.cgroupInto = dir;
      spec.cgroupProcs = [join(d, 'procs-fifo')];
    });
    await run('mkfifo', [spec.cgroupProcs[0]]);
    const shim = await startShim(join(dirname(spec.log), 'spec'), spec);
    running.add(shim);
    assert.equal((await shim.exited).exitCode, 0);
    const lines = (await logEntries({ spec })).map((e) => e.log);
    assert.ok(lines.includes(`0::${path}\n`), lines.join(''));
  });

  test('cgroup v2: the device filter decides which nodes may be opened and made, by type, numbers and access', async (t) => {
    const v2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((dir) => existsSync(join(dir, 'cgroup.controllers')));
    if (!v2) return t.skip('no cgroup2 hierarchy is mounted');
    const own = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
    const script = [
      'head -c 4 /dev/full > /tmp/f; echo full=$?',
      'head -c 4 /dev/zero | wc -c; echo zero-read=$?',
      'echo x > /dev/zero; echo zero-write=$?',
      'echo x > /dev/urandom; echo urandom-write=$?',
      'mknod /tmp/c c 1 3; echo mknod-c=$?',
      'mknod /tmp/b b 7 0; echo mknod-b=$?',
    ].join('; ');
    const results: Record<string, string>[] = [];
    for (const rules of [null, ['c *:* m', 'c 1:3 rw', 'c 1:5 r', 'c 1:9 rw']]) {
      const dir = join(v2, `${own === '/' ? '' : own}/tug-test-devices-${process.pid}-${results.length}`);
      await mkdir(dir);
      cleanups.push(() => removeCgroup(dir));
      const { status, stdout, stderr } = await exec(['sh', '-c', script], (spec) => {
        spec.cgroupInto = dir;
        spec.cgroupProcs = [join(dir, 'cgroup.procs')];
        spec.mounts.push({ source: 'tmpfs', target: '/tmp', type: 'tmpfs', flags: 0 });
        if (rules) spec.deviceFilter = { cgroup: dir, program: deviceProgram(rules)! };
      });
      assert.equal(status.exitCode, 0, stderr);
      results.push(Object.fromEntries(stdout.trim().split('\n').filter((l) => l.includes('=')).map((l) => l.split('='))));
      if (rules) assert.match(stderr, /\/dev\/full: Operation not permitted/);
    }
    // Without a filter every one of these works; with it, only what a rule covers.
    assert.deepEqual(results[0], { full: '0', 'zero-read': '0', 'zero-write': '0', 'urandom-write': '0', 'mknod-c': '0', 'mknod-b': '0' });
    assert.deepEqual(results[1], { full: '1', 'zero-read': '0', 'zero-write': '1', 'urandom-write': '0', 'mknod-c': '0', 'mknod-b': '1' });
    // `a` allows everything: no program at all.
    assert.equal(deviceProgram(['a']), null);
  });

  test('a standby whose process cannot join its cgroup says why and exits', async () => {
    const monitor = spawn(SHIM_PATH, ['--standby', 'mount,pid', join(base, 'no-such-cgroup', 'cgroup.procs')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    monitor.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const code = await new Promise((resolve) => monitor.once('close', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /^tug-shim: write pid \d+ to .*\/no-such-cgroup\/cgroup\.procs: no such file or directory\n$/);
  });

  test('a root under a shared mount: nothing propagates to the host', async () => {
    // systemd makes / shared; a container's mounts must still stay in its own namespace.
    const shared = join(base, 'shared');
    await mkdir(shared);
    await run('mount', ['-t', 'tmpfs', 'tmpfs', shared]);
    cleanups.push(async () => {
      await run('umount', ['-l', shared]);
    });
    await run('mount', ['--make-shared', shared]);
    const root = join(shared, 'rootfs');
    await makeBusyboxRootfs(root);
    const before = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(shared));
    const { stdout } = await exec(['sh', '-c', 'grep -c . /proc/self/mountinfo > /dev/null && echo ran'], (spec) => {
      spec.root = root;
    });
    assert.equal(stdout, 'ran\n');
    const after = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(shared));
    assert.deepEqual(after, before);
    assert.equal(after.length, 1);
  });

  test('a cgroup that cannot be joined stops the start with the reason', async () => {
    const { dir, spec } = await makeSpec(['true'], (spec, dir) => {
      spec.cgroupProcs = [join(dir, 'no-such-cgroup', 'cgroup.procs')];
    });
    await assert.rejects(startShim(join(dir, 'spec'), spec), (error: Error) => {
      assert.match(error.message, /^write pid \d+ to .*\/no-such-cgroup\/cgroup\.procs: no such file or directory$/);
      return true;
    });
    assert.equal((await readExit(spec.exitFile))?.exitCode, 127);
  });

  test('joining an existing network namespace', async () => {
    const file = join(base, 'netns');
    await writeFile(file, '');
    await run('unshare', [`--net=${file}`, 'true']);
    cleanups.push(async () => {
      await run('umount', [file]);
    });
    const { stdout } = await exec(['readlink', '/proc/self/ns/net'], (spec) => {
      spec.namespaces = spec.namespaces.filter((ns) => ns !== 'network');
      spec.joinNetwork = file;
    });
    assert.equal(stdout, `net:[${(await stat(file)).ino}]\n`);
    // And 'network' absent with nothing to join is the host's.
    const host = await exec(['readlink', '/proc/self/ns/net'], (spec) => {
      spec.namespaces = spec.namespaces.filter((ns) => ns !== 'network');
    });
    assert.equal(host.stdout, `${await readlink('/proc/self/ns/net')}\n`);
  });

  test('the monitor forwards signals and survives SIGHUP', async () => {
    const container = await start(['sh', '-c', 'trap "echo hup" HUP; trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done']);
    for (let i = 0; !(await logEntries(container)).length; i++) {
      assert.ok(i < 200, 'the container never said ready');
      await sleep(10);
    }
    process.kill(container.shim.shimPid, 'SIGHUP');
    for (let i = 0; (await logEntries(container)).length < 2; i++) {
      assert.ok(i < 200, 'SIGHUP was not forwarded');
      await sleep(10);
    }
    process.kill(container.shim.shimPid, 'SIGTERM');
    const status = await container.shim.exited;
    assert.equal(status.exitCode, 42);
    assert.deepEqual((await logEntries(container)).map((e) => e.log), ['ready\n', 'hup\n']);
  });

  test('the monitor prints the pids, then the end before its exit file, and leads its own session', async () => {
    const { dir, spec } = await makeSpec(['sleep', '60']);
    await writeSpec(join(dir, 'spec'), spec);
    const child = spawn(SHIM_PATH, [join(dir, 'spec')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    const lines = (n: number) => new Promise<void>((resolve) => {
      const check = () => stdout.split('\n').length > n && resolve();
      child.stdout.on('data', check);
      check();
    });
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    await lines(1);
    const [shimPid, pid] = stdout.split('\n')[0].split(' ').map(Number);
    cleanups.push(async () => {
      if (!(await readExit(spec.exitFile))) process.kill(pid, 'SIGKILL'); // the test failed midway
    });
    assert.equal(shimPid, child.pid);
    while (!existsSync(spec.pidFile)) await sleep(10); // written right after the pids are printed
    assert.equal(await readFile(spec.pidFile, 'utf8'), `${pid}\n`);
    assert.equal(await readExit(spec.exitFile), null);
    const stat = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    assert.equal(Number(stat[3]), child.pid, 'the monitor is the leader of its session');
    // A later engine learns the end from the exit file; the one listening, from stdout.
    const watched = watchExit(spec.exitFile, child.pid!);
    process.kill(pid, 'SIGKILL');
    await lines(2);
    const status = await watched;
    assert.equal(status.exitCode, 137);
    assert.equal(stdout.split('\n')[1], `exit ${(await readFile(spec.exitFile, 'utf8')).trim()}`);
    assert.match(stdout.split('\n')[1], /^exit 137 9 \d+$/);
    assert.deepEqual(await readExit(spec.exitFile), status);
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    assert.equal(child.exitCode, 0);
  });

  test('readExit and watchExit: missing, malformed, and a monitor gone without a word', async () => {
    const dir = await mkdtemp(join(base, 'exit-'));
    const file = join(dir, 'exit');
    assert.equal(await readExit(file), null);
    await writeFile(file, 'garbage');
    await assert.rejects(readExit(file), { message: `${file} does not hold an exit status: "garbage"` });
    await writeFile(file, '137 9 1700000000123456789\n');
    assert.deepEqual(await readExit(file), { exitCode: 137, signal: 9, finishedAt: new Date(1700000000123) });
    // A pid that is surely gone: a finished child of ours.
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const status = await watchExit(join(dir, 'never'), gone.pid!);
    assert.equal(status.exitCode, 255);
    assert.equal(status.error, `the container monitor (pid ${gone.pid}) ended without recording an exit status`);
  });
});

describe('the spec', () => {
  test('serializes to the line format the helper parses, escaping what needs it', () => {
    const spec = defaultSpec('/var/lib/tug/c 1/rootfs');
    spec.namespaces = ['mount', 'uts'];
    spec.hostname = 'box';
    spec.mounts = [spec.mounts[1]];
    spec.devices = [spec.devices[0]];
    spec.symlinks = [spec.symlinks[0]];
    spec.maskedPaths = ['/proc/kcore'];
    spec.readonlyPaths = ['/proc/sys'];
    spec.user = { uid: 1000, gid: 1000, additionalGids: [5] };
    spec.env = ['PATH=/bin', 'A=b c%d\né'];
    spec.args = ['sh', '-c', ''];
    spec.log = '/l';
    spec.pidFile = '/p';
    spec.exitFile = '/e';
    spec.noNewPrivileges = true;
    assert.equal(serializeSpec(spec), [
      'tug-spec 1',
      'namespace mount',
      'namespace uts',
      'hostname box',
      'root /var/lib/tug/c%201/rootfs',
      `mount tmpfs /dev tmpfs ${MS.NOSUID | MS.STRICTATIME} mode=755,size=65536k`,
      'device /dev/null c 1 3 0666 0 0',
      'symlink /proc/self/fd /dev/fd',
      'masked /proc/kcore',
      'readonly /proc/sys',
      'capabilities 00000000a80425fb',
      'no-new-privileges',
      'user 1000 1000',
      'group 5',
      'cwd /',
      'env PATH=/bin',
      'env A=b%20c%25d%0A%C3%A9',
      'arg sh',
      'arg -c',
      'arg ',
      'log /l',
      'pid-file /p',
      'exit-file /e',
      '',
    ].join('\n'));
  });

  test('refuses what the helper could not do or would do to the host', () => {
    const valid = () => Object.assign(defaultSpec('/r'), { args: ['true'], log: '/l', pidFile: '/p', exitFile: '/e' });
    const cases: [(spec: ContainerSpec) => void, RegExp][] = [
      [(s) => (s.hostname = 'x', s.namespaces = ['mount']), /a hostname needs the uts namespace/],
      [(s) => (s.namespaces = ['pid']), /a container needs the mount namespace/],
      [(s) => (s.args = []), /no command specified/],
      [(s) => (s.env = ['A=\0']), /environment variable contains a NUL byte/],
      [(s) => (s.mounts = [{ source: 'x', target: 'relative', type: 'tmpfs', flags: 0 }]), /must be an absolute path inside the container, not "relative"/],
      [(s) => (s.cwd = 'tmp'), /cwd must be an absolute path/],
      [(s) => (s.overlay = { lower: ['/a,b'], upper: '/u', work: '/w' }), /overlayfs options cannot carry/],
      [(s) => (s.user.uid = -1), /uid must be an integer from 0/],
      [(s) => (s.joinNetwork = '/run/netns/x'), /joinNetwork and a new network namespace exclude each other/],
      [(s) => (s.capabilities = 1n << 64n), /capabilities must be a 64-bit mask/],
      [(s) => (s.log = ''), /log is required/],
      [(s) => (s.namespaces = ['mount', 'time' as 'pid']), /unknown namespace "time"/],
    ];
    for (const [change, message] of cases) {
      const spec = valid();
      change(spec);
      assert.throws(() => serializeSpec(spec), message);
    }
  });

  test('writeSpec writes atomically and leaves nothing when the spec is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tug-spec-'));
    try {
      const spec = Object.assign(defaultSpec('/r'), { args: ['true'], log: '/l', pidFile: '/p', exitFile: '/e' });
      await writeSpec(join(dir, 'spec'), spec);
      assert.equal(await readFile(join(dir, 'spec'), 'utf8'), serializeSpec(spec));
      await assert.rejects(writeSpec(join(dir, 'bad'), { ...spec, args: [] }), /no command specified/);
      assert.deepEqual(await readdir(dir), ['spec']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the helper refuses a damaged spec with the line and the reason', { skip: existsSync(SHIM_PATH) ? false : 'dist/tug-shim is not built' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tug-spec-'));
    try {
      const cases: [string, string][] = [
        ['', 'empty spec'],
        ['tug-spec 2\n', ':1: not a tug-spec 1 file'],
        ['tug-spec 1\nroot /x', ':2: the last line has no newline (a truncated spec?)'],
        ['tug-spec 1\nroot /a b\n', ':2: "root" takes 1 field(s), not 2'],
        ['tug-spec 1\nroot /a%2\n', ':2: bad escape in "/a%2"'],
        ['tug-spec 1\nenv A=%00\n', ':2: a field holds a NUL byte'],
        ['tug-spec 1\nfly away\n', ':2: unknown key "fly"'],
        ['tug-spec 1\nuser 1000 x\n', ':2: "x" is not a number up to 4294967294'],
        ['tug-spec 1\nroot /r\ncwd /\narg true\nlog /l\npid-file /p\nexit-file /e\ncapabilities 0\nuser 0 0\n', ':9: a container needs the mount namespace'],
      ];
      for (const [text, message] of cases) {
        const file = join(dir, 'spec');
        await writeFile(file, text);
        const result = await run(SHIM_PATH, [file]).then(() => null, (error: { code: number; stderr: string }) => error);
        assert.ok(result, `accepted: ${JSON.stringify(text)}`);
        assert.equal(result.code, 2);
        assert.equal(result.stderr, `tug-shim: ${file}:${message.startsWith(':') ? message.slice(1) : `${text.split('\n').length - 1}: ${message}`}\n`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
