// tugd for tests: the real daemon (`node dist/tug.js daemon`) on a temporary socket and data
// root, and the real docker CLI pointed at it.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestEngine {
  readonly socket: string;
  readonly dataRoot: string;
  readonly host: string;
  /** The daemon's pid. */
  readonly pid: number;
  /** Runs the docker CLI against this engine. */
  docker(args: string[], options?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** Runs the tug CLI against this engine. */
  tug(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** What the daemon wrote to stderr. */
  readonly log: () => string;
  /**
   * Removes its containers, stops it and deletes its files; `keep`: stops the daemon alone, with
   * `signal` (SIGTERM unless told).
   */
  stop(options?: { keep?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `onStart`: told the child's pid as it starts (to watch it while it runs). */
export function run(command: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      // SIGKILL at the timeout: the docker CLI passes SIGTERM on to the container and waits on.
      { env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (child.pid) options.onStart?.(child.pid);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * `dir`: the directory of an engine stopped with `keep`, to start again on its data; `nodeArgs`:
 * node's flags instead of those dist/tug.js names on its first line (a profiler's, say).
 */
export async function startEngine(options: { insecureRegistries?: string[]; args?: string[]; dir?: string; nodeArgs?: string[] } = {}): Promise<TestEngine> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tug-engine-')));
  const socket = join(dir, 'tug.sock');
  const dataRoot = join(dir, 'data');
  // dist/tug.js runs with the node flags of its first line, as people start it.
  const args = ['daemon', '--socket', socket, '--data-root', dataRoot];
  for (const r of options.insecureRegistries ?? []) args.push('--insecure-registry', r);
  args.push(...(options.args ?? []));
  const daemon: ChildProcess = options.nodeArgs
    ? spawn('node', [...options.nodeArgs, 'dist/tug.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('dist/tug.js', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  daemon.stdout?.on('data', (d) => (log += d));
  daemon.stderr?.on('data', (d) => (log += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (/tugd is listening/.test(log)) break;
    if (daemon.exitCode !== null || Date.now() > deadline) {
      daemon.kill('SIGKILL');
      if (!options.dir) await rm(dir, { recursive: true, force: true });
      throw new Error(`tugd did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const host = `unix://${socket}`;
  // A config dir of its own, so that nothing of the machine's docker setup leaks in.
  const dockerConfig = join(dir, 'docker-config');
  return {
    socket,
    dataRoot,
    host,
    pid: daemon.pid!,
    log: () => log,
    docker: (dockerArgs, o = {}) => run('docker', dockerArgs, { ...o, env: { DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig, DOCKER_BUILDKIT: '0', ...o.env } }),
    tug: (tugArgs, o = {}) => run('node', ['dist/tug.js', '--host', host, ...tugArgs], o),
    async stop({ keep = false, signal = 'SIGTERM' } = {}) {
      const exited = new Promise((r) => (daemon.exitCode !== null || daemon.signalCode !== null ? r(null) : daemon.once('exit', r)));
      if (keep) {
        daemon.kill(signal);
        await exited;
        return;
      }
      // Containers first, so that their cgroups and mounts go with them.
      await run('docker', ['rm', '-f', ...(await run('docker', ['ps', '-aq'], { env: { DOCKER_HOST: host } })).stdout.split('\n').filter(Boolean)], {
        env: { DOCKER_HOST: host },
      });
      daemon.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
