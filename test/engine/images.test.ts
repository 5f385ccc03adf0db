// The image modules on their own, on the real filesystem: the content store, image records, tar
// reading and writing (checked against GNU tar), applying layers (whiteouts as overlayfs reads
// them, the flattening fallback, every way a layer might try to escape), and snapshots.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ContentStore, DigestMismatchError, SizeMismatchError } from '../../runtime-agent/src/images/content';
import { applyLayer, UnsafeLayerError } from '../../runtime-agent/src/images/layers';
import { chainIds, Snapshots } from '../../runtime-agent/src/images/snapshots';
import { familiarName, ImageStore, type ImageRecord } from '../../runtime-agent/src/images/store';
import { collect, decompress, readTar, writeTar, type TarEntry, type TarWriteEntry } from '../../runtime-agent/src/images/tar';
import { busyboxLayer, GROUP, PASSWD, sha256, tarOf } from '../helpers/images';
import { tree } from '../helpers/files';

const exec = promisify(execFile);

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tug-images-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function scratch(name: string): Promise<string> {
  const dir = join(root, `${name}-${counter++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function* chunks(data: Buffer, size: number, delay = 0): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    if (delay) await new Promise((r) => setTimeout(r, delay));
    yield data.subarray(i, i + size);
  }
}

async function* once(data: Buffer): AsyncIterable<Uint8Array> {
  yield data;
}

/** trusted.overlay.* xattrs under a directory, as "path=name:value". */
async function overlayXattrs(dir: string): Promise<string[]> {
  const { stdout } = await exec('getfattr', ['-R', '-h', '-d', '-m', '^trusted\\.overlay\\.', '--absolute-names', dir]).catch((e: { stdout: string }) => e);
  const out: string[] = [];
  let file = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice('# file: '.length).slice(dir.length + 1);
    else if (line.includes('=')) out.push(`${file}=${line}`);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------

describe('content store', () => {
  test('stores a blob under its digest, streamed in chunks, and reads it back', async () => {
    const store = new ContentStore(await scratch('content'));
    const data = Buffer.from('hello layers '.repeat(1000));
    const digest = sha256(data);
    let counted = 0;
    await store.write(chunks(data, 1000), { digest, size: data.length }, (n) => (counted += n));
    assert.equal(counted, data.length);
    assert.equal(await store.has(digest), true);
    assert.equal(await store.size(digest), data.length);
    assert.deepEqual(await readFile(store.path(digest)), data);
    assert.deepEqual(await collect(store.read(digest)), data);
    assert.deepEqual(await store.list(), [digest]);
    assert.equal(store.path(digest), join(store.root, 'blobs', 'sha256', digest.slice(7)));
    const json = { a: 1 };
    await store.write(Buffer.from(JSON.stringify(json)), { digest: sha256(JSON.stringify(json)) });
    assert.deepEqual(await store.readJson(sha256(JSON.stringify(json))), json);
    assert.equal(await store.delete(digest), true);
    assert.equal(await store.has(digest), false);
    assert.equal(await store.delete(digest), false);
  });

  test('refuses bytes that do not match their digest, and leaves nothing behind', async () => {
    const store = new ContentStore(await scratch('content'));
    const data = Buffer.from('the real bytes');
    const wrong = sha256('other bytes');
    await assert.rejects(store.write(chunks(data, 4), { digest: wrong, size: data.length }), (error: unknown) => {
      assert.ok(error instanceof DigestMismatchError);
      assert.equal(error.message, `digest mismatch: expected ${wrong}, got ${sha256(data)}`);
      return true;
    });
    assert.equal(await store.has(wrong), false);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(store.root, 'ingest')), []);
    // Too many bytes stop the write early; too few are refused at the end.
    await assert.rejects(store.write(chunks(data, 4), { digest: sha256(data), size: 5 }), SizeMismatchError);
    await assert.rejects(store.write(chunks(data, 4), { digest: sha256(data), size: 500 }), /size mismatch for sha256:[0-9a-f]{64}: expected 500 bytes, got 14/);
    assert.deepEqual(await readdir(join(store.root, 'ingest')), []);
    assert.deepEqual(await store.list(), []);
    // A source that fails midway leaves nothing either.
    const failing = (async function* () {
      yield Buffer.from('part');
      throw new Error('connection reset');
    })();
    await assert.rejects(store.write(failing, { digest: sha256(data) }), /connection reset/);
    assert.deepEqual(await readdir(join(store.root, 'ingest')), []);
    await assert.rejects(store.write(data, { digest: 'md5:abc' }), /unsupported or invalid digest "md5:abc"/);
  });

  test('concurrent writes of the same blob are safe', async () => {
    const store = new ContentStore(await scratch('content'));
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const digest = sha256(data);
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.write(chunks(data, 10_000 + i * 1000, 1), { digest, size: data.length })));
    assert.deepEqual(await store.list(), [digest]);
    assert.equal(createHash('sha256').update(await readFile(store.path(digest))).digest('hex'), digest.slice(7));
    assert.deepEqual(await readdir(join(store.root, 'ingest')), []);
  });

  test("a crash's leftovers in ingest are ignored, then pruned", async () => {
    const dir = await scratch('content');
    const data = Buffer.from('blob after a crash');
    const digest = sha256(data);
    await mkdir(join(dir, 'ingest'), { recursive: true });
    const leftover = join(dir, 'ingest', `${digest.slice(7)}-99999-deadbeef0000`);
    await writeFile(leftover, 'half of it');
    const store = new ContentStore(dir);
    assert.equal(await store.has(digest), false);
    assert.deepEqual(await store.list(), []);
    await store.write(data, { digest, size: data.length });
    assert.deepEqual(await readFile(store.path(digest)), data);
    assert.equal(await store.pruneIngest(), 1);
    assert.deepEqual(await readdir(join(dir, 'ingest')), []);
  });
});

// ---------------------------------------------------------------------------------------------

function record(id: string, extra: Partial<ImageRecord> = {}): ImageRecord {
  return {
    id,
    repoTags: [],
    repoDigests: [],
    manifestDigest: sha256(`manifest ${id}`),
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
    created: '2024-01-01T00:00:00Z',
    size: 0,
    ...extra,
  };
}

describe('image store', () => {
  const A = `sha256:abcd1234${'0'.repeat(56)}`;
  const B = `sha256:abcd9876${'1'.repeat(56)}`;
  const C = `sha256:ffff0000${'2'.repeat(56)}`;
  const manifest = sha256('busybox manifest');

  test('familiar names', () => {
    assert.equal(familiarName('busybox'), 'busybox:latest');
    assert.equal(familiarName('docker.io/library/busybox:1.36'), 'busybox:1.36');
    assert.equal(familiarName('docker.io/team/app:2'), 'team/app:2');
    assert.equal(familiarName('127.0.0.1:5000/x:1'), '127.0.0.1:5000/x:1');
    assert.equal(familiarName(`docker.io/library/busybox@${manifest}`), `busybox@${manifest}`);
    assert.equal(familiarName('localhost/a/b'), 'localhost/a/b:latest');
  });

  test('finds images by name as Docker resolves names, by ID, and by unique ID prefix', async () => {
    const store = new ImageStore(await scratch('images'));
    await store.add(record(A, { repoTags: ['busybox'], repoDigests: [`busybox@${manifest}`] }));
    await store.add(record(B, { repoTags: ['127.0.0.1:5000/x:1'] }));
    await store.add(record(C));
    assert.deepEqual(store.get(A)?.repoTags, ['docker.io/library/busybox:latest']);
    assert.deepEqual(store.get(A)?.repoDigests, [`docker.io/library/busybox@${manifest}`]);
    for (const name of ['busybox', 'busybox:latest', 'library/busybox', 'docker.io/library/busybox:latest', 'index.docker.io/library/busybox', `busybox@${manifest}`, `docker.io/library/busybox@${manifest}`]) {
      assert.equal(store.get(name)?.id, A, name);
    }
    assert.equal(store.get('127.0.0.1:5000/x:1')?.id, B);
    assert.equal(store.get('127.0.0.1:5000/x'), undefined, 'no :latest tag');
    assert.equal(store.get('busybox:1'), undefined);
    assert.equal(store.get(`busybox@${sha256('other')}`), undefined);
    // IDs: full, without the prefix, unique prefixes of 4 or more hex digits.
    assert.equal(store.get(C)?.id, C);
    assert.equal(store.get(C.slice(7))?.id, C);
    assert.equal(store.get('ffff')?.id, C);
    assert.equal(store.get('sha256:ffff00')?.id, C);
    assert.equal(store.get('fff'), undefined, 'too short');
    assert.equal(store.get('abcd'), undefined, 'ambiguous between A and B');
    assert.equal(store.get('abcd1')?.id, A);
    assert.equal(store.get('abcd9')?.id, B);
    assert.equal(store.get('Not A Name!'), undefined);
    assert.equal(store.list().length, 3);
  });

  test('a tag moves from the image that had it; that one keeps its other tags or becomes dangling', async () => {
    const store = new ImageStore(await scratch('images'));
    await store.add(record(A, { repoTags: ['app:1', 'app:latest'] }));
    await store.add(record(B, { repoTags: ['other:1'] }));
    await store.tag(B, 'app:latest');
    assert.deepEqual(store.get(A)?.repoTags, ['docker.io/library/app:1']);
    assert.deepEqual(store.get(B)?.repoTags, ['docker.io/library/other:1', 'docker.io/library/app:latest']);
    assert.equal(store.get('app')?.id, B);
    // Adding an image with a tag takes it too.
    await store.add(record(C, { repoTags: ['app:1'] }));
    assert.deepEqual(store.get(A)?.repoTags, [], 'dangling');
    assert.equal(store.get('app:1')?.id, C);
    // Tagging by short ID or name; a digest is no tag.
    await store.tag('ffff', 'third:x');
    assert.equal(store.get('third:x')?.id, C);
    await assert.rejects(store.tag(C, `x@${manifest}`), /refusing to create a tag with a digest reference/);
    await assert.rejects(store.tag('nope', 'x:1'), /No such image: nope/);
    // Untag and remove.
    assert.equal((await store.untag('app:latest'))?.id, B);
    assert.equal(store.get('app:latest'), undefined);
    assert.equal(await store.untag('app:latest'), undefined);
    assert.equal(await store.remove(A), true);
    assert.equal(store.get(A), undefined);
    assert.equal(await store.remove(A), false);
  });

  test('survives a reload, ignores a crashed write, and names a corrupt file', async () => {
    const dir = await scratch('images');
    const store = new ImageStore(dir);
    await store.add(record(A, { repoTags: ['busybox'], repoDigests: [`busybox@${manifest}`] }));
    await store.add(record(B, { repoTags: ['x:1'] }));
    await store.tag(B, 'busybox');
    // A write that died before its rename.
    await writeFile(join(dir, 'index.json.tmp-123456'), '{"images": [');
    const again = new ImageStore(dir);
    assert.deepEqual(again.list(), store.list());
    assert.equal(again.get('busybox')?.id, B);
    assert.deepEqual(again.get(A)?.repoDigests, [`docker.io/library/busybox@${manifest}`]);
    assert.deepEqual(await readdir(dir), ['index.json']);
    await writeFile(join(dir, 'index.json'), '{"images": [');
    assert.throws(() => new ImageStore(dir), new RegExp(`the image store ${join(dir, 'index.json')} is not valid JSON`));
  });
});

// ---------------------------------------------------------------------------------------------

interface Plain extends Omit<TarEntry, 'body'> {
  data: string;
}

async function readAll(tar: AsyncIterable<Uint8Array>): Promise<Plain[]> {
  const out: Plain[] = [];
  for await (const entry of readTar(tar)) {
    const { body, ...rest } = entry;
    out.push({ ...rest, data: (await collect(body)).toString('utf8') });
  }
  return out;
}

describe('tar', () => {
  const longDir = `${'d'.repeat(120)}/${'e'.repeat(60)}`;
  const longName = `${'n'.repeat(130)}/file-with-a-name-that-is-long.txt`;
  const noSplit = 'x'.repeat(180);
  const entries: TarWriteEntry[] = [
    { name: 'dir', type: 'dir', mode: 0o755, mtime: 1_600_000_000 },
    { name: 'dir/file', body: 'contents\n', mode: 0o640, uid: 1000, gid: 1001, uname: 'app', gname: 'app', mtime: 1_600_000_001 },
    { name: longDir, type: 'dir', mode: 0o700, mtime: 1_600_000_002 },
    { name: longName, body: 'long', mtime: 1_600_000_003 },
    { name: noSplit, body: 'no split', mtime: 1_600_000_004 },
    { name: 'link', type: 'symlink', linkname: `../${'t'.repeat(150)}`, mtime: 1_600_000_005 },
    { name: 'hard', type: 'hardlink', linkname: 'dir/file', mtime: 1_600_000_006 },
    { name: 'xattrs', body: 'x', xattrs: { 'user.comment': 'hi there', 'security.capability': Buffer.from([1, 0, 0, 2, 0, 32, 0, 0]) }, mtime: 1_600_000_007 },
    { name: 'big-ids', body: '', uid: 3_000_000, gid: 2_097_152, mtime: 1_600_000_008.5 },
    { name: 'fifo', type: 'fifo', mode: 0o600 },
    { name: 'null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    { name: 'loop', type: 'block', mode: 0o660, devmajor: 7, devminor: 0 },
    { name: 'ünïcode-ñame', body: 'utf8' },
    { name: 'streamed', body: once(Buffer.alloc(1000, 97)), size: 1000 },
  ];

  test('round trip: long names, pax records, symlinks, hardlinks, devices, xattrs', async () => {
    const bytes = await collect(writeTar(entries));
    assert.equal(bytes.length % 512, 0);
    const back = await readAll(chunks(bytes, 777)); // chunks that cut across headers
    assert.deepEqual(
      back.map((e) => [e.name, e.type, e.mode, e.uid, e.gid, e.size, e.mtime, e.linkname, e.devmajor, e.devminor, e.data]),
      [
        ['dir', 'dir', 0o755, 0, 0, 0, 1_600_000_000, '', 0, 0, ''],
        ['dir/file', 'file', 0o640, 1000, 1001, 9, 1_600_000_001, '', 0, 0, 'contents\n'],
        [longDir, 'dir', 0o700, 0, 0, 0, 1_600_000_002, '', 0, 0, ''],
        [longName, 'file', 0o644, 0, 0, 4, 1_600_000_003, '', 0, 0, 'long'],
        [noSplit, 'file', 0o644, 0, 0, 8, 1_600_000_004, '', 0, 0, 'no split'],
        ['link', 'symlink', 0o644, 0, 0, 0, 1_600_000_005, `../${'t'.repeat(150)}`, 0, 0, ''],
        ['hard', 'hardlink', 0o644, 0, 0, 0, 1_600_000_006, 'dir/file', 0, 0, ''],
        ['xattrs', 'file', 0o644, 0, 0, 1, 1_600_000_007, '', 0, 0, 'x'],
        ['big-ids', 'file', 0o644, 3_000_000, 2_097_152, 0, 1_600_000_008.5, '', 0, 0, ''],
        ['fifo', 'fifo', 0o600, 0, 0, 0, 0, '', 0, 0, ''],
        ['null', 'char', 0o666, 0, 0, 0, 0, '', 1, 3, ''],
        ['loop', 'block', 0o660, 0, 0, 0, 0, '', 7, 0, ''],
        ['ünïcode-ñame', 'file', 0o644, 0, 0, 4, 0, '', 0, 0, 'utf8'],
        ['streamed', 'file', 0o644, 0, 0, 1000, 0, '', 0, 0, 'a'.repeat(1000)],
      ],
    );
    assert.equal(back[1].uname, 'app');
    assert.deepEqual(back[7].xattrs, { 'user.comment': Buffer.from('hi there'), 'security.capability': Buffer.from([1, 0, 0, 2, 0, 32, 0, 0]) });
    // GNU tar reads what we write, names and links intact.
    const dir = await scratch('tar');
    await writeFile(join(dir, 'ours.tar'), bytes);
    const { stdout } = await exec('tar', ['--list', '--file', join(dir, 'ours.tar')]);
    assert.deepEqual(stdout.trim().split('\n'), ['dir/', 'dir/file', `${longDir}/`, longName, noSplit, 'link', 'hard', 'xattrs', 'big-ids', 'fifo', 'null', 'loop', 'ünïcode-ñame', 'streamed']);
  });

  test('reads what GNU tar writes: GNU long names and links, pax with xattrs, gzip', async () => {
    const dir = await scratch('gnutar');
    const src = join(dir, 'src');
    const deep = join(src, 'a'.repeat(90), 'b'.repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'c'.repeat(60)), 'deep file');
    await symlink('z'.repeat(120), join(src, 'longlink'));
    await exec('setfattr', ['-n', 'user.test', '-v', 'value', join(src, 'longlink', '..', 'a'.repeat(90), 'b'.repeat(90), 'c'.repeat(60))]);
    const expectName = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(60)}`;
    for (const format of ['gnu', 'pax']) {
      const file = join(dir, `${format}.tar`);
      await exec('tar', [`--format=${format}`, ...(format === 'pax' ? ['--xattrs', '--xattrs-include=user.*'] : []), '-C', src, '-cf', file, '.']);
      const read = await readAll(once(await readFile(file)));
      const deepFile = read.find((e) => e.name === `./${expectName}`);
      assert.ok(deepFile, `${format}: the long name is read whole`);
      assert.equal(deepFile.data, 'deep file');
      const link = read.find((e) => e.name === './longlink');
      assert.equal(link?.type, 'symlink');
      assert.equal(link?.linkname, 'z'.repeat(120));
      if (format === 'pax') assert.deepEqual(deepFile.xattrs, { 'user.test': Buffer.from('value') });
    }
    const gz = gzipSync(await readFile(join(dir, 'gnu.tar')));
    const inflated = await collect(decompress(chunks(gz, 100)));
    assert.deepEqual(inflated, await readFile(join(dir, 'gnu.tar')));
  });

  test('refuses zstd and corrupt archives with a clear error', async () => {
    await assert.rejects(collect(decompress(once(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), 'application/vnd.oci.image.layer.v1.tar+zstd')), {
      message: 'zstd-compressed layers are not supported (layer media type application/vnd.oci.image.layer.v1.tar+zstd)',
    });
    const tar = await tarOf([{ name: 'a', body: 'x' }]);
    const bad = Buffer.from(tar);
    bad[0] = 'b'.charCodeAt(0); // the checksum no longer matches
    await assert.rejects(readAll(once(bad)), { message: 'invalid tar archive: header checksum mismatch' });
    await assert.rejects(readAll(once(tar.subarray(0, 512))), /invalid tar archive: unexpected end of archive inside file data/);
    // A stream that ends right after the last file's data (the docker CLI's build contexts) is whole.
    assert.deepEqual((await readAll(once(tar.subarray(0, 513)))).map((e) => [e.name, e.data]), [['a', 'x']]);
    await assert.rejects(collect(decompress(once(Buffer.concat([gzipSync(tar).subarray(0, 30)])))), /corrupt gzip data in layer/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('layers', () => {
  test('applies ownership, modes, times, xattrs, hardlinks, devices and symlinks; diffID is the tar digest', async () => {
    const dir = await scratch('layer');
    const tar = await tarOf([
      { name: 'usr', type: 'dir', mode: 0o755, mtime: 1_500_000_000 },
      { name: 'usr/bin', type: 'dir', mode: 0o750, uid: 5, gid: 6, mtime: 1_500_000_001 },
      { name: 'usr/bin/tool', body: 'tool', mode: 0o4755, uid: 1000, gid: 1000, mtime: 1_500_000_002, xattrs: { 'user.origin': 'test' } },
      { name: 'usr/bin/same', type: 'hardlink', linkname: 'usr/bin/tool' },
      { name: 'usr/bin/alias', type: 'symlink', linkname: 'tool', uid: 7, gid: 8, mtime: 1_500_000_003 },
      { name: 'dev', type: 'dir', mode: 0o755 },
      { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/pipe', type: 'fifo', mode: 0o620 },
      { name: 'implicit/parent/file', body: 'created with its parents' },
    ]);
    const applied = await applyLayer(chunks(gzipSync(tar), 333), dir);
    assert.deepEqual(applied, { diffId: sha256(tar), size: 4 + 24 });
    const tool = await stat(join(dir, 'usr/bin/tool'));
    assert.equal(tool.mode & 0o7777, 0o4755);
    assert.deepEqual([tool.uid, tool.gid, tool.mtimeMs], [1000, 1000, 1_500_000_002_000]);
    assert.equal(tool.nlink, 2);
    assert.equal((await stat(join(dir, 'usr/bin/same'))).ino, tool.ino);
    const bin = await stat(join(dir, 'usr/bin'));
    assert.deepEqual([bin.mode & 0o7777, bin.uid, bin.gid, bin.mtimeMs], [0o750, 5, 6, 1_500_000_001_000]);
    assert.equal((await stat(join(dir, 'usr'))).mtimeMs, 1_500_000_000_000, 'directory times are set after their contents');
    const alias = await lstat(join(dir, 'usr/bin/alias'));
    assert.equal(await readlink(join(dir, 'usr/bin/alias')), 'tool');
    assert.deepEqual([alias.uid, alias.gid, alias.mtimeMs], [7, 8, 1_500_000_003_000]);
    const nul = await lstat(join(dir, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.deepEqual([nul.rdev, nul.mode & 0o7777], [(1 << 8) | 3, 0o666]);
    const pipe = await lstat(join(dir, 'dev/pipe'));
    assert.ok(pipe.isFIFO());
    assert.equal(pipe.mode & 0o7777, 0o620);
    const { stdout } = await exec('getfattr', ['--only-values', '-n', 'user.origin', join(dir, 'usr/bin/tool')]);
    assert.equal(stdout, 'test');
    assert.equal(await readFile(join(dir, 'implicit/parent/file'), 'utf8'), 'created with its parents');
  });

  const base = () =>
    tarOf([
      { name: 'a', type: 'dir' },
      { name: 'a/gone', body: 'deleted above' },
      { name: 'a/kept', body: 'kept' },
      { name: 'd', type: 'dir' },
      { name: 'd/old1', body: 'old' },
      { name: 'd/sub', type: 'dir' },
      { name: 'd/sub/old2', body: 'old' },
      { name: 'tree', type: 'dir' },
      { name: 'tree/leaf', body: 'leaf' },
    ]);
  const top = () =>
    tarOf([
      { name: 'a', type: 'dir' },
      { name: 'a/.wh.gone', body: '' },
      { name: 'd', type: 'dir' },
      { name: 'd/.wh..wh..opq', body: '' },
      { name: 'd/new', body: 'new' },
      { name: 'd/sub', type: 'dir' },
      { name: '.wh.tree', body: '' },
    ]);

  test('whiteouts and opaque directories become exactly the overlayfs markers', async () => {
    const lower = await scratch('lower');
    await applyLayer(once(await base()), lower);
    const upper = await scratch('upper');
    await applyLayer(once(await top()), upper, { lower: [lower] });
    assert.deepEqual(await tree(upper), ['a', 'a/gone', 'd', 'd/new', 'd/sub', 'tree']);
    for (const whiteout of ['a/gone', 'tree']) {
      const st = await lstat(join(upper, whiteout));
      assert.ok(st.isCharacterDevice(), `${whiteout} is a character device`);
      assert.equal(st.rdev, 0, `${whiteout} is 0/0`);
    }
    assert.deepEqual(await overlayXattrs(upper), ['d=trusted.overlay.opaque="y"']);
    assert.deepEqual(await overlayXattrs(lower), []);
  });

  test('the flatten fallback deletes in place', async () => {
    const dir = await scratch('flat');
    await applyLayer(once(await base()), dir, { flatten: true });
    await applyLayer(once(await top()), dir, { flatten: true });
    assert.deepEqual(await tree(dir), ['a', 'a/kept', 'd', 'd/new', 'd/sub']);
    assert.deepEqual(await overlayXattrs(dir), []);
  });

  describe('a layer that tries to escape is refused, and nothing is written outside', () => {
    let sandbox: string;
    let dir: string;
    let outside: string;
    before(async () => {
      sandbox = await scratch('sandbox');
      outside = join(sandbox, 'outside-file');
      await writeFile(outside, 'outside');
    });
    const fresh = async () => {
      dir = join(sandbox, `layer-${counter++}`);
      await mkdir(dir);
    };
    const sandboxOutside = async () => (await tree(sandbox)).filter((p) => !p.startsWith('layer-'));
    const expectRefused = async (entries: TarWriteEntry[], message: string, options: Parameters<typeof applyLayer>[2] = {}) => {
      await fresh();
      await assert.rejects(applyLayer(once(await tarOf(entries)), dir, options), (error: unknown) => {
        assert.ok(error instanceof UnsafeLayerError, String(error));
        assert.equal(error.message, `refusing layer: ${message}`);
        return true;
      });
      assert.deepEqual(await sandboxOutside(), ['outside-file']);
      assert.equal(await readFile(outside, 'utf8'), 'outside');
    };

    test('../x', () => expectRefused([{ name: '../x', body: 'escaped' }], 'entry "../x" leaves the layer\'s directory'));
    test('a/../../x', () =>
      expectRefused(
        [
          { name: 'a', type: 'dir' },
          { name: 'a/../../x', body: 'escaped' },
        ],
        'entry "a/../../x" leaves the layer\'s directory',
      ));
    test('/abs', async () => {
      const target = join(sandbox, 'abs');
      await expectRefused([{ name: target, body: 'escaped' }], `entry "${target}" has an absolute path`);
      assert.equal(existsSync(target), false);
    });
    test('a symlink evil -> / then evil/etc/x', async () => {
      assert.equal(existsSync('/etc/x'), false);
      const viaRoot = `evil${sandbox}/x`;
      for (const name of ['evil/etc/x', viaRoot]) {
        await expectRefused(
          [
            { name: 'evil', type: 'symlink', linkname: '/' },
            { name, body: 'escaped' },
          ],
          `entry "${name}" goes through the symlink "evil"`,
        );
      }
      assert.equal(existsSync('/etc/x'), false);
      assert.equal(existsSync(join(sandbox, 'x')), false);
    });
    test('a symlink to a directory, replaced in the same layer, is still not followed', () =>
      expectRefused(
        [
          { name: 'd', type: 'dir' },
          { name: 'd', type: 'symlink', linkname: sandbox },
          { name: 'd/x', body: 'escaped' },
        ],
        'entry "d/x" goes through the symlink "d"',
      ));
    test('a hardlink to /etc/passwd, or to a file outside', async () => {
      const before = (await stat('/etc/passwd')).nlink;
      await expectRefused([{ name: 'passwd', type: 'hardlink', linkname: '/etc/passwd' }], 'hardlink "passwd" to "/etc/passwd" has an absolute path');
      await expectRefused([{ name: 'o', type: 'hardlink', linkname: '../outside-file' }], 'hardlink "o" to "../outside-file" leaves the layer\'s directory');
      await expectRefused(
        [
          { name: 'evil', type: 'symlink', linkname: sandbox },
          { name: 'o', type: 'hardlink', linkname: 'evil/outside-file' },
        ],
        'hardlink "o" to "evil/outside-file" goes through the symlink "evil"',
      );
      assert.equal((await stat('/etc/passwd')).nlink, before);
      assert.equal((await stat(outside)).nlink, 1);
    });
    test('a symlink placed by an earlier layer', async () => {
      const lower = join(sandbox, `layer-lower-${counter++}`);
      await applyLayer(once(await tarOf([{ name: 'evil', type: 'symlink', linkname: sandbox }])), lower);
      // As an overlay lower dir…
      await expectRefused([{ name: 'evil/x', body: 'escaped' }], 'entry "evil/x" goes through the symlink "evil" of a lower layer', { lower: [lower] });
      // …and in the flattened copy, where it is in the same directory.
      await fresh();
      await applyLayer(once(await tarOf([{ name: 'evil', type: 'symlink', linkname: sandbox }])), dir, { flatten: true });
      await assert.rejects(applyLayer(once(await tarOf([{ name: 'evil/x', body: 'escaped' }])), dir, { flatten: true }), {
        message: 'refusing layer: entry "evil/x" goes through the symlink "evil"',
      });
      assert.deepEqual(await sandboxOutside(), ['outside-file']);
      assert.equal(existsSync(join(sandbox, 'x')), false);
    });
    test('whiteouts cannot reach outside either', async () => {
      await expectRefused([{ name: '../.wh.outside-file', body: '' }], 'entry "../.wh.outside-file" leaves the layer\'s directory');
      await expectRefused(
        [
          { name: 'evil', type: 'symlink', linkname: sandbox },
          { name: 'evil/.wh.outside-file', body: '' },
        ],
        'entry "evil/.wh.outside-file" goes through the symlink "evil"',
        { flatten: true },
      );
      await expectRefused([{ name: 'a/.wh...', body: '' }], 'whiteout "a/.wh..." names no file');
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('snapshots', () => {
  async function imageOf(content: ContentStore, tars: Buffer[], gzip = true): Promise<ImageRecord> {
    const layers = [];
    for (const tar of tars) {
      const blob = gzip ? gzipSync(tar) : tar;
      await content.write(blob, { digest: sha256(blob) });
      layers.push({ digest: sha256(blob), diffId: sha256(tar), size: blob.length, mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}` });
    }
    return record(sha256(JSON.stringify(layers)), { layers });
  }

  test('chain IDs as the OCI image spec defines them', () => {
    const [a, b, c] = [sha256('a'), sha256('b'), sha256('c')];
    const ab = `sha256:${createHash('sha256').update(`${a} ${b}`).digest('hex')}`;
    assert.deepEqual(chainIds([a, b, c]), [a, ab, `sha256:${createHash('sha256').update(`${ab} ${c}`).digest('hex')}`]);
  });

  test('layers shared by images are unpacked once; lower dirs come top first', async () => {
    const dir = await scratch('snap');
    const content = new ContentStore(join(dir, 'content'));
    const snapshots = new Snapshots(join(dir, 'snapshots'), content);
    const busybox = await busyboxLayer();
    const app1 = await tarOf([{ name: 'app1', body: 'one' }]);
    const app2 = await tarOf([{ name: 'app2', body: 'two' }]);
    const one = await imageOf(content, [busybox, app1]);
    const two = await imageOf(content, [busybox, app2]);
    const chains1 = chainIds([sha256(busybox), sha256(app1)]);
    const chains2 = chainIds([sha256(busybox), sha256(app2)]);
    // Concurrent prepares of the same image share each unpack.
    const [lower1, again] = await Promise.all([snapshots.prepare(one), snapshots.prepare(one)]);
    assert.deepEqual(lower1, [snapshots.dir(chains1[1]), snapshots.dir(chains1[0])]);
    assert.deepEqual(again, lower1);
    const baseIno = (await stat(snapshots.dir(chains1[0]))).ino;
    const progress: number[] = [];
    const lower2 = await snapshots.prepare(two, (p) => progress.push(p.index));
    assert.deepEqual(lower2, [snapshots.dir(chains2[1]), snapshots.dir(chains2[0])]);
    assert.equal(lower2[1], lower1[1], 'the same base snapshot');
    assert.equal((await stat(snapshots.dir(chains1[0]))).ino, baseIno, 'not unpacked again');
    assert.ok(progress.length > 0 && progress.every((i) => i === 1), 'only the new layer was read');
    assert.deepEqual((await snapshots.list()).sort(), [...new Set([...chains1, ...chains2])].sort());
    assert.deepEqual((await readdir(snapshots.root)).filter((n) => n.startsWith('.')), []);
    assert.deepEqual(await readFile(join(lower1[1], 'bin/busybox')), await readFile('/bin/busybox'));
    assert.deepEqual(await snapshots.info(chains1[0]), { chainId: chains1[0], diffId: sha256(busybox), parent: null, digest: one.layers[0].digest, size: (await stat('/bin/busybox')).size + PASSWD.length + GROUP.length });
    assert.deepEqual(snapshots.lowerDirs(two), lower2);
    // Garbage collection keeps what images use.
    assert.deepEqual(await snapshots.collect([one, two]), []);
    assert.deepEqual(await snapshots.collect([two]), [chains1[1]]);
    assert.deepEqual((await snapshots.list()).sort(), [...chains2].sort());
    assert.equal(existsSync(`${snapshots.dir(chains1[1])}.json`), false);
  });

  test('the copying fallback flattens an image into one directory', async () => {
    const dir = await scratch('snap');
    const content = new ContentStore(join(dir, 'content'));
    const snapshots = new Snapshots(join(dir, 'snapshots'), content);
    const image = await imageOf(content, [await tarOf([{ name: 'a', body: '1' }, { name: 'b', body: '2' }]), await tarOf([{ name: '.wh.a', body: '' }, { name: 'c', body: '3' }])]);
    const rootfs = join(dir, 'rootfs');
    await snapshots.flattenInto(image, rootfs);
    assert.deepEqual(await tree(rootfs), ['b', 'c']);
  });

  test('an interrupted unpack leaves nothing, and a crashed one is swept', async () => {
    const dir = await scratch('snap');
    const content = new ContentStore(join(dir, 'content'));
    const snapshots = new Snapshots(join(dir, 'snapshots'), content);
    // A leftover of a process that died while unpacking.
    await mkdir(join(snapshots.root, '.tmp-999999-abc', 'half'), { recursive: true });
    const good = await tarOf([{ name: 'ok', body: 'fine' }]);
    const full = await tarOf([
      { name: 'first', body: 'x'.repeat(5000) },
      { name: 'second', body: 'y'.repeat(5000) },
    ]);
    // The blob is what it says it is, but the tar inside stops in the middle of a file.
    const truncated = full.subarray(0, 7000);
    const broken = await imageOf(content, [good, truncated], false);
    await assert.rejects(snapshots.prepare(broken), /invalid tar archive: unexpected end of archive inside file data/);
    const chains = chainIds([sha256(good), sha256(truncated)]);
    assert.deepEqual(await snapshots.list(), [chains[0]], 'the complete lower layer stays');
    assert.deepEqual((await readdir(snapshots.root)).sort(), [`${chains[0].slice(7)}`, `${chains[0].slice(7)}.json`].sort(), 'no temp dir, no half snapshot');
    // A layer whose content does not match the diffID the image claims is refused too.
    const lying = await imageOf(content, [good]);
    lying.layers[0] = { ...lying.layers[0], diffId: sha256('something else') };
    await assert.rejects(snapshots.prepare(lying), /unpacks to sha256:[0-9a-f]{64}, but the image config says sha256:/);
    assert.equal(await snapshots.exists(sha256('something else')), false);
    assert.deepEqual((await readdir(snapshots.root)).filter((n) => n.startsWith('.')), []);
    // A layer that escapes fails the same way.
    const evil = await imageOf(content, [await tarOf([{ name: 'evil', type: 'symlink', linkname: '/' }, { name: 'evil/tmp/x', body: '' }])]);
    await assert.rejects(snapshots.prepare(evil), UnsafeLayerError);
    assert.deepEqual((await readdir(snapshots.root)).filter((n) => n.startsWith('.')), []);
  });
});
