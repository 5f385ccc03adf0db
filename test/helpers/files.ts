// Looking at what a test left on disk.

import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Every path under a directory, relative, sorted. */
export async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    out.push(rel);
    if ((await lstat(join(dir, rel))).isDirectory()) out.push(...(await tree(dir, rel)));
  }
  return out;
}
