// Network bench: what goes through a published port, tugd (its userland proxy to the container on
// its bridge) against podman run -p (CNI's bridge and DNAT rules), on this machine in one run.
// Both containers run busybox httpd, serving files from the same host folder; the client is
// this process on 127.0.0.1. Connection latency: a fresh TCP connection and a 1-byte GET. Throughput:
// a 64 MiB GET. Prints median, min and max per tool and the ratio tug/podman.
// Usage (as root, after npm run build): node --import tsx bench/network/run.ts [--runs=N]

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, startEngine } from '../../test/helpers/engine';
import { busyboxLayer, pushImage } from '../../test/helpers/images';
import { startRegistry } from '../../test/helpers/registry';
import { contestant, findProcess, firstLine, measure, missing, ok, printTable, progress, runBench, stats, which, type Cleanup, type Contestant, type Measurement } from '../shared/harness';
import { EngineCgroups, MachineState, Podman, stopEngine, unmountUnder, writePeerConfig } from '../shared/host';

process.chdir(resolve(__dirname, '..', '..'));

const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 20);
const BIG = 64 * 1024 * 1024;

/** A free port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer().on('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** GETs a path on a fresh connection and reads the body to its end; resolves with its length. */
function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let length = 0;
      res.on('data', (d: Buffer) => (length += d.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(length) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits until the server behind the port answers. */
async function answering(port: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await get(port, '/small');
      return;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function bench(cleanup: Cleanup): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run it as root: containers need namespaces, mounts and cgroups');
  if (!existsSync('dist/tug.js')) throw new Error('dist/tug.js is missing: run npm run build first');
  const machine = await MachineState.record();
  cleanup.defer('podman state outside the temp dir', () => machine.restore());
  // Podman's CNI network leaves a bridge, iptables chains and address leases behind: the
  // machine gets back the firewall it had, and loses the bridge and leases it did not have.
  const firewall = (await ok(run('iptables-save', []), 'iptables-save')).stdout;
  const hadCni = existsSync('/sys/class/net/cni-podman0');
  const hadLeases = existsSync('/var/lib/cni');
  cleanup.defer('what podman\'s CNI network left', async () => {
    if ((await run('iptables-save', [])).stdout.includes('CNI-')) await run('iptables-restore', [], { input: firewall });
    if (!hadCni) await run('ip', ['link', 'delete', 'cni-podman0']);
    if (!hadLeases) await rm('/var/lib/cni', { recursive: true, force: true });
  });
  const tmp = await mkdtemp(join(tmpdir(), 'tug-bench-network-'));
  cleanup.defer(`temp dir ${tmp}`, async () => {
    await unmountUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  });
  const www = join(tmp, 'www');
  await mkdir(www);
  await writeFile(join(www, 'small'), 'x');
  await writeFile(join(www, 'big'), Buffer.alloc(BIG, 7));

  const registry = await startRegistry();
  cleanup.defer('registry', () => registry.stop());
  await pushImage(registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
  const image = `${registry.host}/library/busybox:latest`;
  const cgroups = await EngineCgroups.record();
  const engine = await startEngine();
  const pid = await findProcess((argv) => argv.includes('daemon') && argv.includes(engine.socket), `tugd on ${engine.socket}`);
  cleanup.defer('tugd', () => stopEngine(engine, pid, cgroups));
  await ok(engine.docker(['pull', image]), 'docker pull');

  const serve = ['busybox', 'httpd', '-f', '-p', '80', '-h', '/www'];
  const tugPort = await freePort();
  await ok(engine.docker(['run', '-d', '--name', 'bench-web', '-p', `127.0.0.1:${tugPort}:80`, '--mount', `type=bind,src=${www},dst=/www,readonly`, image, ...serve]), 'docker run httpd');
  await answering(tugPort);

  let podmanPort: number | undefined;
  let podmanWhy = which('podman') ? '' : 'podman is not installed (apt-get install -y podman)';
  if (!podmanWhy) {
    try {
      await writePeerConfig(tmp, [registry.host]);
      const podman = await Podman.create(join(tmp, 'podman'), cleanup);
      await podman.pull(image);
      podmanPort = await freePort();
      await podman.cmd(['run', '-d', '--name', 'bench-web', '-p', `127.0.0.1:${podmanPort}:80`, '--mount', `type=bind,src=${www},dst=/www,readonly`, image, ...serve]);
      cleanup.defer('podman container', async () => void (await podman.cmd(['rm', '-f', 'bench-web']).catch(() => {})));
      await answering(podmanPort);
    } catch (error) {
      podmanWhy = `setup failed: ${firstLine(error)}`;
      podmanPort = undefined;
    }
  }

  const pair = (title: string, path: string, expect: number): Measurement => {
    const once = (port: number) => async () => {
      const length = await get(port, path);
      if (length !== expect) throw new Error(`GET ${path}: ${length} bytes, not ${expect}`);
    };
    const peer: Contestant = podmanPort ? contestant('podman', `GET http://127.0.0.1:PORT${path} → podman run -p 127.0.0.1:PORT:80 busybox httpd`, once(podmanPort)) : { ...missing('podman'), unavailable: podmanWhy };
    return {
      title,
      contestants: [contestant('tug', `GET http://127.0.0.1:PORT${path} → docker run -p 127.0.0.1:PORT:80 busybox httpd (tugd)`, once(tugPort)), peer],
      goalPeer: 'podman',
    };
  };
  const latency = pair('connect + GET 1 byte', '/small', 1);
  const throughput = pair('GET 64 MiB', '/big', BIG);
  progress(`latency: ${runs * 5} runs each…`);
  await measure(latency, runs * 5);
  progress(`throughput: ${runs} runs each…`);
  await measure(throughput, runs);

  console.log(`\nNetwork bench — node ${process.version}; both through a published port on 127.0.0.1`);
  const rate = (c: Contestant) => {
    const s = stats(c.samples);
    return s ? `${((BIG / 2 ** 20) / (s.median / 1000)).toFixed(0)} MiB/s` : 'n/a';
  };
  printTable([latency, throughput], throughput.contestants.map((c) => ['throughput', c.tool, '', rate(c), '', '', '']));
  for (const c of [...latency.contestants, ...throughput.contestants]) if (c.unavailable) console.log(`${c.tool}: ${c.unavailable}`);
}

void runBench(bench);
