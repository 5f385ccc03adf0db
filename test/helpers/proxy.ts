// A proxy in front of a test registry: a Bearer token server (the flow Docker Hub uses), and a
// way to corrupt or stall what passes through.

import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Proxy {
  host: string;
  tokenRequests: { user: string | null; service: string | null; scope: string | null }[];
  /** Requests let through with a valid token. */
  authorized: number;
  corrupted: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the registry. With `users`, it is also a token server: /v2/ wants a
 * Bearer token it issued (401 with a challenge otherwise), and /token issues one for Basic
 * credentials it knows, or to anyone when `anonymous`. With `corrupt`, it flips a byte of the
 * responses whose path matches.
 */
export async function startProxy(
  upstream: string,
  options: { users?: Record<string, string>; anonymous?: boolean; corrupt?: (path: string) => boolean; stall?: (path: string) => boolean },
): Promise<Proxy> {
  const tokens = new Set<string>();
  const state: Proxy = {
    host: '',
    tokenRequests: [],
    authorized: 0,
    corrupted: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const [upHost, upPort] = upstream.split(':');
  const fail = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify({ errors: [{ code, message }] }));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${state.host}`);
    if (options.users && url.pathname === '/token' && req.method === 'POST') {
      // OAuth2: an identity token is a refresh token.
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        state.tokenRequests.push({ user: form.get('refresh_token'), service: form.get('service'), scope: form.get('scope') });
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== 'refresh-abc') return fail(res, 401, 'UNAUTHORIZED', 'invalid refresh token');
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, expires_in: 300 }));
      });
      return;
    }
    if (options.users && url.pathname === '/token') {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const [user, password] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [null, null];
      state.tokenRequests.push({ user, service: url.searchParams.get('service'), scope: url.searchParams.get('scope') });
      if (user === null && !options.anonymous) return fail(res, 401, 'UNAUTHORIZED', 'anonymous access is not allowed');
      if (user !== null && options.users[user] !== password) return fail(res, 401, 'UNAUTHORIZED', 'incorrect username or password');
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ token, expires_in: 300 }));
    }
    if (options.users) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !tokens.has(token)) {
        const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
        const challenge = `Bearer realm="http://${state.host}/token",service="tug-test"${name ? `,scope="repository:${name}:pull"` : ''}`;
        return fail(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge });
      }
      state.authorized++;
    }
    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    const forward = request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (options.stall?.(url.pathname) && up.statusCode === 200) {
        // Half the body, then silence: a download that hangs.
        const parts: Buffer[] = [];
        up.on('data', (d: Buffer) => parts.push(d));
        up.on('end', () => res.write(Buffer.concat(parts).subarray(0, Buffer.concat(parts).length >> 1)));
        return;
      }
      if (!options.corrupt?.(url.pathname) || req.method !== 'GET' || up.statusCode !== 200) return void up.pipe(res);
      const parts: Buffer[] = [];
      up.on('data', (d: Buffer) => parts.push(d));
      up.on('end', () => {
        const body = Buffer.concat(parts);
        body[Math.floor(body.length / 2)] ^= 0xff;
        state.corrupted++;
        res.end(body);
      });
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}

