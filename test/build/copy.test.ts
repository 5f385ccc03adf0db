// COPY and ADD on the real filesystem: which files a source names (wildcards, symlinks, what is
// refused and with which message), where they land in a root filesystem and how (modes, times,
// owners, merging, symlinks in the destination), ADD's archives, and the digest the cache uses.

import assert from 'node:assert/strict';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CopyError, copyInto, hashSources, resolveSources, type CopyOptions, type Source } from '../../runtime-agent/src/build/copy';
import { tarOf } from '../helpers/images';
import { tree } from '../helpers/files';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tug-copy-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const MTIME = 1_600_000_000;

let counter = 0;
/**
 * A build context, a destination root filesystem, and a directory beside them named `outside`
 * that nothing may reach (the rootfs has its own `outside` to tell the two apart).
 */
async function scratch(files: Record<string, string> = {}): Promise<{ ctx: string; rootfs: string; outside: string }> {
  const base = join(root, `case-${counter++}`);
  const ctx = join(base, 'ctx');
  const rootfs = join(base, 'rootfs');
  const outside = join(base, 'outside');
  for (const dir of [ctx, rootfs, outside]) await mkdir(dir, { recursive: true });
  await writeFile(join(outside, 'target'), 'untouched');
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(ctx, name, '..'), { recursive: true });
    await writeFile(join(ctx, name), body);
    await utimes(join(ctx, name), MTIME, MTIME);
  }
  return { ctx, rootfs, outside };
}

async function untouched(outside: string): Promise<void> {
  assert.deepEqual(await readdir(outside), ['target']);
  assert.equal(await readFile(join(outside, 'target'), 'utf8'), 'untouched');
}

const rels = (sources: Source[]) => sources.map((s) => s.rel);

async function fails(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CopyError, String(error));
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

async function copy(ctx: string, words: string[], rootfs: string, dest: string, options: Partial<CopyOptions> = {}): Promise<void> {
  await copyInto(await resolveSources(ctx, words), rootfs, dest, { workdir: '/', ...options });
}

// ---------------------------------------------------------------------------------------------

describe('resolving sources', () => {
  test('paths are relative to the root, a leading / or ./ included, and cleaned', async () => {
    const { ctx } = await scratch({ 'a.txt': 'a', 'dir/b.txt': 'b' });
    const sources = await resolveSources(ctx, ['a.txt', '/dir/b.txt', './dir', 'dir/../a.txt', '.', '/']);
    assert.deepEqual(rels(sources), ['a.txt', 'dir/b.txt', 'dir', 'a.txt', '.', '.']);
    assert.deepEqual(
      sources.map((s) => [s.path, s.dir]),
      [
        [join(ctx, 'a.txt'), false],
        [join(ctx, 'dir/b.txt'), false],
        [join(ctx, 'dir'), true],
        [join(ctx, 'a.txt'), false],
        [ctx, true],
        [ctx, true],
      ],
    );
  });

  test("a path leaving the root is refused with Docker's message", async () => {
    const { ctx } = await scratch({ 'a.txt': 'a' });
    await fails(resolveSources(ctx, ['../x']), 'forbidden path outside the build context: ../x ()');
    await fails(resolveSources(ctx, ['/../x']), 'forbidden path outside the build context: ../x ()');
    await fails(resolveSources(ctx, ['a.txt', 'dir/../../x']), 'forbidden path outside the build context: dir/../../x ()');
    await fails(resolveSources(ctx, ['../*']), 'forbidden path outside the build context: ../* ()');
  });

  test("a missing path fails with Docker's message, in a context and in a root filesystem", async () => {
    const { ctx } = await scratch({ 'a.txt': 'a' });
    await fails(resolveSources(ctx, ['a.txt', './missing/file']), 'file not found in build context or excluded by .dockerignore: stat missing/file: file does not exist');
    await fails(resolveSources(ctx, ['a.txt/x']), 'file not found in build context or excluded by .dockerignore: stat a.txt/x: file does not exist');
    await fails(resolveSources(ctx, ['/missing'], { from: 'rootfs' }), 'stat missing: file does not exist');
  });

  test('wildcards match one component each, as filepath.Match does, in walk order', async () => {
    const { ctx } = await scratch({ 'b.txt': '', 'a.txt': '', 'c.md': '', '.env': '', 'x[1].txt': '', 'x-1.txt': '', 'dir/d.txt': '', 'dir/sub/e.txt': '', 'dir2/f.txt': '' });
    const match = async (word: string) => rels(await resolveSources(ctx, [word]).catch(() => []));
    assert.deepEqual(await match('*.txt'), ['a.txt', 'b.txt', 'x-1.txt', 'x[1].txt']);
    assert.deepEqual(await match('?.txt'), ['a.txt', 'b.txt']);
    assert.deepEqual(await match('[ab].t?t'), ['a.txt', 'b.txt']);
    assert.deepEqual(await match('[^a].txt'), ['b.txt']);
    assert.deepEqual(await match('[a-b].txt'), ['a.txt', 'b.txt']);
    assert.deepEqual(await match('x\\[1\\].*'), ['x[1].txt'], 'escapes in a pattern');
    assert.deepEqual(await match('x[\\-]1.*'), ['x-1.txt'], 'escapes in a class');
    assert.deepEqual(await match('x\\[1\\].txt'), [], 'without a wildcard the word is a plain path, backslashes included');
    assert.deepEqual(await match('*/*.txt'), ['dir/d.txt', 'dir2/f.txt']);
    assert.deepEqual(await match('dir*'), ['dir', 'dir2']);
    assert.deepEqual(await match('.e*'), ['.env']);
    assert.deepEqual(await match('*'), ['.env', 'a.txt', 'b.txt', 'c.md', 'dir', 'dir2', 'x-1.txt', 'x[1].txt']);
    assert.deepEqual(await match('[]a].txt'), [], 'a malformed pattern matches nothing');
  });

  test('a wildcard matching nothing adds nothing; nothing at all is an error', async () => {
    const { ctx } = await scratch({ 'a.txt': '' });
    assert.deepEqual(rels(await resolveSources(ctx, ['*.none', 'a.txt'])), ['a.txt']);
    await fails(resolveSources(ctx, ['*.none']), 'no source files were specified');
    await fails(resolveSources(ctx, ['*.none', 'no?']), 'no source files were specified');
  });

  test('symlinks inside the context are followed, on the way and as the source itself', async () => {
    const { ctx } = await scratch({ 'real/file': 'content', 'real/sub/x': 'x' });
    await symlink('real', join(ctx, 'dirlink'));
    await symlink('real/file', join(ctx, 'filelink'));
    await symlink('../real/sub', join(ctx, 'real/up'));
    await symlink('filelink', join(ctx, 'chain'));
    const sources = await resolveSources(ctx, ['dirlink/file', 'filelink', 'dirlink', 'real/up/x', 'chain']);
    assert.deepEqual(
      sources.map((s) => [s.rel, s.path, s.dir]),
      [
        ['dirlink/file', join(ctx, 'real/file'), false],
        ['filelink', join(ctx, 'real/file'), false],
        ['dirlink', join(ctx, 'real'), true],
        ['real/up/x', join(ctx, 'real/sub/x'), false],
        ['chain', join(ctx, 'real/file'), false],
      ],
    );
    // A wildcard does not look through a symlinked directory (Docker walks without following).
    await fails(resolveSources(ctx, ['dirlink/*']), 'no source files were specified');
  });

  test('a context symlink leading outside is refused when a source reaches through it', async () => {
    const { ctx, outside } = await scratch({ 'a.txt': '', 'sub/b': '' });
    await symlink('/etc', join(ctx, 'etc'));
    await symlink(join(outside, 'target'), join(ctx, 'abs'));
    await symlink('../..', join(ctx, 'sub/up'));
    await symlink('../sub/up/outside', join(ctx, 'sub/chain'));
    await fails(resolveSources(ctx, ['etc/passwd']), 'forbidden path outside the build context: etc/passwd (symlink "etc" points to "/etc", outside the build context)');
    await fails(resolveSources(ctx, ['etc']), /^forbidden path outside the build context: etc \(symlink "etc" points to "\/etc", outside the build context\)$/);
    await fails(resolveSources(ctx, ['abs']), /symlink "abs" points to ".*\/outside\/target", outside the build context/);
    await fails(resolveSources(ctx, ['sub/up/outside/target']), 'forbidden path outside the build context: sub/up/outside/target (symlink "sub/up" points to "../..", outside the build context)');
    await fails(resolveSources(ctx, ['sub/chain']), /symlink "sub\/up" points to "\.\.\/\.\.", outside the build context/);
    await fails(resolveSources(ctx, ['e*']), /forbidden path outside the build context: etc \(symlink "etc"/);
    // Reaching it is what is refused: the context itself is fine.
    assert.deepEqual(rels(await resolveSources(ctx, ['a.txt', '.'])), ['a.txt', '.']);
  });

  test("in a root filesystem, absolute symlinks mean that root and .. stops at it", async () => {
    const { rootfs } = await scratch();
    await mkdir(join(rootfs, 'bin'));
    await mkdir(join(rootfs, 'usr/bin'), { recursive: true });
    await writeFile(join(rootfs, 'bin/busybox'), 'busybox');
    await symlink('/bin/busybox', join(rootfs, 'usr/bin/sh'));
    await symlink('../../../../../bin', join(rootfs, 'usr/bin/up'));
    const sources = await resolveSources(rootfs, ['/usr/bin/sh', 'usr/bin/up/busybox'], { from: 'rootfs' });
    assert.deepEqual(
      sources.map((s) => s.path),
      [join(rootfs, 'bin/busybox'), join(rootfs, 'bin/busybox')],
    );
    assert.deepEqual(rels(sources), ['usr/bin/sh', 'usr/bin/up/busybox']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('copying', () => {
  test('a file goes into a directory destination, or becomes the destination', async () => {
    const { ctx, rootfs } = await scratch({ 'app.txt': 'app' });
    await mkdir(join(rootfs, 'existing'));
    await copy(ctx, ['app.txt'], rootfs, '/new/dir/');
    await copy(ctx, ['app.txt'], rootfs, '/renamed.txt');
    await copy(ctx, ['app.txt'], rootfs, '/existing');
    await copy(ctx, ['app.txt'], rootfs, 'rel', { workdir: '/work' });
    await copy(ctx, ['app.txt'], rootfs, '.', { workdir: '/existing' });
    await copy(ctx, ['*.txt'], rootfs, '/glob.txt');
    assert.deepEqual(await tree(rootfs), ['existing', 'existing/app.txt', 'glob.txt', 'new', 'new/dir', 'new/dir/app.txt', 'renamed.txt', 'work', 'work/rel']);
    assert.equal(await readFile(join(rootfs, 'work/rel'), 'utf8'), 'app');
  });

  test('several sources need a destination ending in /', async () => {
    const { ctx, rootfs } = await scratch({ 'a.txt': 'a', 'b.txt': 'b' });
    const message = 'When using COPY with more than one source file, the destination must be a directory and end with a /';
    await fails(copy(ctx, ['a.txt', 'b.txt'], rootfs, '/dest'), message);
    await fails(copy(ctx, ['*.txt'], rootfs, '.'), message);
    await fails(copy(ctx, ['*.txt'], rootfs, '/d', { extractArchives: true }), message.replace('COPY', 'ADD'));
    assert.deepEqual(await tree(rootfs), []);
    await copy(ctx, ['a.txt', 'b.txt'], rootfs, '/dest/');
    assert.deepEqual(await tree(rootfs), ['dest', 'dest/a.txt', 'dest/b.txt']);
  });

  test('a directory copies its contents, merged into what is there, replacing files', async () => {
    const { ctx, rootfs } = await scratch({ 'src/a.txt': 'new a', 'src/sub/b.txt': 'b', 'src/sub/c.txt': 'c' });
    await mkdir(join(rootfs, 'app/sub'), { recursive: true });
    await writeFile(join(rootfs, 'app/a.txt'), 'old a');
    await writeFile(join(rootfs, 'app/old.txt'), 'kept');
    await writeFile(join(rootfs, 'app/sub/keep.txt'), 'kept');
    await mkdir(join(rootfs, 'app/sub/c.txt/inside'), { recursive: true });
    await copy(ctx, ['src'], rootfs, '/app');
    assert.deepEqual(await tree(rootfs), ['app', 'app/a.txt', 'app/old.txt', 'app/sub', 'app/sub/b.txt', 'app/sub/c.txt', 'app/sub/keep.txt']);
    assert.equal(await readFile(join(rootfs, 'app/a.txt'), 'utf8'), 'new a');
    assert.equal(await readFile(join(rootfs, 'app/sub/c.txt'), 'utf8'), 'c');
    await copy(ctx, ['.'], rootfs, '/whole/');
    assert.deepEqual(await tree(join(rootfs, 'whole')), ['src', 'src/a.txt', 'src/sub', 'src/sub/b.txt', 'src/sub/c.txt']);
  });

  test('modes and mtimes are kept, owners become 0:0; --chmod and --chown apply to files and directories', async () => {
    const { ctx, rootfs } = await scratch({ 'tool': '#!/bin/sh\n', 'dir/f': 'f', 'dir/sub/g': 'g' });
    await chmod(join(ctx, 'tool'), 0o4750);
    await chmod(join(ctx, 'dir/sub'), 0o700);
    await utimes(join(ctx, 'dir/sub'), MTIME + 5, MTIME + 5.7);
    await chown(join(ctx, 'dir/f'), 1000, 1000);
    await copy(ctx, ['tool', 'dir'], rootfs, '/plain/');
    const tool = await stat(join(rootfs, 'plain/tool'));
    assert.equal(tool.mode & 0o7777, 0o4750);
    assert.equal(tool.mtimeMs, MTIME * 1000);
    const sub = await stat(join(rootfs, 'plain/sub'));
    assert.equal(sub.mode & 0o7777, 0o700);
    assert.equal(sub.mtimeMs, (MTIME + 5) * 1000, 'directory mtimes kept, to the second as Docker does');
    assert.equal((await stat(join(rootfs, 'plain/f'))).uid, 0);

    await copy(ctx, ['tool'], rootfs, '/owned/deep/', { chown: { uid: 1234, gid: 5678 }, chmod: 0o640 });
    await copy(ctx, ['dir'], rootfs, '/owned/tree', { chown: { uid: 1234, gid: 5678 }, chmod: 0o751 });
    const owned = await stat(join(rootfs, 'owned/deep/tool'));
    assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1234, 5678, 0o640]);
    for (const path of ['owned/tree/f', 'owned/tree/sub', 'owned/tree/sub/g', 'owned/tree']) {
      const st = await stat(join(rootfs, path));
      assert.deepEqual([path, st.uid, st.gid, st.mode & 0o7777], [path, 1234, 5678, 0o751]);
    }
    // New parents of a file are --chown's (MkdirAllAndChownNew), 0755; existing ones are left alone.
    for (const [path, uid] of [['owned', 1234], ['owned/deep', 1234]] as const) {
      const st = await stat(join(rootfs, path));
      assert.deepEqual([path, st.uid, st.mode & 0o7777], [path, uid, 0o755]);
    }
    await mkdir(join(rootfs, 'kept'), { mode: 0o700 });
    await copy(ctx, ['tool'], rootfs, '/kept/', { chown: { uid: 1234, gid: 5678 } });
    const kept = await stat(join(rootfs, 'kept'));
    assert.deepEqual([kept.uid, kept.mode & 0o7777], [0, 0o700]);
  });

  test('COPY --from keeps the owners when asked, and without --chown only', async () => {
    const { ctx, rootfs } = await scratch({ 'home/app/f': 'f' });
    await chown(join(ctx, 'home/app'), 1000, 1000);
    await chown(join(ctx, 'home/app/f'), 1000, 1001);
    const sources = await resolveSources(ctx, ['/home'], { from: 'rootfs' });
    await copyInto(sources, rootfs, '/home', { workdir: '/', preserveOwnership: true });
    const f = await stat(join(rootfs, 'home/app/f'));
    assert.deepEqual([f.uid, f.gid], [1000, 1001]);
    assert.equal((await stat(join(rootfs, 'home/app'))).uid, 1000);
    await copyInto(sources, rootfs, '/other', { workdir: '/' });
    assert.equal((await stat(join(rootfs, 'other/app/f'))).uid, 0);
  });

  test('symlinks inside a copied directory are copied as symlinks, never followed', async () => {
    const { ctx, rootfs, outside } = await scratch({ 'dir/real': 'real' });
    await symlink('real', join(ctx, 'dir/rel'));
    await symlink(join(outside, 'target'), join(ctx, 'dir/abs'));
    await symlink('/etc', join(ctx, 'dir/etc'));
    await lchown(join(ctx, 'dir/rel'), 1000, 1000);
    await copy(ctx, ['dir'], rootfs, '/app/');
    assert.equal(await readlink(join(rootfs, 'app/rel')), 'real');
    assert.equal(await readlink(join(rootfs, 'app/abs')), join(outside, 'target'));
    assert.equal(await readlink(join(rootfs, 'app/etc')), '/etc');
    assert.equal((await lstat(join(rootfs, 'app/rel'))).uid, 0);
    await untouched(outside);
  });

  test('the destination follows the image symlinks inside the root filesystem only', async () => {
    const { ctx, rootfs, outside } = await scratch({ 'f': 'payload', 'dir/g': 'g' });
    await mkdir(join(rootfs, 'opt/real'), { recursive: true });
    await symlink('/opt/real', join(rootfs, 'app'));
    await symlink('../../../../outside', join(rootfs, 'escape'));
    await symlink(join(outside, 'target'), join(rootfs, 'hostfile'));
    await copy(ctx, ['f'], rootfs, '/app/');
    await copy(ctx, ['f'], rootfs, '/escape/x');
    await copy(ctx, ['f'], rootfs, '/hostfile');
    await copy(ctx, ['dir'], rootfs, '/escape/');
    assert.equal(await readFile(join(rootfs, 'opt/real/f'), 'utf8'), 'payload');
    assert.equal(await readFile(join(rootfs, 'outside/x'), 'utf8'), 'payload');
    assert.equal(await readFile(join(rootfs, 'outside/g'), 'utf8'), 'g');
    assert.equal(await readFile(join(rootfs, outside, 'target'), 'utf8'), 'payload');
    await untouched(outside);
    // Below the destination, a symlink where a copied entry lands is replaced, not written through.
    await symlink(join(outside, 'target'), join(rootfs, 'opt/real/file'));
    await symlink('/opt/real', join(rootfs, 'opt/real/linkdir'));
    await mkdir(join(ctx, 'tree/linkdir'), { recursive: true });
    await writeFile(join(ctx, 'tree/file'), 'new');
    await writeFile(join(ctx, 'tree/linkdir/inner'), 'inner');
    await copy(ctx, ['tree'], rootfs, '/app');
    assert.equal(await readFile(join(rootfs, 'opt/real/file'), 'utf8'), 'new');
    assert.equal((await lstat(join(rootfs, 'opt/real/file'))).isFile(), true);
    assert.equal((await lstat(join(rootfs, 'opt/real/linkdir'))).isDirectory(), true);
    assert.deepEqual(await tree(join(rootfs, 'opt/real/linkdir')), ['inner']);
    await untouched(outside);
  });

  test('a destination that cannot be a directory is an error', async () => {
    const { ctx, rootfs } = await scratch({ 'f': 'f', 'dir/g': 'g' });
    await writeFile(join(rootfs, 'file'), 'x');
    await fails(copy(ctx, ['f'], rootfs, '/file/inside'), 'cannot copy to "/file/inside": "/file" is not a directory');
    await fails(copy(ctx, ['dir'], rootfs, '/file'), 'cannot copy directory "dir" to "/file": it exists and is not a directory');
    assert.equal(await readFile(join(rootfs, 'file'), 'utf8'), 'x');
  });
});

// ---------------------------------------------------------------------------------------------

describe('ADD of a local archive', () => {
  const archive = () =>
    tarOf([
      { name: 'pkg', type: 'dir', mode: 0o755, uid: 1000, gid: 1000 },
      { name: 'pkg/bin', body: 'binary', mode: 0o755, uid: 1000, gid: 1000, mtime: MTIME },
      { name: 'pkg/link', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'pkg/.wh.gone', body: 'a plain file' },
    ]);

  test('plain and gzip tars are extracted, keeping their owners; other files are copied', async () => {
    const { ctx, rootfs } = await scratch({ 'notes.tar': 'not a tar at all' });
    await writeFile(join(ctx, 'plain.tar'), await archive());
    await writeFile(join(ctx, 'packed.tgz'), gzipSync(await archive()));
    await copy(ctx, ['plain.tar'], rootfs, '/opt', { extractArchives: true });
    await copy(ctx, ['packed.tgz', 'notes.tar'], rootfs, '/gz/', { extractArchives: true, chown: { uid: 7, gid: 7 } });
    assert.deepEqual(await tree(join(rootfs, 'opt')), ['pkg', 'pkg/.wh.gone', 'pkg/bin', 'pkg/link']);
    assert.deepEqual(await tree(join(rootfs, 'gz')), ['notes.tar', 'pkg', 'pkg/.wh.gone', 'pkg/bin', 'pkg/link']);
    const bin = await stat(join(rootfs, 'gz/pkg/bin'));
    assert.deepEqual([bin.uid, bin.gid, bin.mode & 0o7777, bin.mtimeMs], [1000, 1000, 0o755, MTIME * 1000]);
    assert.equal(await readlink(join(rootfs, 'opt/pkg/link')), '/etc/passwd');
    assert.equal((await stat(join(rootfs, 'gz/notes.tar'))).uid, 7);
  });

  test('COPY, and a download, copy an archive as it is', async () => {
    const { ctx, rootfs } = await scratch();
    await writeFile(join(ctx, 'plain.tar'), await archive());
    await copy(ctx, ['plain.tar'], rootfs, '/copied/');
    const [download] = await resolveSources(ctx, ['plain.tar']);
    await copyInto([{ ...download, noExtract: true }], rootfs, '/fetched/', { workdir: '/', extractArchives: true });
    assert.deepEqual(await tree(rootfs), ['copied', 'copied/plain.tar', 'fetched', 'fetched/plain.tar']);
  });

  test('an archive reaching outside is refused, and nothing is written there', async () => {
    const { ctx, rootfs, outside } = await scratch();
    await writeFile(join(ctx, 'evil.tar'), await tarOf([{ name: '../../outside/target', body: 'pwned' }]));
    await writeFile(join(ctx, 'abs.tar'), await tarOf([{ name: join(outside, 'target'), body: 'pwned' }]));
    await writeFile(join(ctx, 'via.tar'), await tarOf([{ name: 'up', type: 'symlink', linkname: '../../..' }, { name: 'up/outside/target', body: 'pwned' }]));
    await mkdir(join(rootfs, 'dest'));
    await symlink(outside, join(rootfs, 'dest/host'));
    await writeFile(join(ctx, 'existing.tar'), await tarOf([{ name: 'host/target', body: 'pwned' }]));
    await fails(copy(ctx, ['evil.tar'], rootfs, '/dest', { extractArchives: true }), 'refusing archive "evil.tar": entry "../../outside/target" leaves the destination directory');
    await fails(copy(ctx, ['abs.tar'], rootfs, '/dest', { extractArchives: true }), /^refusing archive "abs.tar": entry ".*" has an absolute path$/);
    await fails(copy(ctx, ['via.tar'], rootfs, '/dest', { extractArchives: true }), 'refusing archive "via.tar": entry "up/outside/target" goes through the symlink "up"');
    await fails(copy(ctx, ['existing.tar'], rootfs, '/dest', { extractArchives: true }), 'refusing archive "existing.tar": entry "host/target" goes through the symlink "host"');
    await untouched(outside);
  });

  test('a compression it cannot read is an error rather than a silent copy', async () => {
    const { ctx, rootfs } = await scratch();
    await writeFile(join(ctx, 'a.tar.xz'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
    await fails(copy(ctx, ['a.tar.xz'], rootfs, '/', { extractArchives: true }), /^cannot extract "a.tar.xz": xz-compressed archives are not supported/);
    await copy(ctx, ['a.tar.xz'], rootfs, '/');
    assert.deepEqual(await tree(rootfs), ['a.tar.xz']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('hashing sources', () => {
  async function hashOf(ctx: string, words: string[], from: 'context' | 'rootfs' = 'context'): Promise<string> {
    return hashSources(await resolveSources(ctx, words, { from }));
  }

  test('is the same for the same files wherever they are, and ignores mtimes', async () => {
    const files = { 'src/a.txt': 'a', 'src/sub/b.txt': 'b', 'c.txt': 'c' };
    const one = await scratch(files);
    const two = await scratch(files);
    await symlink('a.txt', join(one.ctx, 'src/link'));
    await symlink('a.txt', join(two.ctx, 'src/link'));
    const first = await hashOf(one.ctx, ['src', 'c.txt']);
    assert.match(first, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await hashOf(two.ctx, ['src', 'c.txt']), first);
    await utimes(join(two.ctx, 'src/sub/b.txt'), MTIME + 100, MTIME + 100);
    await utimes(join(two.ctx, 'src/sub'), MTIME + 100, MTIME + 100);
    await utimes(join(two.ctx, 'c.txt'), MTIME + 100, MTIME + 100);
    assert.equal(await hashOf(two.ctx, ['src', 'c.txt']), first, 'touch changes nothing');
    assert.notEqual(await hashOf(one.ctx, ['c.txt', 'src']), first, 'the order of sources matters');
  });

  test('sees content, mode, owner, names, layout and symlink targets', async () => {
    const edits: [string, (ctx: string) => Promise<unknown>][] = [
      ['content', (ctx) => writeFile(join(ctx, 'src/sub/b.txt'), 'B')],
      ['same size content', (ctx) => writeFile(join(ctx, 'c.txt'), 'C')],
      ['file mode', (ctx) => chmod(join(ctx, 'src/a.txt'), 0o755)],
      ['directory mode', (ctx) => chmod(join(ctx, 'src/sub'), 0o700)],
      ['owner', (ctx) => chown(join(ctx, 'src/a.txt'), 1000, 1000)],
      ['a rename inside a directory', async (ctx) => writeFile(join(ctx, 'src/sub/renamed.txt'), 'b').then(() => rm(join(ctx, 'src/sub/b.txt')))],
      ['a move between directories', async (ctx) => writeFile(join(ctx, 'src/b.txt'), 'b').then(() => rm(join(ctx, 'src/sub/b.txt')))],
      ['a new empty directory', (ctx) => mkdir(join(ctx, 'src/empty'))],
      ['a symlink target', async (ctx) => rm(join(ctx, 'src/link')).then(() => symlink('sub', join(ctx, 'src/link')))],
    ];
    const files = { 'src/a.txt': 'a', 'src/sub/b.txt': 'b', 'c.txt': 'c' };
    const reference = await scratch(files);
    await symlink('a.txt', join(reference.ctx, 'src/link'));
    const base = await hashOf(reference.ctx, ['src', 'c.txt']);
    for (const [what, edit] of edits) {
      const { ctx } = await scratch(files);
      await symlink('a.txt', join(ctx, 'src/link'));
      assert.equal(await hashOf(ctx, ['src', 'c.txt']), base, what);
      await edit(ctx);
      assert.notEqual(await hashOf(ctx, ['src', 'c.txt']), base, what);
    }
    // Each entry counts with its path, not only its name: e then d/ is not d/e.
    const flat = await scratch({ e: 'e' });
    await mkdir(join(flat.ctx, 'd'));
    const nested = await scratch({ 'd/e': 'e' });
    assert.notEqual(await hashOf(flat.ctx, ['.']), await hashOf(nested.ctx, ['.']));
    // A file source lands under its own name: renaming it changes what is copied.
    const { ctx } = await scratch({ 'x.txt': 'same', 'y.txt': 'same' });
    assert.notEqual(await hashOf(ctx, ['x.txt']), await hashOf(ctx, ['y.txt']));
    const [source] = await resolveSources(ctx, ['x.txt']);
    assert.notEqual(await hashSources([{ ...source, noExtract: true }]), await hashSources([source]));
  });
});

// ---------------------------------------------------------------------------------------------

describe('COPY --exclude', () => {
  async function copyExcluding(ctx: string, words: string[], exclude: string[], rootfs: string, dest: string): Promise<void> {
    await copyInto(await resolveSources(ctx, words, { exclude }), rootfs, dest, { workdir: '/' });
  }

  test("the reference's example: a wildcard's matches, and what is below a matched directory", async () => {
    const { ctx, rootfs } = await scratch({ 'home.txt': '', 'home.md': '', 'homedir/a.txt': '', 'homedir/b.md': '', 'homedir/sub/c.txt': '', 'other.md': '' });
    assert.deepEqual(rels(await resolveSources(ctx, ['hom*'], { exclude: ['*.txt'] })), ['home.md', 'homedir']);
    await copyExcluding(ctx, ['hom*'], ['*.txt'], rootfs, '/mydir/');
    // Below a directory source, paths are relative to it: `*.txt` is `a.txt`, not `sub/c.txt`.
    assert.deepEqual(await tree(join(rootfs, 'mydir')), ['b.md', 'home.md', 'sub', 'sub/c.txt']);
    await copyExcluding(ctx, ['hom*'], ['*.txt', '*.md', '**/*.txt'], rootfs, '/both/');
    assert.deepEqual(await tree(join(rootfs, 'both')), ['sub']);
  });

  test('patterns are .dockerignore patterns: directories whole, ** and exceptions', async () => {
    const { ctx, rootfs } = await scratch({ 'src/a.txt': 'a', 'src/x.log': '', 'src/deep/y.log': '', 'src/deep/z.c': '', 'src/cache/big': '', 'src/cache/keep': '' });
    await copyExcluding(ctx, ['src'], ['cache', '**/*.log'], rootfs, '/one/');
    assert.deepEqual(await tree(join(rootfs, 'one')), ['a.txt', 'deep', 'deep/z.c']);
    await copyExcluding(ctx, ['src'], ['cache', '!cache/keep', '*.txt'], rootfs, '/two/');
    assert.deepEqual(await tree(join(rootfs, 'two')), ['cache', 'cache/keep', 'deep', 'deep/y.log', 'deep/z.c', 'x.log']);
    await copyExcluding(ctx, ['.'], ['*', '!src', 'src/deep'], rootfs, '/three/');
    assert.deepEqual(await tree(join(rootfs, 'three')), ['src', 'src/a.txt', 'src/cache', 'src/cache/big', 'src/cache/keep', 'src/x.log']);
  });

  test('a named source is judged by its path, its parents included; all excluded copies nothing', async () => {
    const { ctx, rootfs } = await scratch({ 'dir/a.txt': 'a', 'dir/b.txt': 'b', 'c.txt': 'c' });
    assert.deepEqual(rels(await resolveSources(ctx, ['dir/a.txt', 'c.txt'], { exclude: ['dir'] })), ['c.txt']);
    assert.deepEqual(rels(await resolveSources(ctx, ['dir/a.txt', 'dir/b.txt'], { exclude: ['dir', '!dir/b.txt'] })), ['dir/b.txt']);
    assert.deepEqual(await resolveSources(ctx, ['dir/a.txt'], { exclude: ['**/a.txt'] }), []);
    await copyExcluding(ctx, ['dir/*'], ['dir/*'], rootfs, '/none/');
    assert.deepEqual(await tree(rootfs), []);
    // Missing sources are still errors: exclusion is no excuse for a typo.
    await fails(resolveSources(ctx, ['missing'], { exclude: ['missing'] }), /file not found in build context/);
  });

  test('a pattern Docker refuses is an error', async () => {
    const { ctx } = await scratch({ 'a.txt': '' });
    await fails(resolveSources(ctx, ['a.txt'], { exclude: ['ok', 'a['] }), 'invalid exclude pattern "a[": syntax error in pattern');
  });

  test('the hash does not see excluded files', async () => {
    const { ctx } = await scratch({ 'src/app.js': 'app', 'src/notes.md': 'notes', 'src/tmp/scratch': 'x', 'top.md': 'top' });
    const hash = async () => hashSources(await resolveSources(ctx, ['src', 'top.md', '*.js'], { exclude: ['*.md', 'tmp'] }));
    const before = await hash();
    assert.notEqual(before, await hashSources(await resolveSources(ctx, ['src', 'top.md', '*.js'])), 'excluding changes what is copied');
    await writeFile(join(ctx, 'src/notes.md'), 'edited notes');
    await writeFile(join(ctx, 'src/tmp/scratch'), 'edited');
    await writeFile(join(ctx, 'src/tmp/new'), 'new');
    await writeFile(join(ctx, 'top.md'), 'edited top');
    assert.equal(await hash(), before, 'edits to excluded files');
    await writeFile(join(ctx, 'src/app.js'), 'edited app');
    assert.notEqual(await hash(), before, 'an edit to a copied file');
  });
});

// ---------------------------------------------------------------------------------------------

describe('COPY --parents', () => {
  async function copyParents(ctx: string, words: string[], rootfs: string, dest: string, options: Partial<CopyOptions> & { exclude?: string[] } = {}): Promise<void> {
    const { exclude, ...copyOptions } = options;
    await copyInto(await resolveSources(ctx, words, { parents: true, ...(exclude ? { exclude } : {}) }), rootfs, dest, { workdir: '/', ...copyOptions });
  }

  test("the reference's examples: parents kept, a /./ pivot, and **", async () => {
    const { ctx, rootfs } = await scratch({ 'x/a.txt': 'xa', 'y/a.txt': 'ya', 'x/y/a.txt': '', 'x/y/b.txt': '', 'x/y/c.md': '', 'src/a.txt': '', 'src/x/b.txt': '', 'src/x/y/c.txt': '', 'src/x/d.md': '' });
    await copyParents(ctx, ['./x/a.txt', './y/a.txt'], rootfs, '/parents/');
    assert.deepEqual(await tree(join(rootfs, 'parents')), ['x', 'x/a.txt', 'y', 'y/a.txt']);
    assert.equal(await readFile(join(rootfs, 'parents/y/a.txt'), 'utf8'), 'ya');
    await copyParents(ctx, ['./x/./y/*.txt'], rootfs, '/pivot/');
    assert.deepEqual(await tree(join(rootfs, 'pivot')), ['y', 'y/a.txt', 'y/b.txt']);
    await copyParents(ctx, ['./src/**/*.txt'], rootfs, '/deep/');
    assert.deepEqual(await tree(join(rootfs, 'deep')), ['src', 'src/a.txt', 'src/x', 'src/x/b.txt', 'src/x/y', 'src/x/y/c.txt']);
    // Without --parents the same words flatten.
    await copy(ctx, ['./x/a.txt', './x/y/b.txt'], rootfs, '/flat/');
    assert.deepEqual(await tree(join(rootfs, 'flat')), ['a.txt', 'b.txt']);
  });

  test('sources resolve as without --parents, keeping their path below the pivot', async () => {
    const { ctx } = await scratch({ 'x/y/a.txt': '', 'x/y/sub/b': '' });
    const sources = await resolveSources(ctx, ['x/y/a.txt', '/x/./y/sub', 'x/y/./', 'x/*/./sub'], { parents: true });
    assert.deepEqual(
      sources.map((s) => [s.rel, s.dir, s.parents?.keep, s.parents?.dirs]),
      [
        ['x/y/a.txt', false, 'x/y/a.txt', [join(ctx, 'x'), join(ctx, 'x/y')]],
        ['x/y/sub', true, 'y/sub', [join(ctx, 'x/y')]],
        ['x/y', true, '.', []],
        ['x/y/sub', true, 'sub', []],
      ],
    );
    const [file] = await resolveSources(ctx, ['x/y/a.txt/./'], { parents: true });
    assert.deepEqual(file.parents, { keep: 'a.txt', dirs: [] });
    await fails(resolveSources(ctx, ['x/missing'], { parents: true }), 'file not found in build context or excluded by .dockerignore: stat x/missing: file does not exist');
    await fails(resolveSources(ctx, ['../x'], { parents: true }), 'forbidden path outside the build context: ../x ()');
    await fails(resolveSources(ctx, ['x/./../y'], { parents: true }), 'forbidden path outside the --parents base "x": ../y');
    await fails(resolveSources(ctx, ['x/*.none'], { parents: true }), 'no source files were specified');
  });

  test('the destination is a directory; directories on the way are made like their sources', async () => {
    const { ctx, rootfs } = await scratch({ 'x/y/a.txt': 'a', 'd/f': 'f', 'd/sub/g': 'g' });
    await chmod(join(ctx, 'x'), 0o750);
    await chmod(join(ctx, 'x/y'), 0o711);
    await chmod(join(ctx, 'd'), 0o701);
    await utimes(join(ctx, 'x/y'), MTIME + 7, MTIME + 7);
    await copyParents(ctx, ['x/y/a.txt'], rootfs, '/dest');
    assert.deepEqual(await tree(join(rootfs, 'dest')), ['x', 'x/y', 'x/y/a.txt']);
    const modes = async (paths: string[]) => Promise.all(paths.map(async (p) => (await stat(join(rootfs, p))).mode & 0o7777));
    assert.deepEqual(await modes(['dest', 'dest/x', 'dest/x/y']), [0o755, 0o750, 0o711]);
    assert.equal((await stat(join(rootfs, 'dest/x/y'))).mtimeMs, (MTIME + 7) * 1000, 'mtime kept after filling it');
    // A directory source itself is copied too, with its mode; --chown owns the directories on the way.
    await copyParents(ctx, ['d'], rootfs, '/owned/', { chown: { uid: 1234, gid: 5678 } });
    assert.deepEqual(await tree(join(rootfs, 'owned')), ['d', 'd/f', 'd/sub', 'd/sub/g']);
    assert.equal((await stat(join(rootfs, 'owned/d'))).mode & 0o7777, 0o701);
    await copyParents(ctx, ['x/y/a.txt'], rootfs, '/owned/', { chown: { uid: 1234, gid: 5678 } });
    for (const path of ['owned', 'owned/d', 'owned/x', 'owned/x/y', 'owned/x/y/a.txt']) assert.equal((await stat(join(rootfs, path))).uid, 1234, path);
    // Existing directories on the way are left as they are.
    await mkdir(join(rootfs, 'kept/x'), { recursive: true, mode: 0o700 });
    await copyParents(ctx, ['x/y/a.txt'], rootfs, '/kept/');
    assert.equal((await stat(join(rootfs, 'kept/x'))).mode & 0o7777, 0o700);
  });

  test('with --exclude, paths are judged below the pivot', async () => {
    const { ctx, rootfs } = await scratch({ 'app/src/a.js': '', 'app/src/a.test.js': '', 'app/docs/r.md': '', 'app/docs/keep.md': '' });
    await copyParents(ctx, ['app/./src', 'app/./docs'], rootfs, '/out/', { exclude: ['**/*.test.js', 'docs', '!docs/keep.md'] });
    assert.deepEqual(await tree(join(rootfs, 'out')), ['docs', 'docs/keep.md', 'src', 'src/a.js']);
  });

  test('the hash sees the kept path and the directories on the way', async () => {
    const { ctx } = await scratch({ 'x/a.txt': 'a', 'y/a.txt': 'a' });
    const hash = async (words: string[], parents: boolean) => hashSources(await resolveSources(ctx, words, { parents }));
    const before = await hash(['x/a.txt'], true);
    assert.notEqual(before, await hash(['x/a.txt'], false));
    assert.notEqual(before, await hash(['y/a.txt'], true));
    await chmod(join(ctx, 'x'), 0o700);
    assert.notEqual(await hash(['x/a.txt'], true), before, 'the mode of a directory on the way');
  });
});
