import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { busyboxEngine } from '../helpers/busybox-engine';
import { runExtensionTests, type Outcome } from './run';
import { buildAndRunByClicks } from './ui';
import { root } from './workbench';

// The mocha tests of suite/ run inside a real VS Code (run.ts), against a real tugd with the
// busybox image from a real registry; each comes back here as one node:test result, so that
// `npm test` counts and names them like any other.
const t = busyboxEngine({ pull: true });
const env = () => ({ TUG_HOST: `unix://${t.engine.socket}`, TUG_TEST_IMAGE: t.busybox });

async function report(context: TestContext, outcome: Outcome): Promise<void> {
  await context.test('runs the extension tests to the end', () => {
    assert.ok(outcome.results.length > 0, `no extension test ran (exit ${outcome.exitCode}):\n${outcome.output}`);
    assert.equal(outcome.exitCode, 0, outcome.output);
  });
  for (const r of outcome.results) {
    await context.test(r.title, { skip: r.state === 'pending' }, () => {
      if (r.state === 'failed') assert.fail(r.error);
    });
  }
}

test('VS Code extension host', async (context) => {
  await report(context, await runExtensionTests({ env: env() }));
});

test('the packaged .vsix, installed into VS Code', async (context) => {
  const dir = await mkdtemp(join(tmpdir(), 'tug-vsix-'));
  try {
    const vsix = join(dir, 'tug.vsix');
    // What `npm run package` does after its build (npm test has built already).
    await promisify(execFile)(join(root, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--out', vsix], { cwd: root });
    await report(context, await runExtensionTests({ env: env(), vsix, grep: /^installed-/ }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('in the browser: right-click the Dockerfile, Build and Run, the container in the sidebar', async (context) => {
  const screenshot = join(root, '.tmp/test-output/build-and-run.png');
  const outcome = await buildAndRunByClicks({ env: env(), image: t.busybox, screenshot });
  context.diagnostic(`screenshot: ${outcome.screenshot}`);
  assert.match(outcome.terminal, /Built workspace:latest/);
  assert.match(outcome.terminal, /clicked into being/);
  assert.match(outcome.row, /workspace:latest · Up /);
});
