// Published ports (`-p`, `-P`): which host ports a container's ports are published on, and the
// engine's userland proxy that carries TCP connections and UDP datagrams from the host port to
// the container's address. A proxy works from the host's loopback too (where a NAT rule would
// not), and needs nothing of the kernel but sockets.

import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';

/** HostConfig.PortBindings: `"80/tcp": [{ HostIp: "", HostPort: "8080" }]`. */
export type PortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

/** NetworkSettings.Ports as docker inspect shows it: each port, with its host bindings (null: exposed, not published). */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

export interface Publication {
  /** The container's port. */
  port: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  /** 0: a free port, chosen when it is bound. */
  hostPort: number;
}

/** `80`, `80/tcp`, `53/udp` → its number and protocol; a clear error for anything else. */
export function parsePortKey(key: string): { port: number; protocol: 'tcp' | 'udp' } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  const port = Number(m?.[1]);
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`invalid port specification: "${key}"`);
  if (m[2] === 'sctp') throw new Error(`sctp ports are not supported: "${key}"`);
  return { port, protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
}

/** What to publish: the bindings asked for, and with PublishAllPorts every exposed port on a free host port. */
export function publications(bindings: PortBindings | undefined, exposed: Record<string, object> | undefined, publishAll: boolean): Publication[] {
  const out: Publication[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const hostPort = b.HostPort ? Number(b.HostPort.split('-')[0]) : 0;
      if (!(hostPort >= 0 && hostPort <= 65535) || Number.isNaN(hostPort)) throw new Error(`invalid host port "${b.HostPort}" for ${key}`);
      out.push({ port, protocol, hostIp: b.HostIp || '0.0.0.0', hostPort });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, protocol } = parsePortKey(key);
      if (!out.some((p) => p.port === port && p.protocol === protocol)) out.push({ port, protocol, hostIp: '0.0.0.0', hostPort: 0 });
    }
  }
  return out;
}

/** NetworkSettings.Ports: every exposed or published port, with the host ports it got. */
export function portMap(exposed: Record<string, object> | undefined, bound: Publication[]): PortMap {
  const map: PortMap = {};
  for (const key of Object.keys(exposed ?? {})) {
    const { port, protocol } = parsePortKey(key);
    map[`${port}/${protocol}`] = null;
  }
  for (const p of bound) (map[`${p.port}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  return map;
}

/** The list's `Ports` of /containers/json, from NetworkSettings.Ports. */
export function portSummary(map: PortMap | undefined): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  const rows: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  for (const [key, bindings] of Object.entries(map ?? {})) {
    const { port, protocol } = parsePortKey(key);
    if (!bindings?.length) rows.push({ PrivatePort: port, Type: protocol });
    for (const b of bindings ?? []) rows.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: protocol });
  }
  return rows;
}

/** UDP peers forgotten after this long without a datagram (as conntrack forgets them). */
const UDP_IDLE_MS = 60_000;

/** The proxies of one container; close() stops them all. */
export class PortProxies {
  private constructor(
    readonly bound: Publication[],
    private readonly closers: (() => Promise<void>)[],
  ) {}

  /**
   * Binds every publication's host port (a free one where none is named) and carries what
   * arrives to `target`. One that cannot bind closes the others, and fails naming it as Docker does.
   */
  static async open(list: Publication[], target: string): Promise<PortProxies> {
    const bound: Publication[] = [];
    const closers: (() => Promise<void>)[] = [];
    try {
      for (const p of list) {
        const { port, close } = p.protocol === 'tcp' ? await tcpProxy(p, target) : await udpProxy(p, target);
        bound.push({ ...p, hostPort: port });
        closers.push(close);
      }
    } catch (error) {
      await Promise.all(closers.map((c) => c()));
      throw error;
    }
    return new PortProxies(bound, closers);
  }

  async close(): Promise<void> {
    await Promise.all(this.closers.map((c) => c()));
  }
}

function bindError(p: Publication, error: NodeJS.ErrnoException): Error {
  const where = `${p.hostIp}:${p.hostPort}`;
  if (error.code === 'EADDRINUSE') return new Error(`Bind for ${where} failed: port is already allocated`);
  if (error.code === 'EADDRNOTAVAIL') return new Error(`Bind for ${where} failed: ${p.hostIp} is not an address of this machine`);
  return new Error(`Bind for ${where} failed: ${error.message}`);
}

async function tcpProxy(p: Publication, target: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: target, port: p.port, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // Either side failing (the container not listening yet: refused) ends both.
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(bindError(p, error)));
    server.listen(p.hostPort, p.hostIp, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function udpProxy(p: Publication, target: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server: UdpSocket = createSocket('udp4');
  /** One socket towards the container per client, so that its answers find their way back. */
  const peers = new Map<string, { socket: UdpSocket; timer: NodeJS.Timeout }>();
  const forget = (key: string) => {
    const peer = peers.get(key);
    if (!peer) return;
    peers.delete(key);
    clearTimeout(peer.timer);
    peer.socket.close();
  };
  server.on('message', (message: Buffer, from: RemoteInfo) => {
    const key = `${from.address}:${from.port}`;
    let peer = peers.get(key);
    if (!peer) {
      const socket = createSocket('udp4');
      socket.on('message', (answer: Buffer) => server.send(answer, from.port, from.address));
      socket.on('error', () => forget(key));
      peer = { socket, timer: setTimeout(() => forget(key), UDP_IDLE_MS) };
      peers.set(key, peer);
    }
    peer.timer.refresh();
    peer.socket.send(message, p.port, target);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(bindError(p, error)));
    server.bind(p.hostPort, p.hostIp, () => resolve());
  });
  server.on('error', () => {});
  return {
    port: server.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const key of [...peers.keys()]) forget(key);
        server.close(() => resolve());
      }),
  };
}
