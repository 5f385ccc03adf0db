import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { chmod, link, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { readTar } from '../../runtime-agent/src/images/tar';

// `tug build` against the real docker CLI (28.x, DOCKER_BUILDKIT=0) as the oracle: both are run
// with the same directory and flags against a stub that stands in for the engine, because this
// test is about the client: what it sends to POST /build (the context tar, the query) and how it
// prints the answer. The stub answers /_ping and /version as an engine does, records every
// request, and answers POST /build with the JSON lines each test sets.

const TUG = resolve('dist/tug.js');

interface Recorded {
  method: string;
  /** The path without the API version docker puts in front. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body, when small; large ones are only hashed. */
  body: Buffer | null;
  size: number;
  sha256: string;
}

type Answer = { status: number; lines: unknown[] };

let dir: string;
let socket: string;
let server: Server;
let requests: Recorded[] = [];
let answer: Answer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tug-cli-build-'));
  socket = join(dir, 'engine.sock');
  server = createServer((req, res) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      if (size <= 16 << 20) chunks.push(chunk);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://engine');
      const path = url.pathname.replace(/^\/v[0-9.]+\//, '/');
      requests.push({ method: req.method ?? '', path, query: url.searchParams, headers: req.headers, body: size <= 16 << 20 ? Buffer.concat(chunks) : null, size, sha256: hash.digest('hex') });
      if (path === '/_ping') {
        res.writeHead(200, { 'Api-Version': '1.47', Ostype: 'linux', 'Content-Type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
      } else if (path === '/version') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Version: '27.0.0', ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' }));
      } else if (path === '/build' && req.method === 'POST') {
        res.writeHead(answer.status, { 'Content-Type': 'application/json' });
        res.end(answer.lines.map((l) => JSON.stringify(l) + '\n').join(''));
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `page not found: ${path}` }));
      }
    });
  });
  await new Promise<void>((ok) => server.listen(socket, ok));
});

after(async () => {
  await new Promise((ok) => server.close(ok));
  await rm(dir, { recursive: true, force: true });
});

const SUCCESS: Answer = {
  status: 200,
  lines: [
    { stream: 'Step 1/2 : FROM busybox\n' },
    { status: 'Pulling from library/busybox', id: 'latest' },
    { status: 'Downloading', progressDetail: { current: 100, total: 1000 }, progress: '[=>   ]', id: 'abc123' },
    { status: 'Download complete', progressDetail: {}, id: 'abc123' },
    { stream: ' ---> 0123456789ab\n' },
    { stream: 'Step 2/2 : RUN true\n' },
    { aux: { ID: 'sha256:4f1a3fa2d5b9d7c18ef7b4e2b0b0b4c0a4d4b8e5f1a2b3c4d5e6f708192a3b4c' } },
    { stream: 'Successfully built 4f1a3fa2d5b9\n' },
    { stream: 'Successfully tagged one:latest\n' },
  ],
};

beforeEach(() => {
  requests = [];
  answer = SUCCESS;
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], options: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((done) => {
    const child = execFile(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 16 << 20, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(options.input);
  });
}

const docker = (args: string[], options: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) =>
  exec('docker', ['build', ...args], { ...options, env: { DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'docker-config'), ...options.env } });

const tug = (args: string[], options: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) =>
  exec('node', [TUG, '--host', `unix://${socket}`, 'build', ...args], options);

/** docker's stderr less its notice that the legacy builder is deprecated. */
const withoutNotice = (stderr: string) => stderr.replace(/^DEPRECATED: The legacy builder[^]*?environment-variable\.\n\n/, '');

/** The one POST /build made since the last call. */
function takeBuild(): Recorded {
  const builds = requests.filter((r) => r.path === '/build');
  requests = [];
  assert.equal(builds.length, 1, `one POST /build, not ${builds.length}`);
  return builds[0];
}

interface Summary {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  mtime: number | 'now';
  linkname: string;
  content: string;
}

/**
 * The entries of a context tar by name. The random name given to a Dockerfile from outside the
 * context is replaced by `.dockerfile.RANDOM`, and the mtime of the entries made for it, or named
 * in `dated`, ("now") by 'now'.
 */
async function entries(recorded: Recorded, dated: string[] = []): Promise<Map<string, Summary>> {
  assert.ok(recorded.body, 'a small body');
  const random = recorded.query.get('dockerfile')?.match(/^\.dockerfile\.[0-9a-f]{20}$/)?.[0];
  const norm = (s: string) => (random ? s.split(random).join('.dockerfile.RANDOM') : s);
  // docker's CLI ends a tar it rewrote (to add such a Dockerfile) right after the last file's
  // data, without padding or end blocks; Go's reader takes that, so the engine must too.
  const body = Buffer.concat([recorded.body, Buffer.alloc((512 - (recorded.body.length % 512)) % 512), Buffer.alloc(1024)]);
  const out = new Map<string, Summary>();
  for await (const e of readTar((async function* () {
    yield body;
  })())) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(Buffer.from(c));
    const made = dated.includes(e.name) || (random !== undefined && (e.name === random || (e.name === '.dockerignore' && e.mode === 0o600)));
    assert.ok(!made || Math.abs(e.mtime - Date.now() / 1000) < 120, `${e.name} is dated now`);
    assert.ok(!out.has(norm(e.name)), `${e.name} is sent once`);
    out.set(norm(e.name), {
      type: e.type,
      mode: e.mode.toString(8),
      uid: e.uid,
      gid: e.gid,
      mtime: made ? 'now' : e.mtime,
      linkname: e.linkname,
      content: norm(Buffer.concat(chunks).toString('utf8')),
    });
  }
  return out;
}

/** The query as sorted pairs; JSON values parsed, the random Dockerfile name made constant. */
function queryOf(recorded: Recorded): [string, unknown][] {
  return [...recorded.query]
    .map(([k, v]): [string, unknown] => [k, k === 'buildargs' || k === 'labels' ? JSON.parse(v) : k === 'dockerfile' ? v.replace(/^\.dockerfile\.[0-9a-f]{20}$/, '.dockerfile.RANDOM') : v])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Runs docker, then tug, with the same arguments; both must succeed and send the same build. */
async function sameBuild(args: string[], options: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv; dated?: string[] } = {}) {
  const d = await docker(args, options);
  assert.equal(d.code, 0, `docker build ${args.join(' ')}: ${d.stderr}`);
  const fromDocker = takeBuild();
  const t = await tug(args, options);
  assert.equal(t.code, 0, `tug build ${args.join(' ')}: ${t.stderr}`);
  const fromTug = takeBuild();
  assert.deepEqual(queryOf(fromTug), queryOf(fromDocker));
  assert.equal(fromTug.headers['content-type'], 'application/x-tar');
  assert.deepEqual(await entries(fromTug, options.dated), await entries(fromDocker, options.dated));
  return { docker: fromDocker, tug: fromTug };
}

const T0 = 1_600_000_000;

/** A context that exercises .dockerignore and every kind of entry; dates set last, bottom up. */
async function makeContext(root: string, ignore: string | null): Promise<void> {
  const files: [string, string, number][] = [
    ['Dockerfile', 'FROM busybox\nRUN true\n', 0o644],
    ['app.js', 'console.log(1)\n', 0o755],
    ['secret.key', 'k\n', 0o600],
    ['notes.log', 'excluded\n', 0o644],
    ['keep.log', 'kept by an exception\n', 0o640],
    ['a/b/c.tmp', 'excluded at any depth\n', 0o644],
    ['a/b/d.txt', 'kept\n', 0o644],
    ['a/x.tmp', 'excluded\n', 0o644],
    ['build/app', 'kept: an exception names it\n', 0o755],
    ['build/other', 'excluded with its directory\n', 0o644],
    ['docs/x.txt', 'excluded below docs\n', 0o644],
    ['docs/z.md', 'kept by !docs/**/*.md\n', 0o644],
    ['docs/sub/y.md', 'the legacy walker does not enter docs/sub\n', 0o644],
    ['sub/Dockerfile.dev', 'FROM busybox AS dev\n', 0o644],
    ['sub/inner.txt', 'in an excluded directory\n', 0o644],
    ['ünïcode.txt', 'utf-8 name\n', 0o644],
    [`${'long-directory-name/'.repeat(6)}a-file-whose-path-is-longer-than-one-hundred-bytes.txt`, 'long\n', 0o644],
    ['setuid', '#!/bin/sh\n', 0o4755],
  ];
  for (const [name, text, mode] of files) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), text);
    await chmod(join(root, name), mode);
  }
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'private'), { mode: 0o700 });
  await symlink('app.js', join(root, 'link'));
  await symlink('nowhere', join(root, 'dangling'));
  await link(join(root, 'app.js'), join(root, 'hard'));
  await new Promise<void>((ok, fail) => execFile('mkfifo', [join(root, 'pipe')], (e) => (e ? fail(e) : ok())));
  if (ignore !== null) await writeFile(join(root, '.dockerignore'), ignore);
  const dirs = ['a/b', 'a', 'build', 'docs/sub', 'docs', 'sub', 'empty', 'private'];
  let t = T0;
  for (const [name] of files) await utimes(join(root, name), t, t++);
  if (ignore !== null) await utimes(join(root, '.dockerignore'), t, t++);
  await utimes(join(root, 'pipe'), t, t++);
  for (let d = `${'long-directory-name/'.repeat(6)}`.slice(0, -1); d; d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) dirs.push(d);
  for (const d of dirs) await utimes(join(root, d), t, t++);
}

const IGNORE = [
  '# comments and blank lines are not patterns',
  '',
  '*.log',
  '!keep.log',
  '**/*.tmp',
  'build',
  '!build/app',
  'docs/**',
  '!docs/**/*.md',
  '/sub/',
  'Dockerfile',
  '.dockerignore',
  '',
].join('\n');

describe('the context and the query are those of docker build', () => {
  let ctx: string;
  let outside: string;

  before(async () => {
    ctx = join(dir, 'ctx');
    await mkdir(ctx);
    await makeContext(ctx, IGNORE);
    outside = join(dir, 'elsewhere');
    await mkdir(outside);
    await writeFile(join(outside, 'Dockerfile'), 'FROM busybox\nCOPY . /src\n');
    await utimes(join(outside, 'Dockerfile'), T0, T0);
  });

  test('.dockerignore with exceptions and **, every kind of entry, the excluded Dockerfile and .dockerignore sent anyway', async () => {
    const { tug: sent } = await sameBuild([ctx]);
    const names = [...(await entries(sent)).keys()];
    // What the case is about, so that an empty context could not pass as docker's.
    for (const name of ['Dockerfile', '.dockerignore', 'keep.log', 'build/app', 'docs/z.md', 'a/b/d.txt', 'link', 'hard', 'pipe', 'empty']) assert.ok(names.includes(name), name);
    for (const name of ['notes.log', 'a/b/c.tmp', 'build', 'build/other', 'docs/x.txt', 'docs/sub/y.md', 'sub/inner.txt']) assert.ok(!names.includes(name), name);
    assert.equal(sent.query.get('dockerfile'), 'Dockerfile');
  });

  test('every flag that makes a query parameter, with build args from the environment', async () => {
    await sameBuild(
      [
        '-t', 'one', '--tag', 'registry.example:5000/team/two:1.0', '-t', 'three',
        '--build-arg', 'PLAIN=1', '--build-arg', 'FROM_ENV', '--build-arg', 'UNSET_ARG', '--build-arg', 'EMPTY=',
        '--label', 'org.example.a=1', '--label', 'bare', '--label', 'spaced=a b',
        '--target', 'final', '--no-cache', '--pull', '--network', 'host', '--platform', 'Linux/AMD64',
        '--rm=false', '--force-rm', '--iidfile', join(dir, 'iid'),
        ctx,
      ],
      { env: { FROM_ENV: 'from the environment', UNSET_ARG: undefined } },
    );
    // Flags after the path, and the defaults that send nothing.
    const { tug: sent } = await sameBuild([ctx, '--rm', '--network', 'default', '-t', 'late']);
    assert.deepEqual([...sent.query.keys()].sort(), ['dockerfile', 't', 'version']);
  });

  test('-f inside the context, in a directory .dockerignore excludes, relative to the working directory', async () => {
    const { tug: sent } = await sameBuild(['-f', 'ctx/sub/Dockerfile.dev', 'ctx'], { cwd: dir });
    assert.equal(sent.query.get('dockerfile'), 'sub/Dockerfile.dev');
    assert.ok((await entries(sent)).has('sub/Dockerfile.dev'));
  });

  test('-f outside the context: sent under a random name that .dockerignore then lists', async () => {
    const { tug: sent } = await sameBuild(['-f', join(outside, 'Dockerfile'), ctx]);
    assert.match(sent.query.get('dockerfile') ?? '', /^\.dockerfile\.[0-9a-f]{20}$/);
    const sentEntries = await entries(sent);
    assert.equal(sentEntries.get('.dockerfile.RANDOM')?.content, 'FROM busybox\nCOPY . /src\n');
    assert.equal(sentEntries.get('.dockerignore')?.content, `${IGNORE}\n.dockerfile.RANDOM\n`);
    // Relative to the working directory, and with no .dockerignore to extend.
    const bare = join(dir, 'bare');
    await mkdir(join(bare, 'ctx'), { recursive: true });
    await writeFile(join(bare, 'ctx', 'file'), 'x\n');
    await writeFile(join(bare, 'Dockerfile'), 'FROM scratch\n');
    await utimes(join(bare, 'ctx', 'file'), T0, T0);
    await utimes(join(bare, 'ctx'), T0, T0);
    const { tug: made } = await sameBuild(['-f', 'Dockerfile', 'ctx'], { cwd: bare });
    assert.equal((await entries(made)).get('.dockerignore')?.content, '.dockerignore\n.dockerfile.RANDOM\n');
  });

  test('-f - reads the Dockerfile from stdin', async () => {
    const { tug: sent } = await sameBuild(['-f', '-', ctx], { input: 'FROM busybox\nRUN echo from stdin\n' });
    assert.equal((await entries(sent)).get('.dockerfile.RANDOM')?.content, 'FROM busybox\nRUN echo from stdin\n');
  });

  test('a context of - : a tar passes through as it is; a Dockerfile alone becomes a context', async () => {
    const tar = await new Promise<Buffer>((ok, fail) =>
      execFile('tar', ['-cf', '-', '-C', ctx, '.'], { encoding: 'buffer', maxBuffer: 16 << 20 }, (e, out) => (e ? fail(e) : ok(out))),
    );
    const { docker: d, tug: t } = await sameBuild(['-f', 'sub/Dockerfile.dev', '-'], { input: tar });
    assert.equal(t.sha256, createHash('sha256').update(tar).digest('hex'));
    assert.equal(t.sha256, d.sha256);
    const { tug: alone } = await sameBuild(['-'], { input: 'FROM busybox\n', dated: ['Dockerfile'] });
    assert.deepEqual([...(await entries(alone)).keys()], ['Dockerfile']);
  });
});

describe('the answer is printed as docker prints it', () => {
  let ctx: string;

  before(async () => {
    ctx = join(dir, 'small');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN true\n');
  });

  /** Both runs: the same exit code, stdout and stderr (less docker's notice), and iidfile. */
  async function sameOutput(args: string[]): Promise<Result & { iid: string | null }> {
    const iidfile = join(dir, 'iid');
    const read = () => readFile(iidfile, 'utf8').catch(() => null);
    await writeFile(iidfile, 'stale');
    const d = await docker([...args, '--iidfile', iidfile, ctx]);
    const dockerIid = await read();
    await writeFile(iidfile, 'stale');
    const t = await tug([...args, '--iidfile', iidfile, ctx]);
    const tugIid = await read();
    assert.equal(t.stdout, d.stdout);
    assert.equal(t.stderr, withoutNotice(d.stderr));
    assert.equal(t.code, d.code);
    assert.equal(tugIid, dockerIid);
    return { ...t, iid: tugIid };
  }

  test('stream text as is, status lines, progress bars left out, the aux image ID in --iidfile', async () => {
    const r = await sameOutput(['-t', 'one']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Sending build context to Docker daemon +\d/);
    assert.match(r.stdout, /^latest: Pulling from library\/busybox$/m);
    assert.doesNotMatch(r.stdout, /Downloading/);
    assert.equal(r.iid, 'sha256:4f1a3fa2d5b9d7c18ef7b4e2b0b0b4c0a4d4b8e5f1a2b3c4d5e6f708192a3b4c');
  });

  test('-q prints only what the engine sends for it: the image ID', async () => {
    // An engine asked with q=1 sends the ID alone, as a stream.
    answer = { status: 200, lines: [{ stream: 'sha256:4f1a3fa2d5b9d7c18ef7b4e2b0b0b4c0a4d4b8e5f1a2b3c4d5e6f708192a3b4c\n' }, { aux: { ID: 'sha256:4f1a3fa2d5b9d7c18ef7b4e2b0b0b4c0a4d4b8e5f1a2b3c4d5e6f708192a3b4c' } }] };
    const r = await sameOutput(['-q']);
    assert.equal(r.stdout, 'sha256:4f1a3fa2d5b9d7c18ef7b4e2b0b0b4c0a4d4b8e5f1a2b3c4d5e6f708192a3b4c\n');
  });

  test('an error in the stream: its message on stderr, its code as the exit code (1 without one), no --iidfile', async () => {
    const failing = (detail: object) => ({ status: 200, lines: [{ stream: 'Step 1/2 : FROM busybox\n' }, { stream: 'Step 2/2 : RUN exit 3\n' }, { errorDetail: detail, error: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" }] });
    answer = failing({ code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" });
    const r = await sameOutput([]);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n");
    assert.equal(r.iid, null);
    answer = failing({ message: 'failed to parse Dockerfile' });
    assert.equal((await sameOutput([])).code, 1);
    // With -q, what was held back is shown before the error.
    answer = failing({ code: 3, message: 'boom' });
    assert.match((await sameOutput(['-q'])).stderr, /^Sending build context[^]*Step 2\/2 : RUN exit 3\nboom\n$/);
  });

  test('an engine that refuses the build: its message, exit code 1', async () => {
    answer = { status: 500, lines: [{ message: 'no space left on device' }] };
    const r = await sameOutput([]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: no space left on device\n');
  });

  test('a bare "error" message (no errorDetail) fails the build', async () => {
    // docker prints an empty line and succeeds here; an engine means an error by it.
    answer = { status: 200, lines: [{ stream: 'Step 1/1 : FROM busybox\n' }, { error: 'pull access denied' }] };
    const r = await tug([ctx]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'pull access denied\n');
  });
});

describe('what tug does beyond the legacy docker CLI, or refuses', () => {
  test('<Dockerfile>.dockerignore beside the Dockerfile wins over .dockerignore, as with BuildKit', async () => {
    const ctx = join(dir, 'specific');
    await mkdir(join(ctx, 'docker'), { recursive: true });
    for (const name of ['a.txt', 'b.txt', 'docker/app.Dockerfile', 'docker/other.Dockerfile']) await writeFile(join(ctx, name), `${name}\n`);
    await writeFile(join(ctx, '.dockerignore'), 'a.txt\n');
    await writeFile(join(ctx, 'docker/app.Dockerfile.dockerignore'), 'b.txt\ndocker/other.Dockerfile\n');
    const r = await tug(['-f', join(ctx, 'docker/app.Dockerfile'), ctx]);
    assert.equal(r.code, 0, r.stderr);
    const names = [...(await entries(takeBuild())).keys()];
    assert.deepEqual(names, ['.dockerignore', 'a.txt', 'docker', 'docker/app.Dockerfile', 'docker/app.Dockerfile.dockerignore']);
    // Without -f naming it, the context's .dockerignore applies.
    assert.equal((await tug(['-f', join(ctx, 'docker/other.Dockerfile'), ctx])).code, 0);
    assert.ok(!(await entries(takeBuild())).has('a.txt'));
  });

  test('--secret values go in the secrets header, from a file or the environment, never in the URL', async () => {
    const file = join(dir, 'token.txt');
    await writeFile(file, 's3cret\n');
    const r = await tug(['--secret', `id=token,src=${file}`, '--secret', 'id=fromenv,env=TUG_TEST_SECRET', join(dir, 'ctx')], { env: { TUG_TEST_SECRET: 'in-env' } });
    assert.equal(r.code, 0, r.stderr);
    const sent = takeBuild();
    const header = JSON.parse(Buffer.from(String(sent.headers['x-tug-build-secrets']), 'base64').toString('utf8'));
    assert.deepEqual(Object.fromEntries(Object.entries(header).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')])), { token: 's3cret\n', fromenv: 'in-env' });
    assert.doesNotMatch(sent.query.toString(), /s3cret|in-env/);
    // A file that cannot be read fails before anything is sent.
    const before = requests.length;
    const missing = await tug(['--secret', 'id=x,src=/nonexistent/secret', join(dir, 'ctx')]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /invalid secret "id=x,src=\/nonexistent\/secret"/);
    assert.equal(requests.slice(before).filter((q) => q.path === '/build').length, 0);
  });

  test('bad arguments fail as docker fails them, before anything is sent', async () => {
    const ctx = join(dir, 'ctx');
    for (const args of [['-t', 'Not A Tag', ctx], ['--build-arg', '=x', ctx], ['--label', '=x', ctx], ['--no-such-flag', ctx], [], [ctx, ctx]]) {
      const d = await docker(args);
      const t = await tug(args);
      assert.notEqual(d.code, 0);
      assert.equal(t.code, d.code, `${args.join(' ')}: ${t.stderr}`);
    }
    for (const [args, input, message] of [
      [['nowhere'], '', /^unable to prepare context: path "nowhere" not found\n$/],
      [['-f', 'missing', join(dir, 'ctx')], '', /^unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat \/.*\/missing: no such file or directory\n$/],
      [['-f', '-', '-'], 'FROM x\n', /can't use stdin for both build context and dockerfile/],
      [['-f', 'Dockerfile', '-'], 'FROM x\n', /^unable to prepare context: ambiguous Dockerfile source/],
    ] as const) {
      const d = await docker([...args], { cwd: dir, input });
      const t = await tug([...args], { cwd: dir, input });
      assert.equal(t.code, d.code, `${args.join(' ')}: ${t.stderr}`);
      assert.match(withoutNotice(d.stderr), message);
      assert.match(t.stderr, message);
    }
    assert.equal(requests.filter((q) => q.path === '/build').length, 0);
  });

  test('the context is streamed: a 512 MiB file does not take 512 MiB of memory', async () => {
    const ctx = join(dir, 'large');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\n');
    // Sparse: no disk is spent on it.
    await new Promise<void>((ok, fail) => execFile('truncate', ['-s', '512M', join(ctx, 'big')], (e) => (e ? fail(e) : ok())));
    const child = spawn('node', [TUG, '--host', `unix://${socket}`, 'build', '-q', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let peak = 0;
    const poll = setInterval(async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
      peak = Math.max(peak, rss);
    }, 10);
    const code = await new Promise<number | null>((ok) => child.on('exit', ok));
    clearInterval(poll);
    assert.equal(code, 0, stderr);
    const sent = takeBuild();
    assert.ok(sent.size > 512 << 20, `the whole file was sent (${sent.size} bytes)`);
    assert.ok(peak > 0 && peak < 256 << 20, `peak RSS ${peak >> 20} MiB`);
  });
});
