import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { busyboxLayer, pushImage, tarOf } from '../helpers/images';
import { startEngine, type TestEngine } from '../helpers/engine';
import { startRegistry, type TestRegistry } from '../helpers/registry';

// Builds through the real docker CLI's legacy builder client (DOCKER_BUILDKIT=0) against tugd,
// on a busybox image from a real registry on 127.0.0.1; each built image is run and looked into.

let registry: TestRegistry;
let engine: TestEngine;
let busybox: string;
const dirs: string[] = [];

before(async () => {
  registry = await startRegistry();
  engine = await startEngine();
  await pushImage(registry, 'library/busybox', 'latest', {
    layers: [await busyboxLayer()],
    config: { config: { Cmd: ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] } },
  });
  busybox = `${registry.host}/library/busybox:latest`;
});

after(async () => {
  await engine?.stop();
  await registry?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

type Files = Record<string, string | { body: string; mode: number }>;

/** A build context folder with these files (the Dockerfile's FROM @BASE@ becomes the busybox image). */
async function context(files: Files): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tug-build-'));
  dirs.push(dir);
  for (const [name, spec] of Object.entries(files)) {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    const body = typeof spec === 'string' ? spec : spec.body;
    await writeFile(path, name.endsWith('Dockerfile') ? body.replaceAll('@BASE@', busybox) : body);
    if (typeof spec !== 'string') await chmod(path, spec.mode);
  }
  return dir;
}

async function build(dir: string, ...args: string[]) {
  return engine.docker(['build', ...args, dir]);
}

async function built(dir: string, ...args: string[]): Promise<{ id: string; out: string }> {
  const r = await build(dir, ...args);
  assert.equal(r.code, 0, `docker build: ${r.stdout}\n${r.stderr}`);
  const id = /Successfully built ([0-9a-f]{12})/.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  return { id, out: r.stdout };
}

async function runIn(image: string, ...command: string[]): Promise<string> {
  const r = await engine.docker(['run', '--rm', image, ...command]);
  assert.equal(r.code, 0, `docker run ${image} ${command.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function inspect(image: string): Promise<{ Config: Record<string, unknown>; RootFS: { Layers: string[] }; Author: string }> {
  const r = await engine.docker(['image', 'inspect', image]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
}

test('a Dockerfile with every metadata instruction makes the config Docker would', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'MAINTAINER someone@example.com',
      'ENV A=1 B="two words"',
      'ENV C=$A-${B}',
      'LABEL version="1.0" "with space"=yes',
      'EXPOSE 80 53/udp 8000-8001',
      'VOLUME /data',
      'VOLUME ["/logs"]',
      'USER 1000:1000',
      'WORKDIR /app',
      'WORKDIR sub',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD true',
      'SHELL ["/bin/sh", "-ec"]',
      'ENTRYPOINT ["/bin/echo"]',
      'CMD ["hello"]',
      'ONBUILD RUN echo triggered',
      '',
    ].join('\n'),
  });
  const { id } = await built(dir, '-t', 'meta:1');
  const image = await inspect('meta:1');
  const config = image.Config;
  assert.equal(image.Author, 'someone@example.com');
  assert.deepEqual(config.Env, ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'B=two words', 'C=1-two words']);
  assert.deepEqual(config.Labels, { version: '1.0', 'with space': 'yes' });
  assert.deepEqual(config.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
  assert.deepEqual(config.Volumes, { '/data': {}, '/logs': {} });
  assert.equal(config.User, '1000:1000');
  assert.equal(config.WorkingDir, '/app/sub');
  assert.equal(config.StopSignal, 'SIGINT');
  assert.deepEqual(config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 90e9, Retries: 3 });
  assert.deepEqual(config.Entrypoint, ['/bin/echo']);
  assert.deepEqual(config.Cmd, ['hello']);
  assert.deepEqual(config.OnBuild, ['RUN echo triggered']);
  // The history records each step as Docker's legacy builder does (Go's %q for lists and the healthcheck).
  const history = (await engine.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'meta:1'])).stdout.split('\n').filter(Boolean).reverse();
  assert.deepEqual(history.slice(-5), [
    '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "30s" "1m30s" "0s" "0s" \'\\x03\'}',
    '/bin/sh -c #(nop)  SHELL ["/bin/sh" "-ec"]',
    '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/echo"]',
    '/bin/sh -c #(nop)  CMD ["hello"]',
    '/bin/sh -c #(nop)  ONBUILD RUN echo triggered',
  ]);
  assert.equal((await runIn('meta:1')).trim(), 'hello');
  // WORKDIR made the directory in the image, owned as Docker makes it.
  const listed = await engine.docker(['run', '--rm', '--entrypoint', 'sh', 'meta:1', '-c', 'stat -c %F /app/sub']);
  assert.equal(listed.stdout, 'directory\n', listed.stderr);
  assert.equal(id.length, 12);
  // A build FROM the image runs its trigger first, and the child does not inherit it.
  const child = await context({ Dockerfile: 'FROM meta:1\nLABEL child=1\n' });
  const { out } = await built(child, '-t', 'meta-child:1');
  assert.match(out, /# Executing 1 build trigger/);
  assert.match(out, /\ntriggered\n/);
  assert.equal((await inspect('meta-child:1')).Config.OnBuild, null);
});

test('RUN runs in the image so far, with ENV and build args, and its changes become a layer', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'ARG WHO=nobody',
      'ENV GREETING=hello',
      'RUN echo "$GREETING $WHO" > /greeting && rm /bin/false && mkdir -p /made/deep',
      'RUN ["sh", "-c", "echo exec form > /exec"]',
      'CMD cat /greeting /exec',
      '',
    ].join('\n'),
  });
  const { out } = await built(dir, '-t', 'ran:1', '--build-arg', 'WHO=world');
  assert.match(out, /Step 4\/6 : RUN echo "\$GREETING \$WHO"/);
  assert.match(out, / ---> Running in [0-9a-f]{12}/);
  assert.equal(await runIn('ran:1'), 'hello world\nexec form\n');
  // The deletion is a whiteout in the layer: the file is gone in the image.
  assert.equal((await engine.docker(['run', '--rm', 'ran:1', 'ls', '/bin/false'])).code, 1);
  // The build arg is not in the image's environment.
  assert.doesNotMatch(await runIn('ran:1', 'env'), /WHO=/);
  const image = await inspect('ran:1');
  assert.equal(image.RootFS.Layers.length, 3);
  // No intermediate container is left.
  assert.equal((await engine.docker(['ps', '-aq'])).stdout.trim(), '');
});

test('COPY and ADD from the context: files, directories, wildcards, --chown and --chmod', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'COPY hello.txt /one/',
      'COPY src /two',
      'COPY *.md /docs/',
      'COPY --chown=1000:1000 --chmod=600 hello.txt /owned',
      'WORKDIR /w',
      'ADD hello.txt relative',
      '',
    ].join('\n'),
    'hello.txt': 'hello\n',
    'src/a': 'a\n',
    'src/sub/b': { body: 'b\n', mode: 0o755 },
    'x.md': 'x\n',
    'y.md': 'y\n',
  });
  await built(dir, '-t', 'copied:1');
  const listing = await runIn('copied:1', 'sh', '-c', 'cat /one/hello.txt /two/a /two/sub/b /docs/x.md /docs/y.md /w/relative; stat -c "%A %u %g" /owned /two/sub/b');
  assert.equal(listing, 'hello\na\nb\nx\ny\nhello\n-rw------- 1000 1000\n-rwxr-xr-x 0 0\n');
});

test('a rebuild with no change runs nothing; a content edit reruns from the COPY, a touch does not', async () => {
  const dir = await context({
    Dockerfile: ['FROM @BASE@', 'COPY a /a', 'RUN echo ran-$(cat /a) > /ran', 'COPY b /b', 'RUN cat /a /b', ''].join('\n'),
    a: 'one\n',
    b: 'bee\n',
  });
  const first = await built(dir, '-t', 'cached:1');
  assert.doesNotMatch(first.out, /Using cache/);
  const again = await built(dir, '-t', 'cached:1');
  assert.equal(again.id, first.id);
  assert.equal((again.out.match(/Using cache/g) ?? []).length, 4);
  assert.doesNotMatch(again.out, /Running in/);
  // touch: same content, same image.
  await utimes(join(dir, 'a'), new Date(), new Date(2001, 1, 1));
  const touched = await built(dir, '-t', 'cached:1');
  assert.equal(touched.id, first.id);
  // An edit of b reruns from COPY b on; the steps before come from the cache.
  await writeFile(join(dir, 'b'), 'bee two\n');
  const edited = await built(dir, '-t', 'cached:1');
  assert.notEqual(edited.id, first.id);
  assert.equal((edited.out.match(/Using cache/g) ?? []).length, 2);
  assert.match(edited.out, /Step 5\/5 : RUN cat \/a \/b\n ---> Running in [0-9a-f]{12}\none\nbee two\n/);
  // --no-cache runs everything.
  const fresh = await built(dir, '--no-cache');
  assert.doesNotMatch(fresh.out, /Using cache/);
});

test('a failed RUN reports its exit code and leaves no image or tag', async () => {
  const dir = await context({ Dockerfile: 'FROM @BASE@\nRUN echo about to fail && exit 3\n' });
  const r = await build(dir, '-t', 'failed:1', '--force-rm');
  // The legacy builder's error carries the command's code, which the CLI exits with.
  assert.equal(r.code, 3);
  assert.match(r.stdout, /about to fail/);
  assert.match(r.stderr, /The command '\/bin\/sh -c echo about to fail && exit 3' returned a non-zero code: 3/);
  assert.notEqual((await engine.docker(['image', 'inspect', 'failed:1'])).code, 0);
  assert.equal((await engine.docker(['ps', '-aq'])).stdout.trim(), '');
});

test('a Dockerfile with a syntax error is refused before anything runs, with its line', async () => {
  const dir = await context({ Dockerfile: 'FROM @BASE@\nRUN echo fine\nFOO bar\n' });
  const r = await build(dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /dockerfile parse error on line 3: unknown instruction: FOO/);
  assert.doesNotMatch(r.stdout, /Step 1/);
});

test('multi-stage: --target stops at a stage, a stage nothing needs is not built, COPY --from reads a stage', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@ AS build',
      'RUN echo built > /artifact',
      'FROM @BASE@ AS unused',
      'RUN echo should-not-run && exit 1',
      'FROM @BASE@ AS final',
      'COPY --from=build /artifact /from-build',
      'COPY --from=0 /artifact /from-index',
      'CMD cat /from-build /from-index',
      'FROM @BASE@ AS later',
      'RUN exit 1',
      '',
    ].join('\n'),
  });
  const { out } = await built(dir, '-t', 'staged:1', '--target', 'final');
  assert.equal(await runIn('staged:1'), 'built\nbuilt\n');
  assert.doesNotMatch(out, /should-not-run/);
  const missing = await build(dir, '--target', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /failed to reach build target nope in Dockerfile/);
});

test('ARGs: global ones in FROM, --build-arg over defaults, scoping per stage, unused ones warned of', async () => {
  const dir = await context({
    Dockerfile: [
      'ARG BASE_IMAGE=@BASE@',
      'ARG SHARED=global',
      'FROM $BASE_IMAGE',
      'ARG SHARED',
      'ARG LOCAL=default',
      'RUN echo "$SHARED $LOCAL $TARGETARCH" > /args',
      'ARG TARGETARCH',
      'RUN echo "$TARGETARCH" > /arch',
      'CMD cat /args /arch',
      '',
    ].join('\n'),
  });
  const { out } = await built(dir, '-t', 'args:1', '--build-arg', 'LOCAL=given', '--build-arg', 'UNUSED=1');
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  assert.equal(await runIn('args:1'), `global given \n${arch}\n`);
  assert.match(out, /One or more build-args \[UNUSED\] were not consumed/);
});

test('.dockerignore keeps files out of COPY, with exceptions', async () => {
  const dir = await context({
    Dockerfile: 'FROM @BASE@\nCOPY . /ctx\nCMD find /ctx -type f\n',
    '.dockerignore': '*.log\nsecret/\n!keep.log\n',
    'a.txt': 'a',
    'b.log': 'b',
    'keep.log': 'k',
    'secret/key': 'k',
  });
  await built(dir, '-t', 'ignored:1');
  const files = (await runIn('ignored:1')).trim().split('\n').sort();
  assert.deepEqual(files, ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/a.txt', '/ctx/keep.log']);
});

test('a COPY through a symlink that points outside the context is refused', async () => {
  const dir = await context({ Dockerfile: 'FROM @BASE@\nCOPY link/passwd /stolen\n' });
  await symlink('/etc', join(dir, 'link'));
  const r = await build(dir, '-t', 'escape:1');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /outside the build context/);
  assert.notEqual((await engine.docker(['image', 'inspect', 'escape:1'])).code, 0);
});

test('builder prune forgets the cache: the next build runs its steps again', async () => {
  const dir = await context({ Dockerfile: 'FROM @BASE@\nRUN echo pruned > /p\n' });
  await built(dir, '-t', 'prune:1');
  assert.match((await built(dir, '-t', 'prune:1')).out, /Using cache/);
  const pruned = await engine.docker(['builder', 'prune', '-f']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.doesNotMatch((await built(dir, '-t', 'prune:1')).out, /Using cache/);
});

test('heredocs: RUN runs one as its script (by its shebang or the shell), the shell reads several; COPY makes files of them', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'ARG V=expanded',
      'RUN <<EOF',
      'echo one > /h1',
      'echo two >> /h1',
      'EOF',
      'RUN <<EOF',
      '#!/bin/sh -e',
      'echo "script $0" > /h2',
      'EOF',
      'RUN cat <<A > /h3 && cat <<-B >> /h3',
      'home $HOME',
      'A',
      '\ttabbed',
      '\tB',
      'COPY <<X <<"Y" /docs/',
      'value $V',
      'X',
      'raw $V',
      'Y',
      '',
    ].join('\n'),
  });
  await built(dir, '-t', 'heredoc:1');
  assert.equal(await runIn('heredoc:1', 'cat', '/h1', '/h2', '/h3', '/docs/X', '/docs/Y'), 'one\ntwo\nscript /dev/pipes/EOF\nhome /root\ntabbed\nvalue expanded\nraw $V\n');
  // The script was mounted for the step, not written into the image.
  assert.equal(await runIn('heredoc:1', 'sh', '-c', 'ls /dev/pipes 2>&1 || echo absent'), 'ls: /dev/pipes: No such file or directory\nabsent\n');
});

test('RUN --mount: the context or a stage bound, a cache kept between builds, a tmpfs; none of them in the layer', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@ AS stage',
      'RUN echo from-stage > /artifact',
      'FROM @BASE@',
      'RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/f > /bound',
      'RUN --mount=target=/ctx,rw sh -c "echo scratch > /ctx/new && cat /ctx/data/f > /rw"',
      'RUN --mount=target=/ctx test ! -e /ctx/new',
      'RUN --mount=from=stage,source=/artifact,target=/art cat /art > /from-stage',
      'RUN --mount=type=cache,target=/var/cache/app sh -c "echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /count"',
      'RUN --mount=type=tmpfs,target=/scratch grep " /scratch tmpfs " /proc/mounts | cut -d" " -f2,3 > /tmpfs',
      '',
    ].join('\n'),
    'data/f': 'context file\n',
  });
  await built(dir, '-t', 'mounts:1');
  assert.equal(await runIn('mounts:1', 'cat', '/bound', '/rw', '/from-stage', '/count', '/tmpfs'), 'context file\ncontext file\nfrom-stage\n1\n/scratch tmpfs\n');
  // No mount point is left behind, even where the step made the parent for it.
  assert.equal(await runIn('mounts:1', 'sh', '-c', 'for p in /mnt /ctx /art /var/cache /scratch; do test -e $p && echo $p; done; true'), '');
  // An edit of a bound file reruns the steps that bind it; the cache mount keeps what it had.
  await writeFile(join(dir, 'data/f'), 'edited\n');
  const { out } = await built(dir, '-t', 'mounts:2');
  assert.match(out, /Step 4\/9 : RUN --mount=type=bind,source=data[^\n]*\n ---> Running in/);
  assert.match(out, /Step 2\/9 : RUN echo from-stage > \/artifact\n ---> Using cache/);
  assert.equal(await runIn('mounts:2', 'cat', '/bound', '/count'), 'edited\n2\n');
  // A bad mount is an error on its line.
  const bad = await context({ Dockerfile: 'FROM @BASE@\nRUN --mount=type=nfs,target=/x true\n' });
  const r = await build(bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /dockerfile parse error on line 2: unsupported mount type "nfs"/);
});

test('RUN --mount=type=secret reads what tug build --secret passes, as a file or a variable, never kept in the image', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'RUN --mount=type=secret,id=token,required cat /run/secrets/token > /seen-file',
      'RUN --mount=type=secret,id=token,env=TOKEN sh -c "echo \\$TOKEN > /seen-env"',
      'RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent',
      '',
    ].join('\n'),
    'secret.txt': 'hunter2',
  });
  const tug = (...args: string[]) => engine.tug(['build', ...args]);
  const r = await tug('-t', 'secret:1', '--secret', `id=token,src=${join(dir, 'secret.txt')}`, dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await runIn('secret:1', 'cat', '/seen-file', '/seen-env'), 'hunter2hunter2\n');
  assert.equal(await runIn('secret:1', 'sh', '-c', 'test -e /run && echo left || echo clean'), 'clean\n');
  // A required secret that was not given stops the build.
  const missing = await tug('--no-cache', dir);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /secret token not found/);
});

test('variable expansion as Docker documents it: defaults, alternatives, patterns, quotes, escapes, one value per instruction', async () => {
  const dir = await context({
    Dockerfile: [
      'FROM @BASE@',
      'ENV A=a EMPTY= P=/usr/local/bin',
      'ENV B=${A:-x}-${UNSET:-y}-${EMPTY:-z}-${EMPTY-w}-${A:+p}-${UNSET:+q}-${EMPTY+r}-${UNSET+s}',
      'ENV C=\\$A D=\'$A\' E="$A" F=$A\\ G',
      'ENV Q=${P#/usr} R=${P%/bin} S=${P/local/opt} T=${P##*/}',
      'ENV A=changed OLD=$A',
      'WORKDIR /$A',
      'LABEL from.env=$OLD',
      '',
    ].join('\n'),
  });
  await built(dir, '-t', 'expanded:1');
  const { Config } = await inspect('expanded:1');
  const env = Object.fromEntries((Config.Env as string[]).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  assert.deepEqual(
    { B: env.B, C: env.C, D: env.D, E: env.E, F: env.F, Q: env.Q, R: env.R, S: env.S, T: env.T, A: env.A, OLD: env.OLD },
    { B: 'a-y-z--p--r-', C: '$A', D: '$A', E: 'a', F: 'a G', Q: '/local/bin', R: '/usr/local', S: '/usr/opt/bin', T: 'bin', A: 'changed', OLD: 'a' },
  );
  assert.equal(Config.WorkingDir, '/changed');
  assert.deepEqual(Config.Labels, { 'from.env': 'a' });
  // An unterminated ${ is Docker's error (its scanner's end of input shown as U+FFFD).
  const bad = await context({ Dockerfile: 'FROM @BASE@\nENV X=${A\n' });
  const r = await build(bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /failed to process "\$\{A": unsupported modifier \(\uFFFD\) in substitution/);
});

test('FROM --platform, COPY --link, proxy args kept out of the image, --label, --pull, -q and --iidfile', async () => {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const dir = await context({
    Dockerfile: [`FROM --platform=linux/${arch} @BASE@`, 'COPY --link a /linked/a', 'RUN echo "proxy=$HTTP_PROXY" > /proxy', ''].join('\n'),
    a: 'linked\n',
  });
  const iid = join(dir, 'iid');
  const r = await engine.docker(['build', '-q', '--pull', '--iidfile', iid, '-t', 'flags:1', '-t', 'flags:also', '--label', 'team=tug', '--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128', dir]);
  assert.equal(r.code, 0, r.stderr);
  // -q prints the image ID alone, as --iidfile holds it.
  const id = (await readFile(iid, 'utf8')).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(r.stdout.trim(), id);
  assert.equal(await runIn('flags:1', 'cat', '/linked/a', '/proxy'), 'linked\nproxy=http://proxy.invalid:3128\n');
  const image = await inspect('flags:1');
  assert.deepEqual(image.Config.Labels, { team: 'tug' });
  // Every -t names the image.
  assert.equal((await engine.docker(['image', 'inspect', '--format', '{{.Id}}', 'flags:also'])).stdout.trim(), id);
  assert.doesNotMatch(JSON.stringify(image.Config.Env), /PROXY/);
  // Docker leaves proxy values out of the history too.
  const history = await engine.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'flags:1']);
  assert.doesNotMatch(history.stdout, /proxy\.invalid/);
  // Another platform's base cannot run here.
  const other = await context({ Dockerfile: 'FROM --platform=linux/s390x @BASE@\nRUN true\n' });
  const refused = await build(other);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /FROM --platform=linux\/s390x: this engine builds for linux\/[a-z0-9]+ only/);
});

test('DOCKER_BUILDKIT=0 docker build and tug build make the same images: config and files', async () => {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const dockerfiles = [
    ['FROM @BASE@ AS build', 'ARG WHO=nobody', 'RUN echo "hello $WHO" > /greeting && rm /bin/false', 'FROM @BASE@', 'COPY --from=build /greeting /g', 'ENV X=1', 'CMD ["cat", "/g"]'],
    ['FROM @BASE@', 'WORKDIR /app', 'COPY --chown=1000:1000 src ./src', 'ADD files.tar /unpacked/', 'COPY --chmod=700 *.sh /bin/', 'USER 1000', 'EXPOSE 8080', 'LABEL a=b', 'ENTRYPOINT ["/bin/run.sh"]'],
    ['FROM @BASE@', 'RUN <<EOF', 'echo heredoc > /h', 'EOF', 'COPY <<X /x', 'made $HOSTNAME', 'X', 'RUN --mount=target=/ctx cat /ctx/src/a > /a', `ARG TARGETARCH`, 'RUN echo $TARGETARCH > /arch', 'HEALTHCHECK CMD true', 'STOPSIGNAL SIGTERM'],
  ];
  const files: Files = { 'src/a': 'a\n', 'src/b/c': 'c\n', 'run.sh': { body: '#!/bin/sh\necho run\n', mode: 0o755 }, 'files.tar': '' };
  const dir = await context(files);
  await writeFile(join(dir, 'files.tar'), await tarOf([{ name: 'one.txt', body: 'one\n' }, { name: 'two', type: 'dir', mode: 0o755 }, { name: 'two/three.txt', body: 'three\n', uid: 7 }]));
  const tug = (...args: string[]) => engine.tug(['build', ...args]);
  // Without mtimes (a RUN's files are new each time): names, modes, owners, sizes and content;
  // not the files each container gets of its own.
  const tree = (image: string) => runIn('--entrypoint', 'sh', '-u', '0', image, '-c', 'find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /etc/hostname -o -path /etc/hosts -o -path /etc/resolv.conf \\) -prune -o -print | sort | while read -r f; do stat -c "%n %f %u %g %s" "$f"; if [ -f "$f" ] && [ ! -L "$f" ]; then md5sum < "$f"; fi; done');
  const comparable = (image: Awaited<ReturnType<typeof inspect>> & { Config: Record<string, unknown> }) => {
    const { Hostname: _h, ...config } = image.Config;
    return { config, layers: image.RootFS.Layers.length, author: image.Author };
  };
  for (const [i, lines] of dockerfiles.entries()) {
    await writeFile(join(dir, 'Dockerfile'), `${lines.join('\n').replaceAll('@BASE@', busybox)}\n`);
    const viaDocker = await engine.docker(['build', '--no-cache', '--build-arg', 'WHO=docker', '-t', `same-docker:${i}`, dir]);
    assert.equal(viaDocker.code, 0, viaDocker.stdout + viaDocker.stderr);
    const viaTug = await tug('--no-cache', '--build-arg', 'WHO=docker', '-t', `same-tug:${i}`, dir);
    assert.equal(viaTug.code, 0, viaTug.stdout + viaTug.stderr);
    // Both print the same steps (IDs aside).
    const steps = (out: string) => out.split('\n').filter((l) => l.startsWith('Step '));
    assert.deepEqual(steps(viaTug.stdout), steps(viaDocker.stdout));
    assert.deepEqual(comparable(await inspect(`same-tug:${i}`)), comparable(await inspect(`same-docker:${i}`)));
    assert.equal(await tree(`same-tug:${i}`), await tree(`same-docker:${i}`));
  }
  assert.equal((await runIn('same-tug:2', 'cat', '/h', '/x', '/arch')).split('\n')[2], arch);
});

test('the cache survives a restart of the engine; -f names a Dockerfile outside the context, or - reads it from stdin', async () => {
  const dir = await context({ Dockerfile: 'FROM @BASE@\nCOPY a /a\nRUN cat /a > /b\n', a: 'a\n' });
  const first = await built(dir, '-t', 'restarted:1');
  await engine.stop({ keep: true });
  engine = await startEngine({ dir: dirname(engine.dataRoot) });
  const again = await built(dir, '-t', 'restarted:1');
  assert.equal(again.id, first.id);
  assert.equal((again.out.match(/Using cache/g) ?? []).length, 2);
  // The same steps from a Dockerfile elsewhere, and from stdin: the same image.
  const elsewhere = await mkdtemp(join(tmpdir(), 'tug-dockerfile-'));
  dirs.push(elsewhere);
  const text = `FROM ${busybox}\nCOPY a /a\nRUN cat /a > /b\n`;
  await writeFile(join(elsewhere, 'Other.Dockerfile'), text);
  assert.equal((await built(dir, '-f', join(elsewhere, 'Other.Dockerfile'))).id, first.id);
  const piped = await engine.docker(['build', '-f', '-', dir], { input: text });
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stdout, new RegExp(`Successfully built ${first.id}`));
});

test('ADD of a URL (with --checksum), COPY --exclude and --parents', async () => {
  const body = 'downloaded\n';
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const server = createServer((req, res) => {
    if (req.url === '/files/tool.txt') return void res.end(body);
    res.writeHead(404).end('no such file');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const dir = await context({
      Dockerfile: [
        'FROM @BASE@',
        `ADD --checksum=${digest} ${base}/files/tool.txt /opt/`,
        'COPY --exclude=*.log --exclude=secret app /app',
        'COPY --parents ./one/a.txt ./two/deep/b.txt /kept/',
        '',
      ].join('\n'),
      'app/main.sh': 'main\n',
      'app/debug.log': 'log\n',
      'app/secret/key': 'k\n',
      'one/a.txt': 'a\n',
      'two/deep/b.txt': 'b\n',
    });
    await built(dir, '-t', 'fetched:1');
    const listing = await runIn('fetched:1', 'sh', '-c', 'cat /opt/tool.txt; stat -c "%a" /opt/tool.txt; find /app /kept -type f | sort');
    assert.equal(listing, 'downloaded\n600\n/app/main.sh\n/kept/one/a.txt\n/kept/two/deep/b.txt\n');
    // An edit of an excluded file changes nothing: every step comes from the cache.
    await writeFile(join(dir, 'app/debug.log'), 'more log\n');
    assert.equal(((await built(dir)).out.match(/Using cache/g) ?? []).length, 3);
    // A wrong checksum, a missing file, a URL in COPY: each refused with Docker's words.
    for (const [line, message] of [
      [`ADD --checksum=sha256:${'0'.repeat(64)} ${base}/files/tool.txt /opt/`, /checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/files\/tool\.txt: expected sha256:0{64}, got sha256:[0-9a-f]{64}/],
      [`ADD ${base}/missing /opt/`, /failed to GET http:\/\/127\.0\.0\.1:\d+\/missing with status 404 Not Found/],
      [`COPY ${base}/files/tool.txt /opt/`, /source can't be a URL for COPY/],
    ] as const) {
      const bad = await context({ Dockerfile: `FROM @BASE@\n${line}\n` });
      const r = await build(bad);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
    }
  } finally {
    server.close();
  }
});

test('RUN --network=host shares the host\'s interfaces, --network=none has only loopback', async () => {
  const dir = await context({
    Dockerfile: ['FROM @BASE@', 'RUN --network=host ls /sys/class/net > /host-net', 'RUN --network=none ls /sys/class/net > /none-net', ''].join('\n'),
  });
  await built(dir, '-t', 'network:1');
  const host = await runIn('network:1', 'cat', '/host-net');
  assert.ok(host.split('\n').filter(Boolean).length > 1, host);
  assert.equal(await runIn('network:1', 'cat', '/none-net'), 'lo\n');
  const bad = await build(await context({ Dockerfile: 'FROM @BASE@\nRUN --network=overlay true\n' }));
  assert.equal(bad.code, 1);
});
