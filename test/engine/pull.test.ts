// Pulling images from a real registry (Debian's docker-registry on 127.0.0.1): busybox built from
// /bin/busybox, a three-layer image mounted with overlayfs, platform choice in OCI indexes and
// Docker manifest lists, Docker's progress messages, Docker's errors, a registry behind a Bearer
// token server, and a proxy that corrupts a blob.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ContentStore, DigestMismatchError } from '../../runtime-agent/src/images/content';
import { chainIds, Snapshots } from '../../runtime-agent/src/images/snapshots';
import { ImageStore } from '../../runtime-agent/src/images/store';
import { Repository } from '../../runtime-agent/src/registry/client';
import { humanSize, progressBar, pull, type ProgressMessage, type PullOptions } from '../../runtime-agent/src/registry/pull';
import { parseReference } from '../../runtime-agent/src/registry/reference';
import { collect } from '../../runtime-agent/src/images/tar';
import { busyboxLayer, GROUP, PASSWD, pushImage, pushIndex, sha256, tarOf } from '../helpers/images';
import { startProxy as proxyTo, type Proxy } from '../helpers/proxy';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { tree } from '../helpers/files';

const exec = promisify(execFile);

let registry: TestRegistry;
let root: string;
let busybox: Buffer;
const mounts: string[] = [];
const proxies: Proxy[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tug-pull-'));
  registry = await startRegistry();
  busybox = await busyboxLayer();
});

after(async () => {
  for (const dir of mounts.splice(0)) await exec('umount', [dir]).catch(() => {});
  for (const proxy of proxies.splice(0)) await proxy.close();
  await registry?.stop();
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
interface Engine {
  dir: string;
  content: ContentStore;
  store: ImageStore;
  snapshots: Snapshots;
  messages: ProgressMessage[];
  options: (extra?: Partial<PullOptions>) => PullOptions;
}

/** A fresh data root with its stores, as the engine lays them out. */
async function engine(): Promise<Engine> {
  const dir = join(root, `engine-${counter++}`);
  await mkdir(dir);
  const content = new ContentStore(join(dir, 'content'));
  const store = new ImageStore(join(dir, 'images'));
  const snapshots = new Snapshots(join(dir, 'snapshots'), content);
  const messages: ProgressMessage[] = [];
  return {
    dir,
    content,
    store,
    snapshots,
    messages,
    options: (extra = {}) => ({ content, store, snapshots, onProgress: (m) => messages.push(m), ...extra }),
  };
}

/** Mounts an overlay of the lower dirs with a fresh upper dir; unmounted after the tests even if they fail. */
async function mountOverlay(lower: string[]): Promise<{ merged: string; upper: string }> {
  const dir = join(root, `overlay-${counter++}`);
  const [merged, upper, work] = ['merged', 'upper', 'work'].map((d) => join(dir, d));
  for (const d of [merged, upper, work]) await mkdir(d, { recursive: true });
  await exec('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`, merged]);
  mounts.push(merged);
  return { merged, upper };
}

async function unmount(merged: string): Promise<void> {
  await exec('umount', [merged]);
  mounts.splice(mounts.indexOf(merged), 1);
}

const statuses = (messages: ProgressMessage[], id?: string) => messages.filter((m) => id === undefined || m.id === id).map((m) => m.status);
/** Statuses with runs of the same one (Downloading, Extracting) collapsed. */
const steps = (messages: ProgressMessage[], id?: string) => statuses(messages, id).filter((s, i, all) => i === 0 || s !== all[i - 1]);
const short = (digest: string) => digest.slice(7, 19);

describe('progress strings as Docker prints them', () => {
  test('sizes and bars match the daemon', () => {
    // Lines of real `docker pull` output.
    assert.equal(progressBar(49152, 4335400), `[>${' '.repeat(50)}]  49.15kB/4.335MB`);
    assert.equal(progressBar(1378626, 4335400), `[${'='.repeat(15)}>${' '.repeat(35)}]  1.379MB/4.335MB`);
    assert.equal(progressBar(821033, 11107850), `[===>${' '.repeat(47)}]    821kB/11.11MB`);
    assert.equal(progressBar(719, 2457), `[${'='.repeat(14)}>${' '.repeat(36)}]     719B/2.457kB`);
    assert.equal(progressBar(4335400, 4335400), `[${'='.repeat(50)}>]  4.335MB/4.335MB`);
    assert.deepEqual([humanSize(0), humanSize(999), humanSize(1000), humanSize(2_217_000_000)], ['0B', '999B', '1kB', '2.217GB']);
  });
});

describe('pull', () => {
  test('busybox: record, blobs and snapshot, and it runs', async () => {
    const pushed = await pushImage(registry, 'busybox', 'latest', { layers: [busybox] });
    const e = await engine();
    const image = await pull(`${registry.host}/busybox`, e.options());
    assert.deepEqual(image, {
      id: pushed.configDigest,
      repoTags: [`${registry.host}/busybox:latest`],
      repoDigests: [`${registry.host}/busybox@${pushed.manifestDigest}`],
      manifestDigest: pushed.manifestDigest,
      config: await e.content.readJson(pushed.configDigest),
      layers: [{ digest: pushed.layerDigests[0], diffId: sha256(busybox), size: (await readFile(e.content.path(pushed.layerDigests[0]))).length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
      created: '2024-01-02T03:04:05Z',
      size: (await readFile('/bin/busybox')).length + PASSWD.length + GROUP.length,
    });
    assert.deepEqual(image.config.config?.Cmd, ['/bin/sh']);
    assert.deepEqual((await e.content.list()).sort(), [pushed.manifestDigest, pushed.configDigest, pushed.layerDigests[0]].sort());
    assert.equal(e.store.get(`${registry.host}/busybox`)?.id, image.id);
    assert.equal(new ImageStore(join(e.dir, 'images')).get(`${registry.host}/busybox@${pushed.manifestDigest}`)?.id, image.id);
    const lower = e.snapshots.lowerDirs(image);
    assert.deepEqual(lower, [e.snapshots.dir(sha256(busybox))]);
    const { merged } = await mountOverlay(lower);
    try {
      const { stdout } = await exec('chroot', [merged, '/bin/sh', '-c', 'echo "$(id -un) $(cat /etc/passwd | head -n 1)"; ls /bin | head -n 3']);
      assert.equal(stdout, 'root root:x:0:0:root:/root:/bin/sh\nbusybox\ncat\necho\n');
    } finally {
      await unmount(merged);
    }
  });

  test('three layers with a deleted file and an opaque directory, as overlayfs shows them', async () => {
    const middle = await tarOf([
      { name: 'data', type: 'dir' },
      { name: 'data/a', body: 'a' },
      { name: 'data/b', body: 'b' },
      { name: 'etc', type: 'dir' },
      { name: 'etc/motd', body: 'old' },
      { name: 'opt', type: 'dir' },
      { name: 'opt/x', type: 'dir' },
      { name: 'opt/x/1', body: 'one' },
      { name: 'opt/x/sub', type: 'dir' },
      { name: 'opt/x/sub/deep', body: 'deep' },
    ]);
    const topLayer = await tarOf([
      { name: 'data', type: 'dir' },
      { name: 'data/.wh.a', body: '' },
      { name: 'etc', type: 'dir' },
      { name: 'etc/motd', body: 'new' },
      { name: 'opt', type: 'dir' },
      { name: 'opt/x', type: 'dir' },
      { name: 'opt/x/.wh..wh..opq', body: '' },
      { name: 'opt/x/2', body: 'two' },
    ]);
    await pushImage(registry, 'layered', '1', { layers: [busybox, middle, topLayer] });
    const e = await engine();
    const image = await pull(`${registry.host}/layered:1`, e.options());
    assert.equal(image.layers.length, 3);
    const lower = await e.snapshots.prepare(image);
    assert.deepEqual(lower, chainIds([sha256(busybox), sha256(middle), sha256(topLayer)]).reverse().map((c) => e.snapshots.dir(c)));
    const { merged, upper } = await mountOverlay(lower);
    try {
      assert.deepEqual((await readdir(join(merged, 'data'))).sort(), ['b']);
      assert.deepEqual((await readdir(join(merged, 'opt/x'))).sort(), ['2']);
      assert.equal(await readFile(join(merged, 'etc/motd'), 'utf8'), 'new');
      assert.equal(await readFile(join(merged, 'etc/passwd'), 'utf8'), PASSWD);
      // The copying fallback makes the same tree.
      const flat = join(e.dir, 'flat');
      await e.snapshots.flattenInto(image, flat);
      assert.deepEqual(await tree(flat), await tree(merged));
      assert.ok((await tree(flat)).includes('opt/x/2') && !(await tree(flat)).includes('opt/x/sub'));
      const { stdout } = await exec('chroot', [merged, '/bin/sh', '-c', 'ls /data /opt/x; cat /etc/motd; echo written > /data/c']);
      assert.equal(stdout, '/data:\nb\n\n/opt/x:\n2\nnew');
      // Writes land in the upper dir; the snapshots stay as they were.
      assert.equal(await readFile(join(upper, 'data/c'), 'utf8'), 'written\n');
      assert.deepEqual((await readdir(join(lower[0], 'data'))).sort(), ['a']);
      assert.deepEqual((await readdir(join(lower[1], 'data'))).sort(), ['a', 'b']);
    } finally {
      await unmount(merged);
    }
  });

  const platformLayer = (name: string) => tarOf([{ name: 'platform', body: name }]);

  test('an OCI index: linux/amd64 here, and the variant asked for', async () => {
    const platforms = [
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 's390x' },
      { os: 'windows', architecture: 'amd64' },
    ];
    const images = [];
    for (const p of platforms) images.push({ platform: p, layers: [await platformLayer(`${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`)] });
    const { indexDigest, images: pushed } = await pushIndex(registry, 'multi', 'latest', images);
    const e = await engine();
    const read = async (image: { layers: { diffId: string }[] }) => readFile(join(e.snapshots.dir(chainIds(image.layers.map((l) => l.diffId))[0]), 'platform'), 'utf8');

    const amd64 = await pull(`${registry.host}/multi`, e.options());
    assert.equal(amd64.id, pushed[3].configDigest);
    assert.equal(await read(amd64), 'linux/amd64');
    assert.equal(amd64.manifestDigest, indexDigest, 'the repo digest is the index digest, as Docker shows it');
    assert.deepEqual(amd64.repoDigests, [`${registry.host}/multi@${indexDigest}`]);
    assert.equal(await e.content.has(indexDigest), true);
    assert.equal(await e.content.has(pushed[3].manifestDigest), true);

    const v7 = await pull(`${registry.host}/multi`, e.options({ platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }));
    assert.equal(await read(v7), 'linux/arm/v7');
    const v6 = await pull(`${registry.host}/multi`, e.options({ platform: { os: 'linux', architecture: 'arm', variant: 'v6' } }));
    assert.equal(await read(v6), 'linux/arm/v6');
    const v8 = await pull(`${registry.host}/multi`, e.options({ platform: { os: 'linux', architecture: 'arm', variant: 'v8' } }));
    assert.equal(await read(v8), 'linux/arm/v7', 'an arm v8 CPU runs v7, the closest offered');
    const arm64 = await pull(`${registry.host}/multi`, e.options({ platform: { os: 'linux', architecture: 'arm64' } }));
    assert.equal(await read(arm64), 'linux/arm64/v8');
    assert.equal(e.store.get(`${registry.host}/multi`)?.id, arm64.id, 'the tag follows the last pull');
    assert.deepEqual(e.store.get(amd64.id)?.repoTags, []);

    await assert.rejects(pull(`${registry.host}/multi`, e.options({ platform: { os: 'linux', architecture: 'riscv64' } })), {
      message: 'no matching manifest for linux/riscv64 in the manifest list entries',
    });
  });

  test('a Docker manifest list and schema 2 manifest', async () => {
    const images = [
      { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [await platformLayer('arm64')] },
      { platform: { os: 'linux', architecture: 'amd64' }, layers: [await platformLayer('amd64')] },
    ];
    const { indexDigest, images: pushed } = await pushIndex(registry, 'dockerlist', '3', images, 'docker');
    const e = await engine();
    const image = await pull(`${registry.host}/dockerlist:3`, e.options());
    assert.equal(image.id, pushed[1].configDigest);
    assert.equal(image.manifestDigest, indexDigest);
    assert.deepEqual(image.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar.gzip']);
    assert.equal(await readFile(join(e.snapshots.lowerDirs(image)[0], 'platform'), 'utf8'), 'amd64');
    // The registry helper's own push makes the same kind of image from real layers and config.
    const digest = await registry.push('helperlist', '1', {
      platforms: [{ os: 'linux', architecture: 's390x' }, { os: 'linux', architecture: 'amd64' }],
      layers: [await platformLayer('either')],
      config: { config: { Cmd: ['/bin/true'] } },
      format: 'docker',
    });
    const helper = await pull(`${registry.host}/helperlist:1`, e.options());
    assert.equal(helper.manifestDigest, digest);
    assert.equal(helper.config.architecture, 'amd64');
    assert.deepEqual(helper.config.config, { Cmd: ['/bin/true'] });
    assert.equal(await readFile(join(e.snapshots.lowerDirs(helper)[0], 'platform'), 'utf8'), 'either');
  });

  test("progress: Docker's exact messages for one layer, then 'Image is up to date'", async () => {
    const layer = await tarOf([{ name: 'hello', body: 'hello world\n' }]);
    const pushed = await pushImage(registry, 'progress', 'latest', { layers: [layer] });
    const e = await engine();
    const image = await pull(`${registry.host}/progress`, e.options());
    const id = short(pushed.layerDigests[0]);
    const size = image.layers[0].size;
    const bar = `[${'='.repeat(50)}>] ${humanSize(size).padStart(8)}/${humanSize(size)}`;
    assert.deepEqual(e.messages, [
      { status: 'Pulling from progress', id: 'latest' },
      { status: 'Pulling fs layer', progressDetail: {}, id },
      { status: 'Downloading', progressDetail: { current: size, total: size }, progress: bar, id },
      { status: 'Verifying Checksum', progressDetail: {}, id },
      { status: 'Download complete', progressDetail: {}, id },
      { status: 'Extracting', progressDetail: { current: size, total: size }, progress: bar, id },
      { status: 'Pull complete', progressDetail: {}, id },
      { status: `Digest: ${pushed.manifestDigest}` },
      { status: `Status: Downloaded newer image for ${registry.host}/progress:latest` },
    ]);
    e.messages.length = 0;
    await pull(`${registry.host}/progress:latest`, e.options());
    assert.deepEqual(e.messages, [
      { status: 'Pulling from progress', id: 'latest' },
      { status: `Digest: ${pushed.manifestDigest}` },
      { status: `Status: Image is up to date for ${registry.host}/progress:latest` },
    ]);
    // By digest, the same image: no tag, up to date by its repo digest.
    e.messages.length = 0;
    const byDigest = await pull(`${registry.host}/progress@${pushed.manifestDigest}`, e.options());
    assert.equal(byDigest.id, image.id);
    assert.deepEqual(e.messages, [
      { status: 'Pulling from progress', id: pushed.manifestDigest },
      { status: `Digest: ${pushed.manifestDigest}` },
      { status: `Status: Image is up to date for ${registry.host}/progress@${pushed.manifestDigest}` },
    ]);
  });

  test("'Already exists' for a shared base layer, 'Waiting' past three downloads", async () => {
    await pushImage(registry, 'base', 'latest', { layers: [busybox] });
    const extra = [];
    for (let i = 1; i <= 4; i++) extra.push(await tarOf([{ name: `layer${i}`, body: randomBytes(200_000).toString('hex') }]));
    const pushed = await pushImage(registry, 'derived', 'latest', { layers: [busybox, ...extra] });
    const e = await engine();
    await pull(`${registry.host}/base`, e.options());
    e.messages.length = 0;
    const image = await pull(`${registry.host}/derived`, e.options());
    const [base, ...ids] = pushed.layerDigests.map(short);
    assert.deepEqual(e.messages.slice(0, 7), [
      { status: 'Pulling from derived', id: 'latest' },
      { status: 'Already exists', progressDetail: {}, id: base },
      ...ids.map((id) => ({ status: 'Pulling fs layer', progressDetail: {}, id })),
      { status: 'Waiting', progressDetail: {}, id: ids[3] },
    ]);
    assert.deepEqual(steps(e.messages, base), ['Already exists']);
    for (const id of ids.slice(0, 3)) assert.deepEqual(steps(e.messages, id), ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'], id);
    assert.deepEqual(steps(e.messages, ids[3]), ['Pulling fs layer', 'Waiting', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']);
    // Layers unpack in order; progress counts up to the blob size.
    assert.deepEqual(e.messages.filter((m) => m.status === 'Pull complete').map((m) => m.id), ids);
    for (const [i, id] of ids.entries()) {
      const downloads = e.messages.filter((m) => m.id === id && m.status === 'Downloading');
      assert.deepEqual(downloads.at(-1)?.progressDetail, { current: image.layers[i + 1].size, total: image.layers[i + 1].size });
      const currents = downloads.map((m) => m.progressDetail!.current!);
      assert.deepEqual(currents, [...currents].sort((a, b) => a - b));
    }
    assert.deepEqual(e.messages.slice(-2), [{ status: `Digest: ${pushed.manifestDigest}` }, { status: `Status: Downloaded newer image for ${registry.host}/derived:latest` }]);
    assert.equal(image.size, (await readFile('/bin/busybox')).length + PASSWD.length + GROUP.length + 4 * 400_000);
  });

  test("errors as Docker words them, and nothing is recorded", async () => {
    await pushImage(registry, 'known', '1', { layers: [busybox] });
    const e = await engine();
    await assert.rejects(pull(`${registry.host}/known:nope`, e.options()), {
      message: `manifest for ${registry.host}/known:nope not found: manifest unknown: manifest unknown`,
    });
    await assert.rejects(pull(`${registry.host}/no/such/repo`, e.options()), {
      message: `pull access denied for ${registry.host}/no/such/repo, repository does not exist or may require 'docker login': name unknown: repository name not known to registry`,
    });
    await assert.rejects(pull('127.0.0.1:5000/UPPER', e.options()), { message: 'invalid reference format: repository name must be lowercase' });
    // A zstd layer is refused by its media type before anything is downloaded.
    const tar = await tarOf([{ name: 'z', body: 'z' }]);
    const layer = await registry.blob('zstd', tar);
    const config = await registry.blob('zstd', JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }));
    await registry.manifest(
      'zstd',
      'latest',
      'application/vnd.oci.image.manifest.v1+json',
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', ...layer }],
      }),
    );
    await assert.rejects(pull(`${registry.host}/zstd`, e.options()), {
      message: `layer ${layer.digest} has media type application/vnd.oci.image.layer.v1.tar+zstd: zstd-compressed layers are not supported`,
    });
    assert.deepEqual(e.store.list(), []);
    assert.deepEqual(await e.snapshots.list(), []);
  });

  test('a corrupted blob is refused: nothing stored for it, no image record', async () => {
    const layer = await tarOf([{ name: 'payload', body: 'precious bytes '.repeat(1000) }]);
    const pushed = await pushImage(registry, 'corrupt', 'latest', { layers: [busybox, layer] });
    const proxy = await startProxy(registry.host, { corrupt: (path) => path.endsWith(`/blobs/${pushed.layerDigests[1]}`) });
    const e = await engine();
    await assert.rejects(pull(`${proxy.host}/corrupt`, e.options()), (error: unknown) => {
      assert.ok(error instanceof DigestMismatchError, String(error));
      assert.match(error.message, new RegExp(`^filesystem layer verification failed for digest ${pushed.layerDigests[1]}: digest mismatch: expected ${pushed.layerDigests[1]}, got sha256:[0-9a-f]{64}$`));
      return true;
    });
    assert.ok(proxy.corrupted > 0, 'the proxy did corrupt the blob');
    assert.equal(await e.content.has(pushed.layerDigests[1]), false);
    assert.deepEqual(await readdir(join(e.content.root, 'ingest')), []);
    assert.deepEqual(e.store.list(), []);
    assert.equal(await e.snapshots.exists(chainIds([sha256(busybox), sha256(layer)])[1]), false);
    assert.deepEqual((await readdir(e.snapshots.root).catch(() => [])).filter((n) => n.startsWith('.')), []);
    // Through a proxy that leaves it alone, the same pull works.
    const image = await pull(`${registry.host}/corrupt`, e.options());
    assert.equal(image.id, pushed.configDigest);
  });

  test('the client checks blobs as they stream, and manifests asked for by digest', async () => {
    const pushed = await pushImage(registry, 'checked', 'latest', { layers: [busybox] });
    const proxy = await startProxy(registry.host, { corrupt: (path) => path.includes('/blobs/') || path.includes('/manifests/sha256:') });
    const good = new Repository(parseReference(`${registry.host}/checked`));
    const bad = new Repository(parseReference(`${proxy.host}/checked`));
    const blob = await collect(await good.blob(pushed.layerDigests[0]));
    assert.equal(sha256(blob), pushed.layerDigests[0]);
    await assert.rejects(collect(await bad.blob(pushed.layerDigests[0])), (error: unknown) => {
      assert.ok(error instanceof DigestMismatchError);
      assert.equal(error.expected, pushed.layerDigests[0]);
      return true;
    });
    await assert.rejects(collect(await good.blob(pushed.layerDigests[0], { size: 10 })), { message: `size mismatch for ${pushed.layerDigests[0]}: expected 10 bytes, got more` });
    assert.equal((await good.manifestBytes(pushed.manifestDigest)).digest, pushed.manifestDigest);
    await assert.rejects(bad.manifestBytes(pushed.manifestDigest), new RegExp(`^DigestMismatchError: manifest ${pushed.manifestDigest} of ${proxy.host}/checked: digest mismatch`));
    assert.equal((await bad.manifestBytes('latest')).digest, pushed.manifestDigest, 'by tag, the proxy leaves it alone');
  });

  test('an aborted pull stops its downloads and leaves nothing half-written', async () => {
    const layer = await tarOf([{ name: 'big', body: randomBytes(300_000).toString('hex') }]);
    const pushed = await pushImage(registry, 'hangs', 'latest', { layers: [busybox, layer] });
    const proxy = await startProxy(registry.host, { stall: (path) => path.endsWith(`/blobs/${pushed.layerDigests[1]}`) });
    const e = await engine();
    const controller = new AbortController();
    const options = e.options({ signal: controller.signal });
    const progress = options.onProgress;
    options.onProgress = (m) => {
      progress(m);
      if (m.status === 'Downloading' && m.id === short(pushed.layerDigests[1])) controller.abort();
    };
    await assert.rejects(pull(`${proxy.host}/hangs`, options), { name: 'AbortError' });
    assert.equal(await e.content.has(pushed.layerDigests[1]), false);
    assert.deepEqual(await readdir(join(e.content.root, 'ingest')), []);
    assert.deepEqual(e.store.list(), []);
    assert.deepEqual((await readdir(e.snapshots.root).catch(() => [])).filter((n) => n.startsWith('.')), []);
  });

  describe('a registry behind a Bearer token server', () => {
    let proxy: Proxy;
    let pushed: Awaited<ReturnType<typeof pushImage>>;
    before(async () => {
      pushed = await pushImage(registry, 'secret/app', '1', { layers: [busybox] });
      proxy = await startProxy(registry.host, { users: { user: 'pass' } });
    });

    test('Basic credentials get a token, which is then used', async () => {
      const e = await engine();
      const image = await pull(`${proxy.host}/secret/app:1`, e.options({ auth: { username: 'user', password: 'pass' } }));
      assert.equal(image.id, pushed.configDigest);
      assert.deepEqual(proxy.tokenRequests.at(-1), { user: 'user', service: 'tug-test', scope: 'repository:secret/app:pull' });
      assert.ok(proxy.authorized > 0);
    });

    test('credentials from a config.json', async () => {
      const e = await engine();
      const config = join(e.dir, 'config.json');
      await writeFile(config, JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('user:pass').toString('base64') } } }));
      const image = await pull(`${proxy.host}/secret/app:1`, e.options({ dockerConfig: config }));
      assert.equal(image.id, pushed.configDigest);
      assert.equal(proxy.tokenRequests.at(-1)?.user, 'user');
    });

    test('wrong or no credentials: pull access denied', async () => {
      const e = await engine();
      const denied = `pull access denied for ${proxy.host}/secret/app, repository does not exist or may require 'docker login': unauthorized: incorrect username or password`;
      await assert.rejects(pull(`${proxy.host}/secret/app:1`, e.options({ auth: { username: 'user', password: 'wrong' } })), { message: denied });
      await assert.rejects(pull(`${proxy.host}/secret/app:1`, e.options({ dockerConfig: join(e.dir, 'none.json') })), {
        message: `pull access denied for ${proxy.host}/secret/app, repository does not exist or may require 'docker login': unauthorized: anonymous access is not allowed`,
      });
      assert.deepEqual(e.store.list(), []);
    });

    test('an identity token is exchanged for a token as an OAuth2 refresh token', async () => {
      const e = await engine();
      const image = await pull(`${proxy.host}/secret/app:1`, e.options({ auth: { identitytoken: 'refresh-abc' } }));
      assert.equal(image.id, pushed.configDigest);
      assert.deepEqual(proxy.tokenRequests.at(-1), { user: 'refresh-abc', service: 'tug-test', scope: 'repository:secret/app:pull' });
      await assert.rejects(pull(`${proxy.host}/secret/app:1`, e.options({ auth: { identitytoken: 'stale' } })), /pull access denied for .*: unauthorized: invalid refresh token/);
    });

    test('anonymous tokens, where the server gives them', async () => {
      const open = await startProxy(registry.host, { users: {}, anonymous: true });
      const e = await engine();
      const image = await pull(`${open.host}/secret/app:1`, e.options({ dockerConfig: join(e.dir, 'none.json') }));
      assert.equal(image.id, pushed.configDigest);
      assert.deepEqual(open.tokenRequests, [{ user: null, service: 'tug-test', scope: 'repository:secret/app:pull' }]);
    });
  });
});

/** A proxy closed after the tests. */
async function startProxy(upstream: string, options: Parameters<typeof proxyTo>[1]): Promise<Proxy> {
  const proxy = await proxyTo(upstream, options);
  proxies.push(proxy);
  return proxy;
}
