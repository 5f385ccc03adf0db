// How long the extension takes to activate in a real VS Code (code-server, as the extension
// tests run it): a fresh VS Code each run, activate() timed from the call to its return, loading
// the bundle included. Beside it, the same for an extension whose activate() does nothing: what
// VS Code itself takes. The goal is under 100 ms. The Container Tools extension cannot be
// measured here: it comes only from the marketplace, which this machine cannot reach.
//   npm run build && node --import tsx bench/extension/run.ts [runs]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExtensionTests } from '../../test/extension/run';
import { duration, stats } from '../shared/harness';

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'tug-bench-'));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'package.json'), JSON.stringify({ name: 'empty', publisher: 'bench', version: '0.0.1', engines: { vscode: '^1.100.0' }, main: './extension.js', activationEvents: [] }));
  writeFileSync(join(empty, 'extension.js'), 'exports.activate = () => {};\n');
  const contestants = [
    { name: 'Tug', id: 'tug.tug', path: undefined, samples: [] as number[] },
    { name: 'an empty extension', id: 'bench.empty', path: empty, samples: [] as number[] },
  ];
  try {
    for (let i = 0; i < runs; i++) {
      for (const c of contestants) {
        const out = join(dir, 'out');
        const outcome = await runExtensionTests({ files: [join(__dirname, 'activate.ext.ts')], extensionPath: c.path, env: { TUG_BENCH_OUT: out, TUG_BENCH_EXTENSION: c.id } });
        if (outcome.exitCode !== 0) throw new Error(`${c.name}, run ${i + 1} failed:\n${outcome.output}`);
        c.samples.push(Number(readFileSync(out, 'utf8')));
        process.stderr.write(`${c.name}, run ${i + 1}/${runs}: ${duration(c.samples.at(-1)!)}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [tug, floor] = contestants.map((c) => stats(c.samples)!);
  console.log(`activation in VS Code 1.100.3 (code-server), ${runs} runs each, medians:`);
  console.log(`  Tug                 ${duration(tug.median)} (min ${duration(tug.min)}, max ${duration(tug.max)})`);
  console.log(`  an empty extension  ${duration(floor.median)} (min ${duration(floor.min)}, max ${duration(floor.max)})`);
  console.log(`  Tug's own part      ${duration(tug.median - floor.median)}; ratio ${(tug.median / floor.median).toFixed(2)}×; goal < 100 ms: ${tug.median < 100 ? 'met' : 'not met'}`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
