// `--user` as Docker resolves it: a name or uid, optionally with a group name or gid, looked up
// in the image's /etc/passwd and /etc/group; the user's supplementary groups and home too.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** Reads a file from the first of several root directories (top layer first) that has it. */
async function readFromLayers(roots: readonly string[], file: string): Promise<string> {
  for (const root of roots) {
    try {
      return await readFile(join(root, file), 'utf8');
    } catch {
      // Not in this layer.
    }
  }
  return '';
}

const isNumber = (s: string) => /^\d+$/.test(s);

export async function resolveUser(roots: readonly string[], spec: string): Promise<ResolvedUser> {
  return parseUser(await readFromLayers(roots, 'etc/passwd'), await readFromLayers(roots, 'etc/group'), spec);
}

/** `spec` looked up in the text of an /etc/passwd and an /etc/group. */
export function parseUser(passwdText: string, groupText: string, spec: string): ResolvedUser {
  const [userPart, groupPart] = spec === '' ? ['0', undefined] : spec.split(':', 2);
  const passwd = passwdText.split('\n').map((l) => l.split(':'));
  const groups = groupText.split('\n').map((l) => l.split(':'));
  const entry = passwd.find((p) => p.length >= 7 && (p[0] === userPart || (isNumber(userPart) && p[2] === userPart)));
  if (!entry && !isNumber(userPart)) throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  if (groupPart !== undefined) {
    const group = groups.find((g) => g.length >= 3 && (g[0] === groupPart || (isNumber(groupPart) && g[2] === groupPart)));
    if (!group && !isNumber(groupPart)) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = group ? Number(group[2]) : Number(groupPart);
  }
  // Supplementary groups: those listing the user by name (only when no group was given).
  const name = entry?.[0];
  const additionalGids =
    groupPart === undefined && name
      ? groups.filter((g) => g.length >= 4 && g[3].split(',').includes(name)).map((g) => Number(g[2])).filter((g) => g !== gid)
      : [];
  return { uid, gid, additionalGids, home: entry?.[5] || '/' };
}
