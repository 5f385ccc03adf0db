import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, readdir, rm, symlink, unlink, writeFile, chmod, lstat, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mountRootfs } from '../../runtime-agent/src/build/mounts';
import { diffLayer } from '../../runtime-agent/src/images/diff';
import { applyLayer } from '../../runtime-agent/src/images/layers';
import { collect, readTar } from '../../runtime-agent/src/images/tar';

async function* once(data: Buffer): AsyncIterable<Uint8Array> {
  yield data;
}

// A build step's changes, made through a real overlay mount, read back from its upper dir as an
// OCI layer; applied onto the layer below, it gives what the mount showed.

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, path));
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `-> ${await readlink(join(root, path))}` : `file ${await readFile(join(root, path), 'utf8')}`;
    out.push(`${path} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${kind}`);
    if (st.isDirectory()) out.push(...(await tree(root, path)));
  }
  return out;
}

test('an upper dir becomes a layer with whiteouts, opaque dirs, links and xattrs, that recreates the merged view', async () => {
  const base = await mkdtemp(join(tmpdir(), 'tug-diff-'));
  dirs.push(base);
  const lower = join(base, 'lower');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await writeFile(join(lower, 'etc/gone'), 'gone\n');
  await writeFile(join(lower, 'etc/kept'), 'kept\n');
  await mkdir(join(lower, 'replaced'));
  await writeFile(join(lower, 'replaced/old'), 'old\n');

  const rootfs = await mountRootfs(join(base, 'mounts'), [lower], true);
  try {
    const root = rootfs.dir;
    await unlink(join(root, 'etc/gone'));
    await writeFile(join(root, 'etc/kept'), 'changed\n');
    await rm(join(root, 'replaced'), { recursive: true });
    await mkdir(join(root, 'replaced'));
    await writeFile(join(root, 'replaced/new'), 'new\n');
    await writeFile(join(root, 'added'), 'added\n');
    await chmod(join(root, 'added'), 0o4755);
    await link(join(root, 'added'), join(root, 'hardlink'));
    await symlink('/etc/kept', join(root, 'symlink'));
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'hi', join(root, 'added')]);
    const merged = await tree(root);
    await rootfs.unmount();

    const layer = await collect(diffLayer(rootfs.upper!));
    const entries: { name: string; type: string; linkname: string; xattrs: Record<string, Buffer> }[] = [];
    for await (const entry of readTar(once(layer))) entries.push({ name: entry.name, type: entry.type, linkname: entry.linkname, xattrs: entry.xattrs });
    const names = entries.map((e) => `${e.name} ${e.type}`);
    assert.ok(names.includes('etc/.wh.gone file'), names.join('\n'));
    assert.ok(names.includes('replaced/.wh..wh..opq file'), names.join('\n'));
    assert.ok(!names.some((n) => n.startsWith('replaced/old')));
    assert.equal(entries.find((e) => e.name === 'hardlink')?.linkname, 'added');
    assert.equal(entries.find((e) => e.name === 'symlink')?.linkname, '/etc/kept');
    assert.equal(entries.find((e) => e.name === 'added')?.xattrs['user.note']?.toString(), 'hi');
    assert.ok(!entries.some((e) => Object.keys(e.xattrs).some((k) => k.startsWith('trusted.overlay.'))));
    // The same changes make the same bytes.
    assert.deepEqual(await collect(diffLayer(rootfs.upper!)), layer);

    // Applied in place onto a copy of the layer below, it gives what the mount showed.
    const copy = join(base, 'copy');
    execFileSync('cp', ['-a', lower, copy]);
    await applyLayer(once(layer), copy, { flatten: true });
    assert.deepEqual(await tree(copy), merged);
  } finally {
    await rootfs.release();
  }
});
