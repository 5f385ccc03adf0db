// Starting the native helper (runtime-agent/native/shim.c) for one container and learning how the
// container ended. The helper stays behind as the container's monitor, in a session of its own,
// so a container outlives the engine: its exit file tells a later engine what happened.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeSpec, type ContainerSpec } from './spec';

/** dist/tug-shim next to the running bundle (dist/tug.js), else under ./dist; TUG_SHIM overrides. */
export const SHIM_PATH: string = process.env.TUG_SHIM || locateShim();

function locateShim(): string {
  const candidates = [join(process.cwd(), 'dist', 'tug-shim')];
  if (process.argv[1]) candidates.unshift(join(dirname(process.argv[1]), 'tug-shim'));
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
  exited: Promise<ExitStatus>;
}

type Monitor = ChildProcessWithoutNullStreams;

let standby: Monitor | null = null;

/** A monitor forked ahead of need, waiting for its spec (forking this big process is slow). */
function spawnStandby(): Monitor {
  const child = spawn(SHIM_PATH, ['--standby'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('error', () => {}); // reported when it is used
  // An unused standby keeps nothing alive; when this process ends, its stdin closes and it goes.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref();
  return child;
}

/** The waiting monitor (or a new one), with the next one forked right after. */
function takeStandby(): Monitor {
  const ready = standby && standby.pid !== undefined && standby.exitCode === null && standby.signalCode === null ? standby : spawnStandby();
  standby = null;
  setImmediate(() => (standby ??= spawnStandby()));
  ready.ref();
  for (const stream of [ready.stdin, ready.stdout, ready.stderr]) (stream as unknown as { ref(): void }).ref();
  return ready;
}

/**
 * Writes the spec, starts the monitor and resolves once the container's process runs; rejects with
 * the reason when it could not start (e.g. `exec: "nope": executable file not found in $PATH`).
 * The monitor stays a child of this process, so `exited` keeps Node running until it ends.
 */
export async function startShim(specPath: string, spec: ContainerSpec): Promise<ShimProcess> {
  await writeSpec(specPath, spec);
  // Files left by an earlier run of the same container would tell of that run, not this one.
  await Promise.all([spec.exitFile, `${spec.exitFile}.error`, spec.pidFile].map((file) => rm(file, { force: true })));

  const child = takeStandby();
  child.stdin.end(`${specPath}\n`);
  let spawnError: Error | undefined;
  const ended = new Promise<string>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      resolve('not started');
    });
    child.once('close', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
  });
  const exited = ended.then(async (how) => {
    const status = await readExit(spec.exitFile).catch((error: Error) => {
      return { exitCode: 255, signal: null, finishedAt: new Date(), error: error.message };
    });
    return status ?? { exitCode: 255, signal: null, finishedAt: new Date(), error: `the container monitor ended (${how}) without recording an exit status` };
  });

  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // The monitor prints its pid once the container's process has been exec'd.
  const started = await new Promise<boolean>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (stdout.includes('\n')) resolve(true);
    });
    void ended.then(() => resolve(stdout.includes('\n')));
  });
  if (!started) {
    const how = await ended;
    if (spawnError) throw new Error(`cannot run the container monitor ${SHIM_PATH} (built by npm run build): ${spawnError.message}`);
    const error = await readFile(`${spec.exitFile}.error`, 'utf8').catch(() => '');
    throw new Error(error.trim() || stderr.trim().replace(/^tug-shim: /, '') || `the container monitor failed (${how})`);
  }
  child.stdout.destroy();
  child.stderr.destroy();
  const pid = Number((await readFile(spec.pidFile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${spec.pidFile} holds no pid`);
  return { shimPid: child.pid ?? Number(stdout.trim()), pid, exited };
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
  const match = /^(\d+) (\d+) (\d+)\n$/.exec(text);
  if (!match) throw new Error(`${exitFile} does not hold an exit status: ${JSON.stringify(text.slice(0, 100))}`);
  const status: ExitStatus = {
    exitCode: Number(match[1]),
    signal: Number(match[2]) || null,
    finishedAt: new Date(Number(BigInt(match[3]) / 1_000_000n)),
  };
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
