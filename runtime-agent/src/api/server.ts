// The HTTP side of the Docker Engine API: routes with `{param}` segments under an optional
// `/v1.NN` prefix, JSON in and out, streams (progress, logs, events) and hijacked connections
// (attach). Handlers throw ApiError for Docker's error shape; anything else is a 500 that is
// logged and never takes the server down.

import { chmod, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, badRequest, errorResponse } from './errors';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

export type Handler = (call: Call) => Promise<void>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

/** One API call: its parameters, and the ways to answer it. */
export class Call {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** Aborted when the client goes away. */
  readonly closed: AbortSignal;
  private readonly controller = new AbortController();
  private upgraded = false;
  private readonly headers: Record<string, string> = {};

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse | null,
    private readonly socket: Duplex | null,
    private head: Buffer | null,
    readonly path: string,
    params: Record<string, string>,
    readonly apiVersion: string,
  ) {
    this.params = params;
    this.query = new URL(req.url ?? '/', 'http://docker').searchParams;
    this.closed = this.controller.signal;
    const close = () => this.controller.abort();
    const connection = socket ?? req.socket;
    connection.once('close', close);
    // A client that goes away mid-stream is no error of ours: writes after it are dropped.
    connection.on('error', close);
    res?.on('error', close);
    // A kept-alive connection serves many calls: each takes its listeners off when it ends.
    res?.once('close', () => {
      close();
      connection.off('close', close);
      connection.off('error', close);
    });
  }

  /** A query flag as Docker reads them: 1/true/True are true. */
  bool(name: string): boolean {
    const value = this.query.get(name);
    return value !== null && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
  }

  int(name: string): number | undefined {
    const value = this.query.get(name);
    if (value === null || value === '') return undefined;
    const n = Number(value);
    if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(value)}`);
    return n;
  }

  /** Docker's `filters` query: a JSON map of name → values (lists or {value: true} maps). */
  filters(): Map<string, string[]> {
    const raw = this.query.get('filters');
    const out = new Map<string, string[]>();
    if (!raw) return out;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw badRequest(`invalid filter '${raw}'`);
    }
    if (!parsed || typeof parsed !== 'object') throw badRequest(`invalid filter '${raw}'`);
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(value)) out.set(key, value.map(String));
      else if (value && typeof value === 'object') out.set(key, Object.keys(value as object).filter((k) => (value as Record<string, unknown>)[k]));
      else throw badRequest(`invalid filter '${raw}'`);
    }
    return out;
  }

  async body(): Promise<Buffer> {
    // A request asking to take the connection over (exec start) carries its body before the
    // stream: Content-Length bytes, some of which may have come with the headers.
    if (this.socket) {
      const length = Number(this.req.headers['content-length'] ?? 0);
      let data = this.head ?? Buffer.alloc(0);
      while (data.length < length) {
        const chunk = await new Promise<Buffer | null>((resolve) => {
          const done = (c: Buffer | null) => {
            this.socket!.off('data', done).off('end', ended).off('close', ended);
            this.socket!.pause();
            resolve(c);
          };
          const ended = () => done(null);
          this.socket!.on('data', done).once('end', ended).once('close', ended);
          this.socket!.resume();
        });
        if (!chunk) break;
        data = Buffer.concat([data, chunk]);
      }
      this.head = data.subarray(length);
      return data.subarray(0, length);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of this.req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The JSON body; an empty body is `{}`. */
  async json<T>(): Promise<T> {
    const body = (await this.body()).toString('utf8');
    if (body.trim() === '') return {} as T;
    try {
      return JSON.parse(body) as T;
    } catch (error) {
      throw badRequest(`invalid JSON: ${(error as Error).message}`);
    }
  }

  private get response(): ServerResponse {
    if (!this.res) throw new Error('this call was hijacked');
    return this.res;
  }

  /** A header for the answer to come. */
  header(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(status: number, body?: unknown): void {
    const res = this.response;
    if (body === undefined) {
      res.writeHead(status, this.headers).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { ...this.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    this.response.writeHead(status, { ...this.headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    this.response.end(body);
  }

  /** Starts a streamed answer (JSON lines, or a raw stream); write to it and end it. */
  stream(contentType = 'application/json'): ServerResponse {
    const res = this.response;
    res.writeHead(200, { ...this.headers, 'Content-Type': contentType });
    res.flushHeaders();
    return res;
  }

  /**
   * Takes the connection over, as Docker does for attach: `101 UPGRADED` when the client asked
   * for an upgrade, else a 200 whose body is the raw stream.
   */
  hijack(contentType: string): Duplex {
    this.upgraded = true;
    if (this.socket) {
      this.socket.write(
        `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
      );
      if (this.head?.length) this.socket.unshift(this.head);
      return this.socket;
    }
    return this.stream(contentType) as unknown as Duplex;
  }

  /** Whether the connection has been taken over by hijack(). */
  get hijacked(): boolean {
    return this.upgraded;
  }
}

export class ApiServer {
  private readonly routes: Route[] = [];
  private server: Server | null = null;

  /** `log`, when given, hears of every request once it is answered. */
  constructor(private readonly log?: (line: string) => void) {}

  route(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  async listen(socketPath: string): Promise<void> {
    await rm(socketPath, { force: true });
    const server = createServer((req, res) => void this.dispatch(req, res, null, null));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.dispatch(req, null, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    // Streams (logs -f, events) stay open as long as the client wants.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o660);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /**
   * The route for a path. A `{name*}` segment takes one or more segments, as image names do
   * (`/images/127.0.0.1:5000/team/app:1/json`).
   */
  private find(method: string, parts: string[]): { route: Route; params: Record<string, string> } | 'method' | null {
    let methodMismatch = false;
    for (const route of this.routes) {
      const params = match(route.parts, parts);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      methodMismatch = true;
    }
    return methodMismatch ? 'method' : null;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse | null, socket: Duplex | null, head: Buffer | null): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://docker');
    let parts = url.pathname.split('/').filter(Boolean);
    let apiVersion = API_VERSION;
    const version = /^v(\d+\.\d+)$/.exec(parts[0] ?? '');
    if (version) {
      apiVersion = version[1];
      parts = parts.slice(1);
    }
    const method = req.method ?? 'GET';
    const path = '/' + parts.join('/');
    if (this.log) {
      const log = this.log;
      const started = performance.now();
      const done = (status: number | string) => log(`${method} ${url.pathname}${url.search} ${status} ${(performance.now() - started).toFixed(1)} ms`);
      if (res) res.once('finish', () => done(res.statusCode));
      else socket?.once('close', () => done('hijacked'));
    }
    const found = this.find(method, parts);
    let call: Call | null = null;
    try {
      if (version && compareVersions(apiVersion, MIN_API_VERSION) < 0) {
        throw badRequest(`client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (version && compareVersions(apiVersion, API_VERSION) > 0) {
        throw badRequest(`client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      if (found === null) throw new ApiError(404, `page not found: ${method} ${url.pathname}`);
      if (found === 'method') throw new ApiError(405, `method ${method} not allowed for ${url.pathname}`);
      call = new Call(req, res, socket, head, path, found.params, apiVersion);
      await found.route.handler(call);
    } catch (error) {
      const { status, message } = errorResponse(error);
      if (status >= 500) console.error(`${method} ${url.pathname}: ${(error as Error).stack ?? message}`);
      if (socket) {
        if (call?.hijacked) socket.end();
        else {
          const body = JSON.stringify({ message });
          socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        }
      } else if (res && !res.headersSent) {
        const body = JSON.stringify({ message });
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      } else if (res && !res.writableEnded) {
        res.end();
      }
    }
  }
}

function match(pattern: string[], parts: string[]): Record<string, string> | null {
  const greedy = pattern.findIndex((p) => p.endsWith('*}'));
  const extra = parts.length - pattern.length;
  if (greedy === -1 ? extra !== 0 : extra < 0) return null;
  const params: Record<string, string> = {};
  for (let k = 0, at = 0; k < pattern.length; k++) {
    const want = pattern[k];
    if (k === greedy) {
      params[want.slice(1, -2)] = parts.slice(at, at + extra + 1).map(decodeURIComponent).join('/');
      at += extra + 1;
    } else if (want.startsWith('{')) params[want.slice(1, -1)] = decodeURIComponent(parts[at++]);
    else if (want !== parts[at++]) return null;
  }
  return params;
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am - bm || an - bn;
}
