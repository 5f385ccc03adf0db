// The engine's DNS server for a user network, as Docker's embedded DNS: containers on the network
// find each other by name, alias or short ID; every other name is asked of the host's own
// resolvers (from its /etc/resolv.conf) and their answer passed back. It listens on the network's
// gateway address, UDP port 53, which the network's containers have as their nameserver.

import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';

const TYPE_A = 1;
const CLASS_IN = 1;
/** Seconds an answer may be kept: containers come and go, so not long. */
const TTL = 10;

/** The query's ID, name (lower case, no final dot), type, and where its question ends. */
export function parseQuery(packet: Buffer): { id: number; name: string; type: number; end: number } | undefined {
  if (packet.length < 12 || packet.readUInt16BE(4) !== 1) return undefined; // one question, as resolvers ask
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const length = packet[at];
    if (length === 0) break;
    if (length > 63 || at + 1 + length > packet.length) return undefined; // no compression in a question
    labels.push(packet.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  if (at + 5 > packet.length) return undefined;
  return { id: packet.readUInt16BE(0), name: labels.join('.').toLowerCase(), type: packet.readUInt16BE(at + 1), end: at + 5 };
}

/** The answer to `query`: `address` for an A question, no record for other types of a known name, NXDOMAIN for none. */
export function answer(query: Buffer, end: number, type: number, address: string | undefined): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, the query's RD, RA; NXDOMAIN (3) when the name is not known.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (address === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  const record = address !== undefined && type === TYPE_A;
  header.writeUInt16BE(record ? 1 : 0, 6);
  const question = query.subarray(12, end);
  if (!record) return Buffer.concat([header, question]);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  rr.writeUInt16BE(TYPE_A, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(TTL, 6);
  rr.writeUInt16BE(4, 10);
  address.split('.').forEach((part, i) => rr.writeUInt8(Number(part), 12 + i));
  return Buffer.concat([header, question, rr]);
}

/** The host's resolvers, as its /etc/resolv.conf names them. */
export async function hostResolvers(): Promise<string[]> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return [...text.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]);
}

export class DnsServer {
  private constructor(private readonly socket: Socket) {}

  /** Serves `address`:53; `lookup` names the network's containers (undefined: not one of them). */
  static async start(address: string, lookup: (name: string) => string | undefined): Promise<DnsServer> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const server = new DnsServer(socket);
    socket.on('message', (packet, from) => {
      const query = parseQuery(packet);
      if (!query) return;
      const found = lookup(query.name);
      if (found !== undefined) {
        socket.send(answer(packet, query.end, query.type, found), from.port, from.address);
        return;
      }
      void forward(packet).then((reply) => socket.send(reply ?? answer(packet, query.end, query.type, undefined), from.port, from.address));
    });
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(53, address, () => resolve());
    });
    return server;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Asks the host's first resolver that answers within 2 s; undefined when none does. */
async function forward(packet: Buffer): Promise<Buffer | undefined> {
  for (const resolver of await hostResolvers()) {
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const socket = createSocket('udp4');
      const timer = setTimeout(() => done(undefined), 2000);
      const done = (value: Buffer | undefined) => {
        clearTimeout(timer);
        socket.close();
        resolve(value);
      };
      socket.on('error', () => done(undefined));
      socket.on('message', (m) => done(m));
      socket.send(packet, 53, resolver);
    });
    if (reply) return reply;
  }
  return undefined;
}
