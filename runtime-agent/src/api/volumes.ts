// /volumes: list, inspect, create, remove and prune.

import type { Engine } from '../engine';
import { ANONYMOUS, type VolumeRecord } from '../runtime/volumes';
import { badRequest } from './errors';
import type { ApiServer } from './server';

export function volumeRoutes(api: ApiServer, engine: Engine): void {
  const { containers } = engine;
  const { volumes } = containers;

  const matches = (v: VolumeRecord, filters: Map<string, string[]>) =>
    [...filters].every(([key, values]) => {
      if (values.length === 0) return true;
      if (key === 'name') return values.some((n) => v.Name.includes(n));
      if (key === 'dangling') return values.some((d) => (d === 'true' || d === '1') === (containers.volumeUsers(v.Name).length === 0));
      if (key === 'driver') return values.includes(v.Driver);
      if (key === 'label') return values.some((l) => (l.includes('=') ? v.Labels[l.split('=')[0]] === l.slice(l.indexOf('=') + 1) : l in v.Labels));
      if (key === 'all') return true;
      throw badRequest(`invalid filter '${key}'`);
    });

  api.route('GET', '/volumes', async (call) => {
    const filters = call.filters();
    call.send(200, { Volumes: volumes.list().filter((v) => matches(v, filters)), Warnings: [] });
  });

  api.route('GET', '/volumes/{name}', async (call) => {
    call.send(200, volumes.get(call.params.name));
  });

  api.route('POST', '/volumes/create', async (call) => {
    const body = (await call.json<{ Name?: unknown; Labels?: unknown; Driver?: unknown }>()) ?? {};
    if (body.Driver && body.Driver !== 'local') throw badRequest(`volume driver ${String(body.Driver)} is not supported: only local volumes are`);
    const labels = body.Labels && typeof body.Labels === 'object' ? (body.Labels as Record<string, string>) : {};
    call.send(201, await volumes.create(typeof body.Name === 'string' ? body.Name : undefined, labels));
  });

  api.route('DELETE', '/volumes/{name}', async (call) => {
    await volumes.remove(call.params.name, containers.volumeUsers(call.params.name));
    call.send(204);
  });

  // As Docker's API 1.42 and later: anonymous volumes alone, unless the filter all=true asks for named ones too.
  api.route('POST', '/volumes/prune', async (call) => {
    const filters = call.filters();
    const all = (filters.get('all') ?? []).some((v) => v === 'true' || v === '1');
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of volumes.list()) {
      if (containers.volumeUsers(v.Name).length || (!all && !(ANONYMOUS in v.Labels)) || !matches(v, new Map([...filters].filter(([k]) => k !== 'all')))) continue;
      reclaimed += await volumes.size(v.Name);
      await volumes.remove(v.Name, []);
      deleted.push(v.Name);
    }
    call.send(200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
  });
}
