// ADD <url>: a download into a private directory, which then is a Source like a context file,
// hashed and copied as it is (Docker never extracts a download). The rules, from Docker's legacy
// builder (builder/dockerfile/copy.go, downloadSource) and the Dockerfile reference:
// - the file is named after the last segment of the URL's path, the URL as written rather than
//   where redirects lead (`ADD http://example.com/foobar /` makes `/foobar`); with no such
//   segment, after the response's Content-Disposition filename; with neither, a destination
//   ending in `/` is an error, and any other destination is the file itself (`__unnamed__` stands
//   in, as in Docker);
// - the file's mode is 0600; its mtime is Last-Modified's when the response has one (it never
//   enters the cache key), else the Unix epoch;
// - ADD --checksum=sha256:<hex> (BuildKit's) must match the content; the reference names SHA-256
//   as the only algorithm.
// Redirects are followed (10 at most, as Go's HTTP client); any final status but 2xx is refused.
// Proxies: HTTP_PROXY, HTTPS_PROXY and NO_PROXY are not honoured; the engine connects directly.
// No credentials are sent: like Docker's ADD, this is for public resources.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, utimes } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CopyError, type Source } from './copy';

/** A download that failed or cannot be made; the builder adds "ADD failed: ". */
export class FetchError extends CopyError {
  constructor(message: string) {
    super(message);
    this.name = 'FetchError';
  }
}

/** The name a download without one gets when it becomes the destination file itself. */
export const UNNAMED = '__unnamed__';

/** BuildKit's refusals of --checksum, in the order it checks them. */
export const CHECKSUM_FOR_COPY = "checksum can't be specified for COPY";
export const CHECKSUM_MULTIPLE_SOURCES = "checksum can't be specified for multiple sources";
export const CHECKSUM_NOT_HTTP = "checksum can't be specified for non-HTTP(S) sources";
/** Docker's refusal of a URL in COPY. */
export const URL_FOR_COPY = "source can't be a URL for COPY";

/** Whether a source word is a URL to download (Docker's urlutil.IsURL: the prefix decides, case included). */
export function isUrlSource(source: string): boolean {
  return source.startsWith('http://') || source.startsWith('https://');
}

/**
 * Whether an instruction may have `--checksum=<checksum>`: null if so, else the message to fail
 * with (BuildKit's checks, then the checksum's format). `sources` are the words before the
 * destination, expanded.
 */
export function checksumError(keyword: 'ADD' | 'COPY', sources: string[], checksum: string): string | null {
  if (keyword !== 'ADD') return CHECKSUM_FOR_COPY;
  if (sources.length !== 1) return CHECKSUM_MULTIPLE_SOURCES;
  if (!isUrlSource(sources[0])) return CHECKSUM_NOT_HTTP;
  try {
    parseChecksum(checksum);
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/** A --checksum value checked as go-digest checks one: `sha256:` and 64 lowercase hex digits. */
export function parseChecksum(text: string): string {
  if (/^sha256:[a-f0-9]{64}$/.test(text)) return text;
  const algorithm = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):/.exec(text)?.[1];
  if (algorithm && algorithm !== 'sha256') throw new FetchError(`unsupported checksum algorithm "${algorithm}" in "${text}": only sha256 is supported`);
  throw new FetchError(`invalid checksum digest format: "${text}" (expected sha256:<64 lowercase hex digits>)`);
}

export interface FetchOptions {
  /** ADD --checksum: `sha256:<hex>`; a download with another digest is an error and is removed. */
  checksum?: string;
  /** The instruction's destination: when it ends in `/`, the download must have a name. */
  dest?: string;
  /** Redirects followed before giving up; 10 as in Go's client. */
  maxRedirects?: number;
  /** How long the connection may stay silent, in milliseconds; 60 s. */
  idleTimeoutMs?: number;
  /** Cancels the download (the build was cancelled). */
  signal?: AbortSignal;
}

/**
 * Downloads an http(s) URL into a new directory made inside `tmpDir`, streaming it to disk while
 * hashing it. Returns the download as a Source (`root` is that directory, `noExtract` set), to
 * be hashed and copied with the others; remove `source.root` when the step is done. On any error
 * the directory is removed and a FetchError says what happened:
 * - `failed to GET <url> with status 404 Not Found: <start of the body>`;
 * - `failed to GET <url>: stopped after 10 redirects`, or the connection's error;
 * - `checksum mismatch for <url>: expected sha256:…, got sha256:…`;
 * - `cannot determine filename for source <url>` (Docker's words) when `dest` ends in `/`.
 */
export async function fetchUrl(url: string, tmpDir: string, options: FetchOptions = {}): Promise<Source> {
  const expected = options.checksum === undefined ? undefined : parseChecksum(options.checksum);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new FetchError(`invalid URL: ${url}`);
  }
  if (!isUrlSource(url)) throw new FetchError(`not an http(s) URL: ${url}`);
  const dir = await mkdtemp(join(tmpDir, 'download-'));
  let response: IncomingMessage | undefined;
  try {
    response = await follow(url, target, options);
    const named = filenameFor(target, response.headers['content-disposition']);
    if (!named && options.dest?.endsWith('/')) throw new FetchError(`cannot determine filename for source ${url}`);
    const name = named || UNNAMED;
    const path = join(dir, name);
    const length = response.headers['content-length'];
    const announced = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        response,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(path, { flags: 'wx', mode: 0o600 }),
        options.signal ? { signal: options.signal } : {},
      );
    } catch (error) {
      const short = announced !== undefined && size < announced ? ` after ${size} of ${announced} bytes` : '';
      throw new FetchError(`failed to download ${url}: ${(error as Error).message}${short}`);
    }
    if (announced !== undefined && announced !== size) {
      throw new FetchError(`failed to download ${url}: the server announced ${announced} bytes and sent ${size}`);
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (expected && actual !== expected) throw new FetchError(`checksum mismatch for ${url}: expected ${expected}, got ${actual}`);
    await chmod(path, 0o600); // whatever the umask
    const mtime = httpDate(response.headers['last-modified']) ?? 0;
    await utimes(path, mtime, mtime);
    return { root: dir, rel: name, path, dir: false, noExtract: true };
  } catch (error) {
    response?.destroy();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GETs the URL, following redirects, and returns the 2xx response with its body unread. */
async function follow(url: string, start: URL, options: FetchOptions): Promise<IncomingMessage> {
  const max = options.maxRedirects ?? 10;
  let current = start;
  for (let redirects = 0; ; redirects++) {
    const response = await get(url, current, options);
    const status = response.statusCode ?? 0;
    const where = current.href === start.href ? '' : ` (redirected to ${current.href})`;
    const location = response.headers.location;
    if (REDIRECTS.has(status) && location) {
      response.destroy();
      if (redirects >= max) throw new FetchError(`failed to GET ${url}: stopped after ${max} redirects`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new FetchError(`failed to GET ${url}${where}: the redirect to "${location}" is not a valid URL`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new FetchError(`failed to GET ${url}${where}: the redirect to "${next.href}" is not an http(s) URL`);
      }
      current = next;
      continue;
    }
    if (status < 200 || status > 299) {
      const body = await startOf(response);
      throw new FetchError(`failed to GET ${url}${where} with status ${status} ${response.statusMessage ?? ''}`.trimEnd() + (body ? `: ${body}` : ''));
    }
    return response;
  }
}

function get(url: string, target: URL, options: FetchOptions): Promise<IncomingMessage> {
  const idle = options.idleTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const request = (target.protocol === 'https:' ? httpsGet : httpGet)(
      target,
      { headers: { 'user-agent': 'tug', 'accept-encoding': 'identity' }, ...(options.signal ? { signal: options.signal } : {}) },
      (response) => {
        // Errors after this point reach whoever reads the body; none may go unhandled meanwhile.
        response.on('error', () => {});
        resolve(response);
      },
    );
    request.setTimeout(idle, () => request.destroy(new Error(`no data for ${idle / 1000} s`)));
    request.on('error', (error) => reject(new FetchError(`failed to GET ${url}: ${error.message}`)));
  });
}

/** The start of an error response's body, as Docker shows it, on one line. */
async function startOf(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= 200) break;
    }
  } catch {
    // The status says enough.
  }
  response.destroy();
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) return ''; // not text
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * The download's name (Docker's getFilenameForDownload): the last segment of the URL's path,
 * decoded, unless the path is empty or ends in `/`; else the base of Content-Disposition's
 * filename; else ''.
 */
export function filenameFor(url: URL, contentDisposition: string | undefined): string {
  let path = url.pathname;
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape: the path as it is.
  }
  if (path && !path.endsWith('/') && usable(posix.basename(path))) return posix.basename(path);
  const given = contentDisposition ? dispositionFilename(contentDisposition) : undefined;
  if (given && !given.endsWith('/') && usable(posix.basename(given))) return posix.basename(given);
  return '';
}

/** A name that is one entry of the download's directory. */
const usable = (name: string) => name !== '' && name !== '.' && name !== '..' && !name.includes('\0');

/** The filename parameter of a Content-Disposition header; `filename*` (RFC 5987) wins, as in Go's mime package. */
function dispositionFilename(header: string): string | undefined {
  const params = new Map<string, string>();
  for (const match of header.matchAll(/;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g)) {
    let value = match[2].trim();
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(match[1].toLowerCase(), value);
  }
  const extended = /^(?:utf-8|us-ascii)'[^']*'(.*)$/i.exec(params.get('filename*') ?? '');
  if (extended) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      // Fall back to the plain parameter.
    }
  }
  return params.get('filename');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * An HTTP date in seconds since the epoch (Go's http.ParseTime: IMF-fixdate, RFC 850 and
 * asctime, all UTC); undefined when it is none of them.
 */
export function httpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  let fields: [string, string, string, string, string, string] | undefined;
  let m: RegExpExecArray | null;
  if ((m = /^[A-Z][a-z]{2}, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(value))) {
    fields = [m[3], m[2], m[1], m[4], m[5], m[6]];
  } else if ((m = /^[A-Z][a-z]+, (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(value))) {
    const yy = Number(m[3]);
    fields = [String(yy >= 69 ? 1900 + yy : 2000 + yy), m[2], m[1], m[4], m[5], m[6]]; // Go's two-digit years
  } else if ((m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(value))) {
    fields = [m[6], m[1], m[2].trim(), m[3], m[4], m[5]];
  }
  if (!fields) return undefined;
  const [year, day, hour, minute, second] = [fields[0], fields[2], fields[3], fields[4], fields[5]].map(Number);
  const month = MONTHS.indexOf(fields[1]);
  if (month < 0 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return undefined; // Feb 30 and the like
  return ms / 1000;
}
