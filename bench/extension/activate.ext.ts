// Inside VS Code: how long an extension's activation takes, loading its bundle included,
// measured as VS Code's activate() of the not yet active extension (nothing here has opened a
// Dockerfile). TUG_BENCH_EXTENSION names it.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';

suite('activation', () => {
  test('measures', async () => {
    const id = process.env.TUG_BENCH_EXTENSION!;
    const ext = vscode.extensions.getExtension(id);
    if (!ext || ext.isActive) throw new Error(`${id} is missing or already active`);
    const start = performance.now();
    await ext.activate();
    writeFileSync(process.env.TUG_BENCH_OUT!, String(performance.now() - start));
  });
});
