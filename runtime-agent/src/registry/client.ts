// A client of the registry HTTP API v2: manifests and blobs, with the authentication
// challenges registries send (Bearer tokens as Docker Hub's, Basic) and credentials from
// ~/.docker/config.json. Registries on loopback may use plain HTTP, as Docker allows.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Platform } from '../../../server/src/dockerfile/platform';
import { isLoopback, registryHost, type Reference } from './reference';

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
  ) {
    super(message);
  }
}

export interface RegistryOptions {
  /** Registries (host[:port]) reached over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  /** Where Docker's config.json is (default ~/.docker/config.json or $DOCKER_CONFIG). */
  dockerConfig?: string;
  signal?: AbortSignal;
}

interface Credentials {
  username: string;
  password: string;
}

/** Credentials for a registry from Docker's config.json `auths`, if any. */
async function credentialsFor(domain: string, options: RegistryOptions): Promise<Credentials | null> {
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
      try {
        const errors = (JSON.parse(body) as { errors?: { code: string; message: string }[] }).errors;
        if (errors?.length) detail = errors.map((e) => e.message || e.code).join('; ');
      } catch {
        // Not JSON: keep the text.
      }
      throw new RegistryError(`${this.ref.domain}/${this.ref.path}: ${response.status} ${detail}`.trim(), response.status);
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
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? `repository:${this.ref.path}:pull`);
    const response = await fetch(url, { headers: basic ? { Authorization: basic } : {}, signal: this.options.signal });
    if (!response.ok) throw new RegistryError(`${this.ref.domain}: token request failed with ${response.status}`, response.status);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.ref.domain}: the token service answered without a token`);
    return `Bearer ${token}`;
  }

  /** The manifest or index a tag or digest names, with its media type. */
  async manifest(reference = this.ref.digest ?? this.ref.tag ?? 'latest'): Promise<{ mediaType: string; body: Index | Manifest }> {
    const response = await this.get(`/manifests/${reference}`, [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest]);
    const body = (await response.json()) as (Index | Manifest) & { mediaType?: string };
    const mediaType = body.mediaType ?? response.headers.get('content-type')?.split(';')[0] ?? '';
    return { mediaType, body };
  }

  async blobJson<T>(digest: string): Promise<T> {
    return (await (await this.get(`/blobs/${digest}`, ['*/*'])).json()) as T;
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
