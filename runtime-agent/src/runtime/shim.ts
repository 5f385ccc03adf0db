// Starting the native helper (runtime-agent/native/shim.c) for one container and learning how the
// container ended. The helper stays behind as the container's monitor, in a session of its own,
// so a container outlives the engine: its exit file tells a later engine what happened.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants as fsConstants, existsSync, watch, type FSWatcher } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CgroupRenameError, type Cgroup, type CgroupManager, type Limits } from './cgroups';
import { CONTAINER_NAMESPACES, writeSpec, type ContainerSpec } from './spec';

/** dist/tug-shim next to the running bundle (dist/tug.js), else under ./dist; TUG_SHIM overrides. */
export const SHIM_PATH: string = process.env.TUG_SHIM || locateNative('tug-shim');
/** The init `--init` runs as a container's PID 1, found as the shim is. */
export const INIT_PATH: string = locateNative('tug-init');

function locateNative(name: string): string {
  const candidates = [join(process.cwd(), 'dist', name)];
  if (process.argv[1]) candidates.unshift(join(dirname(process.argv[1]), name));
  return candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1];
}

export interface ExitStatus {
  exitCode: number;
  signal: number | null;
  finishedAt: Date;
  /** Why the container failed before its process could run. */
  error?: string;
}

export interface ShimProcess {
  shimPid: number;
  /** The container's init, as the host sees it. */
  pid: number;
  /** As soon as the monitor says the container ended (its output logged). */
  exited: Promise<ExitStatus>;
  /** Once the monitor itself has ended, its exit file written. */
  closed: Promise<void>;
}

type Monitor = ChildProcessWithoutNullStreams;

/**
 * A monitor started with `--standby`: it waits for a spec's path on stdin. Given cgroups, it
 * clones a container's process into a container's usual namespaces and moves it there first.
 */
function spawnMonitor(procsFiles: string[] = []): Monitor {
  const staging = procsFiles.length ? [CONTAINER_NAMESPACES.join(','), ...procsFiles] : [];
  const child = spawn(SHIM_PATH, ['--standby', ...staging], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('error', () => {}); // reported when it is used
  return child;
}

/** Whether a monitor keeps this process alive: a standby does not, one running a container does. */
function holdOpen(monitor: Monitor, hold: boolean): void {
  for (const handle of [monitor, monitor.stdin, monitor.stdout, monitor.stderr] as unknown as { ref(): void; unref(): void }[]) {
    if (hold) handle.ref();
    else handle.unref();
  }
}

/** A monitor forked ahead of need, with (on cgroup v1) its container's process waiting in a cgroup. */
interface Standby {
  monitor: Monitor;
  cgroup: Cgroup | null;
  /** 'staging' until the monitor says its process is in the cgroup. */
  state: 'staging' | 'staged' | 'plain' | 'failed';
  /** Given to a container or discarded: its end is no longer the standby's business. */
  taken?: boolean;
}

/** How a container will start: its cgroup, its monitor, and whether its process waits there already. */
export interface Prepared {
  cgroup: Cgroup;
  monitor: Monitor;
  staged: boolean;
}

/**
 * Monitors for containers, one always forked ahead of need: forking this big process is slow,
 * and on cgroup v1 so is moving a process into cgroups (an RCU grace period, 10-20 ms). A
 * standby pays both before a container is asked for; its cgroup is renamed to the container's.
 */
export class Monitors {
  private standby: Standby | null = null;
  private forking: Promise<void> | null = null;
  private closed = false;
  /** Set when staging failed once: later standbys are plain. */
  private noStaging = false;
  /** Cgroups of standbys that ended on their own, being removed. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly cgroups: CgroupManager) {}

  /**
   * Removes the cgroups of standbys that engines no longer running left (other engines may share
   * the parent cgroup), then forks the first standby.
   */
  async open(): Promise<void> {
    for (const name of await this.cgroups.names()) {
      const owner = STANDBY_NAME.exec(name)?.[1];
      if (owner && !alive(Number(owner))) await this.cgroups.open(name).destroy().catch(() => {});
    }
    this.refill();
  }

  private refill(): void {
    if (this.closed || this.standby || this.forking) return;
    this.forking = this.fork()
      .then((standby) => void (this.standby = standby), () => {})
      .finally(() => (this.forking = null));
  }

  private async fork(): Promise<Standby> {
    const stage = this.cgroups.renames && !this.noStaging;
    const cgroup = stage ? await this.cgroups.create(`standby-${process.pid}-${randomBytes(6).toString('hex')}`, {}) : null;
    const monitor = spawnMonitor(cgroup?.procsFiles);
    holdOpen(monitor, false);
    const standby: Standby = { monitor, cgroup, state: cgroup ? 'staging' : 'plain' };
    if (cgroup) {
      let said = '';
      const listen = (text: Buffer) => {
        said += text.toString();
        if (!said.includes('\n')) return;
        monitor.stdout.off('data', listen);
        standby.state = said === 'staged\n' ? 'staged' : 'failed';
      };
      monitor.stdout.on('data', listen);
    }
    monitor.once('close', () => {
      if (standby.taken) return;
      if (this.standby === standby) this.standby = null;
      if (!cgroup) return;
      if (standby.state !== 'staged') this.noStaging = true;
      standby.state = 'failed';
      const removed = cgroup.destroy().catch(() => {});
      this.removing.add(removed);
      void removed.then(() => this.removing.delete(removed));
    });
    return standby;
  }

  /**
   * The cgroup (with `limits`) and the monitor for the container `name`: the standby's, renamed,
   * when its process is in place; else a new cgroup and a plain monitor.
   */
  async prepare(name: string, limits: Limits): Promise<Prepared> {
    const standby = this.standby?.state === 'staged' || this.standby?.state === 'plain' ? this.standby : null;
    if (standby) {
      this.standby = null;
      standby.taken = true;
    }
    this.refill();
    let monitor: Monitor | undefined;
    if (standby?.cgroup) {
      try {
        const cgroup = await this.cgroups.rename(standby.cgroup, name, limits);
        holdOpen(standby.monitor, true);
        return { cgroup, monitor: standby.monitor, staged: true };
      } catch (error) {
        await discard(standby);
        // Limits this host cannot apply get their error; a failed rename, the plain way below.
        if (!(error instanceof CgroupRenameError)) throw error;
      }
    } else {
      monitor = standby?.monitor;
    }
    let cgroup: Cgroup;
    try {
      cgroup = await this.cgroups.create(name, limits);
    } catch (error) {
      monitor?.stdin.end();
      throw error;
    }
    monitor ??= spawnMonitor();
    holdOpen(monitor, true);
    return { cgroup, monitor, staged: false };
  }

  /** Lets the standby go (its process with it) and removes its cgroup. */
  async close(): Promise<void> {
    this.closed = true;
    await this.forking;
    const standby = this.standby;
    this.standby = null;
    if (standby) await discard(standby);
    await Promise.all(this.removing);
  }
}

/** A standby's cgroup: `standby-<the engine's pid>-<random>`. */
const STANDBY_NAME = /^standby-(\d+)-[0-9a-f]+$/;

/** Ends a standby that will not be used: closing its stdin ends it, and its waiting process. */
async function discard(standby: Standby): Promise<void> {
  const { monitor } = standby;
  standby.taken = true; // its cgroup is removed here, not by its close handler
  holdOpen(monitor, true); // this process waits for its end
  const gone = monitor.exitCode !== null || monitor.signalCode !== null ? Promise.resolve() : new Promise((resolve) => monitor.once('close', resolve));
  monitor.stdin.end();
  await gone;
  await standby.cgroup?.destroy().catch(() => {});
}

/**
 * Writes the spec, starts the monitor and resolves once the container's process runs; rejects with
 * the reason when it could not start (e.g. `exec: "nope": executable file not found in $PATH`).
 * The monitor stays a child of this process, so `exited` keeps Node running until it ends.
 */
export async function startShim(specPath: string, spec: ContainerSpec, monitor?: Monitor): Promise<ShimProcess> {
  let child = monitor;
  try {
    // Files left by an earlier run of the same container would tell of that run, not this one.
    await Promise.all([writeSpec(specPath, spec), ...[spec.exitFile, `${spec.exitFile}.error`, spec.pidFile].map((file) => rm(file, { force: true }))]);
  } catch (error) {
    child?.stdin.end();
    throw error;
  }
  child ??= spawnMonitor();
  child.stdin.end(`${specPath}\n`);
  let spawnError: Error | undefined;
  const ended = new Promise<string>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      resolve('not started');
    });
    child.once('close', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
  });
  let stdout = '';
  let stderr = '';
  let told: (status: ExitStatus) => void = () => {};
  // The monitor says how the container ended before it writes the exit file, which it fsyncs.
  const exited = Promise.race([
    new Promise<ExitStatus>((resolve) => (told = resolve)),
    ended.then(async (how) => {
      const status = await readExit(spec.exitFile).catch((error: Error) => {
        return { exitCode: 255, signal: null, finishedAt: new Date(), error: error.message };
      });
      return status ?? { exitCode: 255, signal: null, finishedAt: new Date(), error: `the container monitor ended (${how}) without recording an exit status` };
    }),
  ]);
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // The monitor prints its pid and the container's once the container's process has been exec'd.
  const started = await new Promise<boolean>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (stdout.includes('\n')) resolve(true);
      const status = /^exit (\d+ \d+ \d+)$/m.exec(stdout);
      if (status) told(parseExit(`${status[1]}\n`)!);
    });
    void ended.then(() => resolve(stdout.includes('\n')));
  });
  if (!started) {
    const how = await ended;
    if (spawnError) throw new Error(`cannot run the container monitor ${SHIM_PATH} (built by npm run build): ${spawnError.message}`);
    const error = await readFile(`${spec.exitFile}.error`, 'utf8').catch(() => '');
    throw new Error(error.trim() || stderr.trim().replace(/^tug-shim: /, '') || `the container monitor failed (${how})`);
  }
  child.stderr.destroy();
  const [shimPid, pid] = stdout.slice(0, stdout.indexOf('\n')).split(' ').map(Number);
  if (!(pid > 0) || !(shimPid > 0)) throw new Error(`the container monitor printed no pids but ${JSON.stringify(stdout)}`);
  return { shimPid, pid, exited, closed: ended.then(() => {}) };
}

/** "<exit code> <signal or 0> <finished at, unix ns>\n", as the monitor writes it; null if it is not that. */
function parseExit(text: string): ExitStatus | null {
  const match = /^(\d+) (\d+) (\d+)\n$/.exec(text);
  if (!match) return null;
  return { exitCode: Number(match[1]), signal: Number(match[2]) || null, finishedAt: new Date(Number(BigInt(match[3]) / 1_000_000n)) };
}

/** The exit status a monitor recorded, or null while there is none. */
export async function readExit(exitFile: string): Promise<ExitStatus | null> {
  let text: string;
  try {
    text = await readFile(exitFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const status = parseExit(text);
  if (!status) throw new Error(`${exitFile} does not hold an exit status: ${JSON.stringify(text.slice(0, 100))}`);
  const error = await readFile(`${exitFile}.error`, 'utf8').catch(() => null);
  if (error !== null) status.error = error.trim();
  return status;
}

/** Whether a process exists (EPERM: it does, just not ours). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves when the exit file of a monitor this process did not start appears (after an engine
 * restart). A monitor that is gone without writing one resolves as an error status, not never.
 */
export function watchExit(exitFile: string, shimPid: number): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let checking = false;
    let done = false;
    const finish = (settle: () => void) => {
      done = true;
      clearInterval(timer);
      watcher?.close();
      settle();
    };
    const check = async () => {
      if (done || checking) return;
      checking = true;
      try {
        let status = await readExit(exitFile);
        // The monitor writes the file before it exits: gone and still no file means it never will.
        if (!status && !alive(shimPid)) {
          status = (await readExit(exitFile)) ?? {
            exitCode: 255, signal: null, finishedAt: new Date(),
            error: `the container monitor (pid ${shimPid}) ended without recording an exit status`,
          };
        }
        if (status) finish(() => resolve(status));
      } catch (error) {
        finish(() => reject(error));
      } finally {
        checking = false;
      }
    };
    // inotify answers at once; the timer notices a monitor that died without writing.
    const timer = setInterval(() => void check(), 1000);
    try {
      watcher = watch(dirname(exitFile), (_event, name) => {
        if (name === basename(exitFile)) void check();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // The directory is gone: the timer will find out.
    }
    void check();
  });
}

/**
 * Sets the size of a terminal the monitor holds, through its resize FIFO. The monitor makes the
 * FIFO and holds it open both ways once it has the terminal, so the write never blocks; just
 * after a start it may not have yet (ENOENT, or ENXIO: no reader), which is waited out while
 * `running()` says the process runs.
 */
export async function resizeTerminal(fifoPath: string, rows: number, cols: number, running: () => boolean): Promise<void> {
  let fifo;
  for (let attempt = 0; ; attempt++) {
    try {
      fifo = await open(fifoPath, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
      break;
    } catch (error) {
      if (!['ENOENT', 'ENXIO'].includes((error as NodeJS.ErrnoException).code ?? '') || attempt >= 200 || !running()) throw error;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  try {
    await fifo.write(`${rows} ${cols}\n`);
  } finally {
    await fifo.close();
  }
}
