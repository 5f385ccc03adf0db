// /networks: list, inspect, create, remove, prune, and connecting containers to them.

import type { Engine } from '../engine';
import type { CreateNetworkBody, NetworkRecord } from '../runtime/networks';
import { badRequest } from './errors';
import type { ApiServer } from './server';

export function networkRoutes(api: ApiServer, engine: Engine): void {
  const { containers } = engine;
  const { networks } = containers;

  /** The record, with the running containers on it as `docker network inspect` lists them. */
  const inspect = (r: NetworkRecord) => ({
    ...r,
    Containers: Object.fromEntries(
      networks.containersOn(r.Id).map((id) => {
        const c = containers.get(id);
        const e = Object.values(c.NetworkSettings.Networks).find((n) => n.NetworkID === r.Id);
        return [id, { Name: c.Name.slice(1), EndpointID: e?.EndpointID ?? '', MacAddress: e?.MacAddress ?? '', IPv4Address: e ? `${e.IPAddress}/${e.IPPrefixLen}` : '', IPv6Address: '' }];
      }),
    ),
  });

  api.route('GET', '/networks', async (call) => {
    const filters = call.filters();
    const keep = (r: NetworkRecord) =>
      [...filters].every(([key, values]) => {
        if (values.length === 0) return true;
        if (key === 'name') return values.some((v) => r.Name.includes(v));
        if (key === 'id') return values.some((v) => r.Id.startsWith(v));
        if (key === 'driver') return values.includes(r.Driver);
        if (key === 'type') return values.some((v) => (v === 'builtin') === ['bridge', 'host', 'none'].includes(r.Name));
        if (key === 'label') return values.some((v) => (v.includes('=') ? r.Labels[v.split('=')[0]] === v.slice(v.indexOf('=') + 1) : v in r.Labels));
        throw badRequest(`invalid filter '${key}'`);
      });
    call.send(200, networks.list().filter(keep).map(inspect));
  });

  api.route('GET', '/networks/{id}', async (call) => {
    call.send(200, inspect(networks.find(call.params.id)));
  });

  api.route('POST', '/networks/create', async (call) => {
    const body = await call.json<CreateNetworkBody>();
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid request body: expected a JSON object');
    const created = await networks.create(body);
    call.send(201, { Id: created.Id, Warning: '' });
  });

  api.route('DELETE', '/networks/{id}', async (call) => {
    await networks.remove(call.params.id);
    call.send(204);
  });

  api.route('POST', '/networks/prune', async (call) => {
    // Unused: no container, running or not, names it.
    const used = new Set(containers.list().flatMap((c) => Object.values(c.NetworkSettings.Networks).map((e) => e.NetworkID)));
    const deleted: string[] = [];
    for (const r of networks.list()) {
      if (['bridge', 'host', 'none'].includes(r.Name) || used.has(r.Id)) continue;
      await networks.remove(r.Id);
      deleted.push(r.Name);
    }
    call.send(200, { NetworksDeleted: deleted });
  });

  api.route('POST', '/networks/{id}/connect', async (call) => {
    const body = await call.json<{ Container?: unknown; EndpointConfig?: { Aliases?: string[] | null } | null }>();
    if (typeof body?.Container !== 'string') throw badRequest('Container is required');
    await containers.connectNetwork(body.Container, call.params.id, body.EndpointConfig?.Aliases ?? null);
    call.send(200);
  });

  api.route('POST', '/networks/{id}/disconnect', async (call) => {
    const body = await call.json<{ Container?: unknown }>();
    if (typeof body?.Container !== 'string') throw badRequest('Container is required');
    await containers.disconnectNetwork(body.Container, call.params.id);
    call.send(200);
  });
}
