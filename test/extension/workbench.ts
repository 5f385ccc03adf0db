// A real VS Code with no download: the npm package code-server carries VS Code 1.100.3 and its
// remote extension host; a headless Debian chromium (driven by playwright-core) is the window.
// The extension (from this tree, or installed from a .vsix) and what to do with it (tests, or
// clicks) come through the workbench URL's payload, as VS Code's own browser tests do it:
// code-server rejects --extensionDevelopmentPath on its command line.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

export const root = resolve(__dirname, '../..');
const codeServer = join(root, 'node_modules/.bin/code-server');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface CodeServer {
  /** 127.0.0.1:PORT */
  host: string;
  /** Everything it writes (settings, user data, extensions, logs) stays here. */
  dir: string;
  /** An empty folder to open as the workspace. */
  workspace: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer().on('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** Starts code-server on a free loopback port; `vsix`: installed into its extensions first. */
export interface CodeServerOptions {
  env?: NodeJS.ProcessEnv;
  /** Installed into its extensions first. */
  vsix?: string;
  /** User settings. */
  settings?: Record<string, unknown>;
  /** Where it keeps its state, kept after it stops (a temp folder, removed, by default). */
  dir?: string;
  /** 127.0.0.1:port (a free port by default). */
  port?: number;
}

/** Starts code-server on loopback. */
export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
  if (!existsSync(codeServer)) throw new Error(`${codeServer} is missing: run .ci/npm-ci`);
  const keep = options.dir !== undefined || !!process.env.KEEP_LOGS;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tug-vscode-'));
  mkdirSync(dir, { recursive: true });
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace, { recursive: true });
  if (options.settings) {
    mkdirSync(join(dir, 'user-data/User'), { recursive: true });
    writeFileSync(join(dir, 'user-data/User/settings.json'), JSON.stringify(options.settings));
  }
  const env = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}', // no marketplace: offline lookups would only fill the log
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_DATA_HOME: join(dir, 'xdg-data'),
    // Its temp files (the language server's scripts for shellcheck too) go with its folder,
    // even those of a process the stop had to kill.
    TMPDIR: join(dir, 'tmp'),
    ...options.env,
  };
  mkdirSync(env.TMPDIR, { recursive: true });
  const common = ['--config', join(dir, 'config.yaml'), '--user-data-dir', join(dir, 'user-data'), '--extensions-dir', join(dir, 'extensions')];
  if (options.vsix) await promisify(execFile)(codeServer, [...common, '--install-extension', options.vsix], { env });
  const host = `127.0.0.1:${options.port ?? (await freePort())}`;
  const log = openSync(join(dir, 'code-server.log'), 'w');
  const server: ChildProcess = spawn(
    codeServer,
    [...common, '--bind-addr', host, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened'],
    // Its own process group, so that the extension host and language server go with it.
    { stdio: ['ignore', log, log], detached: true, env },
  );
  const stop = async () => {
    const group = (signal: NodeJS.Signals | 0) => {
      try {
        process.kill(-server.pid!, signal);
        return true;
      } catch {
        return false; // no process left in it
      }
    };
    group('SIGTERM');
    // Its folder goes once every process of it (the extension host, the pty host) has exited:
    // one still running would write its logs there again.
    for (let i = 0; group(0); i++) {
      if (i === 50) group('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!keep) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  for (let i = 0; ; i++) {
    if (server.exitCode !== null || i > 150) {
      await stop();
      throw new Error(`code-server did not start; ${keep ? `see ${dir}/code-server.log` : `KEEP_LOGS=1 keeps its log in ${dir}`}`);
    }
    if (await fetch(`http://${host}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { host, dir, workspace, stop };
}

export interface Workbench {
  page: Page;
  /** What the workbench logged through codeAutomationLog and page errors. */
  output: () => string;
  close(): Promise<void>;
}

/**
 * The workbench's address for `folder`. `payload`: its launch options, with paths as they are on
 * this machine (extensionDevelopmentPath, extensionTestsPath).
 */
export function workbenchUrl(server: CodeServer, folder: string, payload: [string, string][]): string {
  const paths = new Set(['extensionDevelopmentPath', 'extensionTestsPath']);
  const remote = payload.map(([k, v]) => [k, paths.has(k) ? `vscode-remote://${server.host}${v}` : v]);
  const all = JSON.stringify([...remote, ['skipWelcome', 'true'], ['skipReleaseNotes', 'true']]);
  return `http://${server.host}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(all)}`;
}

/** Opens the workbench (workbenchUrl) in headless chromium. */
export async function openWorkbench(server: CodeServer, folder: string, payload: [string, string][], onExit?: (code: number) => void): Promise<Workbench> {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install chromium`);
  const browser: Browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
  });
  let output = '';
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => (output += `[page error] ${e.message}\n`));
  // The workbench reports the tests' result and mocha's output through these window functions.
  await page.exposeFunction('codeAutomationExit', (code: number) => onExit?.(code));
  await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => (output += `${args.map(String).join(' ')}\n`));
  await page.goto(workbenchUrl(server, folder, payload));
  return { page, output: () => output, close: () => browser.close().catch(() => {}) };
}
