import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExtensionTests } from './run';

// The mocha tests of suite/ run once inside a real VS Code (run.ts); each comes back here as
// one node:test result, so that `npm test` counts and names them like any other.
describe('VS Code extension host', async () => {
  const outcome = await runExtensionTests();
  it('runs the extension tests to the end', () => {
    assert.ok(outcome.results.length > 0, `no extension test ran (exit ${outcome.exitCode}):\n${outcome.output}`);
    assert.equal(outcome.exitCode, 0, outcome.output);
  });
  for (const r of outcome.results) {
    it(r.title, { skip: r.state === 'pending' }, () => {
      if (r.state === 'failed') assert.fail(r.error);
    });
  }
});
