// Container networking through the real docker CLI: the default bridge (an address per
// container, the host as gateway, containers reaching each other), published ports carried by
// the engine's proxy from the host's loopback (TCP and UDP, named, chosen and -P ports, a port in
// use refused), outbound traffic masqueraded as the host, --network host|none|container:, and
// nothing left on the host: no namespace, veth, rule or bridge after the containers and the engine
// go, nor after an engine killed mid-run starts again. Traffic goes only to loopback, to the
// test's own containers and to a test host the test makes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { ip, iptables } from '../../runtime-agent/src/runtime/network';
import { busyboxEngine } from '../helpers/busybox-engine';
import { startEngine, type TestEngine } from '../helpers/engine';
import { makeTestHost } from '../helpers/netns';

const t = busyboxEngine({ pull: true });
let bridge: string;

interface Inspected {
  Id: string;
  NetworkSettings: { SandboxKey?: string; IPAddress?: string; Gateway?: string; Ports: Record<string, { HostIp: string; HostPort: string }[] | null>; Networks: Record<string, { NetworkID?: string }> };
}

async function inspect(name: string): Promise<Inspected> {
  const r = await t.engine.docker(['inspect', name]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Inspected[])[0];
}

async function docker(...args: string[]): Promise<string> {
  const r = await t.engine.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The Linux bridge of an engine's default network. */
async function bridgeDevice(engine: TestEngine): Promise<string> {
  const r = await engine.docker(['network', 'inspect', 'bridge']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { Options: Record<string, string> }[])[0].Options['com.docker.network.bridge.name'];
}

/** What answers on 127.0.0.1:port (retried while the server in the container starts). */
async function get(port: number, path = '/'): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return await res.text();
    } catch (error) {
      if (i > 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The host port that `docker port` names for a container's port. */
async function hostPort(name: string, port: string): Promise<number> {
  const line = (await docker('port', name, port)).trim().split('\n')[0];
  return Number(/:(\d+)$/.exec(line)?.[1]);
}

/** This bridge's namespaces, veths and iptables rules on the host (the bridge itself among them). */
async function leftovers(name: string): Promise<string[]> {
  const namespaces = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(`${name}-`));
  const links = (JSON.parse(await ip(['-j', 'link', 'show'])) as { ifname: string; master?: string }[]).filter((l) => l.ifname === name || l.master === name).map((l) => l.ifname);
  const rules = (await Promise.all(['nat', 'filter'].map((table) => iptables(['-t', table, '-S'])))).join('\n').split('\n').filter((l) => l.includes(`tug:${name}`));
  return [...namespaces, ...links, ...rules];
}

/** What is left of a bridge's that is not the bridge itself or its rules (those stay while the engine runs). */
const containerLeftovers = async (name: string) => (await leftovers(name)).filter((n) => n !== name && !n.includes(`tug:${name}`));

const serveHttp = (text: string, port = 80) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];

after(async () => {
  // What the engine's stop leaves: nothing of its bridge.
  await t.engine.stop();
  if (bridge) assert.deepEqual(await leftovers(bridge), []);
});

test('the default bridge: an address of its own, the host as gateway, /etc/hosts naming it; containers reach each other', async () => {
  await docker('run', '-d', '--name', 'web', t.busybox, ...serveHttp('from-web'));
  const web = await inspect('web');
  bridge = await bridgeDevice(t.engine);
  const { IPAddress, Gateway, SandboxKey } = web.NetworkSettings;
  assert.match(IPAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(Gateway, IPAddress!.replace(/\.\d+$/, '.1'));
  assert.equal(SandboxKey, `/run/netns/${bridge}-${web.Id.slice(0, 12)}`);
  const inside = await docker('run', '--rm', t.busybox, 'sh', '-c', 'ip -4 -o addr show eth0; ip route; cat /etc/hosts | tail -1; hostname');
  const [addr, route, , hosts, hostname] = inside.split('\n');
  assert.match(addr, new RegExp(`eth0\\s+inet ${Gateway!.replace(/\.1$/, '').replace(/\./g, '\\.')}\\.\\d+/`));
  assert.match(route, new RegExp(`^default via ${Gateway!.replace(/\./g, '\\.')} dev eth0`));
  assert.match(hosts, new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+\\t${hostname}$`));
  // Another container reaches web's server at web's address, over the bridge.
  assert.equal(await docker('run', '--rm', t.busybox, 'busybox', 'wget', '-qO-', `http://${IPAddress}/`), 'from-web\n');
  await docker('rm', '-f', 'web');
  assert.deepEqual(await containerLeftovers(bridge), []);
});

test('outbound: a container reaches another machine through the host, masqueraded as the host', async () => {
  // The other machine: a test host of the test's own, whose server answers with the address it sees.
  const outside = await makeTestHost('tug-out');
  const server = spawn('nsenter', [`--net=/run/netns/${outside.name}`, process.execPath, '-e', "require('http').createServer((q, r) => r.end(q.socket.remoteAddress)).listen(8000, '0.0.0.0', () => console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve) => server.stdout!.once('data', resolve));
    assert.equal(await docker('run', '--rm', t.busybox, 'busybox', 'wget', '-qO-', `http://${outside.address}:8000/`), outside.gateway);
    assert.match(await iptables(['-t', 'nat', '-S', 'POSTROUTING']), new RegExp(`^-A POSTROUTING .*"tug:${bridge}" -j MASQUERADE$`, 'm'));
  } finally {
    server.kill();
    await outside.remove();
  }
});

test('-p HOST:CONTAINER answers on the host\'s loopback; docker port, ps and inspect show it', async () => {
  await docker('run', '-d', '--name', 'published', '-p', '127.0.0.1:0:80', t.busybox, ...serveHttp('published'));
  const port = await hostPort('published', '80');
  assert.ok(port > 0);
  assert.equal(await get(port), 'published\n');
  const ps = await docker('ps', '--filter', 'name=published', '--format', '{{.Ports}}');
  assert.equal(ps.trim(), `127.0.0.1:${port}->80/tcp`);
  assert.deepEqual((await inspect('published')).NetworkSettings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });

  // The same host port again is refused, clearly, and the second container leaves nothing behind.
  const taken = await t.engine.docker(['run', '-d', '--name', 'second', '-p', `127.0.0.1:${port}:80`, t.busybox, 'sleep', '60']);
  assert.equal(taken.code, 125);
  assert.match(taken.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
  const second = await inspect('second');
  assert.deepEqual(second.NetworkSettings.Ports, {});
  assert.ok(!(await leftovers(bridge)).includes(`${bridge}-${second.Id.slice(0, 12)}`));
  await docker('rm', '-f', 'published', 'second');
  // The port is free again once its container is gone.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
});

test('-p CONTAINERPORT and -P choose free host ports; -P publishes every exposed port', async () => {
  const both = 'mkdir -p /a /b && echo eighty > /a/index.html && echo eighty-eighty > /b/index.html && httpd -p 80 -h /a && exec httpd -f -p 8080 -h /b';
  await docker('run', '-d', '--name', 'chosen', '-p', '80', '-P', '--expose', '8080', t.busybox, 'sh', '-c', both);
  const [p80, p8080] = [await hostPort('chosen', '80'), await hostPort('chosen', '8080')];
  assert.ok(p80 > 1024 && p8080 > 1024 && p80 !== p8080, `${p80} ${p8080}`);
  assert.equal(await get(p80), 'eighty\n');
  assert.equal(await get(p8080), 'eighty-eighty\n');
  await docker('rm', '-f', 'chosen');
});

test('UDP: datagrams to a published port reach the container and its answers come back', async () => {
  await docker('run', '-d', '--name', 'udp', '-p', '127.0.0.1::5353/udp', t.busybox, 'sleep', '300');
  const port = await hostPort('udp', '5353/udp');
  // The container's end: an echo server in its network namespace (busybox has no UDP server).
  const sandbox = (await inspect('udp')).NetworkSettings.SandboxKey!;
  const echo = spawn('nsenter', [`--net=${sandbox}`, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353,()=>console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve) => echo.stdout!.once('data', resolve));
    const client = createSocket('udp4');
    const answer = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    client.send('ping', port, '127.0.0.1');
    assert.equal(await answer, 'echo:ping');
    client.close();
  } finally {
    echo.kill();
  }
  await docker('rm', '-f', 'udp');
});

test('user networks: containers find each other by name and alias; ls and inspect; rm refused while in use; connect and disconnect', async () => {
  const id = (await docker('network', 'create', 'appnet')).trim();
  const device = `br-${id.slice(0, 12)}`;
  assert.match(await docker('network', 'ls', '--format', '{{.Name}} {{.Driver}}'), /^appnet bridge$/m);
  await docker('run', '-d', '--name', 'db', '--network', 'appnet', '--network-alias', 'database', t.busybox, ...serveHttp('from-db'));
  // By name and by alias, through the network's DNS server; the default bridge has no such names.
  const found = await docker('run', '--rm', '--network', 'appnet', t.busybox, 'sh', '-c', 'wget -qO- http://db/; wget -qO- http://database/; grep nameserver /etc/resolv.conf');
  const [byName, byAlias, nameserver] = found.split('\n');
  assert.deepEqual([byName, byAlias], ['from-db', 'from-db']);
  const net = JSON.parse(await docker('network', 'inspect', 'appnet'))[0] as { IPAM: { Config: { Subnet: string; Gateway: string }[] }; Containers: Record<string, { Name: string; IPv4Address: string }> };
  assert.equal(nameserver, `nameserver ${net.IPAM.Config[0].Gateway}`);
  assert.deepEqual(Object.values(net.Containers).map((c) => c.Name), ['db']);
  const unnamed = await t.engine.docker(['run', '--rm', t.busybox, 'sh', '-c', 'wget -T 2 -qO- http://db/']);
  assert.notEqual(unnamed.code, 0);

  const refused = await t.engine.docker(['network', 'rm', 'appnet']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /error while removing network: network appnet id [0-9a-f]{64} has active endpoints/);

  // A container of the default bridge joins appnet while it runs (eth1), and leaves it.
  await docker('run', '-d', '--name', 'joiner', t.busybox, 'sleep', '300');
  await docker('network', 'connect', 'appnet', 'joiner');
  const joined = await docker('exec', 'joiner', 'sh', '-c', `ip -4 -o addr show eth1 | grep -o 'inet [0-9.]*'; wget -qO- http://${Object.values(net.Containers)[0].IPv4Address.split('/')[0]}/`);
  assert.match(joined, new RegExp(`^inet ${net.IPAM.Config[0].Gateway.replace(/\.1$/, '').replace(/\./g, '\\.')}\\.\\d+\nfrom-db\n$`));
  await docker('network', 'disconnect', 'appnet', 'joiner');
  assert.notEqual((await t.engine.docker(['exec', 'joiner', 'sh', '-c', 'ip link show eth1'])).code, 0);

  await docker('rm', '-f', 'db', 'joiner');
  await docker('network', 'rm', 'appnet');
  assert.deepEqual(await leftovers(device), []);
  const gone = await t.engine.docker(['network', 'inspect', 'appnet']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /network appnet not found/);
});

test('--add-host (host-gateway too), --hostname in /etc/hosts; --dns, --dns-search, --dns-option in resolv.conf', async () => {
  const out = await docker('run', '--rm', '--hostname', 'boxy', '--add-host', 'db.local:10.1.2.3', '--add-host', 'gw:host-gateway', '--dns', '10.0.0.53', '--dns-search', 'example.test', '--dns-option', 'timeout:1', t.busybox, 'sh', '-c', 'tail -3 /etc/hosts; cat /etc/resolv.conf');
  const gateway = (JSON.parse(await docker('network', 'inspect', 'bridge'))[0] as { IPAM: { Config: { Gateway: string }[] } }).IPAM.Config[0].Gateway;
  assert.match(out, new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+\\tboxy\\n10\\.1\\.2\\.3\\tdb\\.local\\n${gateway.replace(/\./g, '\\.')}\\tgw\\nnameserver 10\\.0\\.0\\.53\\nsearch example\\.test\\noptions timeout:1\\n$`));
});

test('RUN steps of a build are on the default bridge, or on the network the build names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tug-build-net-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), `FROM ${t.busybox}\nRUN ls /sys/class/net | tr '\\n' ' ' > /devices\nCMD ["cat", "/devices"]\n`);
    await docker('build', '-q', '-t', 'net:bridge', dir);
    assert.equal(await docker('run', '--rm', '--network', 'none', 'net:bridge'), 'eth0 lo ');
    await docker('build', '-q', '--no-cache', '--network', 'none', '-t', 'net:none', dir);
    assert.equal(await docker('run', '--rm', '--network', 'none', 'net:none'), 'lo ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--network none has the loopback alone; host has the host\'s devices; container: shares another\'s', async () => {
  assert.deepEqual((await docker('run', '--rm', '--network', 'none', t.busybox, 'ls', '/sys/class/net')).split(/\s+/).filter(Boolean), ['lo']);
  // The host's own network namespace (its devices come and go with other tests' containers).
  assert.equal((await docker('run', '--rm', '--network', 'host', t.busybox, 'sh', '-c', 'readlink /proc/self/ns/net')).trim(), await readlink('/proc/self/ns/net'));
  await docker('run', '-d', '--name', 'owner', t.busybox, ...serveHttp('shared'));
  const address = (await inspect('owner')).NetworkSettings.IPAddress!;
  // Sharing owner's network: its server is on this container's localhost.
  assert.equal(await docker('run', '--rm', '--network', 'container:owner', t.busybox, 'sh', '-c', `ip -4 -o addr show eth0 | grep -o ${address}; wget -qO- http://127.0.0.1/`), `${address}\nshared\n`);
  await docker('rm', '-f', 'owner');
  const unknown = await t.engine.docker(['run', '--rm', '--network', 'nowhere', t.busybox, 'true']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /network nowhere not found/);
});

test('an engine killed while its container runs: the port answers on, and after its next start; a container that ended meanwhile leaves nothing', async () => {
  const engine = await startEngine();
  const dir = dirname(engine.dataRoot);
  let again: TestEngine | undefined;
  try {
    const pulled = await engine.docker(['pull', t.busybox]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const ran = await engine.docker(['run', '-d', '--name', 'survivor', '-p', '127.0.0.1:0:80', t.busybox, ...serveHttp('still-here')]);
    assert.equal(ran.code, 0, ran.stderr);
    const inspected = JSON.parse((await engine.docker(['inspect', 'survivor'])).stdout)[0] as Inspected & { State: { Pid: number } };
    const port = Number(inspected.NetworkSettings.Ports['80/tcp']![0].HostPort);
    const own = await bridgeDevice(engine);
    assert.equal(await get(port), 'still-here\n');

    process.kill(engine.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    // The kernel's forwarding rules carry the port while no engine runs.
    assert.equal(await get(port), 'still-here\n');
    again = await startEngine({ dir });
    assert.equal(await get(port), 'still-here\n');

    // Killed again; the container ends while no engine runs, its namespace left behind...
    process.kill(again.pid, 'SIGKILL');
    process.kill(inspected.State.Pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok((await leftovers(own)).includes(`${own}-${inspected.Id.slice(0, 12)}`));
    // ...and the next start removes it.
    again = await startEngine({ dir });
    assert.deepEqual(await containerLeftovers(own), []);
    await again.stop();
    assert.deepEqual(await leftovers(own), []);
  } finally {
    await again?.stop().catch(() => {});
    await engine.stop().catch(() => {});
  }
});

test('events: a network created, joined by a running container (at its start and by connect), left and destroyed', async () => {
  const since = (Date.now() / 1000).toFixed(3);
  await docker('network', 'create', 'evnet');
  await docker('run', '-d', '--name', 'evnet-c', '--network', 'evnet', t.busybox, 'sleep', '300');
  await docker('network', 'connect', 'bridge', 'evnet-c');
  await docker('network', 'disconnect', 'bridge', 'evnet-c');
  await docker('rm', '-f', 'evnet-c');
  await docker('network', 'rm', 'evnet');
  const until = (Date.now() / 1000 + 0.5).toFixed(3);
  const out = await docker('events', '--since', since, '--until', until, '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}');
  assert.deepEqual(out.trim().split('\n').filter((l) => / (evnet|bridge) /.test(l)), [
    'create evnet bridge',
    'connect evnet bridge',
    'connect bridge bridge',
    'disconnect bridge bridge',
    'disconnect evnet bridge',
    'destroy evnet bridge',
  ]);
});
