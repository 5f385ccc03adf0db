// Runs the extension tests (suite/) inside a real VS Code extension host: code-server with
// headless chromium (workbench.ts), or with TUG_VSCODE set a desktop VS Code through
// @vscode/test-electron — the same suite/index.js and run() contract either way.
//   node --import tsx test/extension/run.ts [file-pattern]   (vscode.test.ts runs it in `npm test`)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import type { Result } from './suite/index';
import { openWorkbench, root, startCodeServer } from './workbench';

export interface Outcome { exitCode: number; results: Result[]; output: string }

export interface RunOptions {
  timeoutMs?: number;
  /** More environment for code-server and so for the extension host and the tests in it. */
  env?: NodeJS.ProcessEnv;
  /** The suite files whose names match: all but installed-*.ext.ts by default. */
  grep?: RegExp;
  /** Test files from elsewhere (a bench's), instead of the suite's. */
  files?: string[];
  /** Run against this .vsix installed into VS Code, instead of the extension in this tree. */
  vsix?: string;
  /** The extension to load from its folder, instead of this tree's. */
  extensionPath?: string;
}

/** The suite's test files (suite/*.ext.ts), as absolute paths. */
function suiteFiles(grep = /^(?!installed-)/): string[] {
  const dir = join(__dirname, 'suite');
  return readdirSync(dir).filter((f) => f.endsWith('.ext.ts') && grep.test(f)).sort().map((f) => join(dir, f));
}

export async function runExtensionTests(options: RunOptions = {}): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  if (!existsSync(join(root, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run npm run build');
  // The extension host loads plain CommonJS: bundle each suite file, vscode and mocha left outside.
  const testsDir = join(root, 'dist/extension-tests');
  rmSync(testsDir, { recursive: true, force: true });
  const files = options.files ?? suiteFiles(options.grep);
  await build({
    // Flat, each by its file name, wherever it comes from.
    entryPoints: [join(__dirname, 'suite/index.ts'), ...files].map((f) => ({ in: f, out: basename(f, '.ts') })),
    outdir: testsDir, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    external: ['vscode', 'mocha'], sourcemap: true, logLevel: 'warning',
  });
  const env = {
    TUG_EXTENSION_TEST_RESULTS: join(testsDir, 'results.json'), // suite/index.ts writes there
    TUG_EXTENSION_TEST_FILES: files.map((f) => basename(f).replace(/\.ts$/, '.js')).join(','),
    ...options.env,
  };
  // An installed extension is tested through a development extension that is only a driver.
  const development = options.vsix ? join(__dirname, 'driver') : (options.extensionPath ?? root);
  if (process.env.TUG_VSCODE) return runInDesktop(process.env.TUG_VSCODE, development, join(testsDir, 'index.js'), env, options.vsix);
  const server = await startCodeServer({ vsix: options.vsix, env });
  let timer: NodeJS.Timeout | undefined;
  let workbench: Awaited<ReturnType<typeof openWorkbench>> | undefined;
  try {
    let exited!: (code: number) => void;
    const exitCode = new Promise<number>((done, fail) => {
      exited = done;
      timer = setTimeout(() => fail(new Error(`no result within ${timeoutMs} ms; KEEP_LOGS=1 keeps the logs in ${server.dir}`)), timeoutMs);
    });
    workbench = await openWorkbench(server, server.workspace, [['extensionDevelopmentPath', development], ['extensionTestsPath', join(testsDir, 'index.js')]], (code) => exited(code));
    const code = await exitCode;
    return { exitCode: code, results: readResults(env), output: workbench.output() };
  } finally {
    clearTimeout(timer);
    await workbench?.close();
    await server.stop();
  }
}

function readResults(env: NodeJS.ProcessEnv): Result[] {
  const file = env.TUG_EXTENSION_TEST_RESULTS!;
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
}

/**
 * The same suite in a desktop VS Code through @vscode/test-electron, where one can be had:
 * TUG_VSCODE=desktop downloads it (test-electron's cache), a path names an installed one. This
 * machine reaches no download server and has no desktop VS Code, so code-server runs it here.
 */
async function runInDesktop(vscode: string, development: string, tests: string, env: NodeJS.ProcessEnv, vsix?: string): Promise<Outcome> {
  const { downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath, runTests } = await import('@vscode/test-electron');
  const executable = vscode === 'desktop' ? await downloadAndUnzipVSCode() : vscode;
  const dir = mkdtempSync(join(tmpdir(), 'tug-desktop-'));
  const launchArgs = ['--extensions-dir', join(dir, 'extensions'), '--user-data-dir', join(dir, 'user-data'), '--disable-workspace-trust', mkdtempSync(join(dir, 'workspace-'))];
  try {
    if (vsix) {
      const [cli, ...args] = resolveCliArgsFromVSCodeExecutablePath(executable);
      execFileSync(cli, [...args, '--extensions-dir', join(dir, 'extensions'), '--install-extension', vsix]);
    }
    let exitCode = 0;
    await runTests({ vscodeExecutablePath: executable, extensionDevelopmentPath: development, extensionTestsPath: tests, extensionTestsEnv: env as Record<string, string>, launchArgs }).catch(() => (exitCode = 1));
    return { exitCode, results: readResults(env), output: '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runExtensionTests({ grep: process.argv[2] ? new RegExp(process.argv[2]) : undefined }).then(
    (o) => { process.stdout.write(o.output); console.log(`extension tests ${o.exitCode === 0 ? 'passed' : 'FAILED'}`); process.exit(o.exitCode); },
    (e: Error) => { console.error(e.message); process.exit(1); },
  );
}
