// The build context on the real filesystem: unpacking the tar a client sends (what is kept, what
// is refused, and that nothing lands outside), reading files of it without following symlinks
// out of it, and .dockerignore applied to it as Docker does.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { applyDockerIgnore, ContextError, extractContext, pruneContext, readContextFile } from '../../runtime-agent/src/build/context';
import type { TarWriteEntry } from '../../runtime-agent/src/images/tar';
import { tarOf } from '../helpers/images';
import { tree } from '../helpers/files';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tug-context-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
/** A fresh context directory, and a directory beside it that nothing may reach. */
async function scratch(): Promise<{ dir: string; outside: string }> {
  const base = join(root, `case-${counter++}`);
  const dir = join(base, 'context');
  const outside = join(base, 'outside');
  await mkdir(dir, { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'target'), 'untouched');
  return { dir, outside };
}

async function* once(data: Buffer): AsyncIterable<Uint8Array> {
  yield data;
}

async function extract(entries: TarWriteEntry[], dir: string): Promise<void> {
  await extractContext(once(await tarOf(entries)), dir);
}

/** Expects a ContextError whose message names the entry. */
async function refused(entries: TarWriteEntry[], dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(extract(entries, dir), (error: unknown) => {
    assert.ok(error instanceof ContextError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

async function untouched(outside: string): Promise<void> {
  assert.deepEqual(await readdir(outside), ['target']);
  assert.equal(await readFile(join(outside, 'target'), 'utf8'), 'untouched');
}

describe('extracting a build context', () => {
  const mtime = 1_600_000_000;

  test('keeps files with their modes and mtimes, directories, symlinks as symlinks, and hardlinks', async () => {
    const { dir, outside } = await scratch();
    await extract(
      [
        { name: 'Dockerfile', body: 'FROM scratch\n', mode: 0o644, mtime },
        { name: 'src', type: 'dir', mode: 0o750, mtime: mtime + 1 },
        { name: 'src/run.sh', body: '#!/bin/sh\n', mode: 0o4755, mtime: mtime + 2 },
        { name: 'src/link', type: 'symlink', linkname: '../Dockerfile' },
        { name: 'abs', type: 'symlink', linkname: join(outside, 'target') },
        { name: 'hard', type: 'hardlink', linkname: 'src/run.sh' },
      ],
      dir,
    );
    assert.deepEqual(await tree(dir), ['Dockerfile', 'abs', 'hard', 'src', 'src/link', 'src/run.sh']);
    const script = await stat(join(dir, 'src/run.sh'));
    assert.equal(script.mode & 0o7777, 0o4755);
    assert.equal(script.mtimeMs, (mtime + 2) * 1000);
    assert.equal((await stat(join(dir, 'Dockerfile'))).mode & 0o7777, 0o644);
    const src = await stat(join(dir, 'src'));
    assert.equal(src.mode & 0o7777, 0o750);
    assert.equal(src.mtimeMs, (mtime + 1) * 1000, 'directory times are set after their contents');
    assert.equal(await readlink(join(dir, 'src/link')), '../Dockerfile');
    assert.equal(await readlink(join(dir, 'abs')), join(outside, 'target'), 'a symlink pointing out is kept as it is, not followed');
    assert.equal((await stat(join(dir, 'hard'))).ino, script.ino);
    assert.equal(script.uid, 0);
    await untouched(outside);
  });

  test('takes a gzip-compressed context, and refuses other compressions and broken archives', async () => {
    const { dir } = await scratch();
    await extractContext(once(gzipSync(await tarOf([{ name: 'a/b.txt', body: 'hello' }]))), dir);
    assert.equal(await readFile(join(dir, 'a/b.txt'), 'utf8'), 'hello');
    await assert.rejects(extractContext(once(Buffer.from('BZh91AY&SY' + 'x'.repeat(600))), (await scratch()).dir), /^ContextError: the build context is bzip2-compressed/);
    const bad = await tarOf([{ name: 'f', body: 'x' }]);
    bad[148] ^= 1; // the header checksum
    await assert.rejects(extractContext(once(bad), (await scratch()).dir), (error: unknown) => error instanceof ContextError && /invalid build context: invalid tar archive: header checksum mismatch/.test(error.message));
  });

  test('takes names literally (no whiteouts) and skips device nodes and fifos', async () => {
    const { dir } = await scratch();
    await extract(
      [
        { name: 'app.txt', body: 'app' },
        { name: '.wh.app.txt', body: 'not a whiteout' },
        { name: '.wh..wh..opq', body: 'not opaque' },
        { name: 'null', type: 'char', devmajor: 1, devminor: 3 },
        { name: 'pipe', type: 'fifo' },
      ],
      dir,
    );
    assert.deepEqual(await tree(dir), ['.wh..wh..opq', '.wh.app.txt', 'app.txt']);
    assert.equal(await readFile(join(dir, '.wh.app.txt'), 'utf8'), 'not a whiteout');
  });

  test('a later entry replaces an earlier one without following it', async () => {
    const { dir, outside } = await scratch();
    await extract(
      [
        { name: 'x', type: 'symlink', linkname: join(outside, 'target') },
        { name: 'x', body: 'replaced' },
        { name: 'd', type: 'dir' },
        { name: 'd/keep', body: 'kept' },
        { name: 'd', type: 'dir', mode: 0o700 },
      ],
      dir,
    );
    assert.equal((await lstat(join(dir, 'x'))).isFile(), true);
    assert.equal(await readFile(join(dir, 'x'), 'utf8'), 'replaced');
    assert.equal(await readFile(join(dir, 'd/keep'), 'utf8'), 'kept', 'directories merge');
    assert.equal((await stat(join(dir, 'd'))).mode & 0o7777, 0o700);
    await untouched(outside);
  });

  test('refuses entries that leave the context, and writes nothing outside', async () => {
    for (const [name, why] of [
      ['../evil', /entry "\.\.\/evil" leaves the build context/],
      ['a/../../evil', /entry "a\/\.\.\/\.\.\/evil" leaves the build context/],
      ['/evil', /entry "\/evil" has an absolute path/],
    ] as const) {
      const { dir, outside } = await scratch();
      await refused([{ name: 'ok', body: 'fine' }, { name, body: 'evil' }], dir, why);
      assert.equal(existsSync(join(dir, '..', 'evil')), false);
      await untouched(outside);
    }
  });

  test('refuses an entry whose parent is a symlink, even one pointing inside', async () => {
    for (const linkname of ['../outside', 'sub']) {
      const { dir, outside } = await scratch();
      await refused(
        [
          { name: 'sub', type: 'dir' },
          { name: 'link', type: 'symlink', linkname },
          { name: 'link/target', body: 'overwritten' },
        ],
        dir,
        /^refusing build context: entry "link\/target" goes through the symlink "link"$/,
      );
      await untouched(outside);
      assert.deepEqual(await readdir(join(dir, 'sub')), []);
    }
  });

  test('refuses hardlinks to outside, to missing entries and through symlinks', async () => {
    const cases: [TarWriteEntry[], RegExp][] = [
      [[{ name: 'h', type: 'hardlink', linkname: '../outside/target' }], /hardlink "h" to "\.\.\/outside\/target" leaves the build context/],
      [[{ name: 'h', type: 'hardlink', linkname: '/etc/passwd' }], /hardlink "h" to "\/etc\/passwd" has an absolute path/],
      [[{ name: 'h', type: 'hardlink', linkname: 'missing' }], /hardlink "h" to "missing": the target does not exist/],
      [
        [
          { name: 'out', type: 'symlink', linkname: '../outside' },
          { name: 'h', type: 'hardlink', linkname: 'out/target' },
        ],
        /hardlink "h" to "out\/target" goes through the symlink "out"/,
      ],
    ];
    for (const [entries, why] of cases) {
      const { dir, outside } = await scratch();
      await refused(entries, dir, why);
      assert.equal(existsSync(join(dir, 'h')), false);
      assert.equal((await stat(join(outside, 'target'))).nlink, 1);
    }
  });
});

describe('reading a file of the context', () => {
  test('follows symlinks inside the context only', async () => {
    const { dir, outside } = await scratch();
    await mkdir(join(dir, 'docker'));
    await writeFile(join(dir, 'docker/Dockerfile.prod'), 'FROM prod\n');
    await symlink('docker/Dockerfile.prod', join(dir, 'Dockerfile'));
    await symlink(join(outside, 'target'), join(dir, 'Dockerfile.abs'));
    await symlink('../outside/target', join(dir, 'Dockerfile.up'));
    assert.equal(readContextFile(dir, 'Dockerfile')?.toString(), 'FROM prod\n');
    assert.equal(readContextFile(dir, './docker/../Dockerfile')?.toString(), 'FROM prod\n');
    assert.equal(readContextFile(dir, 'missing'), null);
    assert.equal(readContextFile(dir, 'docker'), null);
    assert.throws(() => readContextFile(dir, 'Dockerfile.abs'), /^ContextError: "Dockerfile.abs" goes through the symlink "Dockerfile.abs" to ".*outside\/target", outside the build context$/);
    assert.throws(() => readContextFile(dir, 'Dockerfile.up'), /goes through the symlink "Dockerfile.up" to "\.\.\/outside\/target", outside the build context/);
    assert.throws(() => readContextFile(dir, '../outside/target'), /"\.\.\/outside\/target" is outside the build context/);
  });
});

describe('.dockerignore', () => {
  async function context(files: Record<string, string>): Promise<{ dir: string; outside: string }> {
    const made = await scratch();
    for (const [name, body] of Object.entries(files)) {
      await mkdir(join(made.dir, name, '..'), { recursive: true });
      await writeFile(join(made.dir, name), body);
    }
    return made;
  }

  test('removes what the patterns exclude: the last match wins, and ! re-includes', async () => {
    const { dir } = await context({ 'a.log': '', 'keep.log': '', 'app.ts': '', 'src/b.log': '', 'src/c.ts': '', 'tmp/x': '', 'deep/er/y.tmp': '' });
    await applyDockerIgnore(dir, '# comment\n*.log\n!keep.log\ntmp\n**/*.tmp\n!app.ts\n');
    assert.deepEqual(await tree(dir), ['app.ts', 'deep', 'deep/er', 'keep.log', 'src', 'src/b.log', 'src/c.ts']);
  });

  test('an excluded directory keeps the exceptions inside it, and only those', async () => {
    const { dir } = await context({ 'build/keep.txt': 'k', 'build/other.txt': '', 'build/sub/z': '', 'dist/a': '', 'cache/a': '' });
    await applyDockerIgnore(dir, 'build\n!build/keep.txt\ndist\ncache\n!cache/none\n');
    assert.deepEqual(await tree(dir), ['build', 'build/keep.txt']);
  });

  test('judges a symlink by its name and never looks through it', async () => {
    const { dir, outside } = await context({ 'link-me': '' });
    await symlink(outside, join(dir, 'out'));
    await applyDockerIgnore(dir, '*/target\nlink-*\n');
    await untouched(outside);
    assert.deepEqual(await tree(dir), ['out']);
    await applyDockerIgnore(dir, 'out\n');
    assert.deepEqual(await tree(dir), []);
    await untouched(outside);
  });

  test('a bad pattern fails as Docker fails', async () => {
    const { dir } = await context({ a: '' });
    await assert.rejects(applyDockerIgnore(dir, 'ok\n[z-a]\n'), /^ContextError: error reading \.dockerignore: \.dockerignore line 2: syntax error in pattern$/);
  });

  test('pruneContext: the Dockerfile and .dockerignore go when excluded, with everything else excluded', async () => {
    const { dir } = await context({ Dockerfile: 'FROM x\n', '.dockerignore': 'Dockerfile\n.dockerignore\n*.md\n', 'README.md': '', 'app.ts': '' });
    await pruneContext(dir, 'Dockerfile');
    assert.deepEqual(await tree(dir), ['app.ts']);
  });

  test('pruneContext: a Dockerfile excluded through its directory, and one that is not excluded', async () => {
    const excluded = await context({ 'docker/Dockerfile': 'FROM x\n', '.dockerignore': 'docker/\n', 'app.ts': '' });
    await pruneContext(excluded.dir, 'docker/Dockerfile');
    assert.deepEqual(await tree(excluded.dir), ['.dockerignore', 'app.ts']);
    const kept = await context({ Dockerfile: 'FROM x\n', '.dockerignore': '*.md\n', 'README.md': '' });
    await pruneContext(kept.dir, 'Dockerfile');
    assert.deepEqual(await tree(kept.dir), ['.dockerignore', 'Dockerfile']);
    const none = await context({ Dockerfile: 'FROM x\n', 'README.md': '' });
    await pruneContext(none.dir, 'Dockerfile');
    assert.deepEqual(await tree(none.dir), ['Dockerfile', 'README.md']);
  });

  test('pruneContext removes a symlinked Dockerfile itself, not what it points to', async () => {
    const { dir, outside } = await context({ '.dockerignore': 'Dockerfile\n' });
    await symlink(join(outside, 'target'), join(dir, 'Dockerfile'));
    await pruneContext(dir, 'Dockerfile');
    assert.deepEqual(await tree(dir), ['.dockerignore']);
    await untouched(outside);
  });
});
