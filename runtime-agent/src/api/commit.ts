// POST /commit: a container's changes as a new image (`docker commit`).

import type { Engine } from '../engine';
import type { ContainerConfig } from '../images/store';
import { commitContainer, commitReference } from '../runtime/commit';
import { compareVersions, type ApiServer } from './server';
import { badRequest } from './errors';

/** The fields of a container config an image keeps, from the request's body. */
const CONFIG_FIELDS = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'OnBuild', 'Shell', 'Healthcheck'] as const;

export function commitRoutes(api: ApiServer, engine: Engine): void {
  api.route('POST', '/commit', async (call) => {
    const body = await call.json<Record<string, unknown> | null>();
    if (body !== null && (typeof body !== 'object' || Array.isArray(body))) throw badRequest('invalid request body: expected a container config');
    const config = body && Object.keys(body).length ? (Object.fromEntries(CONFIG_FIELDS.filter((k) => k in body).map((k) => [k, body[k]])) as ContainerConfig) : null;
    // Paused by default since API 1.13, as Docker's.
    const pause = call.query.get('pause') ? call.bool('pause') : compareVersions(call.apiVersion, '1.13') >= 0;
    const image = await commitContainer(engine, call.query.get('container') ?? '', {
      config,
      changes: call.query.getAll('changes'),
      comment: call.query.get('comment') ?? '',
      author: call.query.get('author') ?? '',
      pause,
      reference: commitReference(call.query.get('repo') ?? '', call.query.get('tag') ?? ''),
    });
    call.send(201, { Id: image.id });
  });
}
