// A container's files from outside, through the real docker CLI: `docker cp` out of and into
// running and stopped containers (their volumes too, `-a`, stdout and stdin as tars), paths
// followed as the container follows them (a symlink to / is the container's /), archives that
// reach out refused with nothing written, `docker export` and `docker commit`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { collect, readTar, writeTar, type TarWriteEntry } from '../../runtime-agent/src/images/tar';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine({ pull: true });
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-copy-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function docker(...args: string[]): Promise<string> {
  const r = await t.engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function fails(args: string[], message: RegExp, input?: string): Promise<void> {
  const r = await t.engine.docker(args, { input });
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} succeeded`);
  assert.match(r.stderr, message);
}

/** Runs a container in the background that has done `setup` once `docker exec` sees /tmp/ready. */
async function running(name: string, setup: string, ...flags: string[]): Promise<void> {
  await docker('run', '-d', '--name', name, ...flags, t.busybox, 'sh', '-c', `${setup} && echo > /tmp/ready && sleep 300`);
  const deadline = Date.now() + 15_000;
  while ((await t.engine.docker(['exec', name, 'test', '-e', '/tmp/ready'])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`${name} did not get ready: ${await docker('logs', name)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A tar's entries by name (files' data as text). */
async function entries(tar: Buffer): Promise<Map<string, { type: string; mode: number; text: string; linkname: string }>> {
  const out = new Map<string, { type: string; mode: number; text: string; linkname: string }>();
  for await (const entry of readTar((async function* () { yield tar; })())) out.set(entry.name, { type: entry.type, mode: entry.mode, linkname: entry.linkname, text: (await collect(entry.body)).toString() });
  return out;
}

const mode = async (path: string) => (await stat(path)).mode & 0o7777;
const unique = () => `tug-copy-${randomBytes(4).toString('hex')}`;

const SETUP = 'busybox mkdir -p /data/sub && echo hello > /data/f.txt && busybox chmod 640 /data/f.txt && echo deep > /data/sub/g && busybox ln -s f.txt /data/link && busybox chmod 750 /data';

for (const [state, prepare] of [
  ['running', (name: string) => running(name, SETUP)],
  ['stopped', (name: string) => docker('run', '--name', name, t.busybox, 'sh', '-c', SETUP)],
] as const) {
  test(`docker cp out of a ${state} container: a file, a directory, a directory's contents, a symlink, with their modes`, async () => {
    const name = `out-${state}`;
    await prepare(name);
    const to = join(dir, name);
    await mkdir(to);
    await docker('cp', `${name}:/data/f.txt`, join(to, 'f.txt'));
    assert.equal(await readFile(join(to, 'f.txt'), 'utf8'), 'hello\n');
    assert.equal(await mode(join(to, 'f.txt')), 0o640);
    await docker('cp', `${name}:/data`, join(to, 'data'));
    assert.equal(await mode(join(to, 'data')), 0o750);
    assert.equal(await readFile(join(to, 'data/sub/g'), 'utf8'), 'deep\n');
    assert.equal(await readlink(join(to, 'data/link')), 'f.txt');
    // dir/. is what is in it, into a folder of another name.
    await docker('cp', `${name}:/data/.`, join(to, 'contents'));
    assert.equal(await readFile(join(to, 'contents/f.txt'), 'utf8'), 'hello\n');
    // A symlink comes as itself, unless -L.
    await docker('cp', `${name}:/data/link`, join(to, 'link'));
    assert.ok((await lstat(join(to, 'link'))).isSymbolicLink());
    await docker('cp', '-L', `${name}:/data/link`, join(to, 'followed'));
    assert.equal(await readFile(join(to, 'followed'), 'utf8'), 'hello\n');
    await docker('rm', '-f', name);
  });
}

test('docker cp to stdout (-) sends a tar; a missing path fails with Docker\'s message', async () => {
  await running('tostdout', SETUP);
  const tar = await entries(Buffer.from(await docker('cp', 'tostdout:/data', '-')));
  assert.deepEqual([...tar.keys()], ['data', 'data/f.txt', 'data/link', 'data/sub', 'data/sub/g']);
  assert.deepEqual(tar.get('data/f.txt'), { type: 'file', mode: 0o640, text: 'hello\n', linkname: '' });
  assert.equal(tar.get('data/link')?.linkname, 'f.txt');
  await fails(['cp', 'tostdout:/missing', dir], /Could not find the file \/missing in container tostdout/);
  await fails(['cp', 'nosuch:/data', dir], /No such container: nosuch/);
  // A created container has a root too.
  await docker('create', '--name', 'never-started', t.busybox, 'true');
  assert.match(await docker('cp', 'never-started:/etc/passwd', '-'), /app:x:1000:1000/);
  await docker('rm', '-f', 'tostdout', 'never-started');
});

test('docker cp into a running container (seen by exec) and into a stopped one (seen once it starts, in its volume too)', async () => {
  await writeFile(join(dir, 'in.txt'), 'copied in\n', { mode: 0o604 });
  await mkdir(join(dir, 'tree/sub'), { recursive: true });
  await writeFile(join(dir, 'tree/sub/leaf'), 'leaf\n');
  await running('into', 'true');
  await docker('cp', join(dir, 'in.txt'), 'into:/tmp/');
  await docker('cp', join(dir, 'in.txt'), 'into:/tmp/renamed.txt');
  await docker('cp', join(dir, 'tree'), 'into:/srv');
  assert.equal(await docker('exec', 'into', 'cat', '/tmp/in.txt', '/tmp/renamed.txt', '/srv/sub/leaf'), 'copied in\ncopied in\nleaf\n');
  assert.equal((await docker('exec', 'into', 'busybox', 'stat', '-c', '%a', '/tmp/in.txt')).trim(), '604');
  // A file over a directory is refused, as Docker refuses it.
  await mkdir(join(dir, 'clash'));
  await writeFile(join(dir, 'clash/sub'), 'a file\n');
  await fails(['cp', join(dir, 'clash/sub'), 'into:/srv/'], /cannot overwrite directory "sub" with non-directory/);
  assert.equal(await docker('exec', 'into', 'cat', '/srv/sub/leaf'), 'leaf\n');

  await docker('create', '--name', 'later', '-v', 'copyvol:/vol', t.busybox, 'cat', '/tmp/in.txt', '/vol/in.txt');
  await docker('cp', join(dir, 'in.txt'), 'later:/tmp/in.txt');
  await docker('cp', join(dir, 'in.txt'), 'later:/vol/');
  assert.equal(await docker('start', '-a', 'later'), 'copied in\ncopied in\n');
  // In the volume itself, not under it in the container's own layer.
  assert.equal(await docker('run', '--rm', '-v', 'copyvol:/v', t.busybox, 'cat', '/v/in.txt'), 'copied in\n');
  await docker('rm', '-f', 'into', 'later');
  await docker('volume', 'rm', 'copyvol');
});

test('docker cp -a gives the container\'s user what it copies; without it the archive\'s owner stays', async () => {
  const file = join(dir, 'owned.txt');
  await writeFile(file, 'owned\n');
  await chown(file, 4321, 4321);
  await running('owners', 'true', '--user', 'app');
  await docker('cp', file, 'owners:/tmp/kept.txt');
  await docker('cp', '-a', file, 'owners:/tmp/mine.txt');
  assert.equal(await docker('exec', 'owners', 'busybox', 'stat', '-c', '%u:%g', '/tmp/kept.txt', '/tmp/mine.txt'), '4321:4321\n1000:1000\n');
  await docker('rm', '-f', 'owners');
});

test('a symlink in the container to / or ../../.. is the container\'s: copies through it stay inside', async () => {
  const marker = unique();
  const setup = `busybox ln -s / /rootlink && busybox ln -s ../../.. /uplink && busybox ln -s /../../../tmp /tmplink && echo inside > /etc/${marker}`;
  for (const [name, prepare] of [
    ['links-running', () => running('links-running', setup)],
    ['links-stopped', () => docker('run', '--name', 'links-stopped', t.busybox, 'sh', '-c', setup)],
  ] as const) {
    await prepare();
    const file = join(dir, `${marker}.txt`);
    await writeFile(file, 'mine\n');
    await docker('cp', file, `${name}:/rootlink`);
    await docker('cp', file, `${name}:/uplink/`);
    await docker('cp', file, `${name}:/tmplink/${marker}-tmp`);
    // Read back through the links: the container's files, not the host's.
    const tar = await entries(Buffer.from(await docker('cp', `${name}:/uplink/etc/${marker}`, '-')));
    assert.equal(tar.get(marker)?.text, 'inside\n');
    const back = await entries(Buffer.from(await docker('cp', `${name}:/tmplink/${marker}-tmp`, '-')));
    assert.equal(back.get(`${marker}-tmp`)?.text, 'mine\n');
    const head = await t.client.stream('HEAD', `/containers/${name}/archive?path=/uplink`);
    head.resume();
    const stat = JSON.parse(Buffer.from(head.headers['x-docker-container-path-stat'] as string, 'base64').toString());
    assert.deepEqual([stat.name, stat.linkTarget, stat.mode & 2 ** 27], ['uplink', '/', 2 ** 27]);
    await docker('rm', '-f', name);
  }
  for (const path of [`/${marker}.txt`, `/tmp/${marker}-tmp`, `/etc/${marker}`]) assert.equal(existsSync(path), false, `${path} appeared on the host`);
});

test('an archive that reaches out of its directory is refused, and nothing is written outside it', async () => {
  const escape = unique();
  await running('target', 'true');
  const archives: [string, TarWriteEntry[]][] = [
    ['a ../ path', [{ name: `../${escape}`, body: 'out\n' }]],
    ['an entry through a symlink of the archive', [{ name: 'evil', type: 'symlink', linkname: '/' }, { name: `evil/${escape}`, body: 'out\n' }]],
    ['a symlink that leads out', [{ name: 'up', type: 'symlink', linkname: `../../../${escape}` }]],
    ['a hardlink to a file outside', [{ name: 'hard', type: 'hardlink', linkname: '../etc/passwd' }]],
  ];
  for (const [what, list] of archives) {
    const tar = (await collect(writeTar(list))).toString('latin1');
    await fails(['cp', '-', 'target:/tmp'], /refusing archive/, tar);
    assert.equal((await t.engine.docker(['exec', 'target', 'test', '-e', `/${escape}`])).code, 1, `${what}: written in the container's /`);
  }
  for (const path of [`/${escape}`, join(tmpdir(), escape), join(t.engine.dataRoot, escape)]) assert.equal(existsSync(path), false, `${path} appeared on the host`);
  await docker('rm', '-f', 'target');
});

test('--read-only refuses copies (a tmpfs too) but into its writable volumes, with Docker\'s message', async () => {
  await writeFile(join(dir, 'ro.txt'), 'ro\n');
  await running('readonly', 'true', '--read-only', '--tmpfs', '/tmp', '-v', '/scratch', '-v', 'rovol:/locked:ro');
  await fails(['cp', join(dir, 'ro.txt'), 'readonly:/tmp/'], /container rootfs is marked read-only/);
  await fails(['cp', join(dir, 'ro.txt'), 'readonly:/locked/'], /mounted volume is marked read-only/);
  await docker('cp', join(dir, 'ro.txt'), 'readonly:/scratch/');
  assert.equal(await docker('exec', 'readonly', 'cat', '/scratch/ro.txt'), 'ro\n');
  await docker('rm', '-f', '-v', 'readonly');
  await docker('volume', 'rm', 'rovol');
});

test('docker export: the image\'s files and the container\'s changes, not what it deleted, not its volumes', async () => {
  await docker('run', '--name', 'exported', '-v', '/vol', t.busybox, 'sh', '-c', 'echo new > /new.txt && rm /etc/group && echo kept > /vol/inside');
  const file = join(dir, 'exported.tar');
  await docker('export', '-o', file, 'exported');
  const tar = await entries(await readFile(file));
  assert.equal(tar.get('new.txt')?.text, 'new\n');
  assert.equal(tar.get('bin/busybox')?.type, 'file');
  assert.equal(tar.get('bin/sh')?.linkname, 'busybox');
  assert.ok(tar.has('etc/passwd'));
  assert.ok(!tar.has('etc/group'), 'a file the container deleted is in the export');
  assert.ok(tar.has('vol') && !tar.has('vol/inside'), 'the volume is in the export');
  await docker('rm', '-v', 'exported');
});

test('docker commit: the container\'s changes as a layer, --change, the message and author in history and inspect', async () => {
  await docker('run', '--name', 'tocommit', t.busybox, 'sh', '-c', 'echo committed > /x && rm /etc/group');
  const id = (await docker('commit', '-c', 'CMD ["cat","/x"]', '-c', 'ENV MODE=committed', '-m', 'msg', '-a', 'me', 'tocommit', 'committed:v1')).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await docker('run', '--rm', 'committed:v1'), 'committed\n');
  assert.equal(await docker('run', '--rm', 'committed:v1', 'sh', '-c', 'test ! -e /etc/group && echo $MODE'), 'committed\n');
  const history = (await docker('history', '--no-trunc', '--format', '{{.Comment}}|{{.CreatedBy}}', 'committed:v1')).split('\n');
  assert.equal(history[0], 'msg|sh -c echo committed > /x && rm /etc/group');
  assert.equal((await docker('inspect', '--format', '{{.Author}}|{{.Parent}}|{{json .Config.Cmd}}', 'committed:v1')).trim(), `me|${(await docker('inspect', '--format', '{{.Image}}', 'tocommit')).trim()}|["cat","/x"]`);
  await fails(['commit', '-c', 'RUN true', 'tocommit'], /run is not a valid change command/);
  await fails(['commit', 'tocommit', 'Bad:Name'], /invalid reference format|must be lowercase/);
  await docker('rm', 'tocommit');
});

test('docker commit of a running container pauses it meanwhile and leaves it running', async () => {
  await running('live', 'echo alive > /y');
  await docker('commit', 'live', 'live:snap');
  const state = JSON.parse(await docker('inspect', '--format', '{{json .State}}', 'live')) as { Status: string; Paused: boolean };
  assert.deepEqual([state.Status, state.Paused], ['running', false]);
  assert.equal(await docker('exec', 'live', 'cat', '/y'), 'alive\n');
  assert.equal(await docker('run', '--rm', 'live:snap', 'cat', '/y'), 'alive\n');
  assert.match(await docker('events', '--since', '0', '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=live', '--format', '{{.Action}}'), /pause\nunpause\ncommit/);
  await docker('rm', '-f', 'live');
});
