// Tar archives as image layers use them, read and written as streams: ustar headers, pax
// extended headers (long names and links, large numbers, fractional mtimes, SCHILY.xattr.*),
// GNU long names and links, base-256 numbers. Layers may come gzip-compressed: `decompress`
// recognises that by its magic bytes and inflates with zlib.

import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** The path as stored (after pax/GNU overrides), without a trailing slash. */
  name: string;
  type: TarType;
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Bytes of file data (0 for everything but files). */
  size: number;
  /** Seconds since the epoch; pax headers may give fractions. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
  /** The file's data; read it before asking for the next entry, or it is skipped. */
  body: AsyncIterable<Uint8Array>;
}

export interface TarWriteEntry {
  name: string;
  type?: TarType;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Uint8Array | string>;
  /** File data; a stream needs `size`. */
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  size?: number;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(`invalid tar archive: ${message}`);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
/** Extended headers are held in memory; real ones are a few hundred bytes. */
const MAX_META = 1024 * 1024;

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
const FLAGS: Record<TarType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** Pulls exact byte counts out of a stream of arbitrary chunks. */
class ByteReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Buffers at least n bytes; false when the stream ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) this.ended = true;
      else if (next.value.length) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** Exactly n bytes, or null at a clean end of stream; throws on a truncated one. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.buffered === 0) return null;
      throw new TarFormatError(`unexpected end of archive (wanted ${n} bytes, ${this.buffered} left)`);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const take = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.buffered -= n;
    return out;
  }

  /** The next at most n bytes as they come, without copying. */
  async next(n: number): Promise<Uint8Array> {
    if (!(await this.fill(1))) throw new TarFormatError('unexpected end of archive inside file data');
    const chunk = this.chunks[0];
    if (chunk.length <= n) {
      this.chunks.shift();
      this.buffered -= chunk.length;
      return chunk;
    }
    this.chunks[0] = chunk.subarray(n);
    this.buffered -= n;
    return chunk.subarray(0, n);
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.next(n)).length;
  }

  /** Skips n bytes, or fewer where the stream ends. */
  async skipAtMost(n: number): Promise<void> {
    await this.fill(n);
    const take = Math.min(n, this.buffered);
    if (take > 0) await this.skip(take);
  }

  /** Reads to the end (the hash of a layer covers its trailing padding too). */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (!this.ended) if ((await this.iterator.next()).done) this.ended = true;
  }

  async close(): Promise<void> {
    if (!this.ended) await this.iterator.return?.();
  }
}

/** A NUL-terminated string field. */
function text(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return (nul === -1 ? field : field.subarray(0, nul)).toString('utf8');
}

/** A numeric field: octal text, or base-256 when the high bit of the first byte is set. */
function number(buf: Buffer, start: number, length: number, what: string): number {
  const field = buf.subarray(start, start + length);
  if (field[0] & 0x80) {
    // GNU base-256; 0xff would be a negative number, which no field here may hold.
    if (field[0] === 0xff) throw new TarFormatError(`negative ${what} field`);
    let value = BigInt(field[0] & 0x7f);
    for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i]);
    return Number(value);
  }
  const digits = field.toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new TarFormatError(`bad ${what} field "${digits}"`);
  return parseInt(digits, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = number(header, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** pax records: "<length> <key>=<value>\n"; values are bytes (xattrs may be binary). */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(data.toString('latin1', at, space));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length || data[at + length - 1] !== 0x0a) {
      throw new TarFormatError('malformed pax extended header');
    }
    const record = data.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new TarFormatError('malformed pax record (no "=")');
    records.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    at += length;
  }
  return records;
}

function paxNumber(value: Buffer | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.toString('utf8'));
  if (!Number.isFinite(n)) throw new TarFormatError(`bad pax ${what} "${value.toString('utf8')}"`);
  return n;
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** Reads a tar stream entry by entry. The whole source is consumed, trailing padding included. */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncIterable<TarEntry> {
  const reader = new ByteReader(source);
  let global = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | null = null;
  let longLink: string | null = null;
  let finished = false;
  try {
    for (;;) {
      const header = await reader.read(BLOCK);
      if (!header) break; // no end marker: accept, as GNU tar does
      if (header.every((b) => b === 0)) {
        finished = true;
        break;
      }
      if (!checksumOk(header)) throw new TarFormatError('header checksum mismatch');
      const flag = String.fromCharCode(header[156]);
      const size = number(header, 124, 12, 'size');
      if (size < 0) throw new TarFormatError('negative size');

      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > MAX_META) throw new TarFormatError(`extended header of ${size} bytes is too large`);
        const data = (await reader.read(size + padding(size))) ?? Buffer.alloc(0);
        const body = data.subarray(0, size);
        if (flag === 'x') pax = new Map([...pax, ...parsePax(body)]);
        else if (flag === 'g') global = new Map([...global, ...parsePax(body)]);
        else {
          const nul = body.indexOf(0);
          const value = (nul === -1 ? body : body.subarray(0, nul)).toString('utf8');
          if (flag === 'L') longName = value;
          else longLink = value;
        }
        continue;
      }
      const type = TYPES[flag];
      if (!type) {
        const name = text(header, 0, 100);
        throw new TarFormatError(flag === 'S' ? `sparse file "${name}" is not supported` : `unsupported entry type "${flag}" for "${name}"`);
      }
      const meta = new Map([...global, ...pax]);
      if ([...meta.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw new TarFormatError('sparse files are not supported');

      const ustar = header.toString('latin1', 257, 262) === 'ustar';
      const prefix = ustar ? text(header, 345, 155) : '';
      const headerName = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
      const name = meta.get('path')?.toString('utf8') ?? longName ?? headerName;
      const linkname = meta.get('linkpath')?.toString('utf8') ?? longLink ?? text(header, 157, 100);
      const dataSize = type === 'file' ? (paxNumber(meta.get('size'), 'size') ?? size) : 0;
      const xattrs: Record<string, Buffer> = {};
      for (const [key, value] of meta) if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value;

      // Header-only types carry no data whatever their size field says (as Go's reader does).
      let remaining = dataSize;
      const body = (async function* () {
        while (remaining > 0) {
          const chunk = await reader.next(remaining);
          remaining -= chunk.length;
          yield chunk;
        }
      })();
      const stripped = name.length > 1 ? name.replace(/\/+$/, '') : name;
      yield {
        name: stripped,
        type,
        mode: number(header, 100, 8, 'mode') & 0o7777,
        uid: paxNumber(meta.get('uid'), 'uid') ?? number(header, 108, 8, 'uid'),
        gid: paxNumber(meta.get('gid'), 'gid') ?? number(header, 116, 8, 'gid'),
        uname: meta.get('uname')?.toString('utf8') ?? (ustar ? text(header, 265, 32) : ''),
        gname: meta.get('gname')?.toString('utf8') ?? (ustar ? text(header, 297, 32) : ''),
        size: dataSize,
        mtime: paxNumber(meta.get('mtime'), 'mtime') ?? number(header, 136, 12, 'mtime'),
        linkname,
        devmajor: ustar ? number(header, 329, 8, 'devmajor') : 0,
        devminor: ustar ? number(header, 337, 8, 'devminor') : 0,
        xattrs,
        body,
      };
      await reader.skip(remaining);
      // The docker CLI ends a context after the last file's data, without its padding.
      await reader.skipAtMost(padding(dataSize));
      remaining = 0; // a body read after moving on yields nothing rather than the next entry
      pax = new Map();
      longName = null;
      longLink = null;
    }
    if (finished) await reader.drain();
  } finally {
    await reader.close();
  }
}

// Writing.

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

const fitsOctal = (value: number, length: number) => Number.isInteger(value) && value >= 0 && value < 8 ** (length - 1);

function paxRecord(key: string, value: Uint8Array | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), typeof value === 'string' ? Buffer.from(value) : value, Buffer.from('\n')]);
  // The length counts its own digits.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** Splits a long name into ustar's prefix and name fields, if it can be. */
function splitName(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return { prefix, name: rest };
  }
  return null;
}

function header(fields: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const put = (value: string, start: number, length: number) => {
    const bytes = Buffer.from(value);
    bytes.copy(buf, start, 0, Math.min(bytes.length, length));
  };
  put(fields.name, 0, 100);
  put(octal(fields.mode, 8), 100, 8);
  put(octal(fields.uid, 8), 108, 8);
  put(octal(fields.gid, 8), 116, 8);
  put(octal(fields.size, 12), 124, 12);
  put(octal(fields.mtime, 12), 136, 12);
  put('        ', 148, 8);
  put(fields.flag, 156, 1);
  put(fields.linkname, 157, 100);
  put('ustar\u000000', 257, 8);
  put(fields.uname, 265, 32);
  put(fields.gname, 297, 32);
  put(octal(fields.devmajor, 8), 329, 8);
  put(octal(fields.devminor, 8), 337, 8);
  put(fields.prefix, 345, 155);
  let sum = 0;
  for (const byte of buf) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return buf;
}

async function* bodyOf(entry: TarWriteEntry, size: number): AsyncIterable<Uint8Array> {
  if (entry.body === undefined) return;
  if (typeof entry.body === 'string' || entry.body instanceof Uint8Array) {
    yield typeof entry.body === 'string' ? Buffer.from(entry.body) : entry.body;
    return;
  }
  let written = 0;
  for await (const chunk of entry.body) {
    written += chunk.length;
    if (written > size) throw new Error(`tar entry "${entry.name}": body is longer than its size ${size}`);
    yield chunk;
  }
  if (written !== size) throw new Error(`tar entry "${entry.name}": body has ${written} bytes, size says ${size}`);
}

/** Writes entries as a tar stream (ustar, with pax headers where ustar cannot hold a value). */
export async function* writeTar(entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>): AsyncIterable<Uint8Array> {
  for await (const entry of entries) {
    const type = entry.type ?? 'file';
    const size =
      type !== 'file' ? 0 : typeof entry.body === 'string' ? Buffer.byteLength(entry.body) : entry.body instanceof Uint8Array ? entry.body.length : (entry.size ?? 0);
    if (type === 'file' && entry.body !== undefined && typeof entry.body !== 'string' && !(entry.body instanceof Uint8Array) && entry.size === undefined) {
      throw new Error(`tar entry "${entry.name}": a streamed body needs a size`);
    }
    const path = type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
    const linkname = entry.linkname ?? '';
    const mtime = entry.mtime ?? 0;
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    const records: Buffer[] = [];
    // Non-ASCII names go in pax (UTF-8 by definition) rather than raw into ustar fields.
    const ascii = (s: string) => /^[\x20-\x7e]*$/.test(s);
    let split = ascii(path) ? splitName(path) : null;
    if (!split) {
      records.push(paxRecord('path', path));
      split = { prefix: '', name: path.replace(/[^\x20-\x7e]/g, '_').slice(0, 100) };
    }
    if (Buffer.byteLength(linkname) > 100 || !ascii(linkname)) records.push(paxRecord('linkpath', linkname));
    if (!fitsOctal(uid, 8)) records.push(paxRecord('uid', String(uid)));
    if (!fitsOctal(gid, 8)) records.push(paxRecord('gid', String(gid)));
    if (!fitsOctal(size, 12)) records.push(paxRecord('size', String(size)));
    if (!fitsOctal(mtime, 12)) records.push(paxRecord('mtime', String(mtime)));
    for (const [key, value] of Object.entries(entry.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${key}`, value));
    if (records.length) {
      const data = Buffer.concat(records);
      const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
      yield header({
        name: `PaxHeaders/${base}`.slice(0, 100),
        prefix: '',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.length,
        mtime: fitsOctal(mtime, 12) ? mtime : 0,
        flag: 'x',
        linkname: '',
        uname: '',
        gname: '',
        devmajor: 0,
        devminor: 0,
      });
      yield data;
      if (padding(data.length)) yield Buffer.alloc(padding(data.length));
    }
    const clamp = (value: number, length: number) => (fitsOctal(value, length) ? value : 0);
    yield header({
      name: split.name,
      prefix: split.prefix,
      mode: (entry.mode ?? (type === 'dir' ? 0o755 : 0o644)) & 0o7777,
      uid: clamp(uid, 8),
      gid: clamp(gid, 8),
      size: clamp(size, 12),
      mtime: clamp(Math.floor(mtime), 12),
      flag: FLAGS[type],
      linkname: Buffer.byteLength(linkname) <= 100 && ascii(linkname) ? linkname : '',
      uname: entry.uname ?? '',
      gname: entry.gname ?? '',
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    });
    if (type === 'file') {
      yield* bodyOf(entry, size);
      if (padding(size)) yield Buffer.alloc(padding(size));
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** Collects a stream into one buffer (for small archives and tests). */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const startsWith = (buf: Buffer, magic: number[]) => buf.length >= magic.length && magic.every((b, i) => buf[i] === b);

/**
 * The uncompressed bytes of a layer: gzip is recognised by its magic and inflated; zstd, bzip2
 * and xz are refused with an error naming the media type; anything else passes through.
 */
export async function* decompress(source: AsyncIterable<Uint8Array>, mediaType = 'unknown media type'): AsyncIterable<Uint8Array> {
  const refuse = (kind: string) => new Error(`${kind}-compressed layers are not supported (layer media type ${mediaType})`);
  if (/\+zstd$/.test(mediaType)) throw refuse('zstd');
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6 && !ended) {
    const next = await iterator.next();
    if (next.done) ended = true;
    else head = Buffer.concat([head, next.value]);
  }
  const rest = async function* () {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  };
  if (startsWith(head, ZSTD)) {
    await iterator.return?.();
    throw refuse('zstd');
  }
  if (startsWith(head, [0x42, 0x5a, 0x68]) || startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) {
    await iterator.return?.();
    throw refuse(head[0] === 0x42 ? 'bzip2' : 'xz');
  }
  if (!startsWith(head, GZIP)) {
    yield* rest();
    return;
  }
  // Output in 256 KiB pieces, not zlib's 16 KiB: a layer's worth of small pieces costs several
  // times the inflating itself in calls and thread-pool round trips.
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  // pipeline destroys both ends on an error or an early stop, and closes the source iterator.
  pipeline(Readable.from(rest()), gunzip, () => {});
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (error) {
    throw new Error(`corrupt gzip data in layer: ${(error as Error).message}`);
  }
}
