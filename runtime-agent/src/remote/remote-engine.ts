// An engine on another Linux machine, reached over SSH: the engine bundle and its native helper
// installed there once per version (a folder named by their hash, uploaded over SFTP and renamed
// into place whole), tugd started detached so that it outlives the connection (as root, or
// through `sudo -n`), and each API request sent down OpenSSH's streamlocal forwarding to its
// Unix socket, which is never exposed on a TCP port.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client, SFTPWrapper } from 'ssh2';
import { engineAnswers, waitForEngine } from '../cli/background';
import type { Dialer } from '../cli/client';
import { connectSsh, SshError, type SshOptions } from './connection';
import { resolveTarget, type SshTarget } from './ssh-config';

export interface RemoteEngineOptions extends SshOptions {
  /** ~/.ssh/config's text (empty: none). */
  sshConfig: string;
  /** The engine's files on this machine: dist/tug.js, dist/tug-shim and dist/tug-init. */
  bundle: { tugJs: string; shim: string; init: string };
  /** Where the engine is installed on the remote machine (`~` is the login's home): default ~/.tug. */
  dir?: string;
  /** The remote engine's socket: default /run/tug/tug.sock, the local engine of that machine. */
  socket?: string;
  /** Its data root: tugd's default (/var/lib/tug) when absent. */
  dataRoot?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const NODE_MAJOR = 20;

/** Runs a command over the connection (through the login's shell). */
export function runRemote(client: Client, command: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout += d));
      stream.stderr.on('data', (d: Buffer) => (stderr += d));
      stream.on('close', (code: number | null) => resolve({ code: code ?? 255, stdout, stderr }));
    });
  });
}

/** A word for the remote shell, quoted. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

export class RemoteEngine implements Dialer {
  /** What the last open did: installed the engine, and started it. */
  uploaded = false;
  started = false;

  /** Whether the connection is still up. */
  connected = true;
  private readonly closeListeners = new Set<(error?: Error) => void>();
  private lastError: Error | undefined;

  private constructor(
    readonly name: string,
    readonly target: SshTarget,
    private readonly client: Client,
    readonly socket: string,
  ) {
    // A connection that fails once up (reset, keepalives unanswered) closes right after; its
    // streams end with it.
    client.on('error', (error) => (this.lastError = error));
    client.once('close', () => {
      this.connected = false;
      for (const listener of this.closeListeners) listener(this.lastError);
    });
  }

  /** Hears the connection close (whatever closed it), with the error that did where there was one. */
  onClose(listener: (error?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Connects, installs the engine where this version is missing, and starts it where it does not answer. */
  static async open(address: string, options: RemoteEngineOptions): Promise<RemoteEngine> {
    const target = resolveTarget(address, options.sshConfig);
    const name = `ssh://${target.user}@${target.alias}${target.port === 22 ? '' : `:${target.port}`}`;
    const client = await connectSsh(target, options);
    try {
      const engine = new RemoteEngine(name, target, client, options.socket ?? '/run/tug/tug.sock');
      await engine.bootstrap(options);
      return engine;
    } catch (error) {
      client.end();
      throw error;
    }
  }

  /** A stream to the engine's socket, for one request. */
  dial(): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.client.openssh_forwardOutStreamLocal(this.socket, (error, stream) => {
        if (error) return reject(new SshError(`${this.name}: the engine's socket ${this.socket} cannot be reached: ${error.message}`));
        // As a Unix socket does (allowHalfOpen off): the engine's end of a stream ends ours, so
        // that the channel closes (an attach's end is heard by its close).
        stream.once('end', () => stream.end());
        resolve(stream);
      });
    });
  }

  close(): void {
    this.client.end();
  }

  private run(command: string): Promise<CommandResult> {
    return runRemote(this.client, command);
  }

  private async bootstrap(options: RemoteEngineOptions): Promise<void> {
    const where = this.target.alias;
    const files = { 'tug.js': options.bundle.tugJs, 'tug-shim': options.bundle.shim, 'tug-init': options.bundle.init };
    const hashes = Object.fromEntries(await Promise.all(Object.entries(files).map(async ([n, f]) => [n, createHash('sha256').update(await readFile(f)).digest('hex')] as const)));
    const version = createHash('sha256').update(JSON.stringify(hashes)).digest('hex').slice(0, 16);
    // One round trip asks everything: Node's version, where the install goes (~ is the
    // login's home), the user, and the hashes of this version's files if they are there.
    const given = options.dir ?? '~/.tug';
    const dirWord = given.startsWith('~') ? `"$HOME"${quote(given.slice(1))}` : quote(given);
    const probe = await this.run(`printf '%s\\n' "$(node --version 2>/dev/null)" ${dirWord} "$(id -u)"; cd ${dirWord}/engine/${version} 2>/dev/null && sha256sum tug.js tug-shim tug-init`);
    const [nodeVersion = '', dir = '', uid = '', ...sums] = probe.stdout.split('\n');
    const major = Number(/^v(\d+)\./.exec(nodeVersion.trim())?.[1] ?? 0);
    if (major < NODE_MAJOR) {
      throw new SshError(`the engine needs Node.js ${NODE_MAJOR} or later on ${where}, which has ${nodeVersion.trim() ? `Node.js ${nodeVersion.trim()}` : 'none on its PATH'}: install it there (apt-get install nodejs) and connect again`);
    }
    const installed = posix.join(dir, 'engine', version);
    const present = Object.entries(hashes).every(([n, h]) => sums.includes(`${h}  ${n}`));
    if (!present) await this.upload(installed, files);
    this.uploaded = !present;

    if (await engineAnswers(this)) return;
    const daemon = [
      'node', '--max-semi-space-size=1', '--no-opt', posix.join(installed, 'tug.js'), 'daemon', '--socket', this.socket,
      ...(options.dataRoot ? ['--data-root', options.dataRoot] : []),
    ].map(quote).join(' ');
    const log = posix.join(dir, 'tugd.log');
    if (uid !== '0') {
      const sudo = await this.run('sudo -n true');
      if (sudo.code !== 0) throw new SshError(`the engine needs root on ${where}: log in as root, or give ${this.target.user} sudo without a password (sudo -n said: ${sudo.stderr.trim()})`);
    }
    // setsid and nohup, every stream redirected: it outlives this connection and holds none of
    // its channels open; its pid is kept for whoever stops it.
    const started = await this.run(
      `mkdir -p ${quote(dir)} || exit 1; ${uid === '0' ? '' : 'sudo -n '}setsid nohup ${daemon} >>${quote(log)} 2>&1 </dev/null & echo $! >${quote(posix.join(dir, 'tugd.pid'))}`,
    );
    if (started.code !== 0) throw new SshError(`the engine did not start on ${where}: ${started.stderr.trim()}`);
    if (!(await waitForEngine(this, 20_000))) throw new SshError(`the engine on ${where} did not answer on ${this.socket}; its log: ${log}`);
    this.started = true;
  }


  /** Uploads the files into a fresh folder beside `installed`, then renames it into place whole. */
  private async upload(installed: string, files: Record<string, string>): Promise<void> {
    const staging = `${installed}.tmp-${randomBytes(4).toString('hex')}`;
    const made = await this.run(`mkdir -p ${quote(staging)}`);
    if (made.code !== 0) throw new SshError(`cannot write to ${posix.dirname(installed)} on ${this.target.alias}: ${made.stderr.trim()}`);
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => this.client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    try {
      for (const [name, local] of Object.entries(files)) {
        // Streamed: the bundle is never held whole in memory.
        await pipeline(createReadStream(local), sftp.createWriteStream(posix.join(staging, name), { mode: 0o755 }));
      }
    } finally {
      sftp.end();
    }
    // A version already put there by another connection is as good as this one.
    const moved = await this.run(`mv -T ${quote(staging)} ${quote(installed)} 2>/dev/null || rm -rf ${quote(staging)}; test -f ${quote(posix.join(installed, 'tug-shim'))}`);
    if (moved.code !== 0) throw new SshError(`the engine could not be installed in ${installed} on ${this.target.alias}`);
  }
}
