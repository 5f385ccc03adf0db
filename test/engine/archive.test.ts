import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readTar, writeTar, collect, type TarWriteEntry } from '../../runtime-agent/src/images/tar';
import { run, startEngine, type TestEngine } from '../helpers/engine';
import { busyboxLayer, pushImage, sha256, tarOf, type PushedImage } from '../helpers/images';
import { startRegistry, type TestRegistry } from '../helpers/registry';

// `docker save` and `docker load` through the real docker CLI (28.x) against tugd: an image pulled
// from a real registry on 127.0.0.1 is saved by one engine and loaded into a second, fresh one,
// where it runs; archives made by hand in the older docker-archive format load too; malicious
// archives are refused without a trace; and podman loads and runs what tugd saves.

let registry: TestRegistry;
/** The engine images are pulled into and saved from. */
let source: TestEngine;
/** A fresh engine that archives are loaded into. */
let target: TestEngine;
let dir: string;
let app: string;
let pushed: PushedImage;
let saved: string;

const MTIME = 1_700_000_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-archive-'));
  registry = await startRegistry();
  source = await startEngine();
  target = await startEngine();
  const base = await busyboxLayer();
  const second = await tarOf([
    { name: 'data', type: 'dir', mode: 0o755, mtime: MTIME },
    { name: 'data/hello', body: 'hello from layer two\n', mtime: MTIME },
    { name: 'data/gone', body: 'deleted above\n', mtime: MTIME },
  ]);
  const third = await tarOf([
    { name: 'data', type: 'dir', mode: 0o755, mtime: MTIME },
    { name: 'data/.wh.gone', body: '', mtime: MTIME },
    { name: 'data/three', body: 'and three\n', mtime: MTIME },
  ]);
  pushed = await pushImage(registry, 'team/app', '1', {
    layers: [base, second, third],
    config: { config: { Cmd: ['sh', '-c', 'cat /data/hello /data/three; ls /data'], Env: ['PATH=/bin', 'APP=1'] } },
  });
  app = `${registry.host}/team/app:1`;
  const pulled = await source.docker(['pull', app]);
  assert.equal(pulled.code, 0, pulled.stderr);
  saved = join(dir, 'app.tar');
});

after(async () => {
  await source?.stop();
  await target?.stop();
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function ok(engine: TestEngine, ...args: string[]): Promise<string> {
  const r = await engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Entry {
  type: string;
  data: Buffer;
  linkname: string;
}

/** A tar archive's entries by name, in order. */
async function entries(file: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  for await (const e of readTar(createReadStream(file))) out.set(e.type === 'dir' ? `${e.name}/` : e.name, { type: e.type, data: await collect(e.body), linkname: e.linkname });
  return out;
}

const json = (e: Entry | undefined) => JSON.parse(e!.data.toString('utf8')) as unknown;
const hex = (digest: string) => digest.replace(/^sha256:/, '');

async function writeArchive(name: string, list: TarWriteEntry[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, await collect(writeTar(list)));
  return file;
}

interface IndexJson {
  schemaVersion: number;
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}
interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}
interface OciManifest {
  mediaType: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
}

describe('docker save', () => {
  test("writes Docker's format: an OCI layout with manifest.json and repositories, layers as stored", async () => {
    await ok(source, 'save', '-o', saved, app);
    const inspect = JSON.parse(await ok(source, 'image', 'inspect', app))[0] as { Id: string };
    const files = await entries(saved);
    assert.deepEqual([...files.keys()], [
      'blobs/',
      'blobs/sha256/',
      ...[pushed.configDigest, ...pushed.layerDigests, pushed.manifestDigest].map((d) => `blobs/sha256/${hex(d)}`).sort(),
      'index.json',
      'manifest.json',
      'oci-layout',
      'repositories',
    ]);
    for (const [name, entry] of files) if (name.startsWith('blobs/sha256/') && entry.type === 'file') assert.equal(sha256(entry.data), `sha256:${name.slice(13)}`, name);
    assert.deepEqual(json(files.get('oci-layout')), { imageLayoutVersion: '1.0.0' });
    assert.equal(inspect.Id, pushed.configDigest);
    assert.deepEqual(json(files.get('manifest.json')), [
      { Config: `blobs/sha256/${hex(inspect.Id)}`, RepoTags: [app], Layers: pushed.layerDigests.map((d) => `blobs/sha256/${hex(d)}`) },
    ]);
    assert.deepEqual(json(files.get('repositories')), { [`${registry.host}/team/app`]: { '1': hex(pushed.diffIds[2]) } });
    const index = json(files.get('index.json')) as IndexJson;
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(index.manifests.length, 1);
    assert.deepEqual(index.manifests[0].annotations, { 'io.containerd.image.name': app, 'org.opencontainers.image.ref.name': '1' });
    const manifestBytes = files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`)!.data;
    assert.equal(index.manifests[0].size, manifestBytes.length);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as OciManifest;
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(manifest.config, { mediaType: 'application/vnd.oci.image.config.v1+json', digest: inspect.Id, size: files.get(`blobs/sha256/${hex(inspect.Id)}`)!.data.length });
    assert.deepEqual(
      manifest.layers,
      pushed.layerDigests.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: files.get(`blobs/sha256/${hex(d)}`)!.data.length })),
    );
  });

  test('a missing image is refused as Docker refuses it, before any byte of archive', async () => {
    const tagged = await source.docker(['save', '-o', join(dir, 'missing.tar'), `${registry.host}/team/app:nope`]);
    assert.notEqual(tagged.code, 0);
    assert.match(tagged.stderr, /Error response from daemon: reference does not exist/);
    const bare = await source.docker(['save', '-o', join(dir, 'missing.tar'), 'nosuchimage']);
    assert.match(bare.stderr, /Error response from daemon: No such image: nosuchimage/);
    assert.equal(existsSync(join(dir, 'missing.tar')), false);
    const api = await call(source, 'GET', `/v1.47/images/${registry.host}/team/app:nope/get`);
    assert.equal(api.status, 404);
    assert.deepEqual(JSON.parse(api.body.toString('utf8')), { message: 'reference does not exist' });
    const one = await call(source, 'GET', `/images/${encodeURIComponent(app)}/get`);
    assert.equal(one.status, 200);
    assert.equal(one.headers['content-type'], 'application/x-tar');
    await writeFile(join(dir, 'one.tar'), one.body);
    assert.deepEqual((json((await entries(join(dir, 'one.tar'))).get('manifest.json')) as ManifestItem[])[0].RepoTags, [app]);
  });
});

describe('docker load', () => {
  test('into a fresh engine: the saved image runs there with its ID, layers and config', async () => {
    const loaded = await ok(target, 'load', '-i', saved);
    assert.equal(loaded, `Loaded image: ${app}\n`);
    assert.equal(await ok(target, 'run', '--rm', app), 'hello from layer two\nand three\nhello\nthree\n');
    assert.equal(await ok(target, 'run', '--rm', app, 'sh', '-c', 'echo $APP'), '1\n');
    const inspect = JSON.parse(await ok(target, 'image', 'inspect', app))[0] as { Id: string; RootFS: { Layers: string[] }; RepoDigests: string[] };
    assert.equal(inspect.Id, pushed.configDigest);
    assert.deepEqual(inspect.RootFS.Layers, pushed.diffIds);
    assert.deepEqual(inspect.RepoDigests, []);
    // Saved again, it is the same archive: the blobs were kept as they came.
    const again = join(dir, 'again.tar');
    await ok(target, 'save', '-o', again, app);
    assert.deepEqual(await readFile(again), await readFile(saved));
    // Loading what is there already only names it again.
    assert.equal(await ok(target, 'load', '-i', saved), `Loaded image: ${app}\n`);
  });

  test('an OCI layout alone (index.json, no manifest.json) loads too', async () => {
    const files = await entries(saved);
    const list: TarWriteEntry[] = [...files]
      .filter(([name]) => name !== 'manifest.json' && name !== 'repositories')
      .map(([name, e]) => (e.type === 'dir' ? { name, type: 'dir' as const } : { name, body: e.data }));
    const file = await writeArchive('oci-only.tar', list);
    await ok(target, 'rmi', app);
    assert.equal(await ok(target, 'load', '-i', file), `Loaded image: ${app}\n`);
    assert.equal(await ok(target, 'run', '--rm', app, 'cat', '/data/three'), 'and three\n');
  });

  test('several images: a bare repository brings all its tags, an ID none; shared blobs go once', async () => {
    await ok(source, 'tag', app, `${registry.host}/team/app:2`);
    await pushImage(registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
    await ok(source, 'pull', `${registry.host}/library/busybox:latest`);
    const busyboxId = (await ok(source, 'image', 'inspect', '--format', '{{.Id}}', `${registry.host}/library/busybox:latest`)).trim();
    const file = join(dir, 'several.tar');
    await ok(source, 'save', '-o', file, `${registry.host}/team/app`, busyboxId);
    const files = await entries(file);
    const names = [...files.keys()];
    assert.equal(names.length, new Set(names).size);
    // The busybox layer is the app's first layer too.
    assert.equal(names.filter((n) => n === `blobs/sha256/${hex(pushed.layerDigests[0])}`).length, 1);
    const manifest = json(files.get('manifest.json')) as ManifestItem[];
    assert.deepEqual(manifest.map((m) => m.RepoTags), [[app, `${registry.host}/team/app:2`], null]);
    assert.equal(manifest[1].Config, `blobs/sha256/${hex(busyboxId)}`);
    const index = json(files.get('index.json')) as IndexJson;
    assert.deepEqual(
      index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? null),
      ['1', '2', null],
    );

    const loaded = await ok(target, 'load', '-i', file);
    assert.equal(loaded, `Loaded image: ${app}\nLoaded image: ${registry.host}/team/app:2\nLoaded image ID: ${busyboxId}\n`);
    assert.equal(await ok(target, 'run', '--rm', busyboxId, 'echo', 'by id'), 'by id\n');
    await ok(target, 'rmi', `${registry.host}/team/app:2`, app, busyboxId);
    assert.equal(await ok(target, 'images', '-q'), '');
  });

  test('the docker-archive format of older Dockers, made by hand: <id>.json, layer.tar, a symlinked layer, gzip', async () => {
    const base = await busyboxLayer();
    const hand = await tarOf([
      { name: 'data', type: 'dir', mode: 0o755, mtime: MTIME },
      { name: 'data/hand', body: 'made by hand\n', mtime: MTIME },
    ]);
    const config = (diffIds: string[], cmd: string[]) =>
      JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2020-01-01T00:00:00Z', config: { Cmd: cmd, Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: diffIds } });
    const made = config([sha256(base), sha256(hand)], ['cat', '/data/hand']);
    const other = config([sha256(base)], ['echo', 'the other one']);
    const [a, b, c] = ['a', 'b', 'c'].map((k) => hex(sha256(`legacy layer ${k}`)));
    const v1 = (id: string) => [
      { name: id, type: 'dir' as const },
      { name: `${id}/VERSION`, body: '1.0' },
      { name: `${id}/json`, body: JSON.stringify({ id }) },
    ];
    const file = await writeArchive('legacy.tar', [
      ...v1(a),
      { name: `${a}/layer.tar`, body: base },
      ...v1(b),
      { name: `${b}/layer.tar`, body: gzipSync(hand) },
      ...v1(c),
      // Older Dockers wrote a layer that two images share once, and linked to it.
      { name: `${c}/layer.tar`, type: 'symlink', linkname: `../${a}/layer.tar` },
      { name: `${hex(sha256(made))}.json`, body: made },
      { name: `${hex(sha256(other))}.json`, body: other },
      {
        name: 'manifest.json',
        body: JSON.stringify([
          { Config: `${hex(sha256(made))}.json`, RepoTags: ['hand/made:1'], Layers: [`${a}/layer.tar`, `${b}/layer.tar`] },
          { Config: `${hex(sha256(other))}.json`, RepoTags: ['hand/other:1', 'hand/other:latest'], Layers: [`${c}/layer.tar`] },
        ]),
      },
      { name: 'repositories', body: JSON.stringify({ 'hand/made': { '1': b } }) },
    ]);
    const loaded = await ok(target, 'load', '-i', file);
    assert.equal(loaded, 'Loaded image: hand/made:1\nLoaded image: hand/other:1\nLoaded image: hand/other:latest\n');
    assert.equal(await ok(target, 'run', '--rm', 'hand/made:1'), 'made by hand\n');
    assert.equal(await ok(target, 'run', '--rm', 'hand/other'), 'the other one\n');
    assert.equal((await ok(target, 'image', 'inspect', '--format', '{{.Id}}', 'hand/made:1')).trim(), sha256(made));
    // Saved by tugd, the gzip layer stays gzip and the plain one plain.
    const resaved = join(dir, 'hand.tar');
    await ok(target, 'save', '-o', resaved, 'hand/made:1');
    const files = await entries(resaved);
    const index = json(files.get('index.json')) as IndexJson;
    const manifest = json(files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`)) as OciManifest;
    assert.deepEqual(
      manifest.layers.map((l) => [l.mediaType, l.digest]),
      [
        ['application/vnd.oci.image.layer.v1.tar', sha256(base)],
        ['application/vnd.oci.image.layer.v1.tar+gzip', sha256(gzipSync(hand))],
      ],
    );
    await ok(target, 'rmi', 'hand/made:1', 'hand/other:1', 'hand/other:latest');
  });

  test("without quiet, Docker's Loading layer progress comes before the result", async () => {
    const layer = await tarOf([{ name: 'progress', body: randomBytes(300_000).toString('hex'), mtime: MTIME }]);
    const configJson = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
    const file = await writeArchive('progress.tar', [
      { name: 'layer.tar', body: layer },
      { name: 'config.json', body: configJson },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'config.json', RepoTags: ['progress/shown:1'], Layers: ['layer.tar'] }]) },
    ]);
    const answer = await call(target, 'POST', '/v1.47/images/load?quiet=0', await readFile(file), { 'Content-Type': 'application/x-tar' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    const lines = answer.body.toString('utf8').trim().split('\r\n').map((l) => JSON.parse(l) as { status?: string; id?: string; progressDetail?: { current: number; total: number }; stream?: string });
    const progress = lines.filter((l) => l.status === 'Loading layer');
    assert.ok(progress.length >= 1, answer.body.toString());
    assert.ok(progress.every((l) => l.id === hex(sha256(layer)).slice(0, 12)));
    assert.deepEqual(progress.at(-1)!.progressDetail, { current: layer.length, total: layer.length });
    assert.deepEqual(lines.at(-1), { stream: 'Loaded image: progress/shown:1\n' });
    // Quiet is the default, as Docker has it.
    const quiet = await call(target, 'POST', '/images/load', await readFile(file), { 'Content-Type': 'application/x-tar' });
    assert.deepEqual(quiet.body.toString('utf8').trim().split('\r\n').map((l) => JSON.parse(l) as unknown), [{ stream: 'Loaded image: progress/shown:1\n' }]);
    await ok(target, 'rmi', 'progress/shown:1');
  });
});

describe('malicious archives', () => {
  /** What the engine has stored: images, blobs, snapshots, and the files beside its data root. */
  async function state(engine: TestEngine) {
    const list = async (path: string) => (await readdir(path).catch(() => [] as string[])).sort();
    return {
      images: await ok(engine, 'images', '-a', '-q', '--no-trunc'),
      blobs: await list(join(engine.dataRoot, 'content', 'blobs', 'sha256')),
      ingest: await list(join(engine.dataRoot, 'content', 'ingest')),
      snapshots: await list(join(engine.dataRoot, 'snapshots')),
      root: await list(join(engine.dataRoot, '..')),
    };
  }

  /** A valid first layer no engine has yet, so that a failed load has a snapshot to take back. */
  const fresh = () => tarOf([{ name: 'fresh', body: randomBytes(16).toString('hex'), mtime: MTIME }]);

  async function image(layers: Buffer[], paths?: string[], diffIds?: string[]): Promise<TarWriteEntry[]> {
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds ?? layers.map((l) => sha256(l)) } });
    const names = paths ?? layers.map((_, i) => `layer${i}/layer.tar`);
    return [
      ...layers.map((body, i) => ({ name: names[i], body })),
      { name: 'config.json', body: config },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil/image:1'], Layers: names }]) },
    ];
  }

  test('are refused, write nothing outside the engine, and leave no blob, snapshot or record', async () => {
    const outside = join(dir, `outside-${randomBytes(4).toString('hex')}`);
    await mkdir(outside);
    const sentinel = `tug-escape-${randomBytes(6).toString('hex')}`;
    const escapingLayer = await tarOf([{ name: `../../../../../../..${outside}/${sentinel}`, body: 'escaped\n' }]);
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
    const cases: [string, () => Promise<TarWriteEntry[]>, RegExp][] = [
      ['a path with ..', async () => [...(await image([await fresh()])), { name: `../${sentinel}`, body: 'x' }], /path "\.\.\/tug-escape-[0-9a-f]+" leaves the archive/],
      ['an absolute path', async () => [{ name: `${outside}/${sentinel}`, body: 'x' }, ...(await image([await fresh()]))], /is absolute/],
      ['a symlink out of the archive', async () => [{ name: 'blobs', type: 'symlink', linkname: outside }, ...(await image([await fresh()]))], /symlink "blobs" points outside the archive/],
      [
        'a relative symlink out of the archive',
        async () => [{ name: 'layer0', type: 'symlink', linkname: '../../../../../../../../tmp' }, ...(await image([await fresh()]))],
        /symlink "layer0" points outside the archive/,
      ],
      ['a manifest path out of the archive', async () => image([await fresh()], ['../../../../etc/passwd']), /leaves the archive/],
      [
        'a blob whose name is not its digest',
        async () => [{ name: `blobs/sha256/${hex(sha256('one thing'))}`, body: 'another thing' }, ...(await image([await fresh()]))],
        /digest mismatch/,
      ],
      [
        'a layer that is not what the config says',
        async () => {
          const first = await fresh();
          return image([first, await fresh()], undefined, [sha256(first), sha256('something else')]);
        },
        /unpacks to sha256:[0-9a-f]{64}, but the image config says sha256:/,
      ],
      ['a layer that reaches out of its snapshot', async () => image([await fresh(), escapingLayer]), /refusing layer/],
      ['a huge manifest.json', async () => [...(await image([await fresh()])).slice(0, -1), { name: 'manifest.json', body: huge }], /manifest\.json is larger than/],
      ['a manifest with fewer layers than its config', async () => image([await fresh()], undefined, [sha256('x'), sha256('y')]), /layers length mismatch: expected 1, got 2/],
      ['an archive without a manifest', async () => [{ name: 'layer.tar', body: await fresh() }], /neither a manifest\.json nor an index\.json/],
    ];
    const before = await state(target);
    for (const [what, make, message] of cases) {
      const file = await writeArchive(`evil-${cases.findIndex((c) => c[0] === what)}.tar`, await make());
      const r = await target.docker(['load', '-i', file]);
      assert.notEqual(r.code, 0, `${what}: ${r.stdout}`);
      assert.match(r.stderr, message, what);
      assert.deepEqual(await readdir(outside), [], what);
      assert.equal(existsSync(join('/tmp', sentinel)), false, what);
      assert.deepEqual(await state(target), before, what);
    }
    const garbage = join(dir, 'garbage.tar');
    await writeFile(garbage, randomBytes(4096));
    const r = await target.docker(['load', '-i', garbage]);
    assert.match(r.stderr, /invalid tar archive/);
    assert.deepEqual(await state(target), before);
  });
});

describe('podman', () => {
  test('loads and runs what tugd saves', async () => {
    const home = await mkdtemp(join(tmpdir(), 'tug-podman-'));
    // Podman's every folder inside this one, so that the machine's storage is left alone.
    const conf = join(home, 'containers.conf');
    await writeFile(
      conf,
      [
        '[containers]',
        'default_ulimits = []',
        '[engine]',
        `tmp_dir = "${home}/tmp"`,
        `image_copy_tmp_dir = "${home}/tmp"`,
        `volume_path = "${home}/volumes"`,
        `static_dir = "${home}/static"`,
        'events_logger = "file"',
        `events_logfile_path = "${home}/events.log"`,
        'cgroup_manager = "cgroupfs"',
        '[network]',
        `network_config_dir = "${home}/networks"`,
        '',
      ].join('\n'),
    );
    await mkdir(join(home, 'home'));
    const env = { CONTAINERS_CONF: conf, HOME: join(home, 'home'), TMPDIR: join(home, 'tmp') };
    await mkdir(env.TMPDIR);
    const podman = (...args: string[]) =>
      run('podman', ['--root', join(home, 'root'), '--runroot', join(home, 'runroot'), '--runtime-flag', `root=${join(home, 'runc')}`, ...args], { env, timeoutMs: 120_000 });
    // Podman (cgroupfs) leaves its containers' cgroups behind, empty, under libpod_parent.
    const cgroupsBefore = new Set(await podmanCgroups());
    try {
      const loaded = await podman('load', '-i', saved);
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, new RegExp(`Loaded image: ${app.replace(/[.:/]/g, '\\$&')}`));
      const ran = await podman('run', '--rm', '--runtime', 'runc', '--network', 'none', app, 'sh', '-c', 'cat /data/hello /data/three; ls /data; echo $APP');
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'hello from layer two\nand three\nhello\nthree\n1\n');
    } finally {
      await podman('system', 'reset', '-f');
      // Whatever podman left mounted under its folders, deepest first.
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(home));
      for (const m of mounts.sort().reverse()) await run('umount', ['-l', m]);
      await rm(home, { recursive: true, force: true });
      for (const cgroup of (await podmanCgroups()).filter((c) => !cgroupsBefore.has(c)).reverse()) await rmdir(cgroup).catch(() => {});
    }
  });
});

/** libpod_parent and the cgroups below it, in every hierarchy, parents first. */
async function podmanCgroups(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    out.push(dir);
    for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isDirectory()) await walk(join(dir, entry.name));
  };
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', hierarchy, 'libpod_parent');
    if (existsSync(parent)) await walk(parent);
  }
  return out;
}

describe('tug save and tug load', () => {
  test('save to a file or stdout, load from a file or stdin, as docker does', async () => {
    const file = join(dir, 'tug.tar');
    const toFile = await source.tug(['save', '-o', file, app]);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.deepEqual(await readFile(file), await readFile(saved));
    const stdout = join(dir, 'tug-stdout.tar');
    const piped = await run('sh', ['-c', `node dist/tug.js --host ${source.host} save "$1" > "$2"`, 'sh', app, stdout]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(await readFile(stdout), await readFile(saved));
    const missing = await source.tug(['save', '-o', join(dir, 'none.tar'), `${registry.host}/team/app:nope`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /reference does not exist/);
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes('none.tar')), []);

    await target.docker(['rmi', app]);
    const fromFile = await target.tug(['load', '-i', file]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromFile.stdout, `Loaded image: ${app}\n`);
    await ok(target, 'rmi', app);
    const fromStdin = await run('sh', ['-c', `node dist/tug.js --host ${target.host} load < "$1"`, 'sh', stdout]);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, `Loaded image: ${app}\n`);
    assert.equal(await ok(target, 'run', '--rm', app, 'cat', '/data/hello'), 'hello from layer two\n');
    const refused = await target.tug(['load', '-i', await writeArchive('tug-evil.tar', [{ name: '../x', body: 'x' }])]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Error response from daemon: invalid archive: path "\.\.\/x" leaves the archive/);
  });
});

/** Calls the API directly, for what the CLI does not show. */
function call(engine: TestEngine, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request({ socketPath: engine.socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
