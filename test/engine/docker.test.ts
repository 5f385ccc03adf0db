import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayer, pushImage, tarOf } from '../helpers/images';
import { startProxy } from '../helpers/proxy';
import { startEngine, type TestEngine } from '../helpers/engine';
import { startRegistry, type TestRegistry } from '../helpers/registry';

// tugd driven by the real docker CLI (28.x), against a real registry on 127.0.0.1 holding images
// made here from Debian's busybox-static. Real namespaces, overlay mounts and cgroups.

let registry: TestRegistry;
let engine: TestEngine;
let busybox: string;
let layered: string;

before(async () => {
  registry = await startRegistry();
  engine = await startEngine();
  const base = await busyboxLayer();
  await pushImage(registry, 'library/busybox', 'latest', { layers: [base], config: { config: { Cmd: ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_IMAGE=1'] } } });
  busybox = `${registry.host}/library/busybox:latest`;
  // A second layer that deletes a file and replaces a directory's contents (whiteouts).
  const mtime = 1_700_000_000;
  const first = await tarOf([
    { name: 'data', type: 'dir', mode: 0o755, mtime },
    { name: 'data/keep', body: 'keep\n', mtime },
    { name: 'data/gone', body: 'gone\n', mtime },
    { name: 'opaque', type: 'dir', mode: 0o755, mtime },
    { name: 'opaque/old', body: 'old\n', mtime },
  ]);
  const second = await tarOf([
    { name: 'data', type: 'dir', mode: 0o755, mtime },
    { name: 'data/.wh.gone', body: '', mtime },
    { name: 'opaque', type: 'dir', mode: 0o755, mtime },
    { name: 'opaque/.wh..wh..opq', body: '', mtime },
    { name: 'opaque/new', body: 'new\n', mtime },
  ]);
  const history = ['ADD busybox /', 'COPY data /data', 'RUN rm /data/gone', 'CMD ["sh"]'].map((created_by, k) => ({
    created: '2025-01-01T00:00:00Z',
    created_by,
    ...(k === 3 ? { empty_layer: true } : {}),
  }));
  await pushImage(registry, 'team/layered', '1', { layers: [base, first, second], config: { config: { Cmd: ['sh'] }, history } });
  layered = `${registry.host}/team/layered:1`;
  const pulled = await engine.docker(['pull', busybox]);
  assert.equal(pulled.code, 0, pulled.stderr);
});

after(async () => {
  await engine?.stop();
  await registry?.stop();
});

async function docker(...args: string[]) {
  return engine.docker(args);
}

async function ok(...args: string[]): Promise<string> {
  const r = await engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Calls the API directly, for what the CLI would not send. */
function api(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: engine.socket, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('images', () => {
  test('pull shows Docker\'s progress, and images, inspect and history describe the image', async () => {
    const r = await docker('pull', layered);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1: Pulling from team\/layered$/m);
    assert.match(r.stdout, /: Pull complete$/m);
    assert.match(r.stdout, /^Digest: sha256:[0-9a-f]{64}$/m);
    assert.match(r.stdout, new RegExp(`^Status: Downloaded newer image for ${layered}$`, 'm'));
    const again = await docker('pull', layered);
    assert.match(again.stdout, new RegExp(`^Status: Image is up to date for ${layered}$`, 'm'));
    const list = await ok('images', '--format', '{{.Repository}}:{{.Tag}}');
    assert.ok(list.split('\n').includes(layered), list);
    const inspect = JSON.parse(await ok('image', 'inspect', layered))[0];
    assert.deepEqual(inspect.RepoTags, [layered]);
    assert.equal(inspect.Os, 'linux');
    assert.equal(inspect.RootFS.Layers.length, 3);
    assert.deepEqual(inspect.Config.Cmd, ['sh']);
    const history = (await ok('history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', layered)).trim().split('\n');
    assert.deepEqual(history.map((h) => h.split('|')[1]), ['CMD ["sh"]', 'RUN rm /data/gone', 'COPY data /data', 'ADD busybox /']);
    assert.equal(history[0].split('|')[0], inspect.Id);
    assert.deepEqual(history.slice(1).map((h) => h.split('|')[0]), ['<missing>', '<missing>', '<missing>']);
  });

  test('layers that delete files and replace directories show the merged view', async () => {
    const out = await ok('run', '--rm', layered, 'sh', '-c', 'ls /data; echo ---; ls /opaque');
    assert.equal(out, 'keep\n---\nnew\n');
  });

  test('tag and rmi: untag while other tags remain, refuse while a container uses the image', async () => {
    await ok('tag', busybox, 'local/copy:v1');
    assert.ok((await ok('images', '--format', '{{.Repository}}:{{.Tag}}')).includes('local/copy:v1'));
    const id = (await ok('create', 'local/copy:v1', 'true')).trim();
    const refused = await docker('rmi', 'local/copy:v1');
    // Still tagged twice: only the tag goes.
    assert.equal(refused.code, 0, refused.stderr);
    assert.match(refused.stdout, /Untagged: local\/copy:v1/);
    // An image with one tag, used by a container: refused, then removed once the container is.
    await pushImage(registry, 'team/solo', '1', { layers: [await busyboxLayer()], config: { created: '2025-05-05T00:00:00Z' } });
    const solo = `${registry.host}/team/solo:1`;
    await ok('pull', solo);
    const user = (await ok('create', solo, 'true')).trim();
    const inUse = await docker('rmi', solo);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /conflict: unable to remove repository reference ".*team\/solo:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
    await ok('rm', id, user);
    const soloId = (await ok('image', 'inspect', '-f', '{{.Id}}', solo)).trim();
    const removed = await ok('rmi', solo);
    assert.match(removed, /Untagged: .*team\/solo:1/);
    assert.match(removed, /Deleted: sha256:[0-9a-f]{64}/);
    // Its config blob is gone from the content store; the layer busybox shares stays.
    const blobs = await readdir(join(engine.dataRoot, 'content', 'blobs', 'sha256'));
    assert.ok(!blobs.includes(soloId.slice(7)), 'the config blob was collected');
    assert.equal(await ok('run', '--rm', busybox, 'echo', 'still'), 'still\n');
  });

  test('an unknown image is a 404 that names it; a missing tag in the registry is Docker\'s error', async () => {
    const inspect = await docker('image', 'inspect', 'nope:1');
    assert.notEqual(inspect.code, 0);
    assert.match(inspect.stderr, /No such image: nope:1/);
    const pull = await docker('pull', `${registry.host}/library/busybox:nope`);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /manifest for .*busybox:nope not found: manifest unknown/);
  });

  test('image prune removes dangling images (with -a, every image no container uses) and says what it reclaimed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tug-prune-'));
    try {
      const build = async (text: string) => {
        await writeFile(join(dir, 'Dockerfile'), `FROM ${busybox}\nRUN echo ${text} > /a\n`);
        const r = await engine.docker(['build', '-q', '-t', 'prune-me:1', dir], { env: { DOCKER_BUILDKIT: '0' } });
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      const first = await build('one');
      await build('two'); // takes the tag: the first is dangling now
      const used = (await ok('run', '-d', busybox, 'sleep', '100')).trim();
      assert.deepEqual((await ok('images', '-q', '--no-trunc', '--filter', 'dangling=true')).trim().split('\n'), [first]);
      const pruned = await ok('image', 'prune', '-f');
      assert.match(pruned, new RegExp(`^Deleted Images:\ndeleted: ${first}\n`));
      assert.match(pruned, /Total reclaimed space: \d/);
      assert.equal((await ok('images', '-q', '--filter', 'dangling=true')).trim(), '');
      // -a: prune-me goes; busybox stays while a container uses it.
      await ok('image', 'prune', '-a', '-f');
      const left = await ok('images', '--format', '{{.Repository}}');
      assert.doesNotMatch(left, /prune-me/);
      assert.match(left, /busybox/);
      await docker('rm', '-f', used);
      const refused = await docker('image', 'prune', '-f', '--filter', 'label=x');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /invalid filter 'label'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('containers', () => {
  test('run passes exit codes and keeps stdout and stderr apart', async () => {
    const r = await docker('run', '--rm', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 7');
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('run pulls an image it does not have', async () => {
    await pushImage(registry, 'library/fresh', '2', { layers: [await busyboxLayer()] });
    const r = await docker('run', '--rm', `${registry.host}/library/fresh:2`, 'echo', 'pulled');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Unable to find image '.*fresh:2' locally/);
    assert.equal(r.stdout, 'pulled\n');
  });

  test('isolation: PID 1, no host process, its hostname, Docker\'s capabilities, mount refused, its own network devices', async () => {
    const out = await ok(
      'run', '--rm', '--hostname', 'box', busybox, 'sh', '-c',
      // ps into a file first: in a pipe, grep may not exist yet when ps reads /proc.
      'echo pid=$$; ps -o pid > /tmp/ps; grep -c . /tmp/ps; hostname; cat /etc/hostname; grep CapEff /proc/self/status; mount -t tmpfs x /mnt 2>/dev/null && echo mounted || echo refused; ls /sys/class/net',
    );
    // The header, the shell and ps: no process of the host.
    assert.equal(out, 'pid=1\n3\nbox\nbox\nCapEff:\t00000000a80425fb\nrefused\neth0\nlo\n');
  });

  test('--network host shares the host\'s interfaces; none has only lo', async () => {
    const host = await ok('run', '--rm', '--network', 'host', busybox, 'ls', '/sys/class/net');
    assert.ok(host.split('\n').filter(Boolean).length > 1, host);
    assert.equal(await ok('run', '--rm', '--network', 'none', busybox, 'ls', '/sys/class/net'), 'lo\n');
  });

  test('--mount binds a host path (read-only when asked) and mounts a tmpfs; a missing source is refused at create', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tug-mount-'));
    try {
      await writeFile(join(dir, 'f'), 'from host\n');
      const out = await ok('run', '--rm', '--mount', `type=bind,source=${dir},target=/host`, '--mount', 'type=tmpfs,target=/scratch', busybox,
        'sh', '-c', 'cat /host/f; echo written > /host/g; grep " /scratch " /proc/mounts | cut -d" " -f3');
      assert.equal(out, 'from host\ntmpfs\n');
      assert.equal(await readFile(join(dir, 'g'), 'utf8'), 'written\n');
      const ro = await docker('run', '--rm', '--mount', `type=bind,source=${dir},target=/host,readonly`, busybox, 'sh', '-c', 'echo x > /host/h');
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /Read-only file system/);
      const inspect = JSON.parse(await ok('create', '--mount', `type=bind,src=${dir},dst=/host`, busybox).then((id) => ok('inspect', id.trim())));
      assert.deepEqual(inspect[0].Mounts, [{ Type: 'bind', Source: dir, Destination: '/host', Mode: '', RW: true, Propagation: 'rprivate' }]);
      await ok('rm', inspect[0].Id);
      const missing = await docker('create', '--mount', 'type=bind,source=/no/such/dir,target=/x', busybox);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /invalid mount config for type "bind": bind source path does not exist: \/no\/such\/dir/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('user, workdir, env and entrypoint combine with the image\'s as Docker combines them', async () => {
    assert.equal(await ok('run', '--rm', '--user', '1000:1000', busybox, 'id'), 'uid=1000(app) gid=1000(app)\n');
    assert.equal(await ok('run', '--rm', '-u', 'app', '-w', '/made/here', busybox, 'sh', '-c', 'pwd; echo $HOME'), '/made/here\n/home/app\n');
    const env = await ok('run', '--rm', '-e', 'A=1', '-e', 'FROM_IMAGE=2', busybox, 'env');
    assert.match(env, /^A=1$/m);
    assert.match(env, /^FROM_IMAGE=2$/m);
    assert.match(env, /^HOSTNAME=[0-9a-f]{12}$/m);
    assert.equal(await ok('run', '--rm', '--entrypoint', 'echo', busybox, 'a', 'b'), 'a b\n');
    const missing = await docker('run', '--rm', busybox, 'no-such-command');
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /no-such-command.*executable file not found in \$PATH/);
  });

  test('a memory hog is OOM-killed and reported as Docker reports it', async () => {
    const name = 'hog';
    const r = await docker('run', '--name', name, '-m', '32m', busybox, 'sh', '-c', 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done');
    assert.equal(r.code, 137);
    assert.equal((await ok('inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', name)).trim(), 'true 137');
    await ok('rm', name);
  });

  test('a fork bomb is held at --pids-limit', async () => {
    const r = await docker('run', '--rm', '--pids-limit', '10', busybox, 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null; ps -o pid | grep -c .');
    // The header line plus at most 10 processes (sh, the sleeps that forked, ps itself, grep).
    assert.ok(Number(r.stdout.trim()) <= 11, r.stdout + r.stderr);
  });

  test('top shows the processes with PID and PPID, as a tree', async () => {
    const id = (await ok('run', '-d', busybox, 'sh', '-c', 'sleep 100 & sleep 100 & wait')).trim();
    try {
      let result: { Titles: string[]; Processes: string[][] } = { Titles: [], Processes: [] };
      // Until both children have exec'd sleep (a child just forked still shows as sh).
      for (let i = 0; i < 50 && result.Processes.filter((p) => p[7] === 'sleep 100').length < 2; i++) {
        result = JSON.parse((await api('GET', `/containers/${id}/top`)).body);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(result.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
      // Found by command: host PIDs may wrap around, so the children can sort before their parent.
      const sh = result.Processes.find((p) => /^sh -c/.test(p[7]));
      assert.ok(sh, JSON.stringify(result.Processes));
      const sleeps = result.Processes.filter((p) => p !== sh);
      assert.deepEqual(sleeps.map((p) => [p[2], p[7]]), [[sh[1], 'sleep 100'], [sh[1], 'sleep 100']]);
      // Tug's own variant: the PIDs as the container sees them.
      const inside = JSON.parse((await api('GET', `/tug/containers/${id}/top?ps_args=-o+pid,ppid,args`)).body) as typeof result;
      assert.deepEqual(inside.Processes, [['1', '0', sh[7]], ['2', '1', 'sleep 100'], ['3', '1', 'sleep 100']].slice(0, result.Processes.length));
      const aux = await ok('top', id, 'aux');
      assert.match(aux.split('\n')[0], /^USER\s+PID\s+%CPU\s+%MEM\s+VSZ\s+RSS\s+TTY\s+STAT\s+START\s+TIME\s+COMMAND\s+PPID$/);
    } finally {
      await docker('rm', '-f', id);
    }
  });

  test('logs are stored, with timestamps when asked, and -f ends with the container', async () => {
    const id = (await ok('run', '-d', busybox, 'sh', '-c', 'echo one; echo two >&2; sleep 0.3; echo three')).trim();
    const followed = await docker('logs', '-f', id);
    assert.equal(followed.stdout, 'one\nthree\n');
    assert.equal(followed.stderr, 'two\n');
    const stamped = await ok('logs', '-t', id);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one\n\d{4}-.*Z three\n$/);
    assert.equal(await ok('logs', '--tail', '1', id), 'three\n');
    await ok('rm', id);
  });

  test('stop sends the stop signal, then SIGKILL after the timeout; kill -s delivers', async () => {
    const trapping = (await ok('run', '-d', busybox, 'sh', '-c', 'trap "echo got TERM; exit 0" TERM; while :; do sleep 0.1; done')).trim();
    await new Promise((r) => setTimeout(r, 200));
    await ok('stop', trapping);
    assert.equal((await ok('inspect', '-f', '{{.State.ExitCode}}', trapping)).trim(), '0');
    assert.equal(await ok('logs', trapping), 'got TERM\n');
    // PID 1 without a handler ignores SIGTERM: after 1 s it is killed.
    const stubborn = (await ok('run', '-d', busybox, 'sleep', '100')).trim();
    const started = Date.now();
    await ok('stop', '-t', '1', stubborn);
    assert.ok(Date.now() - started >= 900);
    assert.equal((await ok('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', stubborn)).trim(), 'exited 137');
    const usr = (await ok('run', '-d', busybox, 'sh', '-c', 'trap "echo got USR1; exit 3" USR1; while :; do sleep 0.1; done')).trim();
    await new Promise((r) => setTimeout(r, 200));
    await ok('kill', '-s', 'USR1', usr);
    assert.equal((await ok('wait', usr)).trim(), '3');
    await ok('rm', trapping, stubborn, usr);
  });

  test('ps, inspect, rm: a running container is refused unless forced', async () => {
    const id = (await ok('run', '-d', '--name', 'keeper', busybox, 'sleep', '100')).trim();
    const ps = await ok('ps', '--format', '{{.ID}} {{.Names}} {{.Status}}');
    assert.match(ps, new RegExp(`^${id.slice(0, 12)} keeper Up `, 'm'));
    const inspect = JSON.parse(await ok('inspect', 'keeper'))[0];
    assert.equal(inspect.Id, id);
    assert.equal(inspect.Name, '/keeper');
    assert.equal(inspect.State.Running, true);
    assert.ok(inspect.State.Pid > 0);
    const refused = await docker('rm', 'keeper');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /container is running: stop the container before removing or force remove/);
    const clash = await docker('create', '--name', 'keeper', busybox);
    assert.match(clash.stderr, /Conflict\. The container name "\/keeper" is already in use/);
    await ok('rm', '-f', 'keeper');
    assert.doesNotMatch(await ok('ps', '-a', '--format', '{{.Names}}'), /keeper/);
  });

  test('events report every change', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (await ok('run', '--name', 'eventful', busybox, 'true')).trim() || (await ok('ps', '-aq', '--filter', 'name=eventful')).trim();
    await ok('rm', 'eventful');
    const until = Math.floor(Date.now() / 1000) + 1;
    const out = await ok('events', '--since', String(since), '--until', String(until), '--filter', 'container=eventful', '--format', '{{.Action}}');
    assert.deepEqual(out.trim().split('\n'), ['create', 'attach', 'start', 'die', 'destroy'].filter((a) => a !== 'attach' || out.includes('attach')));
    void id;
  });
});

describe('limits and streams', () => {
  test('a kept-alive connection serves call after call without piling up listeners', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: engine.socket, path: '/_ping', agent }, (res) => {
          sockets.add(res.socket);
          res.resume().on('end', resolve);
        });
        req.on('error', reject).end();
      });
    }
    agent.destroy();
    assert.equal(sockets.size, 1, 'the calls shared one connection');
    assert.doesNotMatch(engine.log(), /MaxListenersExceededWarning/);
  });

  test('--memory, --cpus, --cpu-shares and --pids-limit land in the container\'s cgroups', async () => {
    const id = (await ok('run', '-d', '-m', '64m', '--cpus', '0.5', '--cpu-shares', '512', '--pids-limit', '20', busybox, 'sleep', '100')).trim();
    try {
      const pid = (await ok('inspect', '-f', '{{.State.Pid}}', id)).trim();
      const cgroups = new Map(
        (await readFile(`/proc/${pid}/cgroup`, 'utf8'))
          .trim()
          .split('\n')
          .flatMap((line) => {
            const [, controllers, path] = line.split(':');
            return controllers.split(',').map((c) => [c, path] as const);
          }),
      );
      const read = async (controller: string, file: string) => (await readFile(`/sys/fs/cgroup/${controller}${cgroups.get(controller)}/${file}`, 'utf8')).trim();
      assert.equal(await read('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(await read('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(await read('cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(await read('cpu', 'cpu.shares'), '512');
      assert.equal(await read('pids', 'pids.max'), '20');
      assert.ok(cgroups.get('pids')!.endsWith(`/${id}`));
    } finally {
      await docker('rm', '-f', id);
    }
  });

  test('attach streams a running container\'s output and ends with it', async () => {
    const id = (await ok('run', '-d', busybox, 'sh', '-c', 'sleep 0.5; echo late; echo also >&2; exit 5')).trim();
    const attached = await docker('attach', id);
    assert.equal(attached.code, 5);
    assert.equal(attached.stdout, 'late\n');
    assert.equal(attached.stderr, 'also\n');
    await ok('rm', id);
  });

  test('stdin reaches the container with -i', async () => {
    const r = await engine.docker(['run', '--rm', '-i', busybox, 'sh', '-c', 'read line; echo "got $line"'], { input: 'hello\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got hello\n');
  });
});

describe('terminals (-t)', () => {
  test('a terminal of its own in /dev/pts, stderr on it too, owned by the container\'s user', async () => {
    assert.deepEqual(await docker('run', '--rm', '-t', busybox, 'sh', '-c', 'tty; echo err >&2; stat -c %u $(tty)'), {
      code: 0,
      stdout: '/dev/pts/0\r\nerr\r\n0\r\n',
      stderr: '',
    });
    assert.equal((await docker('run', '--rm', '-t', '-u', '1000', busybox, 'sh', '-c', 'stat -c %u $(tty)')).stdout, '1000\r\n');
    // Logged as stdout, as Docker logs a terminal.
    const id = (await ok('run', '-d', '-t', busybox, 'sh', '-c', 'echo out; echo err >&2')).trim();
    await ok('wait', id);
    const logs = await docker('logs', id);
    assert.deepEqual([logs.stdout, logs.stderr], ['out\r\nerr\r\n', '']);
    await ok('rm', id);
  });

  test('the client\'s window size from the start, resizes, and stdin through the terminal', async () => {
    // script(1) gives the docker CLI a terminal of a known size, and feeds it a line later.
    const out = await new Promise<string>((resolve) => {
      const child = execFile(
        'script',
        ['-qec', `stty rows 33 cols 77; docker run --rm -it ${busybox} sh -c 'stty size; read x; echo got:$x'`, '/dev/null'],
        { env: { ...process.env, DOCKER_HOST: engine.host }, timeout: 30_000 },
        (_error, stdout) => resolve(stdout),
      );
      setTimeout(() => child.stdin!.write('hello\n'), 1000);
    });
    assert.match(out, /^33 77\r\n/);
    assert.match(out, /got:hello\r\n/);
    // POST /containers/{id}/resize on a running one.
    const id = (await ok('run', '-d', '-t', busybox, 'sh', '-c', 'sleep 1; stty size')).trim();
    assert.equal((await api('POST', `/containers/${id}/resize?h=40&w=100`)).status, 200);
    assert.equal((await api('POST', `/containers/${id}/resize?h=x&w=100`)).status, 400);
    await ok('wait', id);
    assert.equal((await docker('logs', id)).stdout, '40 100\r\n');
    assert.equal((await api('POST', `/containers/${id}/resize?h=40&w=100`)).status, 409);
    await ok('rm', id);
  });
});

describe('pulls the engine must refuse or authenticate', () => {
  test('a registry behind a Bearer token server, with credentials from the docker config', async () => {
    const proxy = await startProxy(registry.host, { users: { user: 'pass' } });
    const config = await mkdtemp(join(tmpdir(), 'tug-docker-config-'));
    try {
      await pushImage(registry, 'secret/app', '1', { layers: [await busyboxLayer()] });
      const anonymous = await docker('pull', `${proxy.host}/secret/app:1`);
      assert.notEqual(anonymous.code, 0);
      await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('user:pass').toString('base64') } } }));
      const pulled = await engine.docker(['pull', `${proxy.host}/secret/app:1`], { env: { DOCKER_CONFIG: config } });
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.ok(proxy.authorized > 0);
      assert.ok(proxy.tokenRequests.some((t) => t.user === 'user' && t.scope === 'repository:secret/app:pull'));
    } finally {
      await proxy.close();
      await rm(config, { recursive: true, force: true });
    }
  });

  test('docker login checks credentials with the registry; the CLI keeps them and pulls with them', async () => {
    const proxy = await startProxy(registry.host, { users: { user: 'pass' } });
    const config = await mkdtemp(join(tmpdir(), 'tug-docker-config-'));
    const basicProxy = await startProxy(registry.host, {});
    try {
      await pushImage(registry, 'secret/login', '1', { layers: [await busyboxLayer()] });
      const withConfig = (args: string[], input?: string) => engine.docker(args, { env: { DOCKER_CONFIG: config }, ...(input ? { input } : {}) });
      const wrong = await withConfig(['login', proxy.host, '-u', 'user', '--password-stdin'], 'nope\n');
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, new RegExp(`Error response from daemon: login attempt to http://${proxy.host}/v2/ failed with status: 401 Unauthorized`));
      const right = await withConfig(['login', proxy.host, '-u', 'user', '--password-stdin'], 'pass\n');
      assert.equal(right.code, 0, right.stderr);
      assert.match(right.stdout, /Login Succeeded/);
      assert.ok(proxy.tokenRequests.some((t) => t.user === 'user'), 'the token server saw the credentials');
      const stored = JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(Buffer.from(stored.auths[proxy.host].auth, 'base64').toString(), 'user:pass');
      const pulled = await withConfig(['pull', `${proxy.host}/secret/login:1`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      // A registry that asks for nothing takes anyone, as Docker's does.
      assert.equal((await withConfig(['login', basicProxy.host, '-u', 'anyone', '--password-stdin'], 'x\n')).code, 0);
    } finally {
      await proxy.close();
      await basicProxy.close();
      await rm(config, { recursive: true, force: true });
    }
  });

  test('a blob whose bytes do not match its digest is refused, and nothing of it is stored', async () => {
    const pushed = await pushImage(registry, 'bad/blob', '1', { layers: [await tarOf([{ name: 'only-here', body: 'x'.repeat(5000) }])] });
    const proxy = await startProxy(registry.host, { corrupt: (path) => path.endsWith(`/blobs/${pushed.layerDigests[0]}`) });
    try {
      const r = await docker('pull', `${proxy.host}/bad/blob:1`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /digest/i);
      const blobs = await readdir(join(engine.dataRoot, 'content', 'blobs', 'sha256'));
      assert.ok(!blobs.includes(pushed.layerDigests[0].slice(7)), 'the corrupt layer is not in the content store');
      assert.equal((await docker('image', 'inspect', `${proxy.host}/bad/blob:1`)).code, 1);
    } finally {
      await proxy.close();
    }
  });

  test('a layer reaching outside its snapshot is refused and writes nothing outside', async () => {
    const target = join(tmpdir(), `tug-escape-${process.pid}`);
    await rm(target, { force: true });
    const evil = await tarOf([
      { name: `../../../../../../../../..${target}`, body: 'escaped' },
      { name: 'link', type: 'symlink', linkname: '/tmp' },
      { name: `link/tug-escape-link-${process.pid}`, body: 'escaped' },
    ]);
    await pushImage(registry, 'bad/layer', '1', { layers: [await busyboxLayer(), evil] });
    const r = await docker('pull', `${registry.host}/bad/layer:1`);
    assert.notEqual(r.code, 0);
    assert.ok(!existsSync(target), 'nothing written at the escape target');
    assert.ok(!existsSync(`/tmp/tug-escape-link-${process.pid}`), 'nothing written through the symlink');
    assert.equal((await docker('image', 'inspect', `${registry.host}/bad/layer:1`)).code, 1);
    // A symlink one layer places, which the next layer writes through: layers unpack side by
    // side, and the upper one is refused once the one below is in place.
    const lower = await tarOf([{ name: 'out', type: 'symlink', linkname: '/tmp' }]);
    const upper = await tarOf([{ name: `out/tug-escape-lower-${process.pid}`, body: 'escaped' }]);
    await pushImage(registry, 'bad/lower', '1', { layers: [await busyboxLayer(), lower, upper] });
    const through = await docker('pull', `${registry.host}/bad/lower:1`);
    assert.notEqual(through.code, 0);
    assert.match(through.stderr, /symlink of a lower layer/);
    assert.ok(!existsSync(`/tmp/tug-escape-lower-${process.pid}`), 'nothing written through the lower layer\'s symlink');
  });
});

describe('pulls in a process of their own', () => {
  /** The daemon's child processes that are pulls. */
  const pullProcesses = async (daemon: number) => {
    const found: number[] = [];
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== daemon) continue;
      if ((await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '')).split('\0').includes('TUG_PULL_PROCESS=1')) found.push(Number(name));
    }
    return found;
  };

  test('two pulls at once of images sharing a layer both complete, each in its own process', async () => {
    const e = await startEngine();
    try {
      const seen = new Set<number>();
      let pulling = true;
      const watching = (async () => {
        while (pulling) {
          for (const pid of await pullProcesses(e.pid)) seen.add(pid);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const [a, b] = await Promise.all([e.docker(['pull', busybox]), e.docker(['pull', layered])]);
      pulling = false;
      await watching;
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.ok(seen.size >= 1, 'the pulls ran in processes of the engine\'s');
      assert.equal((await e.docker(['run', '--rm', layered, 'cat', '/data/keep'])).stdout, 'keep\n');
      assert.equal((await e.docker(['run', '--rm', busybox, 'echo', 'ok'])).stdout, 'ok\n');
      assert.deepEqual(await pullProcesses(e.pid), [], 'no pull process is left');
    } finally {
      await e.stop();
    }
  });

  test('a pull whose client goes away ends its process and leaves nothing half-written', async () => {
    const layer = await tarOf([{ name: 'big', body: randomBytes(300_000).toString('hex') }]);
    const pushed = await pushImage(registry, 'hangs/app', '1', { layers: [await busyboxLayer(), layer] });
    const proxy = await startProxy(registry.host, { stall: (path) => path.endsWith(`/blobs/${pushed.layerDigests[1]}`) });
    const e = await startEngine();
    try {
      // The API directly: the stream is read until the stalled layer downloads, then dropped.
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: e.socket, method: 'POST', path: `/images/create?fromImage=${proxy.host}/hangs/app&tag=1` }, (res) => {
          res.on('data', (data: Buffer) => {
            if (data.toString().includes(`"status":"Downloading"`) && data.toString().includes(pushed.layerDigests[1].slice(7, 19))) {
              req.destroy();
              resolve();
            }
          });
          res.on('end', () => reject(new Error('the pull ended before the stalled layer downloaded')));
        });
        req.on('error', () => {});
        req.end();
      });
      for (let i = 0; (await pullProcesses(e.pid)).length > 0; i++) {
        assert.ok(i < 500, 'the pull process ends');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(await readdir(join(e.dataRoot, 'content', 'ingest')).catch(() => []), []);
      assert.deepEqual((await readdir(join(e.dataRoot, 'snapshots')).catch(() => [])).filter((n) => n.startsWith('.')), [], e.log());
      assert.equal((await e.docker(['image', 'inspect', `${proxy.host}/hangs/app:1`])).code, 1);
    } finally {
      await e.stop();
      await proxy.close();
    }
  });
});

describe('the vfs storage driver (no overlay)', () => {
  test('containers run on a copy of the image, and their changes stay theirs', async () => {
    const vfs = await startEngine({ args: ['--storage-driver', 'vfs'] });
    try {
      assert.equal((await vfs.docker(['pull', layered])).code, 0);
      assert.equal((await vfs.docker(['info', '--format', '{{.Driver}}'])).stdout, 'vfs\n');
      const first = await vfs.docker(['run', '--name', 'copy1', layered, 'sh', '-c', 'ls /data /opaque; echo changed > /data/keep']);
      assert.equal(first.stdout, '/data:\nkeep\n\n/opaque:\nnew\n');
      assert.equal((await vfs.docker(['run', '--rm', layered, 'cat', '/data/keep'])).stdout, 'keep\n');
      assert.equal((await vfs.docker(['start', '-a', 'copy1'])).stdout, '/data:\nkeep\n\n/opaque:\nnew\n');
      assert.equal((await vfs.docker(['inspect', '-f', '{{.GraphDriver.Name}}', 'copy1'])).stdout, 'vfs\n');
    } finally {
      await vfs.stop();
    }
  });
});

describe('the engine across a restart', () => {
  /** The engine's cgroups in the pids hierarchy (they sit under this process's own). */
  const pidsParent = async () => {
    const line = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => l.split(':')[1]?.split(',').includes('pids'));
    const own = line?.split(':')[2] ?? '/';
    return `/sys/fs/cgroup/pids${own === '/' ? '' : own}/tug`;
  };
  const standbysOf = async (pid: number) => (await readdir(await pidsParent()).catch(() => [])).filter((n) => n.startsWith(`standby-${pid}-`));

  test('a standby monitor waits in a cgroup of its own while the engine runs, and goes with it', async () => {
    const idle = await startEngine();
    try {
      for (let i = 0; (await standbysOf(idle.pid)).length === 0; i++) {
        assert.ok(i < 250, 'a standby cgroup appears');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await idle.stop();
    }
    assert.deepEqual(await standbysOf(idle.pid), []);
  });

  test('containers outlive the daemon; the next one finds them, learns how they ended, and cleans up after them', async () => {
    const first = await startEngine({ args: ['--debug'] });
    const dir = join(first.socket, '..');
    let second: TestEngine | undefined;
    let stopped = false;
    try {
      const run = async (e: TestEngine, ...args: string[]) => {
        const r = await e.docker(args);
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.trim();
      };
      await run(first, 'pull', busybox);
      const long = await run(first, 'run', '-d', busybox, 'sleep', '60');
      const short = await run(first, 'run', '-d', busybox, 'sh', '-c', 'sleep 1; echo bye; exit 3');
      const pid = Number(await run(first, 'inspect', '-f', '{{.State.Pid}}', long));
      // --debug logs every request as dockerd -D does.
      assert.match(first.log(), /^POST \/v[\d.]+\/containers\/create 201 [\d.]+ ms$/m);
      // A standby monitor waits in a cgroup of its own while the engine runs, and goes with it.
      assert.equal((await standbysOf(first.pid)).length, 1);
      await first.stop({ keep: true });
      assert.deepEqual(await standbysOf(first.pid), []);
      assert.ok(existsSync(`/proc/${pid}`), 'the container runs on without its engine');
      await new Promise((r) => setTimeout(r, 1500)); // the short one ends meanwhile

      second = await startEngine({ dir });
      assert.equal(await run(second, 'ps', '-q', '--no-trunc'), long);
      assert.equal(await run(second, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', short), 'exited 3');
      assert.equal(await run(second, 'logs', short), 'bye');
      // Its cgroup is the engine's again: top lists what it holds, stop empties and removes it.
      assert.match(await run(second, 'top', long), /sleep 60/);
      assert.ok(existsSync(join(await pidsParent(), long)));
      await run(second, 'stop', '-t', '1', long);
      assert.equal(await run(second, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', long), 'exited 137');
      for (let i = 0; existsSync(join(await pidsParent(), long)); i++) {
        assert.ok(i < 100, 'the cgroup of the stopped container is removed');
        await new Promise((r) => setTimeout(r, 20));
      }
      await run(second, 'rm', long, short);
      // An engine with no container left ends its standby too.
      stopped = true;
      await second.stop();
      assert.deepEqual(await standbysOf(second.pid), []);
    } finally {
      if (!stopped) await (second ?? first).stop();
    }
  });
});

describe('the API on bad input', () => {
  test('an unknown endpoint is a 404 naming it; bad JSON a 400; an unknown container a 404 in Docker\'s shape', async () => {
    const unknown = await api('GET', '/v1.47/no/such/thing');
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.body), { message: 'page not found: GET /v1.47/no/such/thing' });
    const bad = await api('POST', '/containers/create', '{not json');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /invalid JSON/);
    const missing = await api('POST', '/containers/deadbeef/start');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such container: deadbeef' });
    const signal = await api('POST', '/containers/create', JSON.stringify({ Image: busybox, Cmd: ['true'] }));
    const id = JSON.parse(signal.body).Id;
    const killed = await api('POST', `/containers/${id}/kill?signal=SIGNOPE`);
    assert.equal(killed.status, 400);
    await api('DELETE', `/containers/${id}`);
    const old = await api('GET', '/v1.12/version');
    assert.equal(old.status, 400);
    assert.match(JSON.parse(old.body).message, /client version 1.12 is too old/);
  });
});

describe('the tug CLI', () => {
  test('run -t and -it: a terminal, sized as the client\'s window, with keys from it', async () => {
    assert.deepEqual(await engine.tug(['run', '--rm', '-t', busybox, 'sh', '-c', 'tty']), { code: 0, stdout: '/dev/pts/0\r\n', stderr: '' });
    const noTerminal = await engine.tug(['run', '--rm', '-it', busybox, 'sh']);
    assert.notEqual(noTerminal.code, 0);
    assert.match(noTerminal.stderr, /the input device is not a TTY/);
    // script(1) gives tug a terminal of a known size, and types a line into it later.
    const out = await new Promise<string>((resolve) => {
      const child = execFile(
        'script',
        ['-qec', `stty rows 20 cols 50; ./dist/tug.js --host ${engine.host} run --rm -it ${busybox} sh -c 'stty size; read x; echo got:$x'; echo exit=$?`, '/dev/null'],
        { timeout: 30_000 },
        (_error, stdout) => resolve(stdout),
      );
      // Typed once the container has its terminal (it printed the size): earlier, the outer
      // terminal would still be in cooked mode and echo the line itself.
      let seen = '';
      child.stdout!.on('data', (chunk: string) => {
        if (!seen.includes('20 50') && (seen += chunk).includes('20 50')) child.stdin!.write('hello\n');
      });
    });
    // Each line ends \r\n in the container's terminal, and the outer one adds its own \r.
    assert.match(out, /^20 50\r+\n/);
    assert.match(out, /got:hello\r+\nexit=0/);
  });

  test('run, ps, images, logs, stop, rm and rmi through its own client', async () => {
    const run = await engine.tug(['run', '--rm', busybox, 'sh', '-c', 'echo hi; exit 4']);
    assert.equal(run.code, 4, run.stderr);
    assert.equal(run.stdout, 'hi\n');
    const detached = await engine.tug(['run', '-d', '--name', 'tugged', busybox, 'sh', '-c', 'echo logged; sleep 100']);
    assert.equal(detached.code, 0, detached.stderr);
    assert.match((await engine.tug(['ps'])).stdout, /tugged/);
    assert.match((await engine.tug(['images'])).stdout, /library\/busybox\s+latest/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await engine.tug(['logs', 'tugged'])).stdout, 'logged\n');
    assert.match((await engine.tug(['top', 'tugged'])).stdout, /PPID/);
    assert.equal((await engine.tug(['stop', '-t', '1', 'tugged'])).code, 0);
    assert.equal((await engine.tug(['rm', 'tugged'])).code, 0);
    const rmi = await engine.tug(['rmi', 'nope:1']);
    assert.equal(rmi.code, 1);
    assert.match(rmi.stderr, /No such image: nope:1/);
  });
});
