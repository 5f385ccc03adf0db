import assert from 'node:assert/strict';
import { test } from 'node:test';
import { busyboxEngine } from '../helpers/busybox-engine';
import { runExtensionTests } from './run';

// The mocha tests of suite/ run once inside a real VS Code (run.ts), against a real tugd with the
// busybox image from a real registry; each comes back here as one node:test result, so that
// `npm test` counts and names them like any other.
const t = busyboxEngine({ pull: true });

test('VS Code extension host', async (context) => {
  const outcome = await runExtensionTests({ env: { TUG_HOST: `unix://${t.engine.socket}`, TUG_TEST_IMAGE: t.busybox } });
  await context.test('runs the extension tests to the end', () => {
    assert.ok(outcome.results.length > 0, `no extension test ran (exit ${outcome.exitCode}):\n${outcome.output}`);
    assert.equal(outcome.exitCode, 0, outcome.output);
  });
  for (const r of outcome.results) {
    await context.test(r.title, { skip: r.state === 'pending' }, () => {
      if (r.state === 'failed') assert.fail(r.error);
    });
  }
});
