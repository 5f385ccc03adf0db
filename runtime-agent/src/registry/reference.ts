// Image references as Docker reads them: `busybox` is docker.io/library/busybox:latest, a first
// component with a dot, a colon or "localhost" names a registry, and everything else lives on
// Docker Hub. Validation follows the distribution reference grammar.

export interface Reference {
  /** The registry as named: "docker.io", "127.0.0.1:5000". */
  readonly domain: string;
  /** The repository path: "library/busybox". */
  readonly path: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A tag, as the distribution reference grammar defines it. */
export const TAG = /^[\w][\w.-]{0,127}$/;
/** A digest: algorithm, `:`, and at least 32 hex digits. */
export const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

export const DOCKER_HUB = 'docker.io';

export class ReferenceFormatError extends Error {}

/** Parses a reference; throws ReferenceFormatError("invalid reference format…") as Docker does. */
export function parseReference(text: string): Reference {
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceFormatError(`invalid reference format: invalid digest "${digest}"`);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceFormatError(`invalid reference format: invalid tag "${tag}"`);
  }
  if (rest === '') throw new ReferenceFormatError('invalid reference format: no repository name');
  let domain = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) throw new ReferenceFormatError(`invalid reference format: invalid registry "${first}"`);
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (path.toLowerCase() !== path) throw new ReferenceFormatError('invalid reference format: repository name must be lowercase');
  if (!path.split('/').every((c) => COMPONENT.test(c))) throw new ReferenceFormatError(`invalid reference format: invalid repository name "${path}"`);
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (domain.length + path.length + 1 > 255) throw new ReferenceFormatError('invalid reference format: repository name is too long');
  return { domain, path, tag: tag ?? (digest ? null : 'latest'), digest };
}

/** The full name Docker shows: docker.io/library/busybox:latest. */
export function formatReference(ref: Reference): string {
  return `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host to talk to for a registry name. */
export function registryHost(domain: string): string {
  return domain === DOCKER_HUB ? 'registry-1.docker.io' : domain;
}

/** Registries on loopback may speak plain HTTP, as Docker allows. */
export function isLoopback(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}
