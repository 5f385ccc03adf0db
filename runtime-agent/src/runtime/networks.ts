// The engine's networks, as `docker network` shows them: the default `bridge` (a Linux bridge of
// this engine's own), `host` and `none`, and user networks (a bridge each, `docker network
// create`), whose containers find each other by name through the network's DNS server. A running
// container on bridge networks has a network namespace made for it before it starts (the native
// helper joins it), with one interface per network it is on: eth0, eth1… Everything the engine
// makes on the host is named after its default bridge, so that what a crash left behind is found
// and removed on the next start, and engines of other data roots leave each other's alone.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, conflict, forbidden, notFound } from '../api/errors';
import { writeFileAtomic } from '../images/content';
import { DnsServer } from './dns';
import { Bridge, deviceSubnet, formatSubnet, freeSubnet, ip, overlaps, parseSubnet, removeRules, toAddress, type Endpoint, type Subnet } from './network';
import type { Publication } from './ports';
import type { Events } from '../events';

/** `docker network inspect`'s fields. */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** What a container has on one network: docker inspect's NetworkSettings.Networks entry. */
export interface Attachment extends Endpoint {
  NetworkID: string;
  EndpointID: string;
  Aliases: string[] | null;
  DNSNames: string[] | null;
}

/** `docker network create`'s body. */
export interface CreateNetworkBody {
  Name?: unknown;
  Driver?: unknown;
  Internal?: unknown;
  Attachable?: unknown;
  Labels?: unknown;
  Options?: unknown;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null } | null;
}

interface Network {
  record: NetworkRecord;
  /** Bridge networks have one; host and none do not. */
  bridge?: Bridge;
  /** User networks answer their containers' names. */
  dns?: Promise<DnsServer | undefined>;
}

interface Sandbox {
  /** Its name under /run/netns. */
  netns: string;
  /** By network ID. */
  endpoints: Map<string, { ifname: string; veth: string; address: string; names: string[] }>;
  /** The bridge whose rules forward its published ports. */
  forwarded?: Bridge;
}

const NETNS_DIR = '/run/netns';
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function record(name: string, id: string, driver: string, subnet?: Subnet): NetworkRecord {
  return {
    Name: name, Id: id, Created: new Date().toISOString(), Scope: 'local', Driver: driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: subnet ? [{ Subnet: formatSubnet(subnet), Gateway: toAddress(subnet.base + 1) }] : [] },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Options: {}, Labels: {},
  };
}

export class Networks {
  private readonly networks = new Map<string, Network>();
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly removing = new Set<Promise<void>>();

  private constructor(
    /** The default bridge's device; it prefixes every namespace of this engine's containers. */
    readonly tag: string,
    private readonly dir: string,
    private readonly main: boolean,
    private readonly events: Events,
  ) {}

  /** The networks of `dataRoot`: the machine's engine (/var/lib/tug) has tug0 as its bridge, any other a hashed name. */
  static async open(dataRoot: string, events: Events): Promise<Networks> {
    const main = dataRoot === '/var/lib/tug';
    const tag = main ? 'tug0' : `tug${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`;
    const networks = new Networks(tag, join(dataRoot, 'networks'), main, events);
    await mkdir(networks.dir, { recursive: true });
    const id = (name: string) => createHash('sha256').update(`${name}:${dataRoot}`).digest('hex');
    networks.networks.set(id('host'), { record: record('host', id('host'), 'host') });
    networks.networks.set(id('none'), { record: record('none', id('none'), 'null') });
    const saved: NetworkRecord[] = [];
    for (const file of await readdir(networks.dir)) {
      if (!file.endsWith('.json')) continue;
      try {
        saved.push(JSON.parse(await readFile(join(networks.dir, file), 'utf8')) as NetworkRecord);
      } catch {
        // Half written (a crash): the network never was.
      }
    }
    let bridge = saved.find((r) => r.Name === 'bridge');
    if (!bridge) {
      // Its subnet chosen once, and kept: containers that outlive the engine hold addresses in it.
      const subnet = (await deviceSubnet(tag)) ?? (await freeSubnet(tag, main, saved.map(subnetOf)));
      bridge = record('bridge', id('bridge'), 'bridge', subnet);
      bridge.Options = { 'com.docker.network.bridge.name': tag, 'com.docker.network.bridge.default_bridge': 'true' };
      await networks.save(bridge);
      saved.push(bridge);
    }
    for (const r of saved) networks.networks.set(r.Id, { record: r, bridge: new Bridge(r.Name === 'bridge' ? tag : deviceOf(r.Id), subnetOf(r)) });
    return networks;
  }

  private save(r: NetworkRecord): Promise<void> {
    return writeFileAtomic(join(this.dir, `${r.Id}.json`), JSON.stringify(r));
  }

  list(): NetworkRecord[] {
    return [...this.networks.values()].map((n) => n.record);
  }

  /** By name, full ID or unique ID prefix; a 404 as Docker words it. */
  find(ref: string): NetworkRecord {
    return this.network(ref).record;
  }

  private network(ref: string): Network {
    const all = [...this.networks.values()];
    const found =
      this.networks.get(ref) ??
      all.find((n) => n.record.Name === ref) ??
      (() => {
        const matches = ref ? all.filter((n) => n.record.Id.startsWith(ref)) : [];
        return matches.length === 1 ? matches[0] : undefined;
      })();
    if (!found) throw notFound(`network ${ref} not found`);
    return found;
  }

  /** The IDs of the running containers on a network. */
  containersOn(ref: string): string[] {
    const { Id } = this.network(ref).record;
    return [...this.sandboxes].filter(([, s]) => s.endpoints.has(Id)).map(([id]) => id);
  }

  async create(body: CreateNetworkBody): Promise<NetworkRecord> {
    const name = body.Name;
    if (typeof name !== 'string' || !VALID_NAME.test(name)) throw badRequest(`invalid network name "${String(name ?? '')}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.list().some((r) => r.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = body.Driver === undefined || body.Driver === '' ? 'bridge' : body.Driver;
    if (driver !== 'bridge') throw badRequest(`the ${String(driver)} driver is not supported: only bridge networks can be created`);
    const asked = body.IPAM?.Config?.[0]?.Subnet;
    const others = this.list().filter((r) => r.IPAM.Config.length).map(subnetOf);
    let subnet: Subnet;
    try {
      subnet = asked ? parseSubnet(asked) : await freeSubnet(`${this.tag}:${name}`, this.main, others);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    if (asked && others.some((o) => overlaps(o, subnet))) {
      throw forbidden(`Pool overlaps with other one on this address space`);
    }
    const r = record(name, randomBytes(32).toString('hex'), 'bridge', subnet);
    if (body.Labels && typeof body.Labels === 'object') r.Labels = body.Labels as Record<string, string>;
    if (body.Options && typeof body.Options === 'object') r.Options = body.Options as Record<string, string>;
    r.Internal = body.Internal === true;
    r.Attachable = body.Attachable === true;
    const network: Network = { record: r, bridge: new Bridge(deviceOf(r.Id), subnet) };
    // The bridge is made now, so that a subnet the host uses is refused here rather than at a start.
    try {
      await network.bridge!.ensure();
    } catch (error) {
      await network.bridge!.remove(true);
      throw badRequest((error as Error).message);
    }
    await this.save(r);
    this.networks.set(r.Id, network);
    this.events.emit('network', 'create', r.Id, { name, type: 'bridge' });
    return r;
  }

  async remove(ref: string): Promise<NetworkRecord> {
    const network = this.network(ref);
    const { Name, Id, Driver } = network.record;
    if (Name === 'bridge' || Driver === 'host' || Driver === 'null') throw forbidden(`${Name} is a pre-defined network and cannot be removed`);
    if (this.containersOn(Id).length) throw forbidden(`error while removing network: network ${Name} id ${Id} has active endpoints`);
    this.networks.delete(Id);
    await rm(join(this.dir, `${Id}.json`), { force: true });
    await (await network.dns)?.close();
    await network.bridge?.remove(true);
    this.events.emit('network', 'destroy', Id, { name: Name, type: Driver });
    return network.record;
  }

  /** Whether a network (by name or ID) has a bridge: containers on it get a namespace of their own and an address. */
  bridged(ref: string): boolean {
    return this.network(ref).bridge !== undefined;
  }

  /** A bridge network's gateway: the host, as its containers reach it. */
  gateway(ref: string): string | undefined {
    return this.network(ref).bridge?.gateway;
  }

  /** The nameserver a container on these networks asks: the first user network's DNS server, else none of ours. */
  nameserver(refs: string[]): string | undefined {
    const user = refs.map((r) => this.network(r)).find((n) => n.record.Name !== 'bridge' && n.bridge);
    return user?.bridge!.gateway;
  }

  /** Makes the container's namespace (its loopback comes up with its first network); `netns` under /run/netns. */
  async sandbox(id: string): Promise<string> {
    const existing = this.sandboxes.get(id);
    if (existing) return `${NETNS_DIR}/${existing.netns}`;
    const netns = `${this.tag}-${id.slice(0, 12)}`;
    await ip(['netns', 'add', netns]);
    this.sandboxes.set(id, { netns, endpoints: new Map() });
    return `${NETNS_DIR}/${netns}`;
  }

  /**
   * Connects a running container to a network: an interface in its namespace (eth0 for its
   * first), an address, and its `names` (name, aliases, short ID) known to the network's DNS.
   */
  async attach(id: string, ref: string, names: string[]): Promise<Attachment> {
    const network = this.network(ref);
    const sandbox = this.sandboxes.get(id);
    if (!sandbox || !network.bridge) throw new Error(`container ${id} has no namespace for network ${ref}`);
    const used = new Set([...sandbox.endpoints.values()].map((e) => e.ifname));
    let n = 0;
    while (used.has(interfaces(id, n).ifname)) n++;
    const { ifname, veth } = interfaces(id, n);
    const endpoint = await network.bridge.connect(id, sandbox.netns, ifname, veth, sandbox.endpoints.size === 0);
    sandbox.endpoints.set(network.record.Id, { ifname, veth, address: endpoint.IPAddress, names: names.map((x) => x.toLowerCase()) });
    this.serveNames(network);
    return this.attachment(network.record, id, endpoint, names);
  }

  private attachment(r: NetworkRecord, id: string, endpoint: Endpoint, names: string[]): Attachment {
    const user = r.Name !== 'bridge';
    return { ...endpoint, NetworkID: r.Id, EndpointID: createHash('sha256').update(`${r.Id}:${id}`).digest('hex'), Aliases: user ? names.slice(1) : null, DNSNames: user ? names : null };
  }

  /** A user network's DNS server, started with its first container. */
  private serveNames(network: Network): void {
    if (network.record.Name === 'bridge' || network.dns || !network.bridge) return;
    const netId = network.record.Id;
    network.dns = DnsServer.start(network.bridge.gateway, (name) => this.lookup(netId, name)).catch((error: Error) => {
      console.error(`network ${network.record.Name}: its DNS server did not start: ${error.message}`);
      network.dns = undefined;
      return undefined;
    });
  }

  /** The address of the container on network `netId` that goes by `name`. */
  lookup(netId: string, name: string): string | undefined {
    for (const sandbox of this.sandboxes.values()) {
      const endpoint = sandbox.endpoints.get(netId);
      if (endpoint?.names.includes(name)) return endpoint.address;
    }
    return undefined;
  }

  /** Forwards a running container's published ports to its address on a network, in the kernel; `again`: its rules may be there already (an engine restart). */
  async publish(id: string, ref: string, ports: Publication[], again = false): Promise<void> {
    const network = this.network(ref);
    const sandbox = this.sandboxes.get(id);
    const endpoint = sandbox?.endpoints.get(network.record.Id);
    if (!sandbox || !endpoint || !network.bridge || !ports.length) return;
    sandbox.forwarded = network.bridge;
    if (again) await network.bridge.unforward(id);
    await network.bridge.forward(id, endpoint.address, ports);
  }

  /** Disconnects a running container from one network (`docker network disconnect`). */
  async detach(id: string, ref: string): Promise<void> {
    const network = this.network(ref);
    const endpoint = this.sandboxes.get(id)?.endpoints.get(network.record.Id);
    if (!endpoint) return;
    this.sandboxes.get(id)!.endpoints.delete(network.record.Id);
    network.bridge?.release(id);
    await ip(['link', 'delete', endpoint.veth]).catch(() => {});
  }

  /** Takes up a container that ran on through an engine restart: its namespace and addresses kept. */
  async reserve(id: string, attachments: { ref: string; address: string; names: string[] }[]): Promise<void> {
    const sandbox: Sandbox = { netns: `${this.tag}-${id.slice(0, 12)}`, endpoints: new Map() };
    this.sandboxes.set(id, sandbox);
    for (const [n, a] of attachments.entries()) {
      const network = this.network(a.ref);
      sandbox.endpoints.set(network.record.Id, { ...interfaces(id, n), address: a.address, names: a.names.map((x) => x.toLowerCase()) });
      await network.bridge?.reserve(id, a.address);
      this.serveNames(network);
    }
  }

  /** Its addresses freed and its namespace (with its interfaces) removed: the container has stopped. */
  release(id: string): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return Promise.resolve();
    this.sandboxes.delete(id);
    for (const netId of sandbox.endpoints.keys()) this.networks.get(netId)?.bridge?.release(id);
    // The veths first: a namespace another container still holds (--network container:) would
    // keep them, and their addresses, alive after its file is gone.
    const done = (async () => {
      await sandbox.forwarded?.unforward(id).catch(() => {});
      for (const e of sandbox.endpoints.values()) await ip(['link', 'delete', e.veth]).catch(() => {});
      await ip(['netns', 'delete', sandbox.netns]).catch(() => {});
    })();
    // close() waits for these: the engine must not exit with a namespace half removed.
    this.removing.add(done);
    void done.finally(() => this.removing.delete(done));
    return done;
  }

  /** Removes this engine's namespaces and veths whose containers do not run (left by a crash). */
  async reconcile(running: Set<string>): Promise<void> {
    const keep = new Set([...running].map((id) => id.slice(0, 12)));
    for (const name of await readdir(NETNS_DIR).catch(() => [] as string[])) {
      if (name.startsWith(`${this.tag}-`) && !keep.has(name.slice(this.tag.length + 1))) await ip(['netns', 'delete', name]).catch(() => {});
    }
    // Forwarding rules of containers that ended meanwhile: `tug:DEVICE:ID`.
    const devices = new Set([...this.networks.values()].map((n) => n.bridge?.device));
    await removeRules((tag) => {
      const [prefix, device, id] = tag.split(':');
      return prefix === 'tug' && id !== undefined && devices.has(device) && !keep.has(id);
    }).catch(() => {});
    for (const { bridge } of this.networks.values()) {
      if (!bridge) continue;
      const links = JSON.parse(await ip(['-j', 'link', 'show', 'master', bridge.device]).catch(() => '[]')) as { ifname: string }[];
      for (const { ifname } of links) if (ifname.startsWith('tv') && ![...keep].some((k) => k.startsWith(ifname.slice(2, 12)))) await ip(['link', 'delete', ifname]).catch(() => {});
    }
  }

  /** The engine stops: DNS servers closed, and every bridge no running container is on removed. */
  async close(): Promise<void> {
    await Promise.all(this.removing);
    for (const network of this.networks.values()) {
      await (await network.dns)?.close();
      network.dns = undefined;
      await network.bridge?.remove();
    }
  }
}

/** A container's n-th interface (eth0 for its first network) and the host's end of its veth pair. */
const interfaces = (id: string, n: number) => ({ ifname: `eth${n}`, veth: `tv${id.slice(0, 10)}${n.toString(36)}` });

/** A user network's bridge device, as Docker names it: br- and the ID's first 12 characters. */
const deviceOf = (id: string) => `br-${id.slice(0, 12)}`;

function subnetOf(r: NetworkRecord): Subnet {
  return parseSubnet(r.IPAM.Config[0].Subnet);
}
