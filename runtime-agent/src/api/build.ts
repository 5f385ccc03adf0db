// POST /build (Docker's legacy builder API: a tar context in, JSON progress lines out) and
// POST /build/prune.

import { Builder, BuildError, type BuildRequest } from '../build/builder';
import type { Engine } from '../engine';
import { badRequest } from './errors';
import type { ApiServer, Call } from './server';

/** A JSON query parameter holding a map of strings (buildargs, labels). */
function jsonMap<T extends string | null>(call: Call, name: string): Record<string, T> {
  const raw = call.query.get(name);
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid ${name} parameter: ${raw}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`invalid ${name} parameter: ${raw}`);
  for (const value of Object.values(parsed)) {
    if (value !== null && typeof value !== 'string') throw badRequest(`invalid ${name} parameter: ${raw}`);
  }
  return parsed as Record<string, T>;
}

export function buildRoutes(api: ApiServer, engine: Engine): void {
  const builder = new Builder(engine);
  const opened = builder.open();

  api.route('POST', '/build', async (call) => {
    const type = call.req.headers['content-type'];
    if (type && !/^application\/(x-tar|tar|octet-stream|x-gzip|gzip)\b/.test(type) && type !== 'application/x-xz') {
      throw badRequest(`unsupported Content-Type ${type}: the build context must be a tar archive`);
    }
    if (call.query.get('remote')) throw badRequest('building from a remote context (remote=…) is not supported; send the context as a tar');
    const request: BuildRequest = {
      dockerfile: call.query.get('dockerfile') || 'Dockerfile',
      tags: call.query.getAll('t').filter((t) => t !== ''),
      buildArgs: jsonMap<string | null>(call, 'buildargs'),
      labels: jsonMap<string>(call, 'labels'),
      noCache: call.bool('nocache'),
      pull: call.bool('pull'),
      target: call.query.get('target') ?? '',
      networkMode: call.query.get('networkmode') ?? '',
      platform: call.query.get('platform') ?? '',
      rm: call.query.get('rm') === null ? true : call.bool('rm'),
      forceRm: call.bool('forcerm'),
    };
    const quiet = call.bool('q');
    await opened;
    const res = call.stream('application/json');
    const write = (message: object) => {
      if (!res.writableEnded) res.write(`${JSON.stringify(message)}\r\n`);
    };
    try {
      const id = await builder.build(call.req, request, quiet ? () => {} : write, call.closed);
      if (quiet) write({ stream: `${id}\n` });
    } catch (error) {
      const message = (error as Error).message;
      const detail: Record<string, unknown> = { message };
      if (error instanceof BuildError) {
        if (error.code !== undefined) detail.code = error.code;
        if (error.line !== undefined) detail.line = error.line;
      }
      write({ errorDetail: detail, error: message });
    }
    res.end();
  });

  api.route('POST', '/build/prune', async (call) => {
    await opened;
    const { deleted, reclaimed } = await builder.prune();
    call.send(200, { CachesDeleted: deleted, SpaceReclaimed: reclaimed });
  });
}
