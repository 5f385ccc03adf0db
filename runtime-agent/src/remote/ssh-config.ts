// Which machine an engine host names and how to reach it: `ssh://[user@]host[:port]`, or a `Host`
// alias of ~/.ssh/config, read as OpenSSH reads it (the first value given for a key wins; Host
// patterns with * and ?, negated with !; Match blocks are skipped).

import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface SshTarget {
  /** What the person wrote (an alias, or the host of an ssh:// address): known_hosts names it by HostName. */
  alias: string;
  hostName: string;
  port: number;
  user: string;
  identityFiles: string[];
  identitiesOnly: boolean;
  /** Hops to go through first (ProxyJump), each resolved the same way. */
  proxyJump: SshTarget[];
  /** Seconds between keepalives; 0: none. */
  serverAliveInterval: number;
}

/** OpenSSH's default identities, tried in this order when the config names none. */
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** ssh_config(5)'s and known_hosts' wildcards, * and ?, as a case-insensitive whole-name RegExp. */
export function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
}

/** A pattern list matches if one of its patterns matches and no negated one does. */
function hostMatches(patterns: string[], host: string): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (wildcard(pattern).test(host)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The keys (lowercase) and values that apply to `host`, first value first. */
export function configFor(text: string, host: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let applies = true; // before any Host line, options apply to all
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
    if (!match) continue;
    const key = match[1].toLowerCase();
    const value = match[2].trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      applies = hostMatches(value.split(/\s+/), host);
      continue;
    }
    if (key === 'match') {
      applies = false; // not supported: its options are not applied
      continue;
    }
    if (!applies) continue;
    // IdentityFile accumulates; every other key keeps its first value.
    if (key === 'identityfile') found.set(key, [...(found.get(key) ?? []), value]);
    else if (!found.has(key)) found.set(key, [value]);
  }
  return found;
}

/** `~` and the tokens ssh_config allows in paths: %d (home), %u (local user), %h (host name), %r (remote user), %%. */
function expandPath(path: string, target: { hostName: string; user: string }): string {
  const home = homedir();
  return path.replace(/^~(?=\/|$)/, home).replace(/%([%dhur])/g, (_, t: string) => ({ '%': '%', d: home, h: target.hostName, u: userInfo().username, r: target.user })[t]!);
}

/**
 * Resolves `ssh://[user@]host[:port]` or a bare `[user@]host[:port]` / alias against the config's
 * text. Values in the address win over the config's, as on ssh's command line.
 */
export function resolveTarget(address: string, configText: string, depth = 0): SshTarget {
  const url = /^(?:ssh:\/\/)?(?:([^@/\s]+)@)?(\[[^\]\s]+\]|[^:/@\s]+)(?::(\d+))?\/?$/.exec(address.trim());
  if (!url) throw new Error(`"${address}" is not an SSH address: expected ssh://[user@]host[:port] or a Host alias of ~/.ssh/config`);
  const alias = url[2].replace(/^\[|\]$/g, '');
  const config = configFor(configText, alias);
  const first = (key: string) => config.get(key)?.[0];
  const hostName = (first('hostname') ?? alias).replace(/%h/g, alias);
  const user = url[1] ?? first('user') ?? userInfo().username;
  const port = Number(url[3] ?? first('port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid SSH port in "${address}"`);
  const named = config.get('identityfile') ?? [];
  const identityFiles = (named.length ? named : DEFAULT_IDENTITIES.map((f) => join('~/.ssh', f))).map((f) => expandPath(f, { hostName, user }));
  const jump = first('proxyjump');
  if (jump && jump.toLowerCase() !== 'none' && depth > 8) throw new Error(`ProxyJump of ${alias} loops`);
  const proxyJump = jump && jump.toLowerCase() !== 'none' ? jump.split(',').map((hop) => resolveTarget(hop.trim(), configText, depth + 1)) : [];
  return {
    alias,
    hostName,
    port,
    user,
    identityFiles,
    identitiesOnly: first('identitiesonly')?.toLowerCase() === 'yes',
    proxyJump,
    serverAliveInterval: Number(first('serveraliveinterval') ?? 0) || 0,
  };
}
