// Host keys checked against known_hosts as OpenSSH does: plain and hashed (`|1|salt|hash`) names,
// `[host]:port` for ports other than 22, comma-separated names and negations, `@revoked` keys.
// A key never seen is asked about once (with its SHA256 fingerprint) and added; a key that
// differs from the one on record refuses the connection.

import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { wildcard } from './ssh-config';

export type HostKeyStatus = { status: 'known' } | { status: 'unknown' } | { status: 'changed'; line: number } | { status: 'revoked'; line: number };

/** The name known_hosts files use: `host` on port 22, `[host]:port` on others. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:…` as OpenSSH shows a key's fingerprint (base64 without padding). */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key's type, from its wire form (a length-prefixed string first). */
export function keyType(key: Buffer): string {
  return key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1');
}

/** The algorithm as OpenSSH names it when it shows a fingerprint: ED25519, ECDSA, RSA. */
export function keyAlgorithm(type: string): string {
  return (type.startsWith('ecdsa-') ? 'ecdsa' : type.replace(/^ssh-/, '')).toUpperCase();
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return wildcard(pattern).test(name);
}

/** Whether a line's host field (comma-separated, `!` negates) names `name`. */
function lineNames(field: string, name: string): boolean {
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (nameMatches(pattern.slice(1), name)) return false;
    } else if (nameMatches(pattern, name)) matched = true;
  }
  return matched;
}

/** Checks `key` (wire form) for host:port against the text of known_hosts files. */
export function checkHostKey(text: string, host: string, port: number, key: Buffer): HostKeyStatus {
  const name = hostEntryName(host, port);
  const type = keyType(key);
  const blob = key.toString('base64');
  let changed: number | null = null;
  let known = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i].trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    const marker = fields[0].startsWith('@') ? fields.shift()! : '';
    if (marker === '@cert-authority' || fields.length < 3) continue;
    const [names, lineType, lineBlob] = fields;
    if (!lineNames(names, name)) continue;
    if (marker === '@revoked') {
      if (lineBlob === blob) return { status: 'revoked', line: i + 1 };
      continue;
    }
    if (lineType === type && lineBlob === blob) known = true;
    else if (lineType === type) changed ??= i + 1;
  }
  if (known) return { status: 'known' };
  return changed !== null ? { status: 'changed', line: changed } : { status: 'unknown' };
}

/** Adds the key for host:port (a plain name, as `ssh -o HashKnownHosts=no` writes). */
export async function addHostKey(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readFile(file, 'utf8').catch(() => '');
  const line = `${hostEntryName(host, port)} ${keyType(key)} ${key.toString('base64')}\n`;
  await appendFile(file, (existing && !existing.endsWith('\n') ? '\n' : '') + line, { mode: 0o600 });
}
