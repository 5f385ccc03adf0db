// A client of the Docker Engine API over a Unix socket (tugd, or any Docker-API engine): JSON
// calls, JSON-line streams, and hijacked attach streams.

import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `unix:///run/tug/tug.sock` (or a bare path) → the socket path. */
export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host "${host}": only unix:// sockets are supported`);
}

export class EngineClient {
  constructor(private readonly socket: string) {}

  private send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          socketPath: this.socket,
          method,
          path,
          headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}), ...headers },
        },
        resolve,
      );
      req.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
            ? new Error(`Cannot connect to the engine at unix://${this.socket}. Is the daemon running?`)
            : error,
        ),
      );
      req.end(payload);
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
  async *lines<T>(method: string, path: string, headers: Record<string, string> = {}): AsyncIterable<T> {
    const res = await EngineClient.check(await this.send(method, path, undefined, headers));
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

  /** Takes the connection over for attach, as the docker CLI does. */
  hijack(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socket,
        method: 'POST',
        path,
        headers: { Host: 'docker', Connection: 'Upgrade', Upgrade: 'tcp' },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => void EngineClient.check(res).then(() => reject(new Error('the engine did not take the connection over')), reject));
      req.on('error', reject);
      req.end();
    });
  }
}
