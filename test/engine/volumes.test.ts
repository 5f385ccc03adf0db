// Volumes and bind mounts through the real docker CLI: named volumes (kept between containers,
// read-only when asked, not removed while used), `-v` of a host path, anonymous volumes (`-v
// /path` and the image's VOLUME, which takes the image's files on first use) gone with `rm -v`
// and `--rm`, and `volume ls/inspect/rm/prune`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine({ pull: true });

async function docker(...args: string[]): Promise<string> {
  const r = await t.engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Mount {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  RW: boolean;
}

const mountsOf = async (name: string) => (JSON.parse(await docker('inspect', name))[0] as { Mounts: Mount[] }).Mounts;

test('a named volume keeps its files between containers, is read-only when asked, and is not removed while used', async () => {
  assert.equal((await docker('volume', 'create', 'data')).trim(), 'data');
  await docker('run', '--rm', '-v', 'data:/data', t.busybox, 'sh', '-c', 'echo kept > /data/file');
  assert.equal(await docker('run', '--rm', '-v', 'data:/data:ro', t.busybox, 'cat', '/data/file'), 'kept\n');
  const refused = await t.engine.docker(['run', '--rm', '-v', 'data:/data:ro', t.busybox, 'sh', '-c', 'echo x > /data/file']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Read-only file system/);
  const inspected = JSON.parse(await docker('volume', 'inspect', 'data'))[0] as { Name: string; Driver: string; Mountpoint: string };
  assert.deepEqual([inspected.Name, inspected.Driver], ['data', 'local']);
  assert.equal(await readFile(join(inspected.Mountpoint, 'file'), 'utf8'), 'kept\n');
  assert.match(await docker('volume', 'ls', '--format', '{{.Name}}'), /^data$/m);

  await docker('create', '--name', 'user', '-v', 'data:/data', t.busybox, 'true');
  assert.deepEqual((await mountsOf('user')).map((m) => [m.Type, m.Name, m.Destination, m.RW]), [['volume', 'data', '/data', true]]);
  const inUse = await t.engine.docker(['volume', 'rm', 'data']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /remove data: volume is in use - \[[0-9a-f]{64}\]/);
  await docker('rm', 'user');
  await docker('volume', 'rm', 'data');
  await assert.rejects(stat(inspected.Mountpoint));
});

test('-v HOSTPATH:TARGET binds a host folder, read-only with :ro', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tug-bind-'));
  try {
    await writeFile(join(dir, 'in'), 'from the host\n');
    assert.equal(await docker('run', '--rm', '-v', `${dir}:/host`, t.busybox, 'sh', '-c', 'cat /host/in; echo from the container > /host/out'), 'from the host\n');
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'from the container\n');
    const refused = await t.engine.docker(['run', '--rm', '-v', `${dir}:/host:ro`, t.busybox, 'sh', '-c', 'echo x > /host/in']);
    assert.notEqual(refused.code, 0);
    assert.equal(await readFile(join(dir, 'in'), 'utf8'), 'from the host\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('anonymous volumes: -v /path, and the image\'s VOLUME seeded with the image\'s files; rm -v and --rm remove them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tug-volume-image-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), `FROM ${t.busybox}\nRUN mkdir /cache && echo seeded > /cache/seed\nVOLUME /cache\n`);
    await docker('build', '-q', '-t', 'with-volume', dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await docker('create', '--name', 'anon', '-v', '/scratch', 'with-volume', 'sh', '-c', 'cat /cache/seed; touch /scratch/x');
  const mounts = await mountsOf('anon');
  assert.deepEqual(mounts.map((m) => [m.Type, m.Destination]).sort(), [['volume', '/cache'], ['volume', '/scratch']]);
  for (const m of mounts) assert.match(m.Name!, /^[0-9a-f]{64}$/);
  assert.equal(await docker('start', '-a', 'anon'), 'seeded\n');
  await docker('rm', '-v', 'anon');
  const names = (await docker('volume', 'ls', '-q')).split('\n');
  for (const m of mounts) assert.ok(!names.includes(m.Name!), `${m.Destination}'s volume is left`);

  // --rm removes them too, and a volume prune takes the anonymous ones no container uses.
  assert.equal(await docker('run', '--rm', 'with-volume', 'cat', '/cache/seed'), 'seeded\n');
  assert.equal((await docker('volume', 'ls', '-q')).trim(), '');
  await docker('volume', 'create', 'named');
  await docker('create', '--name', 'left', 'with-volume', 'true');
  const anonymous = (await mountsOf('left'))[0].Name!;
  await docker('rm', 'left');
  assert.match(await docker('volume', 'prune', '-f'), new RegExp(`Deleted Volumes:\\n${anonymous}\\n`));
  assert.equal((await docker('volume', 'ls', '-q')).trim(), 'named');
  await docker('volume', 'prune', '-f', '--all');
  assert.equal((await docker('volume', 'ls', '-q')).trim(), '');
});

test('events: a volume created, mounted by a container as it starts, unmounted as it ends, destroyed', async () => {
  const since = (Date.now() / 1000).toFixed(3);
  await docker('volume', 'create', 'evvol');
  await docker('volume', 'create', 'evother'); // not what the filter asks for
  await docker('run', '--rm', '-v', 'evvol:/data:ro', t.busybox, 'true');
  await docker('volume', 'rm', 'evvol', 'evother');
  const until = (Date.now() / 1000 + 0.5).toFixed(3);
  const out = await docker('events', '--since', since, '--until', until, '--filter', 'type=volume', '--filter', 'volume=evvol', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}} {{index .Actor.Attributes "destination"}} {{index .Actor.Attributes "read/write"}}');
  assert.deepEqual(out.trim().split('\n').map((l) => l.trim()), [
    'create evvol local',
    'mount evvol local /data false',
    'unmount evvol local',
    'destroy evvol local',
  ]);
});
