// Bridge networks on the host, as Docker's docker0 and `br-…` networks: a Linux bridge with the
// host as gateway on a subnet that no route of the host's uses, and for a container a veth pair
// from the bridge into the container's network namespace, with an address of its own and (on its
// first network) the default route. Outbound traffic leaves through the host, masqueraded as it
// (iptables' MASQUERADE, IP forwarding on, as Docker turns it on); every rule carries a comment
// naming its bridge, and goes with it.
//
// The work is done by iproute2's `ip`, a few commands at a time in its batch mode.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

/** Runs `ip` with these arguments; `batch`: commands fed to `ip -batch -`. Rejects with what ip said. */
export function ip(args: string[], batch?: string[]): Promise<string> {
  return command('ip', batch ? [...args, '-batch', '-'] : args, batch && `${batch.join('\n')}\n`, 'container networking needs iproute2 (the ip command): install it (apt-get install iproute2)');
}

/** Runs iptables (the legacy or nft flavour, whichever the machine has). */
export function iptables(args: string[]): Promise<string> {
  return command('iptables', ['-w', ...args], undefined, 'outbound traffic from containers needs iptables: install it (apt-get install iptables)');
}

function command(name: string, args: string[], input: string | undefined, missing: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(name, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code === 'ENOENT' ? missing : error.message)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${name} ${input ? input.trim().split('\n').join('; ') : args.join(' ')}: ${err.trim() || `exit ${code}`}`))));
    child.stdin.end(input);
  });
}

const FORWARDING = '/proc/sys/net/ipv4/ip_forward';

/** What a container got on a network: docker inspect's endpoint fields. */
export interface Endpoint {
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
}

export interface Subnet {
  /** The network's first address, as a number. */
  base: number;
  prefix: number;
}

export const toNumber = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
export const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
export const overlaps = (a: Subnet, b: Subnet) => {
  const size = (s: Subnet) => 2 ** (32 - s.prefix);
  return a.base < b.base + size(b) && b.base < a.base + size(a);
};

/** `10.1.0.0/16` → a Subnet; a clear error for anything else. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const prefix = Number(m?.[5]);
  if (!m || m.slice(1, 5).some((p) => Number(p) > 255) || prefix < 8 || prefix > 30) throw new Error(`invalid subnet ${cidr}: expected an IPv4 CIDR from /8 to /30, such as 10.5.0.0/16`);
  const size = 2 ** (32 - prefix);
  return { base: Math.floor(toNumber(m.slice(1, 5).join('.')) / size) * size, prefix };
}

export const formatSubnet = (s: Subnet) => `${toAddress(s.base)}/${s.prefix}`;

/** The subnet a bridge device of the host is on; undefined when there is no such device. */
export async function deviceSubnet(device: string): Promise<Subnet | undefined> {
  const shown = JSON.parse(await ip(['-j', '-4', 'addr', 'show', 'dev', device]).catch(() => '[]')) as { addr_info?: { local: string; prefixlen: number }[] }[];
  const info = shown[0]?.addr_info?.[0];
  return info && parseSubnet(`${info.local}/${info.prefixlen}`);
}

/** The routes of the host, as subnets. */
async function hostRoutes(): Promise<Subnet[]> {
  const routes = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string }[];
  return routes
    .map((r) => /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(r.dst))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ base: toNumber(m[1]), prefix: Number(m[2] ?? 32) }));
}

/**
 * A subnet for a new network that overlaps no route of the host's nor `avoid`: Docker's 172.17–31
 * /16s for the machine's engine, a /24 of 10.200.0.0/13 (from a hash of `seed`) for any other.
 */
export async function freeSubnet(seed: string, main: boolean, avoid: Subnet[]): Promise<Subnet> {
  const taken = [...(await hostRoutes()), ...avoid];
  const start = createHash('sha256').update(seed).digest().readUInt16BE(0) % 2048;
  const candidates = main
    ? Array.from({ length: 15 }, (_, i) => ({ base: toNumber(`172.${17 + i}.0.0`), prefix: 16 }))
    : Array.from({ length: 2048 }, (_, i) => ({ base: toNumber('10.200.0.0') + ((start + i) % 2048) * 256, prefix: 24 }));
  const subnet = candidates.find((c) => !taken.some((t) => overlaps(c, t)));
  if (!subnet) throw new Error('no free subnet for a network: every candidate overlaps a route of this machine or another network');
  return subnet;
}

/** Deletes the rules of the nat and filter tables whose comment `pick` picks. */
export async function removeRules(pick: (comment: string) => boolean): Promise<void> {
  for (const table of ['nat', 'filter']) {
    const listed = await iptables(['-t', table, '-S']).catch(() => '');
    for (const line of listed.split('\n')) {
      const comment = /--comment "?([^"\s]+)"?/.exec(line)?.[1];
      if (!line.startsWith('-A ') || !comment || !pick(comment)) continue;
      // `-A CHAIN rule…` as iptables -S writes it; the comment's quotes are iptables' own.
      const [, chain, ...rule] = line.match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"(.*)"$/, '$1'));
      await iptables(['-t', table, '-D', chain, ...rule]).catch(() => {});
    }
  }
}

/** One Linux bridge: made when first needed, its addresses handed out, removed when idle. */
export class Bridge {
  /** Addresses in use, by container ID. */
  private readonly used = new Map<string, number>();
  private ready: Promise<void> | undefined;

  constructor(
    readonly device: string,
    readonly subnet: Subnet,
  ) {}

  get gateway(): string {
    return toAddress(this.subnet.base + 1);
  }

  get inUse(): boolean {
    return this.used.size > 0;
  }

  /** Makes the bridge where it is missing (an existing one is taken as it is), with its rules. */
  ensure(): Promise<void> {
    this.ready ??= (async () => {
      if (!(await deviceSubnet(this.device))) {
        const clash = (await hostRoutes()).find((r) => overlaps(r, this.subnet));
        if (clash) throw new Error(`the subnet ${formatSubnet(this.subnet)} of ${this.device} overlaps the host's route to ${formatSubnet(clash)}`);
        await ip([], [`link add ${this.device} type bridge`, `addr add ${this.gateway}/${this.subnet.prefix} dev ${this.device}`]);
      }
      await ip(['link', 'set', this.device, 'up']);
      await this.masquerade().catch((error: Error) => console.error(`the bridge ${this.device}: containers reach no other machine: ${error.message}`));
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  /** The rules of this bridge: what leaves it goes out masqueraded as the host, and may be forwarded. */
  private rules(): string[][] {
    const tag = ['-m', 'comment', '--comment', `tug:${this.device}`];
    return [
      ['-t', 'nat', 'POSTROUTING', '-s', formatSubnet(this.subnet), '!', '-o', this.device, '-j', 'MASQUERADE', ...tag],
      ['-t', 'filter', 'FORWARD', '-i', this.device, '-j', 'ACCEPT', ...tag],
      ['-t', 'filter', 'FORWARD', '-o', this.device, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT', ...tag],
    ];
  }

  private async masquerade(): Promise<void> {
    if ((await readFile(FORWARDING, 'utf8')).trim() !== '1') await writeFile(FORWARDING, '1');
    for (const [t, table, chain, ...rule] of this.rules()) {
      // Inserted first, ahead of any policy of others; checked first, so that a restart adds none twice.
      if (!(await iptables([t, table, '-C', chain, ...rule]).then(() => true, () => false))) await iptables([t, table, '-I', chain, ...rule]);
    }
  }

  /** Removes every rule naming this bridge, its containers' too (the ones a crash left as well). */
  private unmasquerade(): Promise<void> {
    return removeRules((tag) => tag === `tug:${this.device}` || tag.startsWith(`tug:${this.device}:`));
  }

  /**
   * Forwards published ports to a container in the kernel, as Docker does where iptables is:
   * DNAT from the host's addresses (its loopback too, through route_localnet and a masquerade,
   * so that the container can answer). The engine's proxy keeps each port bound meanwhile (no
   * one else takes it) and carries the traffic where these rules cannot be made.
   */
  async forward(id: string, address: string, ports: { port: number; protocol: string; hostIp: string; hostPort: number }[]): Promise<void> {
    if (!ports.length) return;
    const tag = ['-m', 'comment', '--comment', `tug:${this.device}:${id.slice(0, 12)}`];
    await writeFile(`/proc/sys/net/ipv4/conf/${this.device}/route_localnet`, '1');
    const rules: string[][] = [['-t', 'nat', '-I', 'POSTROUTING', '-s', '127.0.0.0/8', '-o', this.device, '-d', address, '-j', 'MASQUERADE', ...tag]];
    for (const p of ports) {
      const match = ['-p', p.protocol, ...(p.hostIp === '0.0.0.0' ? [] : ['-d', p.hostIp]), '--dport', String(p.hostPort), '-m', 'addrtype', '--dst-type', 'LOCAL'];
      const to = ['-j', 'DNAT', '--to-destination', `${address}:${p.port}`, ...tag];
      rules.push(['-t', 'nat', '-I', 'OUTPUT', ...match, ...to], ['-t', 'nat', '-I', 'PREROUTING', ...match, ...to]);
      rules.push(['-t', 'filter', '-I', 'FORWARD', '-o', this.device, '-d', address, '-p', p.protocol, '--dport', String(p.port), '-j', 'ACCEPT', ...tag]);
    }
    for (const rule of rules) await iptables(rule);
  }

  /** Removes a container's forwarding rules. */
  unforward(id: string): Promise<void> {
    return removeRules((tag) => tag === `tug:${this.device}:${id.slice(0, 12)}`);
  }

  /** Takes note of a running container's address (found in its record after an engine restart). */
  async reserve(id: string, address: string): Promise<void> {
    this.used.set(id, toNumber(address));
    await this.ensure();
  }

  /**
   * A veth pair from the bridge into `netns` (`ifname` there, `veth` here) with an address of
   * the container's own; `first`: the container's first network, whose traffic leaves through
   * this bridge (its loopback comes up with it).
   */
  async connect(id: string, netns: string, ifname: string, veth: string, first: boolean): Promise<Endpoint> {
    await this.ensure();
    const taken = new Set(this.used.values());
    const size = 2 ** (32 - this.subnet.prefix);
    let address = 0;
    for (let n = this.subnet.base + 2; n < this.subnet.base + size - 1 && !address; n++) if (!taken.has(n)) address = n;
    if (!address) throw new Error(`the network on ${this.device} has no address left in ${formatSubnet(this.subnet)}`);
    this.used.set(id, address);
    const mac = `02:42:${[24, 16, 8, 0].map((s) => (Math.floor(address / 2 ** s) % 256).toString(16).padStart(2, '0')).join(':')}`;
    try {
      await ip([], [`link add ${veth} type veth peer name ${ifname} address ${mac} netns ${netns}`, `link set ${veth} master ${this.device}`, `link set ${veth} up`]);
      await ip(['-n', netns], [`addr add ${toAddress(address)}/${this.subnet.prefix} dev ${ifname}`, `link set ${ifname} up`, ...(first ? ['link set lo up', `route add default via ${this.gateway}`] : [])]);
    } catch (error) {
      this.release(id);
      await ip(['link', 'delete', veth]).catch(() => {});
      throw error;
    }
    return { IPAddress: toAddress(address), IPPrefixLen: this.subnet.prefix, Gateway: this.gateway, MacAddress: mac };
  }

  /** Frees the container's address (its veth goes with its namespace, or is deleted by the caller). */
  release(id: string): void {
    this.used.delete(id);
  }

  /** Removes the bridge and its rules, unless a container is on it (`force`: even then). */
  async remove(force = false): Promise<void> {
    if (this.inUse && !force) return;
    this.ready = undefined;
    await ip(['link', 'delete', this.device]).catch(() => {});
    await this.unmasquerade();
  }
}
