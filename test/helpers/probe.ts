// The probe (probe.c), built statically once per test process into a folder of its own, to be
// bind-mounted into containers at /probe.

import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

let built: Promise<string> | undefined;

/** The folder holding `probe`; removed when the test process ends. */
export function probeDir(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tug-probe-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await promisify(execFile)('cc', ['-static', '-O2', '-o', join(dir, 'probe'), join(__dirname, 'probe.c')]);
    return dir;
  })();
  return built;
}
