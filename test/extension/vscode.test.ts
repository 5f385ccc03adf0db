import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { busyboxEngine } from '../helpers/busybox-engine';
import { startSshd } from '../helpers/sshd';
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
  // The remote engine's machine: a real sshd in a network namespace, named as the Host
  // `tug-remote` in the ~/.ssh/config of the person VS Code runs as (HOME, a folder of the
  // test's). The machine is this one, so its engine is the test's own: the extension installs
  // its bundle in the test's folder and finds the engine answering on the test engine's socket.
  const sshd = await startSshd();
  const home = await mkdtemp(join(tmpdir(), 'tug-home-'));
  try {
    await mkdir(join(home, '.ssh'));
    await writeFile(join(home, '.ssh/config'), `Host tug-remote\n  HostName ${sshd.host}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n`);
    await sshd.knownHosts(join(home, '.ssh/known_hosts'));
    const remote = { HOME: home, SSH_AUTH_SOCK: '', TUG_TEST_SSH_ALIAS: 'tug-remote', TUG_REMOTE_DIR: join(home, 'remote'), TUG_REMOTE_SOCKET: t.engine.socket };
    await report(context, await runExtensionTests({ env: { ...env(), ...remote } }));
  } finally {
    await sshd.stop();
    await rm(home, { recursive: true, force: true });
  }
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
