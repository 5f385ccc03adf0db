// "Start the local engine": tugd (`dist/tug.js daemon`) on the socket of the engine setting.
// As root it starts detached, outliving VS Code as a daemon does, its log in a file that the
// Tug output channel follows; otherwise in a terminal through sudo, where a password can be typed.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { engineAnswers, startDaemon, waitForEngine } from '../../runtime-agent/src/cli/background';
import { socketPath } from '../../runtime-agent/src/cli/client';
import type { Log } from './log';

export interface StartedEngine {
  /** The daemon's pid where the extension started it itself (as root). */
  pid?: number;
}

/** Copies what is added to a log file into the Tug channel, until disposed. */
function follow(file: string, log: Log): vscode.Disposable {
  let offset = 0;
  let pending = '';
  const timer = setInterval(() => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (pending + buffer.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) log.engine(line);
  }, 1000);
  return { dispose: () => clearInterval(timer) };
}

export async function startLocalEngine(extensionPath: string, host: string, log: Log, logDir: string): Promise<StartedEngine & { disposable: vscode.Disposable }> {
  const socket = socketPath(host);
  if (await engineAnswers(socket)) return { disposable: { dispose() {} } };
  const tug = join(extensionPath, 'dist', 'tug.js');
  const dataRoot = vscode.workspace.getConfiguration('tug').get<string>('engine.dataRoot') || undefined;
  const args = ['daemon', '--socket', socket, ...(dataRoot ? ['--data-root', dataRoot] : [])];
  let started: StartedEngine = {};
  let disposable: vscode.Disposable = { dispose() {} };
  if (process.getuid?.() === 0) {
    const file = join(logDir, 'tugd.log');
    const pid = await startDaemon(tug, args.slice(1), file);
    log.info(`started tugd (pid ${pid}) on ${socket}; its log: ${file}`);
    disposable = follow(file, log);
    started = { pid };
  } else {
    const terminal = vscode.window.createTerminal({ name: 'Tug engine', shellPath: 'sudo', shellArgs: ['node', tug, ...args], iconPath: new vscode.ThemeIcon('server-process') });
    terminal.show();
    log.info(`starting tugd through sudo in the terminal "Tug engine" on ${socket}`);
  }
  // sudo may wait for a password: give the person time to type it.
  if (await waitForEngine(socket, started.pid ? 20_000 : 120_000)) return { ...started, disposable };
  disposable.dispose();
  // One that never answered is of no use, and must not hold the socket for the next try.
  try {
    if (started.pid) process.kill(started.pid, 'SIGTERM');
  } catch {
    // It exited by itself.
  }
  throw new Error(`the engine did not answer on ${socket}; see the Tug output channel for its log`);
}
