// tugd started in the background, as the extension's "Start the local engine" and `npm start`
// do: detached (it outlives whoever started it, as a daemon does), its output in a log file.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineClient, type Dialer } from './client';

/** Whether an engine answers `/_ping` (with its plain-text OK) on the socket, or through the dialer. */
export async function engineAnswers(socket: string | Dialer): Promise<boolean> {
  try {
    (await new EngineClient(socket).stream('GET', '/_ping')).resume();
    return true;
  } catch {
    return false;
  }
}

/** Waits until the engine answers; false after `timeoutMs`. */
export async function waitForEngine(socket: string | Dialer, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if (await engineAnswers(socket)) return true;
  }
  return false;
}

/**
 * Starts `dist/tug.js daemon` with `args`, its stdout and stderr appended to `logFile`; resolves
 * with its pid once it runs. `node` comes from PATH, as tug.js's first line asks: the engine
 * needs Node 20, not an editor's runtime.
 */
export async function startDaemon(tugJs: string, args: string[], logFile: string): Promise<number> {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn('node', ['--max-semi-space-size=1', '--no-opt', tugJs, 'daemon', ...args], { detached: true, stdio: ['ignore', out, out], cwd: join(dirname(tugJs), '..') });
  closeSync(out);
  child.unref();
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`node could not be started (${e.message}): the engine needs Node 20 or later on PATH`)));
    child.once('spawn', () => resolve(child.pid!));
  });
}
