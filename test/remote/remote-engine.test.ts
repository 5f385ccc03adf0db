// A remote engine from nothing, over a real sshd in a network namespace of the test's own: the
// engine installed over SFTP and started detached, the API reached through the socket forwarding;
// a second connection reuses both; a container runs there; `tug --host ssh://` runs and builds;
// a link that loses its server (killed, or gone silent) says so and connects again when it is back.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { ReconnectingEngine } from '../../runtime-agent/src/remote/reconnecting-engine';
import { RemoteEngine, type RemoteEngineOptions } from '../../runtime-agent/src/remote/remote-engine';
import { AttachedContainer } from '../../client/src/run';
import { busyboxArchive } from '../../scripts/busybox-image';
import { run } from '../helpers/engine';
import { startSshd, type TestSshd } from '../helpers/sshd';

const root = resolve(__dirname, '../..');
let sshd: TestSshd;
let dir: string;
let options: RemoteEngineOptions;

before(async () => {
  sshd = await startSshd();
  dir = await mkdtemp(join(tmpdir(), 'tug-remote-'));
  await sshd.knownHosts(join(dir, 'known_hosts'));
  options = {
    sshConfig: `Host remote\n  HostName ${sshd.host}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n`,
    knownHosts: [join(dir, 'known_hosts')],
    agent: '',
    prompts: { unknownHostKey: async () => false, passphrase: async () => undefined, password: async () => undefined },
    bundle: { tugJs: join(root, 'dist/tug.js'), shim: join(root, 'dist/tug-shim'), init: join(root, 'dist/tug-init') },
    // The "remote" machine shares this one's disk: its engine lives in the test's folder.
    dir: join(dir, 'home'),
    socket: join(dir, 'tug.sock'),
    dataRoot: join(dir, 'data'),
  };
});

/** Resolves once `check` holds, asked every 50 ms. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${check}`);
  }
}

after(async () => {
  const pid = Number(await readFile(join(dir, 'home/tugd.pid'), 'utf8').catch(() => '0'));
  if (pid) {
    const client = new EngineClient(join(dir, 'tug.sock'));
    for (const c of await client.call<{ Id: string }[]>('GET', '/containers/json?all=1').catch(() => [])) await client.call('DELETE', `/containers/${c.Id}?force=1`).catch(() => {});
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // It never started, or is gone.
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        break;
      }
    }
  }
  await sshd?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('from nothing: installed over SFTP, started detached, reached through the forwarded socket', async () => {
  const remote = await RemoteEngine.open('remote', options);
  try {
    assert.deepEqual([remote.uploaded, remote.started], [true, true]);
    assert.equal(remote.name, 'ssh://root@remote');
    const version = await new EngineClient(remote).call<{ Platform: { Name: string } }>('GET', '/version');
    assert.equal(version.Platform.Name, 'Tug');
    const installed = (await readFile(join(dir, 'home/tugd.pid'), 'utf8')).trim();
    assert.match(installed, /^\d+$/);
    const [engineDir] = await import('node:fs/promises').then((fs) => fs.readdir(join(dir, 'home/engine')));
    assert.match(engineDir, /^[0-9a-f]{16}$/);
    assert.ok((await stat(join(dir, 'home/engine', engineDir, 'tug-shim'))).mode & 0o100);
  } finally {
    remote.close();
  }
});

test('a second connection reuses the installed engine and the running daemon; a container runs there', async () => {
  const remote = await RemoteEngine.open('remote', options);
  try {
    assert.deepEqual([remote.uploaded, remote.started], [false, false]);
    const client = new EngineClient(remote);
    for await (const m of client.upload<{ error?: string }>('POST', '/images/load?quiet=1', Readable.from([await busyboxArchive('busybox:remote')]), { 'Content-Type': 'application/x-tar' })) {
      assert.equal(m.error, undefined);
    }
    let out = '';
    const container = await AttachedContainer.start(client, { image: 'busybox:remote', command: ['sh', '-c', 'echo hello from $(hostname)'], tty: false, interactive: false, autoRemove: true }, (d) => (out += d));
    assert.equal(await container.exited, 0);
    assert.match(out, /^hello from [0-9a-f]{12}\n$/);
  } finally {
    remote.close();
  }
});

/** A person whose ~/.ssh/config and known_hosts name the test host, and the environment their tug runs in. */
async function person(): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, 'person');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await writeFile(join(home, '.ssh/config'), options.sshConfig);
  await copyFile(join(dir, 'known_hosts'), join(home, '.ssh/known_hosts'));
  return { HOME: home, SSH_AUTH_SOCK: '', TUG_REMOTE_DIR: options.dir!, TUG_REMOTE_SOCKET: options.socket!, TUG_REMOTE_DATA_ROOT: options.dataRoot! };
}

test('tug --host ssh://… runs a container there, with ~/.ssh/config and known_hosts of the person', async () => {
  const env = await person();
  const ran = await run(join(root, 'dist/tug.js'), ['--host', 'ssh://remote', 'run', '--rm', 'busybox:remote', 'sh', '-c', 'echo remote $(cat /etc/hostname | cut -c1-3)'], { env });
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /^remote [0-9a-f]{3}\n$/);
  // Without a terminal to ask on, a host key not on record connects nothing.
  await writeFile(join(env.HOME!, '.ssh/known_hosts'), '');
  const refused = await run(join(root, 'dist/tug.js'), ['--host', 'ssh://remote', 'ps'], { env });
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /is not known and there is no terminal to ask on/);
  assert.match(refused.stderr, /was not accepted: not connecting/);
});

test('tug --host ssh://… build streams a large context there: the whole of it arrives, and the CLI never holds it in memory', async () => {
  const env = await person();
  const context = join(dir, 'context');
  await mkdir(context, { recursive: true });
  // 192 MiB the CLI would hold whole if it read the context into memory (a sparse file: no disk
  // is used here, the bytes are still read and sent).
  const size = 192 * 1024 * 1024;
  await writeFile(join(context, 'big'), '');
  await truncate(join(context, 'big'), size);
  await writeFile(join(context, 'Dockerfile'), 'FROM busybox:remote\nCOPY big /big\nRUN wc -c < /big > /size && rm /big\nCMD ["cat", "/size"]\n');
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  const built = await run(join(root, 'dist/tug.js'), ['--host', 'ssh://remote', 'build', '-q', '-t', 'built:remote', context], {
    env,
    timeoutMs: 120_000,
    onStart: (pid) => {
      // Its peak resident memory (VmHWM never goes down), read for as long as it runs.
      timer = setInterval(() => {
        readFile(`/proc/${pid}/status`, 'utf8').then((s) => (peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024)), () => {});
      }, 20);
    },
  });
  clearInterval(timer);
  assert.equal(built.code, 0, built.stderr);
  const ran = await run(join(root, 'dist/tug.js'), ['--host', 'ssh://remote', 'run', '--rm', 'built:remote'], { env });
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.trim(), String(size));
  assert.ok(peak > 0, 'the CLI was never seen running');
  assert.ok(peak < size / 2, `the CLI's peak memory was ${Math.round(peak / 2 ** 20)} MiB for a ${size / 2 ** 20} MiB context`);
});

test('the SSH server killed mid-stream: the stream ends, the link says so, and it reconnects when the server is back; the container ran on', async () => {
  // Short pauses, so that the test does not wait on them; the first one long enough to see.
  const link = new ReconnectingEngine('remote', async () => options, { firstMs: 1500, maxMs: 3000 });
  const states: string[] = [];
  link.onState((state) => states.push(state.status));
  const client = new EngineClient(link);
  try {
    const { Id: id } = await client.call<{ Id: string }>('POST', '/containers/create', { Image: 'busybox:remote', Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'] });
    await client.call('POST', `/containers/${id}/start`);
    const inspect = () => client.call<{ State: { Running: boolean; Pid: number; StartedAt: string } }>('GET', `/containers/${id}/json`);
    const before = await inspect();
    assert.equal(before.State.Running, true);

    // Follow its output, then take the server away while it streams.
    const logs = await client.stream('GET', `/containers/${id}/logs?follow=1&stdout=1&tail=0`);
    let seen = '';
    logs.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    const ended = new Promise((resolve) => logs.once('close', resolve));
    await until(() => seen.includes('tick'));
    await sshd.kill();
    await ended;
    await until(() => link.state.status === 'disconnected');
    assert.deepEqual(states.slice(0, 3), ['connecting', 'connected', 'disconnected']);
    assert.ok(link.state.status === 'disconnected' && link.state.retryAt !== undefined, 'a drop is retried');
    await assert.rejects(client.call('GET', '/_ping'), /remote is not connected: the connection to remote dropped.*; trying again in \d+ s/);

    // While it is down, attempts fail and are retried with longer pauses; when it is back, one connects.
    await until(() => states.filter((s) => s === 'connecting').length >= 2);
    await sshd.restart();
    await until(() => link.state.status === 'connected', 20_000);
    const after = await inspect();
    assert.equal(after.State.Running, true);
    assert.deepEqual([after.State.Pid, after.State.StartedAt], [before.State.Pid, before.State.StartedAt]);
    seen = '';
    const again = await client.stream('GET', `/containers/${id}/logs?follow=1&stdout=1&tail=0`);
    again.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    await until(() => seen.includes('tick'));
    again.destroy();
    await client.call('DELETE', `/containers/${id}?force=1`);
  } finally {
    link.close();
  }
});

test('a network that goes silent is noticed by ServerAliveInterval\'s keepalives, and the link reconnects when it is back', async () => {
  const sshConfig = `${options.sshConfig}  ServerAliveInterval 1\n`;
  const link = new ReconnectingEngine('remote', async () => ({ ...options, sshConfig }), { firstMs: 500, maxMs: 1000 });
  const client = new EngineClient(link);
  try {
    await client.call('GET', '/version');
    // No reset, no close: packets are dropped, and only unanswered keepalives tell.
    await sshd.unplug();
    try {
      await until(() => link.state.status === 'disconnected', 15_000);
      assert.match(link.state.status === 'disconnected' ? link.state.error.message : '', /^the connection to remote dropped \(Keepalive timeout\)$/);
    } finally {
      await sshd.plug();
    }
    await until(() => link.state.status === 'connected', 30_000);
    assert.equal((await client.call<{ Platform: { Name: string } }>('GET', '/version')).Platform.Name, 'Tug');
  } finally {
    link.close();
  }
});

test('a machine without Node is told what it needs, and nothing is installed', async () => {
  // Its logins find no node: every session's PATH leads nowhere.
  const bare = await startSshd({ config: ['SetEnv PATH=/nonexistent'] });
  try {
    await bare.knownHosts(join(dir, 'known_hosts-bare'));
    const config = options.sshConfig.replace(`HostName ${sshd.host}`, `HostName ${bare.host}`).replace(`IdentityFile ${sshd.userKey}`, `IdentityFile ${bare.userKey}`);
    await assert.rejects(RemoteEngine.open('remote', { ...options, sshConfig: config, knownHosts: [join(dir, 'known_hosts-bare')], dir: join(dir, 'bare') }), /the engine needs Node\.js 20 or later on remote, which has none on its PATH: install it there/);
    await assert.rejects(stat(join(dir, 'bare')), /ENOENT/);
  } finally {
    await bare.stop();
  }
});
