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

/**
 * Secrets for RUN --mount=type=secret. The legacy API has no field for them (BuildKit passes
 * them through a session), so clients send them in a header, kept out of URLs and logs: base64
 * of a JSON object, ID → base64 of the value.
 */
export const SECRETS_HEADER = 'x-tug-build-secrets';

function secrets(call: Call): Record<string, Buffer> {
  const raw = call.req.headers[SECRETS_HEADER];
  if (raw === undefined) return {};
  const invalid = () => badRequest(`invalid ${SECRETS_HEADER} header: expected base64 of a JSON object of base64 strings`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(String(raw), 'base64').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
  const out: Record<string, Buffer> = {};
  for (const [id, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw invalid();
    out[id] = Buffer.from(value, 'base64');
  }
  return out;
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
      secrets: secrets(call),
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
