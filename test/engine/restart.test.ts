// Containers that outlive their engine, whether it was stopped or killed, and an engine killed in
// the middle of a pull or of a container's start: the next engine on the same data finds
// everything consistent, and what was running can still be attached, exec'd and stopped.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEngine, run, type TestEngine } from '../helpers/engine';
import { busyboxLayer, pushImage, tarOf } from '../helpers/images';
import { startProxy } from '../helpers/proxy';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { cpuTicks, procStat } from '../helpers/proc';
import { terminal } from '../helpers/terminal';
import { until } from '../helpers/wait';

let registry: TestRegistry;
let busybox: string;

before(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
  busybox = `${registry.host}/library/busybox:latest`;
});

after(() => registry?.stop());

/** A new engine on the data of one that has stopped. */
const again = (engine: TestEngine) => startEngine({ dir: dirname(engine.dataRoot) });

async function ok(engine: TestEngine, ...args: string[]): Promise<string> {
  const r = await engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** What a container leaves on the host while it runs: cgroups, a network namespace, forwarding rules. */
async function traces(id: string): Promise<string[]> {
  const cgroups = (await run('find', ['/sys/fs/cgroup', '-type', 'd', '-name', id])).stdout.split('\n').filter(Boolean);
  const namespaces = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.endsWith(`-${id.slice(0, 12)}`));
  const rules = (await run('iptables-save', [])).stdout.split('\n').filter((l) => l.includes(id.slice(0, 12)));
  return [...cgroups, ...namespaces, ...rules];
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && Number(procStat(n)?.[1]) === pid)
    .map(Number);
}

const cpuSeconds = (pid: number) => cpuTicks(pid) / 100;

const isPullProcess = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('TUG_PULL_PROCESS=1');
  } catch {
    return false;
  }
};

test('running containers outlive a stopped and a killed engine: the next one attaches (stdin, a terminal, detach keys), execs and stops them', async () => {
  let engine = await startEngine();
  try {
    await ok(engine, 'pull', busybox);
    const reader = await ok(engine, 'run', '-d', '-i', '--name', 'reader', busybox, 'sh', '-c', 'read line; echo got:$line; exit 4');
    const shell = await ok(engine, 'run', '-d', '-it', '--name', 'shell', busybox, 'sh');
    await ok(engine, 'run', '-d', '--name', 'done', busybox, 'sh', '-c', 'echo bye; exit 3');
    await ok(engine, 'wait', 'done');

    // Stopped as a daemon restart stops it.
    await engine.stop({ keep: true });
    engine = await again(engine);
    assert.equal(await ok(engine, 'exec', 'shell', 'echo', 'exec works'), 'exec works');
    // A terminal attached to the shell: a command typed runs; ctrl-p ctrl-q detach and leave it running.
    const env = { DOCKER_HOST: engine.host };
    for (const [flags, keys] of [['', '\x10\x11'], ['--detach-keys=ctrl-a,d', '\x01d']]) {
      const attached = terminal(`docker attach ${flags} shell`, env);
      try {
        // The terminal is in place once the shell answers, and shows its prompt (no newline) at once.
        await until('the shell answers', () => {
          attached.type('echo $((6*7))\r');
          return attached.waitFor(/42\r\n\/ # /, { timeoutMs: 500 }).then(() => true, () => false);
        }).catch((error: Error) => assert.fail(`${error.message}: ${JSON.stringify(attached.output())}`));
        // Attached and idle, the engine waits for output rather than polling the log.
        const before = cpuSeconds(engine.pid);
        await new Promise((r) => setTimeout(r, 1000));
        assert.ok(cpuSeconds(engine.pid) - before < 0.3, `the engine used ${cpuSeconds(engine.pid) - before} s of CPU in a second of an idle attach`);
        attached.type(keys);
        assert.notEqual(await Promise.race([attached.exited, new Promise((r) => setTimeout(() => r('still attached'), 10_000))]), 'still attached');
      } finally {
        attached.close();
      }
      assert.equal(await ok(engine, 'inspect', '-f', '{{.State.Status}}', 'shell'), 'running', `detached with ${JSON.stringify(keys)}`);
    }

    // Killed: the next engine still reaches them.
    await engine.stop({ keep: true, signal: 'SIGKILL' });
    engine = await again(engine);
    const attached = await engine.docker(['attach', 'reader'], { input: 'hello\n', timeoutMs: 20_000 });
    assert.deepEqual([attached.code, attached.stdout], [4, 'got:hello\n'], attached.stderr);
    assert.equal(await ok(engine, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', reader), 'exited 4');
    assert.equal(await ok(engine, 'exec', 'shell', 'echo', 'still there'), 'still there');
    await ok(engine, 'stop', '-t', '1', 'shell');
    assert.equal(await ok(engine, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', shell), 'exited 137');
    assert.equal(await ok(engine, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'done'), 'exited 3');
    assert.equal(await ok(engine, 'logs', 'done'), 'bye');
    await until('the stopped container leaves nothing behind', async () => (await traces(shell)).length === 0);
  } finally {
    await engine.stop();
  }
});

test('a health check goes on after an engine restart: starting again, its log kept, then healthy', async () => {
  let engine = await startEngine();
  try {
    await ok(engine, 'pull', busybox);
    await ok(engine, 'run', '-d', '--name', 'checked', '--health-cmd', 'echo fine', '--health-interval', '200ms', busybox, 'sleep', '300');
    const health = async () => JSON.parse(await ok(engine, 'inspect', '--format', '{{json .State.Health}}', 'checked')) as { Status: string; Log: { Start: string; Output: string }[] };
    await until('healthy', async () => (await health()).Status === 'healthy');
    const before = (await health()).Log;
    await engine.stop({ keep: true, signal: 'SIGKILL' });
    engine = await again(engine);
    const after = await health();
    assert.equal(after.Status, 'starting');
    assert.deepEqual(after.Log.slice(0, before.length), before, 'the log of the checks before the restart is kept');
    await until('healthy again', async () => (await health()).Status === 'healthy');
    assert.ok((await health()).Log.at(-1)!.Start > before.at(-1)!.Start, 'checked again after the restart');
  } finally {
    await engine.stop();
  }
});

test('an engine killed during a pull leaves no partial download: the image is absent, and the next engine pulls it whole', async () => {
  const layer = await tarOf([{ name: 'big', body: randomBytes(300_000).toString('hex') }]);
  const pushed = await pushImage(registry, 'slow', 'latest', { layers: [await busyboxLayer(), layer], config: { config: { Cmd: ['sh'] } } });
  let stalling = true;
  const proxy = await startProxy(registry.host, { stall: (path) => stalling && path.endsWith(`/blobs/${pushed.layerDigests[1]}`) });
  const image = `${proxy.host}/slow:latest`;
  try {
    // The pull's own process ends when its engine goes and removes what it began; killed with
    // the engine (an out-of-memory kill, a power cut), it leaves that to the next engine.
    for (const withPullProcess of [false, true]) {
      let engine = await startEngine();
      try {
        stalling = true;
        const ingest = join(engine.dataRoot, 'content', 'ingest');
        const pulling = engine.docker(['pull', image]);
        await until('the layer half downloaded', async () => {
          for (const name of await readdir(ingest).catch(() => [] as string[])) if ((await stat(join(ingest, name)).catch(() => null))?.size) return true;
          return false;
        });
        const pullProcesses = childrenOf(engine.pid).filter(isPullProcess);
        assert.equal(pullProcesses.length, 1, 'one pull process');
        if (withPullProcess) process.kill(pullProcesses[0], 'SIGKILL');
        await engine.stop({ keep: true, signal: 'SIGKILL' });
        assert.notEqual((await pulling).code, 0);
        await until('the pull process gone', () => !existsSync(`/proc/${pullProcesses[0]}`));
        engine = await again(engine);
        assert.deepEqual(await readdir(ingest), [], 'nothing half downloaded');
        assert.notEqual((await engine.docker(['image', 'inspect', image])).code, 0, 'the image is absent');
        stalling = false;
        await ok(engine, 'pull', image);
        assert.equal(await ok(engine, 'run', '--rm', image, 'sh', '-c', 'wc -c < /big'), '600000');
        const snapshots = join(engine.dataRoot, 'snapshots');
        assert.deepEqual((await readdir(snapshots)).filter((n) => n.startsWith('.tmp-')), [], 'no half-unpacked layer');
      } finally {
        await engine.stop();
      }
    }
  } finally {
    await proxy.close();
  }
});

test('an engine killed during a start leaves the container created, running or exited, whole: it starts, execs and goes without a trace', async (t) => {
  let engine = await startEngine();
  const seen: string[] = [];
  try {
    await ok(engine, 'pull', busybox);
    // Killed at moments spread over a start; last, the moment its process began (the start not
    // yet recorded).
    for (let i = 0; i <= 8; i++) {
      const id = await ok(engine, 'create', '-p', '127.0.0.1::8080', busybox, 'sleep', '300');
      const pidFile = join(engine.dataRoot, 'containers', id, 'pid');
      const starting = engine.docker(['start', id]);
      if (i < 8) await new Promise((r) => setTimeout(r, i * 40));
      else {
        // A busy wait: no turn of the event loop between seeing the file and the kill.
        const deadline = Date.now() + 10_000;
        while (!existsSync(pidFile) && Date.now() < deadline);
      }
      await engine.stop({ keep: true, signal: 'SIGKILL' });
      await starting;
      engine = await again(engine);

      const state = JSON.parse(await ok(engine, 'inspect', '-f', '{{json .State}}', id)) as { Status: string; Pid: number };
      seen.push(state.Status);
      assert.ok(['created', 'running', 'exited'].includes(state.Status), state.Status);
      if (state.Status === 'running') assert.ok(existsSync(`/proc/${state.Pid}`), 'its process runs');
      else {
        assert.deepEqual(await traces(id), [], 'a container not running holds nothing');
        await ok(engine, 'start', id);
      }
      assert.equal(await ok(engine, 'exec', id, 'echo', 'in'), 'in');
      await ok(engine, 'rm', '-f', id);
      await until('no trace of it', async () => (await traces(id)).length === 0);
    }
  } finally {
    t.diagnostic(`states after the kills: ${seen.join(' ')}`);
    await engine.stop();
  }
});
