// A client of the registry HTTP API v2: manifests and blobs, with the authentication
// challenges registries send (Bearer tokens as Docker Hub's, Basic) and credentials from
// ~/.docker/config.json. Registries on loopback may use plain HTTP, as Docker allows. Blobs
// stream, and are checked against their digest as they do.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Platform } from '../../../server/src/dockerfile/platform';
import { DigestMismatchError, SizeMismatchError } from '../images/content';
import { DOCKER_HUB, isLoopback, registryHost, type Reference } from './reference';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface Index {
  mediaType?: string;
  manifests: Descriptor[];
}

export interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** The registry's first error code (MANIFEST_UNKNOWN, NAME_UNKNOWN, DENIED, …), if it sent one. */
    readonly code?: string,
    /** The registry's errors as Docker words them: "manifest unknown: manifest unknown". */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Credentials given with a request (the API's X-Registry-Auth) rather than from config.json. */
export type RegistryAuth = { username: string; password: string } | { identitytoken: string };

export interface RegistryOptions {
  /** Registries (host[:port]) reached over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  /** Where Docker's config.json is (default ~/.docker/config.json or $DOCKER_CONFIG). */
  dockerConfig?: string;
  /** Credentials to use instead of config.json's. */
  auth?: RegistryAuth;
  signal?: AbortSignal;
}

interface Credentials {
  username: string;
  password: string;
}

/** Credentials for a registry: the ones given, else from Docker's config.json `auths`, if any. */
async function credentialsFor(domain: string, options: RegistryOptions): Promise<Credentials | null> {
  if (options.auth && 'username' in options.auth) return options.auth;
  const file = options.dockerConfig ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
  const keys = domain === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'] : [domain, `https://${domain}`, `http://${domain}`];
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return null;
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)="([^"]*)"|([a-zA-Z_]+)=([^,\s]*)/g;
  for (let m = re.exec(header.slice(space + 1)); m; m = re.exec(header.slice(space + 1))) {
    params[(m[1] ?? m[3]).toLowerCase()] = m[2] ?? m[4];
  }
  return { scheme, params };
}

/** Docker's words for a registry error: the code in lower case with spaces, then the message. */
function describeErrors(errors: { code?: string; message?: string }[]): string {
  return errors.map((e) => [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter(Boolean).join(': ')).join('; ');
}

/** Passes a blob through, failing at the end unless it had the size and digest it should. */
export async function* verified(source: AsyncIterable<Uint8Array>, digest: string, size?: number): AsyncIterable<Uint8Array> {
  const [algorithm] = digest.split(':');
  if (algorithm !== 'sha256') throw new Error(`unsupported digest algorithm in ${digest}`);
  const hash = createHash('sha256');
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (size !== undefined && total > size) throw new SizeMismatchError(digest, size, -1);
    hash.update(chunk);
    yield chunk;
  }
  if (size !== undefined && total !== size) throw new SizeMismatchError(digest, size, total);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw new DigestMismatchError(digest, actual);
}

/**
 * A response's body as a stream. It keeps the response alive (fetch cancels the body of a
 * Response that is garbage collected, which ends an unread download early and silently), and it
 * stops at an abort itself (a read pending when fetch is aborted may otherwise never settle).
 */
async function* bodyOf(response: Response, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason ?? new Error('aborted'));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {}); // an abort after the end is no error
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) return;
      yield value;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.cancel().catch(() => {});
  }
}

/** One repository on one registry; remembers the token it was given. */
export class Repository {
  private authorization: string | null = null;

  constructor(
    readonly ref: Reference,
    private readonly options: RegistryOptions = {},
  ) {}

  private get base(): string {
    const insecure = isLoopback(this.ref.domain) || this.options.insecure?.includes(this.ref.domain);
    return `${insecure ? 'http' : 'https'}://${registryHost(this.ref.domain)}/v2/${this.ref.path}`;
  }

  /** GET with the registry's authentication dance: one retry after a challenge. */
  async get(path: string, accept: readonly string[]): Promise<Response> {
    const url = `${this.base}${path}`;
    const send = () =>
      fetch(url, {
        headers: { Accept: accept.join(', '), ...(this.authorization ? { Authorization: this.authorization } : {}) },
        redirect: 'follow',
        signal: this.options.signal,
      });
    let response = await send();
    if (response.status === 401) {
      const challenge = response.headers.get('www-authenticate');
      await response.body?.cancel();
      if (!challenge) throw new RegistryError(`${url}: unauthorized`, 401);
      this.authorization = await this.authorize(challenge);
      response = await send();
    }
    if (!response.ok) {
      const body = await response.text().catch(() => '');
      let detail = body.slice(0, 200);
      let code: string | undefined;
      let described: string | undefined;
      try {
        const errors = (JSON.parse(body) as { errors?: { code: string; message: string }[] }).errors;
        if (errors?.length) {
          detail = errors.map((e) => e.message || e.code).join('; ');
          code = errors[0].code;
          described = describeErrors(errors);
        }
      } catch {
        // Not JSON: keep the text.
      }
      throw new RegistryError(`${this.ref.domain}/${this.ref.path}: ${response.status} ${detail}`.trim(), response.status, code, described);
    }
    return response;
  }

  private async authorize(header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const credentials = await credentialsFor(this.ref.domain, this.options);
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : null;
    if (scheme === 'basic') {
      if (!basic) throw new RegistryError(`${this.ref.domain}: authentication required and no credentials in Docker's config.json`, 401);
      return basic;
    }
    if (scheme !== 'bearer' || !params.realm) throw new RegistryError(`${this.ref.domain}: unsupported authentication "${header}"`, 401);
    const url = new URL(params.realm);
    const scope = params.scope ?? `repository:${this.ref.path}:pull`;
    let response: Response;
    if (this.options.auth && 'identitytoken' in this.options.auth) {
      // An identity token is an OAuth2 refresh token: exchanged at the realm by POST.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.options.auth.identitytoken, client_id: 'tug', scope });
      if (params.service) form.set('service', params.service);
      response = await fetch(url, { method: 'POST', body: form, signal: this.options.signal });
    } else {
      if (params.service) url.searchParams.set('service', params.service);
      url.searchParams.set('scope', scope);
      response = await fetch(url, { headers: basic ? { Authorization: basic } : {}, signal: this.options.signal });
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let described = 'unauthorized: authentication required';
      try {
        const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
        if (errors?.length) described = describeErrors(errors);
      } catch {
        // Not JSON.
      }
      throw new RegistryError(`${this.ref.domain}: token request failed with ${response.status}`, response.status, 'UNAUTHORIZED', described);
    }
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.ref.domain}: the token service answered without a token`);
    return `Bearer ${token}`;
  }

  /**
   * The manifest or index a tag or digest names, as bytes with their digest and media type;
   * asked for by digest, the bytes must have that digest.
   */
  async manifestBytes(reference = this.ref.digest ?? this.ref.tag ?? 'latest'): Promise<{ mediaType: string; digest: string; bytes: Buffer }> {
    const response = await this.get(`/manifests/${reference}`, [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest]);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.includes(':') && reference !== digest) throw new DigestMismatchError(reference, digest, `manifest ${reference} of ${this.ref.domain}/${this.ref.path}`);
    let mediaType = response.headers.get('content-type')?.split(';')[0].trim() ?? '';
    try {
      mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
    } catch {
      throw new RegistryError(`${this.ref.domain}/${this.ref.path}: manifest ${reference} is not valid JSON`);
    }
    return { mediaType, digest, bytes };
  }

  /** The manifest or index a tag or digest names, with its media type. */
  async manifest(reference = this.ref.digest ?? this.ref.tag ?? 'latest'): Promise<{ mediaType: string; body: Index | Manifest }> {
    const { mediaType, bytes } = await this.manifestBytes(reference);
    return { mediaType, body: JSON.parse(bytes.toString('utf8')) as Index | Manifest };
  }

  /** A blob's bytes as they arrive; with `verify` (the default) checked against the digest at the end. */
  async blob(digest: string, options: { size?: number; verify?: boolean } = {}): Promise<AsyncIterable<Uint8Array>> {
    const response = await this.get(`/blobs/${digest}`, ['*/*']);
    if (!response.body) throw new RegistryError(`${this.ref.domain}/${this.ref.path}: blob ${digest} came without a body`);
    const body = bodyOf(response, this.options.signal);
    return options.verify === false ? body : verified(body, digest, options.size);
  }

  /** The repository's tags (an unknown repository fails with NAME_UNKNOWN). */
  async tags(): Promise<string[]> {
    const body = (await (await this.get('/tags/list', ['application/json'])).json()) as { tags?: string[] | null };
    return body.tags ?? [];
  }

  /** A small JSON blob (a config), checked against its digest. */
  async blobJson<T>(digest: string): Promise<T> {
    const bytes = Buffer.from(await (await this.get(`/blobs/${digest}`, ['*/*'])).arrayBuffer());
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest) throw new DigestMismatchError(digest, actual, `blob ${digest} of ${this.ref.domain}/${this.ref.path}`);
    return JSON.parse(bytes.toString('utf8')) as T;
  }

  /** The platforms an image offers: every entry of an index, or the one of a manifest's config. */
  async platforms(): Promise<Platform[]> {
    const { body } = await this.manifest();
    if ('manifests' in body && Array.isArray(body.manifests)) {
      return body.manifests.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => m.platform!);
    }
    const config = await this.blobJson<{ os?: string; architecture?: string; variant?: string }>((body as Manifest).config.digest);
    return [{ os: config.os ?? 'unknown', architecture: config.architecture ?? 'unknown', ...(config.variant ? { variant: config.variant } : {}) }];
  }
}

/**
 * `docker login` (POST /auth): whether a registry takes these credentials, asked as Docker asks:
 * /v2/ without them; on a challenge, Basic credentials there, or a token for them from the
 * Bearer realm. A registry that asks for nothing takes anyone. Throws a 401 RegistryError in
 * Docker's words otherwise.
 */
export async function login(
  credentials: { username: string; password: string; serveraddress?: string },
  options: { insecure?: readonly string[]; signal?: AbortSignal } = {},
): Promise<void> {
  const address = (credentials.serveraddress ?? '').replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const domain = address === '' || address === 'index.docker.io' || address === DOCKER_HUB ? DOCKER_HUB : address;
  const insecure = isLoopback(domain) || options.insecure?.includes(domain);
  const endpoint = `${insecure ? 'http' : 'https'}://${registryHost(domain)}/v2/`;
  const basic = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const refused = (status: number) => new RegistryError(`login attempt to ${endpoint} failed with status: ${status} ${STATUS_TEXT[status] ?? ''}`.trim(), 401);
  const first = await fetch(endpoint, { signal: options.signal });
  await first.body?.cancel();
  if (first.ok) return;
  const challenge = first.headers.get('www-authenticate');
  if (first.status !== 401 || !challenge) throw refused(first.status);
  const { scheme, params } = parseChallenge(challenge);
  if (scheme === 'basic') {
    const answer = await fetch(endpoint, { headers: { Authorization: basic }, signal: options.signal });
    await answer.body?.cancel();
    if (!answer.ok) throw refused(answer.status);
    return;
  }
  if (scheme !== 'bearer' || !params.realm) throw new RegistryError(`${domain}: unsupported authentication "${challenge}"`, 401);
  const realm = new URL(params.realm);
  if (params.service) realm.searchParams.set('service', params.service);
  realm.searchParams.set('account', credentials.username);
  const token = await fetch(realm, { headers: { Authorization: basic }, signal: options.signal });
  await token.body?.cancel();
  if (!token.ok) throw refused(token.status);
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };
