// extensionTestsPath: loaded inside the VS Code extension host, by @vscode/test-electron on a
// desktop or by ../run.ts (code-server) here. Both only call run() and wait for it.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export interface Result { title: string; state: 'passed' | 'failed' | 'pending'; error?: string }

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 30_000 });
  // Each *.ext.js next to this file is one bundled test file (see ../run.ts), all of them unless the runner names some.
  const named = process.env.TUG_EXTENSION_TEST_FILES?.split(',').filter(Boolean);
  for (const file of named ?? readdirSync(__dirname).filter((f) => f.endsWith('.ext.js')).sort()) mocha.addFile(join(__dirname, file));
  const results: Result[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      // run.ts turns these into node:test results so that `npm test` counts them one by one.
      const out = process.env.TUG_EXTENSION_TEST_RESULTS;
      if (out) writeFileSync(out, JSON.stringify(results));
      if (failures) reject(new Error(`${failures} extension test(s) failed`)); else resolve();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed' }));
    runner.on('pending', (t) => results.push({ title: t.fullTitle(), state: 'pending' }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', error: err.stack ?? String(err) }));
  });
}
