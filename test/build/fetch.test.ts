// ADD <url> against a real HTTP server on 127.0.0.1: the download (streamed, named, moded, dated
// as Docker does), redirects, refusals, --checksum, and the download as a source the builder
// hashes and copies like a context file (never extracted).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { copyInto, CopyError, hashSources, resolveSources } from '../../runtime-agent/src/build/copy';
import {
  CHECKSUM_FOR_COPY,
  CHECKSUM_MULTIPLE_SOURCES,
  CHECKSUM_NOT_HTTP,
  checksumError,
  fetchUrl,
  FetchError,
  filenameFor,
  httpDate,
  isUrlSource,
  parseChecksum,
  UNNAMED,
} from '../../runtime-agent/src/build/fetch';
import { tarOf } from '../helpers/images';

const LAST_MODIFIED = new Date(Date.UTC(2021, 4, 6, 7, 8, 9));
const BIG = 24 * 1024 * 1024;

let root: string;
let server: Server;
let base: string;
let archive: Buffer;

/** A chunk of BIG's deterministic content, so the test can digest it without holding it. */
const bigChunk = (i: number) => Buffer.alloc(1024 * 1024, i % 251);

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', base);
  const path = url.pathname;
  if (path === '/files/tool.tar.gz') {
    res.writeHead(200, { 'content-type': 'application/gzip', 'last-modified': LAST_MODIFIED.toUTCString() });
    res.end(archive);
  } else if (path === '/files/plain.txt' || path === '/files/my%20notes.txt') {
    res.end('plain text\n');
  } else if (path.startsWith('/redirect/')) {
    const n = Number(path.slice('/redirect/'.length));
    res.writeHead(n % 2 ? 301 : 307, { location: n > 0 ? `/redirect/${n - 1}` : `${base}/files/plain.txt` });
    res.end('moved');
  } else if (path === '/loop') {
    res.writeHead(302, { location: '/loop' }).end();
  } else if (path === '/to-ftp') {
    res.writeHead(302, { location: 'ftp://127.0.0.1/file' }).end();
  } else if (path === '/export/') {
    res.writeHead(200, { 'content-disposition': 'attachment; filename="../reports/q1.csv"' });
    res.end('a,b\n');
  } else if (path === '/export-utf8/') {
    res.writeHead(200, { 'content-disposition': `attachment; filename="fallback.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9.csv` });
    res.end('a,b\n');
  } else if (path === '/') {
    res.end('index');
  } else if (path === '/big') {
    res.writeHead(200, { 'content-length': String(BIG) });
    let i = 0;
    const write = () => {
      while (i < BIG / (1024 * 1024)) if (!res.write(bigChunk(i++))) return void res.once('drain', write);
      res.end();
    };
    write();
  } else if (path === '/truncated') {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('only the start');
    setTimeout(() => res.destroy(), 20);
  } else if (path === '/hang') {
    // Never answers: the idle timeout must end it.
  } else if (path === '/binary-error') {
    res.writeHead(500).end(Buffer.from([0, 1, 2, 3]));
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such file: ${path}\n`);
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tug-fetch-'));
  archive = gzipSync(await tarOf([{ name: 'inside.txt', body: 'would be extracted from a local archive' }]));
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
/** A fresh directory for downloads, and one for a root filesystem. */
async function scratch(): Promise<{ tmp: string; rootfs: string }> {
  const dir = join(root, `case-${counter++}`);
  const tmp = join(dir, 'tmp');
  const rootfs = join(dir, 'rootfs');
  await mkdir(tmp, { recursive: true });
  await mkdir(rootfs, { recursive: true });
  return { tmp, rootfs };
}

async function fails(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FetchError, String(error));
    assert.ok(error instanceof CopyError, 'the builder reports it as any COPY/ADD error');
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

// ---------------------------------------------------------------------------------------------

describe('downloading', () => {
  test('the file lands in its own directory, named after the URL, mode 0600, mtime from Last-Modified', async () => {
    const { tmp } = await scratch();
    const source = await fetchUrl(`${base}/files/tool.tar.gz?version=2`, tmp);
    assert.equal(source.rel, 'tool.tar.gz', 'the last segment of the path, without the query');
    assert.equal(source.path, join(source.root, 'tool.tar.gz'));
    assert.deepEqual([source.dir, source.noExtract], [false, true]);
    assert.deepEqual(await readdir(tmp), [source.root.slice(tmp.length + 1)]);
    assert.deepEqual(await readFile(source.path), archive);
    const st = await stat(source.path);
    assert.equal(st.mode & 0o7777, 0o600);
    assert.equal(st.mtimeMs, LAST_MODIFIED.getTime());
    // Without Last-Modified, the epoch (as Docker does), not the time of the download.
    const plain = await fetchUrl(`${base}/files/plain.txt`, tmp);
    assert.equal((await stat(plain.path)).mtimeMs, 0);
  });

  test('a percent-encoded name is decoded', async () => {
    const { tmp } = await scratch();
    assert.equal((await fetchUrl(`${base}/files/my%20notes.txt`, tmp)).rel, 'my notes.txt');
  });

  test('without a name in the URL, Content-Disposition names it; without either, only a file destination does', async () => {
    const { tmp } = await scratch();
    const q1 = await fetchUrl(`${base}/export/`, tmp, { dest: '/data/' });
    assert.equal(q1.rel, 'q1.csv', "the header's base name: nothing leaves the directory");
    assert.equal((await fetchUrl(`${base}/export-utf8/`, tmp)).rel, 'résumé.csv');
    const unnamed = await fetchUrl(base, tmp, { dest: '/srv/index.html' });
    assert.equal(unnamed.rel, UNNAMED);
    assert.equal(await readFile(unnamed.path, 'utf8'), 'index');
    const before = await readdir(tmp);
    await fails(fetchUrl(`${base}/`, tmp, { dest: '/srv/' }), `cannot determine filename for source ${base}/`);
    assert.deepEqual(await readdir(tmp), before, 'nothing left behind');
  });

  test('redirects are followed, and the name is the URL as written', async () => {
    const { tmp } = await scratch();
    const source = await fetchUrl(`${base}/redirect/3`, tmp);
    assert.equal(source.rel, '3');
    assert.equal(await readFile(source.path, 'utf8'), 'plain text\n');
    // /redirect/3 takes four redirects to reach the file.
    assert.equal((await fetchUrl(`${base}/redirect/2`, tmp, { maxRedirects: 3 })).rel, '2');
    await fails(fetchUrl(`${base}/redirect/3`, tmp, { maxRedirects: 3 }), `failed to GET ${base}/redirect/3: stopped after 3 redirects`);
    await fails(fetchUrl(`${base}/loop`, tmp), `failed to GET ${base}/loop: stopped after 10 redirects`);
    await fails(fetchUrl(`${base}/to-ftp`, tmp), `failed to GET ${base}/to-ftp: the redirect to "ftp://127.0.0.1/file" is not an http(s) URL`);
    assert.equal((await readdir(tmp)).length, 2, 'only the successful downloads are left');
  });

  test('a status other than 2xx is refused, with the start of the body', async () => {
    const { tmp } = await scratch();
    await fails(fetchUrl(`${base}/missing.tar`, tmp), `failed to GET ${base}/missing.tar with status 404 Not Found: no such file: /missing.tar`);
    await fails(fetchUrl(`${base}/binary-error`, tmp), `failed to GET ${base}/binary-error with status 500 Internal Server Error`);
    assert.deepEqual(await readdir(tmp), []);
  });

  test('a connection that fails, stalls or ends early is an error, and nothing is left', async () => {
    const { tmp } = await scratch();
    await fails(fetchUrl(`${base}/truncated`, tmp), /^failed to download http:\/\/127\.0\.0\.1:\d+\/truncated: .* after 14 of 1000 bytes$/);
    await fails(fetchUrl(`${base}/hang`, tmp, { idleTimeoutMs: 200 }), `failed to GET ${base}/hang: no data for 0.2 s`);
    const closed = await new Promise<number>((resolve) => {
      const spare = createServer();
      spare.listen(0, '127.0.0.1', () => {
        const { port } = spare.address() as AddressInfo;
        spare.close(() => resolve(port));
      });
    });
    await fails(fetchUrl(`http://127.0.0.1:${closed}/x`, tmp), new RegExp(`^failed to GET http://127\\.0\\.0\\.1:${closed}/x: connect ECONNREFUSED`));
    assert.deepEqual(await readdir(tmp), []);
  });

  test('a large download is streamed to disk', async () => {
    const { tmp } = await scratch();
    const expected = createHash('sha256');
    for (let i = 0; i < BIG / (1024 * 1024); i++) expected.update(bigChunk(i));
    const digest = `sha256:${expected.digest('hex')}`;
    const source = await fetchUrl(`${base}/big`, tmp, { checksum: digest });
    assert.equal((await stat(source.path)).size, BIG);
  });
});

// ---------------------------------------------------------------------------------------------

describe('--checksum', () => {
  test('a matching checksum passes; another fails, naming both digests, and the file is removed', async () => {
    const { tmp } = await scratch();
    const source = await fetchUrl(`${base}/files/plain.txt`, tmp, { checksum: sha256('plain text\n') });
    assert.equal(await readFile(source.path, 'utf8'), 'plain text\n');
    const wrong = sha256('something else');
    await fails(fetchUrl(`${base}/files/plain.txt`, tmp, { checksum: wrong }), `checksum mismatch for ${base}/files/plain.txt: expected ${wrong}, got ${sha256('plain text\n')}`);
    assert.deepEqual(await readdir(tmp), [source.root.slice(tmp.length + 1)]);
  });

  test('a malformed checksum is refused before any request', async () => {
    const { tmp } = await scratch();
    await fails(fetchUrl(`${base}/hang`, tmp, { checksum: 'sha256:abc' }), 'invalid checksum digest format: "sha256:abc" (expected sha256:<64 lowercase hex digits>)');
    assert.deepEqual(await readdir(tmp), []);
    assert.throws(() => parseChecksum(`sha512:${'a'.repeat(128)}`), /^FetchError: unsupported checksum algorithm "sha512"/);
    assert.throws(() => parseChecksum(`SHA256:${'a'.repeat(64)}`), /invalid checksum digest format/);
    assert.throws(() => parseChecksum('A'.repeat(64)), /invalid checksum digest format/);
    assert.equal(parseChecksum(`sha256:${'0'.repeat(64)}`), `sha256:${'0'.repeat(64)}`);
  });

  test("where BuildKit refuses it: COPY, several sources, a local source", () => {
    const good = `sha256:${'a'.repeat(64)}`;
    assert.equal(checksumError('ADD', ['https://example.com/x.tar'], good), null);
    assert.equal(checksumError('COPY', ['https://example.com/x.tar'], good), CHECKSUM_FOR_COPY);
    assert.equal(checksumError('ADD', ['https://example.com/a', 'https://example.com/b'], good), CHECKSUM_MULTIPLE_SOURCES);
    assert.equal(checksumError('ADD', ['local.tar'], good), CHECKSUM_NOT_HTTP);
    assert.equal(CHECKSUM_NOT_HTTP, "checksum can't be specified for non-HTTP(S) sources");
    assert.match(checksumError('ADD', ['http://example.com/x'], 'md5:abc') ?? '', /^unsupported checksum algorithm "md5"/);
    assert.match(checksumError('ADD', ['http://example.com/x'], 'abc') ?? '', /^invalid checksum digest format/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a download as a source', () => {
  test('is hashed by its content and name, not its mtime, and copied without being extracted', async () => {
    const { tmp, rootfs } = await scratch();
    const first = await fetchUrl(`${base}/files/tool.tar.gz`, tmp);
    const again = await fetchUrl(`${base}/files/tool.tar.gz`, tmp);
    assert.notEqual(first.root, again.root);
    assert.equal(await hashSources([first]), await hashSources([again]));
    const renamed = await fetchUrl(`${base}/redirect/0`, tmp);
    const plain = await fetchUrl(`${base}/files/plain.txt`, tmp);
    assert.notEqual(await hashSources([renamed]), await hashSources([plain]), 'same content, another name');

    await copyInto([first], rootfs, '/opt/', { workdir: '/', extractArchives: true, chown: { uid: 7, gid: 7 } });
    await copyInto([plain], rootfs, '/etc/renamed.conf', { workdir: '/', extractArchives: true });
    assert.deepEqual((await readdir(rootfs)).sort(), ['etc', 'opt']);
    assert.deepEqual(await readdir(join(rootfs, 'opt')), ['tool.tar.gz']);
    assert.deepEqual(await readFile(join(rootfs, 'opt/tool.tar.gz')), archive);
    const st = await stat(join(rootfs, 'opt/tool.tar.gz'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.mtimeMs], [0o600, 7, LAST_MODIFIED.getTime()]);
    assert.equal(await readFile(join(rootfs, 'etc/renamed.conf'), 'utf8'), 'plain text\n');
  });

  test('resolveSources keeps URL words in their place, and --exclude does not apply to them', async () => {
    const { tmp } = await scratch();
    const ctx = join(tmp, '..', 'ctx');
    await mkdir(ctx);
    for (const name of ['a.txt', 'b.md', 'c.md']) await writeFile(join(ctx, name), name);
    const remote = (word: string) => (isUrlSource(word) ? fetchUrl(word, tmp) : undefined);
    const sources = await resolveSources(ctx, ['a.txt', `${base}/files/plain.txt`, '*.md'], { remote, exclude: ['*.txt', 'c.md'] });
    assert.deepEqual(
      sources.map((s) => [s.rel, s.noExtract === true]),
      [
        ['plain.txt', true],
        ['b.md', false],
      ],
    );
    const only = await resolveSources(ctx, [`${base}/files/plain.txt`], { remote });
    assert.deepEqual(only.map((s) => s.rel), ['plain.txt'], 'an ADD of URLs alone needs nothing from the context');
  });
});

// ---------------------------------------------------------------------------------------------

describe('helpers', () => {
  test('isUrlSource: an http:// or https:// prefix, as Docker decides', () => {
    for (const yes of ['http://example.com/a', 'https://example.com/a.tar.gz']) assert.equal(isUrlSource(yes), true, yes);
    for (const no of ['HTTP://example.com/a', 'ftp://example.com/a', 'git@github.com:a/b.git', 'http/local', './https://x', 'file.txt']) assert.equal(isUrlSource(no), false, no);
  });

  test('filenameFor: the path first, then Content-Disposition', () => {
    const u = (s: string) => new URL(s);
    assert.equal(filenameFor(u('http://h/a/b.tgz'), 'attachment; filename="other"'), 'b.tgz');
    assert.equal(filenameFor(u('http://h/a/'), 'attachment; filename=plain.bin'), 'plain.bin');
    assert.equal(filenameFor(u('http://h/a/'), 'attachment; filename="quo\\"ted; name.txt"'), 'quo"ted; name.txt');
    assert.equal(filenameFor(u('http://h/a/'), 'attachment; filename="dir/"'), '');
    assert.equal(filenameFor(u('http://h/%2e%2e'), undefined), '', 'never a name that leaves the directory');
    assert.equal(filenameFor(u('http://h'), undefined), '');
  });

  test("httpDate: the three formats of Go's http.ParseTime", () => {
    const at = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    assert.equal(httpDate('Sun, 06 Nov 1994 08:49:37 GMT'), at);
    assert.equal(httpDate('Sunday, 06-Nov-94 08:49:37 GMT'), at);
    assert.equal(httpDate('Sun Nov  6 08:49:37 1994'), at);
    assert.equal(httpDate('Thu, 30 Feb 2023 00:00:00 GMT'), undefined);
    assert.equal(httpDate('yesterday'), undefined);
    assert.equal(httpDate(undefined), undefined);
  });
});
