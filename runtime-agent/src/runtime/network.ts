// The default bridge network, as Docker's docker0: a Linux bridge of this engine's own with the
// host as gateway, and for each running container a network namespace made before it starts
// (the native helper joins it), a veth pair between the two, an address from a subnet that no
// route of the host's uses, and a default route through the bridge. Everything is named after the
// bridge, so that what a crash left behind is found and removed on the next start, and engines
// with other data roots (and bridges) on the same machine leave each other's alone.
//
// The work is done by iproute2's `ip`, a few commands at a time in its batch mode. Outbound
// traffic leaves through the host, masqueraded as it (iptables' MASQUERADE, IP forwarding on, as
// Docker turns it on); every rule carries a comment naming the bridge, and goes with it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';

/** Where `ip netns` keeps named network namespaces. */
const NETNS_DIR = '/run/netns';

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

/** What a container on the bridge got: docker inspect's NetworkSettings fields. */
export interface Endpoint {
  /** The namespace the container joins. */
  netns: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
}

interface Subnet {
  /** The network's first address, as a number. */
  base: number;
  prefix: number;
}

const toNumber = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
const overlaps = (a: Subnet, b: Subnet) => {
  const size = (s: Subnet) => 2 ** (32 - s.prefix);
  return a.base < b.base + size(b) && b.base < a.base + size(a);
};

/** The subnets to try: Docker's range for the machine's engine, a hashed /24 of 10.200.0.0/13 for any other. */
function candidates(bridge: string, main: boolean): Subnet[] {
  if (main) return Array.from({ length: 15 }, (_, i) => ({ base: toNumber(`172.${17 + i}.0.0`), prefix: 16 }));
  const start = createHash('sha256').update(bridge).digest().readUInt16BE(0) % 2048;
  return Array.from({ length: 2048 }, (_, i) => ({ base: toNumber('10.200.0.0') + ((start + i) % 2048) * 256, prefix: 24 }));
}

export class BridgeNetwork {
  /** Addresses in use, by container ID (host part). */
  private readonly used = new Map<string, number>();
  private readonly detaching = new Set<Promise<void>>();
  private subnet: Subnet | undefined;
  private ready: Promise<Subnet> | undefined;

  /** `dataRoot`: the engine's; the default one's bridge is tug0, another's is named by a hash of it. */
  constructor(dataRoot: string, main = dataRoot === '/var/lib/tug') {
    this.name = main ? 'tug0' : `tug${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`;
    this.main = main;
  }

  readonly name: string;
  private readonly main: boolean;

  /** The namespace of a container on this bridge. */
  private netns(id: string): string {
    return `${this.name}-${id.slice(0, 12)}`;
  }

  /** The host's end of a container's veth pair. */
  private static veth(id: string): string {
    return `tv${id.slice(0, 12)}`;
  }

  /** Makes the bridge where it is missing (taking up its address where it is there). */
  private ensure(): Promise<Subnet> {
    this.ready ??= (async () => {
      const existing = JSON.parse(await ip(['-j', '-4', 'addr', 'show', 'dev', this.name]).catch(() => '[]')) as { addr_info?: { local: string; prefixlen: number }[] }[];
      const info = existing[0]?.addr_info?.[0];
      if (info) {
        this.subnet = { base: toNumber(info.local) - 1, prefix: info.prefixlen };
        await ip(['link', 'set', this.name, 'up']);
        await this.masquerade(this.subnet).catch((error: Error) => console.error(`the bridge ${this.name}: containers reach no other machine: ${error.message}`));
        return this.subnet;
      }
      const routes = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string }[];
      const taken = routes
        .map((r) => /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(r.dst))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ base: toNumber(m[1]), prefix: Number(m[2] ?? 32) }));
      const subnet = candidates(this.name, this.main).find((c) => !taken.some((t) => overlaps(c, t)));
      if (!subnet) throw new Error(`no free subnet for the bridge ${this.name}: every candidate overlaps a route of this machine`);
      await ip([], [`link add ${this.name} type bridge`, `addr add ${toAddress(subnet.base + 1)}/${subnet.prefix} dev ${this.name}`, `link set ${this.name} up`]);
      this.subnet = subnet;
      await this.masquerade(subnet).catch((error: Error) => console.error(`the bridge ${this.name}: containers reach no other machine: ${error.message}`));
      return subnet;
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  /** The rules of this bridge: what leaves it goes out masqueraded as the host, and may be forwarded. */
  private rules(subnet: Subnet): string[][] {
    const tag = ['-m', 'comment', '--comment', `tug:${this.name}`];
    return [
      ['-t', 'nat', 'POSTROUTING', '-s', `${toAddress(subnet.base)}/${subnet.prefix}`, '!', '-o', this.name, '-j', 'MASQUERADE', ...tag],
      ['-t', 'filter', 'FORWARD', '-i', this.name, '-j', 'ACCEPT', ...tag],
      ['-t', 'filter', 'FORWARD', '-o', this.name, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT', ...tag],
    ];
  }

  private async masquerade(subnet: Subnet): Promise<void> {
    if ((await readFile(FORWARDING, 'utf8')).trim() !== '1') await writeFile(FORWARDING, '1');
    for (const [t, table, chain, ...rule] of this.rules(subnet)) {
      // Inserted first, ahead of any policy of others; checked first, so that a restart adds none twice.
      if (!(await iptables([t, table, '-C', chain, ...rule]).then(() => true, () => false))) await iptables([t, table, '-I', chain, ...rule]);
    }
  }

  /** Removes every rule naming this bridge (the ones a crash left too). */
  private async unmasquerade(): Promise<void> {
    for (const [table, chain] of [['nat', 'POSTROUTING'], ['filter', 'FORWARD']]) {
      const listed = await iptables(['-t', table, '-S', chain]).catch(() => '');
      for (const line of listed.split('\n').filter((l) => l.includes(`tug:${this.name}`))) {
        // `-A CHAIN rule…` as iptables-save writes it; the comment's quotes are iptables' own.
        const rule = line.replace(/^-A \S+ /, '').match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"(.*)"$/, '$1'));
        await iptables(['-t', table, '-D', chain, ...rule]).catch(() => {});
      }
    }
  }

  /** Takes note of a running container's address (found in its record after an engine restart). */
  reserve(id: string, address: string): void {
    this.used.set(id, toNumber(address));
  }

  /** A namespace for the container, wired to the bridge, with an address of its own. */
  async attach(id: string): Promise<Endpoint> {
    const subnet = await this.ensure();
    const taken = new Set(this.used.values());
    const size = 2 ** (32 - subnet.prefix);
    let address = 0;
    for (let n = subnet.base + 2; n < subnet.base + size - 1; n++) {
      if (!taken.has(n)) {
        address = n;
        break;
      }
    }
    if (!address) throw new Error(`the bridge ${this.name} has no address left`);
    this.used.set(id, address);
    const ns = this.netns(id);
    const mac = `02:42:${[24, 16, 8, 0].map((s) => (Math.floor(address / 2 ** s) % 256).toString(16).padStart(2, '0')).join(':')}`;
    const gateway = toAddress(subnet.base + 1);
    try {
      await ip(['netns', 'add', ns]);
      const veth = BridgeNetwork.veth(id);
      await ip([], [`link add ${veth} type veth peer name eth0 address ${mac} netns ${ns}`, `link set ${veth} master ${this.name}`, `link set ${veth} up`]);
      await ip(['-n', ns], [`addr add ${toAddress(address)}/${subnet.prefix} dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via ${gateway}`]);
    } catch (error) {
      await this.detach(id);
      throw error;
    }
    return { netns: `${NETNS_DIR}/${ns}`, IPAddress: toAddress(address), IPPrefixLen: subnet.prefix, Gateway: gateway, MacAddress: mac };
  }

  /** Removes the container's namespace (its veth pair goes with it) and frees its address. */
  detach(id: string): Promise<void> {
    this.used.delete(id);
    const done = (async () => {
      await ip(['netns', 'delete', this.netns(id)]).catch(() => {});
      await ip(['link', 'delete', BridgeNetwork.veth(id)]).catch(() => {});
    })();
    // close() waits for these: the engine must not exit with a namespace half removed.
    this.detaching.add(done);
    void done.finally(() => this.detaching.delete(done));
    return done;
  }

  /** Removes the namespaces and veths of this bridge whose containers do not run (left by a crash). */
  async reconcile(running: Set<string>): Promise<void> {
    const keep = new Set([...running].map((id) => id.slice(0, 12)));
    const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(`${this.name}-`)) continue;
      const id = name.slice(this.name.length + 1);
      if (!keep.has(id)) await ip(['netns', 'delete', name]).catch(() => {});
    }
    const links = JSON.parse(await ip(['-j', 'link', 'show', 'master', this.name]).catch(() => '[]')) as { ifname: string }[];
    for (const { ifname } of links) if (ifname.startsWith('tv') && !keep.has(ifname.slice(2))) await ip(['link', 'delete', ifname]).catch(() => {});
  }

  /** Removes the bridge when no container is on it (the engine stops; containers that run on keep it). */
  async close(): Promise<void> {
    await Promise.all(this.detaching);
    if (this.used.size > 0) return;
    await ip(['link', 'delete', this.name]).catch(() => {});
    await this.unmasquerade();
    this.ready = undefined;
  }
}
