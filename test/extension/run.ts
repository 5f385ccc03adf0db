// Runs the extension tests (suite/) inside a real VS Code extension host with no download:
// the npm package code-server carries VS Code 1.100.3 and its remote extension host; a headless
// Debian chromium (driven by playwright-core) is only the window that asks the workbench to
// load our extension and tests, the way VS Code's own browser integration tests do.
// @vscode/test-electron runs the same suite/index.js on a desktop (same run() contract).
//   node --import tsx test/extension/run.ts     (test/extension/vscode.test.ts runs it in `npm test`)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { format } from 'node:util';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import type { Result } from './suite/index';

const root = resolve(__dirname, '../..');
const codeServer = join(root, 'node_modules/.bin/code-server');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface Outcome { exitCode: number; results: Result[]; logs: string; output: string }

/** The suite's test files (suite/*.ext.ts). */
function suiteFiles(grep?: RegExp): string[] {
  return readdirSync(join(__dirname, 'suite')).filter((f) => f.endsWith('.ext.ts') && (!grep || grep.test(f))).sort();
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer().on('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

export interface RunOptions {
  timeoutMs?: number;
  /** More environment for code-server and so for the extension host and the tests in it. */
  env?: NodeJS.ProcessEnv;
  /** Only the suite files whose names match. */
  grep?: RegExp;
}

export async function runExtensionTests(options: RunOptions = {}): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  for (const [path, fix] of [[join(root, 'dist/extension.js'), 'npm run build'], [codeServer, '.ci/npm-ci'], [chromiumPath, 'apt-get install chromium']]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run ${fix}`);
  }
  // The extension host loads plain CommonJS: bundle each suite file, vscode and mocha left outside.
  const testsDir = join(root, 'dist/extension-tests');
  rmSync(testsDir, { recursive: true, force: true });
  await build({
    entryPoints: [join(__dirname, 'suite/index.ts'), ...suiteFiles(options.grep).map((f) => join(__dirname, 'suite', f))],
    outdir: testsDir, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    external: ['vscode', 'mocha'], sourcemap: true, logLevel: 'warning',
  });

  // Everything code-server writes (settings, user data, extensions, logs) stays in one temp dir.
  const tmp = mkdtempSync(join(tmpdir(), 'tug-vscode-'));
  const workspace = join(tmp, 'workspace');
  mkdirSync(workspace);
  const resultsFile = join(tmp, 'results.json');
  const host = `127.0.0.1:${await freePort()}`;
  const log = openSync(join(tmp, 'code-server.log'), 'w');
  const server = spawn(codeServer, [
    '--config', join(tmp, 'config.yaml'), '--bind-addr', host, '--auth', 'none',
    '--user-data-dir', join(tmp, 'user-data'), '--extensions-dir', join(tmp, 'extensions'),
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', '--ignore-last-opened',
  ], {
    stdio: ['ignore', log, log],
    detached: true, // its own process group, so that the extension host and language server go with it
    env: {
      ...process.env,
      EXTENSIONS_GALLERY: '{}', // no marketplace: offline lookups would only fill the log
      XDG_CONFIG_HOME: join(tmp, 'xdg-config'), XDG_DATA_HOME: join(tmp, 'xdg-data'),
      TUG_EXTENSION_TEST_RESULTS: resultsFile, // the extension host inherits it; suite/index.ts writes there
      TUG_EXTENSION_TEST_FILES: suiteFiles(options.grep).map((f) => f.replace(/\.ts$/, '.js')).join(','),
      ...options.env,
    },
  });

  let browser: Browser | undefined;
  let output = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; ; i++) {
      if (server.exitCode !== null || i > 150) throw new Error(`code-server did not start; see ${tmp}/code-server.log`);
      if (await fetch(`http://${host}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await chromium.launch({
      executablePath: chromiumPath, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
    });
    const page = await browser.newPage();
    page.on('pageerror', (e) => { output += `[page error] ${e.message}\n`; });
    // The workbench reports mocha's output and the result through these two window functions.
    const exitCode = new Promise<number>((done, fail) => {
      timer = setTimeout(() => fail(new Error(`no result within ${timeoutMs} ms; see ${tmp}`)), timeoutMs);
      void page.exposeFunction('codeAutomationExit', (code: number) => done(code));
    });
    await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => { output += `${format(...args)}\n`; });
    // The paths must come from the client: code-server rejects --extensionDevelopmentPath.
    const remote = (p: string) => `vscode-remote://${host}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(root)],
      ['extensionTestsPath', remote(join(testsDir, 'index.js'))],
      ['skipWelcome', 'true'], ['skipReleaseNotes', 'true'],
    ]);
    await page.goto(`http://${host}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    const code = await exitCode;
    const results: Result[] = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : [];
    return { exitCode: code, results, logs: tmp, output };
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    try { process.kill(-server.pid!, 'SIGTERM'); } catch { /* already gone */ }
    if (!process.env.KEEP_LOGS) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (require.main === module) {
  // node --import tsx test/extension/run.ts [file-pattern]: a test engine is the caller's (TUG_HOST).
  runExtensionTests({ grep: process.argv[2] ? new RegExp(process.argv[2]) : undefined }).then(
    (o) => { process.stdout.write(o.output); console.log(`extension tests ${o.exitCode === 0 ? 'passed' : 'FAILED'}`); process.exit(o.exitCode); },
    (e: Error) => { console.error(e.message); process.exit(1); },
  );
}
