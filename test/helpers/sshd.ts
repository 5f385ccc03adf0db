// A real OpenSSH server (Debian's openssh-server) for tests, in a network namespace of its own:
// a test host with its own address on a veth pair, a generated host key, and a generated user
// key that may log in as root. Everything (namespace, veth, processes, files) goes in stop().

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTestHost } from './netns';

const run = promisify(execFile);

export interface TestSshd {
  /** Its address in the namespace. */
  readonly host: string;
  readonly port: number;
  /** The network namespace it serves in. */
  readonly namespace: string;
  /** A private key (no passphrase) that logs in as root. */
  readonly userKey: string;
  /** Lets the key of this public line (`ssh-ed25519 AAAA… comment`) log in too. */
  authorize(publicKey: string): Promise<void>;
  /** Its host key's public line (`ssh-ed25519 AAAA…`). */
  hostKey(): Promise<string>;
  /** A known_hosts file that already trusts it. */
  knownHosts(file: string): Promise<void>;
  /** Stops it; `newHostKey`: starts again with a new host key. */
  restart(options?: { newHostKey?: boolean }): Promise<void>;
  /** Takes its machine off the network without a word (its end of the veth pair down), and back. */
  unplug(): Promise<void>;
  plug(): Promise<void>;
  /** Kills it and every session it serves, as a crash of the machine would (the namespace stays, for a restart). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `config`: more sshd_config lines (SetEnv, say). `behind`: serve on 127.0.0.1:2222 inside that
 * server's namespace, which only that server's machine reaches (a host behind a jump host).
 * `rootPassword`: root may log in with this password too (as this server alone sees it: a copy of
 * /etc/shadow is mounted over the real one in a mount namespace of the server's own).
 */
export async function startSshd(options: { config?: string[]; behind?: TestSshd; rootPassword?: string } = {}): Promise<TestSshd> {
  const testHost = options.behind ? undefined : await makeTestHost('tug-ssh');
  const ns = options.behind?.namespace ?? testHost!.name;
  const dir = await mkdtemp(join(tmpdir(), 'tug-sshd-'));
  const host = testHost?.address ?? '127.0.0.1';
  const port = options.behind ? 2222 : 22;

  let child: ChildProcess | undefined;

  const sh = (...args: string[]) => run(args[0], args.slice(1));
  const stop = async () => {
    await kill();
    await testHost?.remove();
    await rm(dir, { recursive: true, force: true });
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    for (const pid of await processTree(child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited meanwhile.
      }
    }
    await exited;
  };
  const keygen = async (file: string) => {
    await rm(file, { force: true });
    await rm(`${file}.pub`, { force: true });
    await sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'tug-test', '-f', file);
  };
  const listening = async () => {
    for (let i = 0; i < 100; i++) {
      // Asked from inside its namespace: a server behind another is reached from nowhere else.
      const ok = await sh('nsenter', `--net=/run/netns/${ns}`, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`).then(() => true, () => false);
      if (ok) return;
      if (child?.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sshd did not listen on ${host}:${port}`);
  };
  const start = async () => {
    let stderr = '';
    // nsenter joins the network namespace alone (`ip netns exec` would also remount /sys, hiding
    // the cgroup mounts from what the server starts: an engine, say).
    const sshd = ['/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'sshd_config')];
    const shadowed = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/shadow && exec "$@"', join(dir, 'shadow')];
    child = spawn('nsenter', [`--net=/run/netns/${ns}`, ...(options.rootPassword ? shadowed : []), ...sshd], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (stderr += d));
    await listening().catch((e: Error) => {
      throw new Error(`${e.message}: ${stderr}`);
    });
  };

  try {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // its privilege separation directory
    await keygen(join(dir, 'host_key'));
    await keygen(join(dir, 'user_key'));
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')), { mode: 0o600 });
    if (options.rootPassword) {
      const { stdout: hash } = await run('perl', ['-e', 'print crypt($ARGV[0], q($6$) . $ARGV[1])', options.rootPassword, randomBytes(6).toString('hex')]);
      const shadow = (await readFile('/etc/shadow', 'utf8')).replace(/^root:[^:]*:/m, `root:${hash}:`);
      await writeFile(join(dir, 'shadow'), shadow, { mode: 0o640 });
    }
    await writeFile(
      join(dir, 'sshd_config'),
      [
        // sshd keeps the first value it reads for a keyword: these come first to change the rest.
        ...(options.config ?? []),
        ...(options.rootPassword ? ['PasswordAuthentication yes', 'PermitRootLogin yes'] : []),
        `ListenAddress ${host}`,
        `Port ${port}`,
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowStreamLocalForwarding yes',
        'AllowTcpForwarding yes',
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    await start();
  } catch (error) {
    await stop();
    throw error;
  }

  const hostKey = async () => (await readFile(join(dir, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  return {
    host,
    port,
    namespace: ns,
    userKey: join(dir, 'user_key'),
    hostKey,
    async authorize(publicKey) {
      await appendFile(join(dir, 'authorized_keys'), publicKey.endsWith('\n') ? publicKey : `${publicKey}\n`);
    },
    async knownHosts(file) {
      await writeFile(file, `${port === 22 ? host : `[${host}]:${port}`} ${await hostKey()}\n`);
    },
    async restart(options = {}) {
      await kill();
      if (options.newHostKey) await keygen(join(dir, 'host_key'));
      await start();
    },
    unplug: () => (testHost ?? options.behind!).unplug(),
    plug: () => (testHost ?? options.behind!).plug(),
    kill,
    stop,
  };
}

/** A process and all its descendants (read from /proc): a server and the sessions it forked. */
async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // After the command's closing parenthesis: the state, then the parent's pid.
    if (stat) parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [p, parent] of parents) if (parent === tree[i]) tree.push(p);
  return tree;
}
