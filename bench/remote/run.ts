// Remote bench: a container run (`run --rm busybox true`: create, attach, start, wait, remove)
// on an engine reached over SSH, against the same run on the same engine reached through its
// local socket, in one run. The SSH server is Debian's sshd in a network namespace of the
// bench's own (test/helpers/sshd.ts); the engine is installed and started over it, as for any
// remote machine. Also `tug --host ssh://… run`, which pays for a new SSH connection each time.
// Goal: under 50 ms over the local run once connected.
// Usage (as root): npm run build && node --import tsx bench/remote/run.ts [runs]

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { AttachedContainer } from '../../client/src/run';
import { EngineClient } from '../../runtime-agent/src/cli/client';
import { RemoteEngine } from '../../runtime-agent/src/remote/remote-engine';
import { busyboxArchive } from '../../scripts/busybox-image';
import { run } from '../../test/helpers/engine';
import { startSshd } from '../../test/helpers/sshd';
import { contestant, duration, measure, printTable, progress, runBench, stats, type Measurement } from '../shared/harness';

const GOAL_MS = 50;
const root = resolve(__dirname, '../..');

void runBench(async (cleanup) => {
  const runs = Number(process.argv[2] ?? 20);
  progress('starting sshd in a network namespace, and the engine over it');
  const sshd = await startSshd();
  cleanup.defer('sshd', () => sshd.stop());
  const dir = await mkdtemp(join(tmpdir(), 'tug-bench-remote-'));
  cleanup.defer('files', () => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'person');
  await mkdir(join(home, '.ssh'), { recursive: true });
  const sshConfig = `Host remote\n  HostName ${sshd.host}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n`;
  await writeFile(join(home, '.ssh/config'), sshConfig);
  await sshd.knownHosts(join(home, '.ssh/known_hosts'));
  const where = { dir: join(dir, 'remote'), socket: join(dir, 'tug.sock'), dataRoot: join(dir, 'data') };
  const remote = await RemoteEngine.open('remote', {
    sshConfig,
    knownHosts: [join(home, '.ssh/known_hosts')],
    agent: '',
    prompts: { unknownHostKey: async () => false, passphrase: async () => undefined, password: async () => undefined },
    bundle: { tugJs: join(root, 'dist/tug.js'), shim: join(root, 'dist/tug-shim'), init: join(root, 'dist/tug-init') },
    ...where,
  });
  cleanup.defer('the remote engine', async () => {
    remote.close();
    const pid = Number(await readFile(join(where.dir, 'tugd.pid'), 'utf8').catch(() => '0'));
    try {
      if (pid) process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
    for (let i = 0; i < 100 && pid; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        break;
      }
    }
  });
  const overSsh = new EngineClient(remote);
  const local = new EngineClient(where.socket);
  for await (const m of overSsh.upload<{ error?: string }>('POST', '/images/load?quiet=1', Readable.from([await busyboxArchive('busybox:bench')]), { 'Content-Type': 'application/x-tar' })) {
    if (m.error) throw new Error(m.error);
  }
  const once = (client: EngineClient) => async () => {
    const c = await AttachedContainer.start(client, { image: 'busybox:bench', command: ['true'], tty: false, interactive: false, autoRemove: true }, () => {});
    if ((await c.exited) !== 0) throw new Error('the container failed');
  };
  const env = { HOME: home, SSH_AUTH_SOCK: '', TUG_REMOTE_DIR: where.dir, TUG_REMOTE_SOCKET: where.socket, TUG_REMOTE_DATA_ROOT: where.dataRoot };
  const m: Measurement = {
    title: 'run --rm busybox true',
    goalPeer: 'local',
    contestants: [
      contestant('ssh', 'create, attach, start, wait, remove over the open SSH connection (streamlocal channels)', once(overSsh)),
      contestant('local', 'the same through the engine\'s Unix socket on this machine', once(local)),
      contestant('cli-ssh', 'tug --host ssh://remote run --rm busybox:bench true (a new SSH connection each time)', async () => {
        const r = await run(join(root, 'dist/tug.js'), ['--host', 'ssh://remote', 'run', '--rm', 'busybox:bench', 'true'], { env });
        if (r.code !== 0) throw new Error(r.stderr);
      }),
      contestant('cli', 'tug --host unix://… run --rm busybox:bench true', async () => {
        const r = await run(join(root, 'dist/tug.js'), ['--host', `unix://${where.socket}`, 'run', '--rm', 'busybox:bench', 'true']);
        if (r.code !== 0) throw new Error(r.stderr);
      }),
    ],
  };
  progress(`measuring, ${runs} runs each`);
  await measure(m, runs);
  printTable([m]);
  const [ssh, base] = [stats(m.contestants[0]!.samples), stats(m.contestants[1]!.samples)];
  if (ssh && base) {
    const over = ssh.median - base.median;
    console.log(`\nonce connected: ${duration(ssh.median)} over SSH against ${duration(base.median)} locally (medians): ${duration(over)} more — goal (under ${GOAL_MS} ms more) ${over < GOAL_MS ? 'met' : 'NOT met'}`);
  }
});
