// A client of the Docker Engine API over a Unix socket (tugd, or any Docker-API engine): JSON
// calls, JSON-line streams, and hijacked attach streams.

import { Agent, request, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `unix:///run/tug/tug.sock` (or a bare path) → the socket path. */
/** Where the local tugd listens by default. */
export const DEFAULT_SOCKET = '/run/tug/tug.sock';

/** The engine to talk to: the one named, else $TUG_HOST, else $DOCKER_HOST (as the docker CLI reads it), else the local tugd. */
export function engineHost(named: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const host = [named, env.TUG_HOST, env.DOCKER_HOST].map((h) => h?.trim()).find((h) => h) ?? `unix://${DEFAULT_SOCKET}`;
  return host.startsWith('/') ? `unix://${host}` : host;
}

export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host "${host}": unix:// sockets and ssh:// hosts are supported`);
}

/** Opens a stream to an engine for one request: how a remote engine is reached (over SSH). */
export interface Dialer {
  /** Where, for messages: `ssh://user@host`. */
  readonly name: string;
  dial(): Promise<Duplex>;
}

/** An HTTP agent whose every connection is a stream the dialer opens. */
class DialerAgent extends Agent {
  constructor(private readonly dialer: Dialer) {
    super();
  }

  override createConnection(_options: unknown, done: (error: Error | null, stream?: Duplex) => void): undefined {
    this.dialer.dial().then((stream) => done(null, stream), (error: Error) => done(error));
    return undefined;
  }
}

export class EngineClient {
  /** `target`: a Unix socket's path, or a dialer for an engine reached otherwise. */
  constructor(private readonly target: string | Dialer) {}

  private dialerAgent: Agent | undefined;

  /**
   * How http.request reaches the engine: a socket path, or an agent whose connections the
   * dialer opens. (An agent rather than a bare createConnection: VS Code's extension host wraps
   * http.request to add proxy support, and keeps a request's own agent but not its createConnection.)
   */
  private get connection(): Pick<RequestOptions, 'socketPath' | 'agent'> {
    const target = this.target;
    if (typeof target === 'string') return { socketPath: target };
    this.dialerAgent ??= new DialerAgent(target);
    return { agent: this.dialerAgent };
  }

  private get where(): string {
    return typeof this.target === 'string' ? `unix://${this.target}` : this.target.name;
  }

  private send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.open(
      method,
      path,
      { ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}), ...headers },
      (req) => req.end(payload),
    );
  }

  /** Sends a request, its body written by `write`; resolves with the answer. */
  private open(method: string, path: string, headers: Record<string, string>, write: (req: ClientRequest) => void): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request({ ...this.connection, method, path, headers: { Host: 'docker', ...headers } }, resolve);
      req.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
            ? new Error(`Cannot connect to the engine at ${this.where}. Is the daemon running?`)
            : error,
        ),
      );
      write(req);
    });
  }

  private static async text(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private static async check(res: IncomingMessage): Promise<IncomingMessage> {
    if ((res.statusCode ?? 500) < 400) return res;
    const text = await EngineClient.text(res);
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // Not JSON: the text it is.
    }
    throw new EngineError(res.statusCode ?? 500, message.trim());
  }

  /** A call answered with JSON (or nothing). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await EngineClient.check(await this.send(method, path, body));
    const text = await EngineClient.text(res);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A call answered with a stream of JSON objects (pull progress, events). */
  async *lines<T>(method: string, path: string, headers: Record<string, string> = {}, signal?: AbortSignal): AsyncIterable<T> {
    const res = await EngineClient.check(await this.send(method, path, undefined, headers));
    // Stopping a stream that never ends (events) closes its connection.
    const stop = () => res.destroy();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      yield* EngineClient.jsonLines<T>(res);
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /**
   * A call with a streamed body (a build context, chunked), answered with a stream of JSON
   * objects. An engine that refuses the call before reading all of the body is heard out: its
   * answer is the error, not the broken upload.
   */
  async *upload<T>(method: string, path: string, body: AsyncIterable<Uint8Array>, headers: Record<string, string> = {}, signal?: AbortSignal): AsyncIterable<T> {
    let req: ClientRequest | undefined;
    let sent: Promise<void> = Promise.resolve();
    const res = await this.open(method, path, headers, (r) => {
      req = r;
      // Cancelling closes the connection, which is how an engine hears that a build is cancelled.
      signal?.addEventListener('abort', () => r.destroy(new Error('cancelled')), { once: true });
      sent = pipeline(Readable.from(body), r);
      sent.catch(() => {}); // awaited below, once the answer is read
    });
    let answer: IncomingMessage;
    try {
      answer = await EngineClient.check(res);
    } catch (error) {
      req?.destroy(); // refused: the rest of the context is of no use
      throw error;
    }
    try {
      yield* EngineClient.jsonLines<T>(answer);
    } catch (error) {
      await sent; // a failed upload (an unreadable file) says more than the cut answer
      throw error;
    }
    await sent;
  }

  private static async *jsonLines<T>(res: IncomingMessage): AsyncIterable<T> {
    let pending = '';
    for await (const chunk of res) {
      pending += (chunk as Buffer).toString('utf8');
      const parts = pending.split(/\r?\n/);
      pending = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) yield JSON.parse(part) as T;
    }
    if (pending.trim()) yield JSON.parse(pending) as T;
  }

  /** A raw streamed answer (logs). */
  async stream(method: string, path: string): Promise<IncomingMessage> {
    return EngineClient.check(await this.send(method, path));
  }

  /** Takes the connection over for attach (and exec start, with its JSON body), as the docker CLI does. */
  hijack(path: string, body?: unknown): Promise<Duplex> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({
        ...this.connection,
        method: 'POST',
        path,
        headers: {
          Host: 'docker',
          Connection: 'Upgrade',
          Upgrade: 'tcp',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => void EngineClient.check(res).then(() => reject(new Error('the engine did not take the connection over')), reject));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
