// Engine bench: tugd, driven by the real docker CLI, against runc, podman and skopeo doing the
// same work on this machine, in the same run: starting a busybox container, a cold pull of a
// 100 MB image from a local registry, and tugd's idle memory. Prints median, min and max per
// tool and the ratio tug/peer, then one verdict per goal. See README.md.
// Usage (as root, from anywhere): node --import tsx bench/engine/run.ts [--runs=N]

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chainIds } from '../../runtime-agent/src/images/snapshots';
import { run, startEngine, type TestEngine } from '../../test/helpers/engine';
import { busyboxLayer, pushImage, tarOf, type PushedImage } from '../../test/helpers/images';
import { mulberry32 } from '../../test/helpers/random';
import { startRegistry } from '../../test/helpers/registry';
import type { TarWriteEntry } from '../../runtime-agent/src/images/tar';
import {
  Cleanup, contestant, delay, duration, existing, findProcess, firstLine, isInterrupted, mb, measure, missing, noise, ok, printTable,
  progress, runBench, spawnFloor, stats, sum, toolVersion, verdict, which, type Contestant, type Measurement,
} from '../shared/harness';
import { EngineCgroups, MachineState, peerEnv, Podman, policyFile, registryProcess, stopEngine, unmountUnder, writePeerConfig } from '../shared/host';

// The engine helper starts `node dist/tug.js`, relative to the repository root.
process.chdir(resolve(__dirname, '..', '..'));

/** The argument that makes this script the registry process (see startRegistryProcess). */
const SERVE_REGISTRY = '--serve-registry';

const options = parseArgs(process.argv.slice(2));

/** Goals, as the project set them. */
const GOAL_IDLE_MIB = 60;

/** What the run found that looks wrong or slow in the engine (printed at the end). */
const notes = new Set<string>();

async function bench(cleanup: Cleanup): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run it as root: containers need namespaces, mounts and cgroups');
  for (const file of ['dist/tug.js', 'dist/tug-shim']) if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  for (const command of ['docker', 'docker-registry', 'tar']) if (!which(command)) throw new Error(`${command} is not installed (see bench/engine/README.md)`);

  // Podman and skopeo keep some state at fixed places whatever their flags; what they create
  // there is removed at the end (registered first, so it runs last).
  const machine = await MachineState.record();
  cleanup.defer('podman and skopeo state outside the temp dir', () => machine.restore());
  const tmp = await mkdtemp(join(tmpdir(), 'tug-bench-engine-'));
  cleanup.defer(`temp dir ${tmp}`, async () => {
    await unmountUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  });

  const images = await startRegistryProcess(cleanup);
  const cgroups = await EngineCgroups.record();
  const engine = await startEngine();
  const pid = await findProcess((argv) => argv.includes('daemon') && argv.includes(engine.socket), `tugd on ${engine.socket}`);
  cleanup.defer('tugd', () => stopEngine(engine, pid, cgroups));
  progress('tugd started; waiting for its memory to settle…');
  const rssStartup = await settledRssMiB(pid);

  await writePeerConfig(tmp);
  const peers: Peers = {
    podman: which('podman') ? await Podman.create(join(tmp, 'podman'), cleanup) : undefined,
    runc: which('runc') ? await RuncBundle.create(join(tmp, 'runc'), await busyboxLayer(), cleanup) : undefined,
    skopeo: which('skopeo') ? join(tmp, 'skopeo') : undefined,
  };

  const floor = await spawnFloor();
  const runBench = await runMeasurement(engine, peers, images);
  progress('waiting for tugd\'s memory to settle…');
  const rssAfterRun = await settledRssMiB(pid);
  const pullBench = await pullMeasurement(engine, peers, images, tmp);
  progress('waiting for tugd\'s memory to settle…');
  const rssAfterPull = await settledRssMiB(pid);
  const peak = (await procStatusKiB(pid, 'VmHWM')) / 1024;

  console.log(`\nEngine bench — ${await toolVersions(peers)}; node ${process.version}`);
  console.log(`  run: ${options.runRuns} runs per tool, pull: ${options.pullRuns}; each after one warm-up run, the tools taking turns run by run`);
  console.log(`  every figure includes starting a process from this script: ${duration(floor)} (median for /bin/true)`);
  console.log(
    `  pull image: ${images.bigGzip.length} gzip layers, ${mb(sum(images.bigGzip))} MB (tars ${mb(sum(images.bigTars))} MB, `
      + `${PULL_FILES_PER_LAYER * images.bigGzip.length} files), from the registry at ${images.host}`,
  );
  const measurements = [runBench, pullBench];
  printResults(measurements, { rssStartup, rssAfterRun, rssAfterPull, peak });
  console.log('');
  console.log(verdict('Run', runBench, 'faster than runc run', (ratio) => ratio < 1));
  const cli = stats(runBench.contestants.find((c) => c.tool === 'cli')?.samples ?? []);
  const runc = stats(runBench.contestants.find((c) => c.tool === 'runc')?.samples ?? []);
  if (cli && runc) {
    console.log(`     the docker CLI alone, against an engine that answers at once: ${duration(cli.median)} (runc run: ${duration(runc.median)}); tugd's own part: about ${duration(Math.max(0, stats(runBench.contestants[0]!.samples)!.median - cli.median))}`);
  }
  console.log(verdict('Pull', pullBench, 'faster than podman pull', (ratio) => ratio < 1));
  const worst = Math.max(rssStartup, rssAfterRun, rssAfterPull);
  console.log(
    `Memory: idle tugd ${rssStartup.toFixed(1)} MiB after startup, ${rssAfterRun.toFixed(1)} after the run measurement, ${rssAfterPull.toFixed(1)} after the pulls`
      + ` — goal (under ${GOAL_IDLE_MIB} MiB) ${worst < GOAL_IDLE_MIB ? 'met' : 'NOT met'}`,
  );
  if (notes.size) console.log(`\nNoticed in the engine:\n${[...notes].map((n) => `  - ${n}`).join('\n')}`);
  for (const m of measurements) for (const c of m.contestants) if (c.unavailable) console.log(`${m.title}, ${c.tool}: ${c.unavailable}`);
  // tugd failing is a failed bench; a missing or failing peer only leaves its column empty.
  if (measurements.some((m) => m.contestants[0]!.unavailable)) process.exitCode = 1;
}

/** What the registry process pushed, and where. */
interface Images {
  /** The registry's host:port. */
  host: string;
  busyboxRef: string;
  bigRef: string;
  big: PushedImage;
  /** The sizes of the pull image's layers: as pushed (gzip), and as tars. */
  bigGzip: number[];
  bigTars: number[];
}

interface Peers {
  podman?: Podman;
  runc?: RuncBundle;
  /** Where skopeo's copies go. */
  skopeo?: string;
}

/**
 * The registry side runs in a child process (this script with SERVE_REGISTRY): making and
 * pushing the pull image takes some 300 MB that this process would keep, and each fork of a
 * measured command copies the page tables of it (a spawn that takes 3 ms takes 10–15).
 */
async function startRegistryProcess(cleanup: Cleanup): Promise<Images> {
  progress('setting up: a registry on 127.0.0.1, busybox and a 6-layer image of about 100 MB…');
  const started = performance.now();
  const child = spawn(process.execPath, [...process.execArgv, __filename, SERVE_REGISTRY], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // Closing its stdin tells it to stop the registry and remove its files.
  cleanup.defer('registry', async () => {
    child.stdin?.end();
    await exited;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`the registry process ended (${signal ?? `code ${code}`}) before it was ready`)));
  });
  progress(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return JSON.parse(line) as Images;
}

/** The registry process: pushes the images, prints them as one JSON line, serves until stdin closes. */
async function serveRegistry(): Promise<void> {
  process.on('SIGINT', () => {}); // Ctrl-C reaches this process too: the bench says when to stop
  const registry = await startRegistry();
  const registryProc = await registryProcess(registry);
  const shutdown = async (code: number) => {
    await registryProc.stop();
    process.exit(code);
  };
  process.stdin.on('end', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.stdin.resume();
  try {
    await pushImage(registry, 'library/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
    const layers = await pullLayers();
    const big = await pushImage(registry, 'bench/pull', 'latest', { layers });
    const images: Images = {
      host: registry.host,
      busyboxRef: `${registry.host}/library/busybox:latest`,
      bigRef: `${registry.host}/bench/pull:latest`,
      big,
      bigGzip: await blobSizes(registry.host, 'bench/pull', big.layerDigests),
      bigTars: layers.map((l) => l.length),
    };
    process.stdout.write(`${JSON.stringify(images)}\n`);
  } catch (error) {
    console.error(`registry setup failed: ${firstLine(error)}`);
    await shutdown(1);
  }
}

/** Start to exit of a busybox container running `true`. */
async function runMeasurement(engine: TestEngine, peers: Peers, images: Images): Promise<Measurement> {
  await ok(engine.docker(['pull', images.busyboxRef]), 'docker pull busybox');
  await ok(engine.docker(['tag', images.busyboxRef, 'busybox']), 'docker tag busybox');
  const contestants: Contestant[] = [
    // --network none: a network namespace with lo up, as runc and podman are given here (a
    // bridge would add a veth pair and an address; bench/network measures that side).
    contestant('tug', 'docker run --rm --network none busybox true    (docker CLI → tugd)', async () => {
      await ok(engine.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']), 'docker run');
    }),
  ];
  const { runc, podman } = peers;
  contestants.push(
    runc ? contestant('runc', `runc --root … run --bundle ${runc.bundle} <fresh id>`, (i) => runc.run(i)) : missing('runc'),
  );
  if (podman) {
    // --network none, as tugd's: podman's default bridge would also make a veth pair and firewall rules on the host.
    const c = contestant('podman', 'podman --root … --runtime runc run --rm --network none busybox true', async () => {
      await podman.cmd(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    });
    try {
      await podman.pull(images.busyboxRef);
      await podman.cmd(['tag', images.busyboxRef, 'busybox']);
    } catch (error) {
      c.unavailable = `setup failed: ${firstLine(error)}`;
    }
    contestants.push(c);
  } else {
    contestants.push(missing('podman'));
  }
  // The docker CLI's own share: the same command against an engine that answers at once.
  const stub = await startStubEngine(join(dirname(engine.socket), 'stub.sock'));
  contestants.push(contestant('cli', 'docker run --rm busybox true    (docker CLI → a stub engine that answers at once)', async () => {
    await ok(run('docker', ['run', '--rm', 'busybox', 'true'], { env: { DOCKER_HOST: `unix://${stub.socket}` } }), 'docker run against the stub');
  }));
  const m: Measurement = { title: 'run busybox true', contestants, goalPeer: 'runc' };
  progress(`run: ${options.runRuns} runs each, after one warm-up…`);
  await measure(m, options.runRuns);
  await stub.close();
  const leftover = (await engine.docker(['ps', '-aq'])).stdout.trim();
  if (leftover) notes.add(`containers left after docker run --rm: ${leftover.split('\n').length}`);
  return m;
}

/** A cold pull of the 6-layer image: download, verify, unpack (skopeo does not unpack). */
async function pullMeasurement(engine: TestEngine, peers: Peers, images: Images, tmp: string): Promise<Measurement> {
  const { big, bigRef } = images;
  const blobFiles = [big.manifestDigest, big.configDigest, ...big.layerDigests].map((d) => join(engine.dataRoot, 'content', 'blobs', 'sha256', d.replace(/^sha256:/, '')));
  const snapshotDirs = chainIds(big.diffIds).map((c) => join(engine.dataRoot, 'snapshots', c.replace(/^sha256:/, '')));
  const contestants: Contestant[] = [
    {
      ...contestant('tug', 'docker pull <image>    (docker CLI → tugd); then docker rmi, and its blobs deleted', async () => {
        await ok(engine.docker(['pull', bigRef], { timeoutMs: 600_000 }), 'docker pull');
      }),
      reset: async () => {
        await ok(engine.docker(['rmi', bigRef]), 'docker rmi');
        // Blobs left in the content store would make the next pull warm.
        const kept = await existing(blobFiles);
        if (kept.length) notes.add(`docker rmi leaves the image's blobs in the content store (${kept.length} of ${blobFiles.length}); the bench deletes them so that every pull is cold`);
        for (const file of kept) await rm(file, { force: true });
        const snapshots = await existing(snapshotDirs);
        if (snapshots.length) notes.add(`docker rmi left ${snapshots.length} of the image's ${snapshotDirs.length} snapshots`);
      },
    },
  ];
  const { podman, skopeo } = peers;
  contestants.push(
    podman
      ? {
          ...contestant('podman', 'podman --root … pull --tls-verify=false <image>; then podman rmi', () => podman.pull(bigRef)),
          reset: () => podman.cmd(['rmi', bigRef]).then(() => undefined),
        }
      : missing('podman'),
  );
  if (skopeo) {
    await mkdir(skopeo);
    const out = (i: number) => join(skopeo, `run-${i}`);
    contestants.push({
      ...contestant('skopeo', 'skopeo copy docker://<image> oci:<fresh dir>    (no unpacking)', async (i) => {
        const args = ['--policy', policyFile(tmp), 'copy', '--src-tls-verify=false', `docker://${bigRef}`, `oci:${out(i)}:latest`];
        await ok(run('skopeo', args, { timeoutMs: 600_000, env: peerEnv(tmp) }), 'skopeo copy');
      }),
      reset: (i) => rm(out(i), { recursive: true, force: true }),
    });
  } else {
    contestants.push(missing('skopeo'));
  }
  const m: Measurement = { title: 'pull 6 layers, cold', contestants, goalPeer: 'podman' };
  progress(`pull: ${options.pullRuns} runs each, after one warm-up…`);
  await measure(m, options.pullRuns);
  return m;
}

/**
 * Just enough of the Engine API for `docker run --rm` to succeed at once: ping, create, attach
 * (a stream that ends), start, and a wait that says 0. What the CLI takes against it is its own.
 */
async function startStubEngine(socket: string): Promise<{ socket: string; close(): Promise<void> }> {
  const id = 'f'.repeat(64);
  const server = createServer((req, res) => {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (path.endsWith('/_ping')) res.writeHead(200, { 'API-Version': '1.47', 'Content-Type': 'text/plain' }).end('OK');
    else if (path.endsWith('/containers/create')) json(201, { Id: id, Warnings: [] });
    else if (path.endsWith('/start')) res.writeHead(204).end();
    else if (path.endsWith('/wait')) json(200, { StatusCode: 0, Error: null });
    else json(404, { message: `page not found: ${path}` });
  });
  server.on('upgrade', (_req, stream) => {
    stream.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** An OCI bundle of the busybox layer: `runc spec`, changed to run `true` without a terminal. */
class RuncBundle {
  private readonly prefix = `tug-bench-${process.pid}`;

  private constructor(
    readonly bundle: string,
    private readonly state: string,
  ) {}

  static async create(dir: string, layer: Buffer, cleanup: Cleanup): Promise<RuncBundle> {
    const bundle = join(dir, 'bundle');
    const state = join(dir, 'state');
    await mkdir(join(bundle, 'rootfs'), { recursive: true });
    await mkdir(state);
    const tar = join(dir, 'busybox.tar');
    await writeFile(tar, layer);
    await ok(run('tar', ['-xf', tar, '-C', join(bundle, 'rootfs')]), 'tar -x busybox');
    await ok(run('runc', ['spec', '--bundle', bundle]), 'runc spec');
    const configFile = join(bundle, 'config.json');
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { process: { args: string[]; terminal: boolean } };
    config.process.args = ['true'];
    config.process.terminal = false;
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const runc = new RuncBundle(bundle, state);
    // `runc run` deletes its container when it ends; one that a failure left goes here, with its cgroups.
    cleanup.defer('runc containers', async () => {
      const list = await run('runc', ['--root', state, 'list', '-q']);
      for (const id of list.stdout.split('\n').filter(Boolean)) await run('runc', ['--root', state, 'delete', '--force', id]);
    });
    return runc;
  }

  async run(i: number): Promise<void> {
    await ok(run('runc', ['--root', this.state, 'run', '--bundle', this.bundle, `${this.prefix}-${i}`]), 'runc run');
  }
}

async function toolVersions(peers: Peers): Promise<string> {
  const parts = [`docker CLI ${await toolVersion('docker')}`];
  if (peers.runc) parts.push(`runc ${await toolVersion('runc')}`);
  if (peers.podman) parts.push(`podman ${await toolVersion('podman')}`);
  if (peers.skopeo) parts.push(`skopeo ${await toolVersion('skopeo')}`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// The pull image.

const PULL_LAYERS = 6;
const PULL_BIG_FILES = 3;
const PULL_SMALL_DIRS = 10;
const PULL_SMALL_PER_DIR = 50;
const PULL_FILES_PER_LAYER = PULL_BIG_FILES + PULL_SMALL_DIRS * PULL_SMALL_PER_DIR;

/**
 * Six layers of about 17 MB each: three 4 MiB files and 500 files of 1–16 KiB in ten folders,
 * as real layers mix big and small files. The bytes come from a seeded PRNG, so gzip cannot
 * shrink them and every run pushes the same image.
 */
async function pullLayers(): Promise<Buffer[]> {
  const rand = mulberry32(0x7b0b);
  const mtime = 1_700_000_000;
  const layers: Buffer[] = [];
  for (let l = 0; l < PULL_LAYERS; l++) {
    const top = `layer${l}`;
    const entries: TarWriteEntry[] = [{ name: top, type: 'dir', mode: 0o755, mtime }];
    for (let j = 0; j < PULL_BIG_FILES; j++) entries.push({ name: `${top}/big-${j}.bin`, mode: 0o644, mtime, body: noise(rand, 4 << 20) });
    for (let d = 0; d < PULL_SMALL_DIRS; d++) {
      entries.push({ name: `${top}/small/${d}`, type: 'dir', mode: 0o755, mtime });
      for (let k = 0; k < PULL_SMALL_PER_DIR; k++) {
        entries.push({ name: `${top}/small/${d}/file-${k}`, mode: 0o644, mtime, body: noise(rand, 1024 + Math.floor(rand() * 15 * 1024)) });
      }
    }
    layers.push(await tarOf(entries));
  }
  return layers;
}

/** The stored sizes of blobs, as the registry reports them. */
async function blobSizes(host: string, repository: string, digests: string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (const digest of digests) {
    const response = await fetch(`http://${host}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
    sizes.push(Number(response.headers.get('content-length') ?? 0));
  }
  return sizes;
}

// ---------------------------------------------------------------------------------------------
// Memory.

async function procStatusKiB(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => {
    throw new Error(`tugd (pid ${pid}) is gone`);
  });
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * RSS once it stops moving: sampled every half second until six samples in a row (3 s) are
 * within 1% of each other, or 30 s have passed.
 */
async function settledRssMiB(pid: number): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    samples.push((await procStatusKiB(pid, 'VmRSS')) / 1024);
    const last = samples.slice(-6);
    if ((last.length === 6 && Math.max(...last) - Math.min(...last) <= 0.01 * Math.max(...last)) || Date.now() > deadline || isInterrupted()) {
      return last[last.length - 1]!;
    }
    await delay(500);
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

/** The shared table, with tugd's memory as rows of its own. */
function printResults(measurements: Measurement[], memory: { rssStartup: number; rssAfterRun: number; rssAfterPull: number; peak: number }): void {
  const mib = (v: number) => `${v.toFixed(1)} MiB`;
  printTable(measurements, [
    ['idle tugd RSS', 'startup', '', mib(memory.rssStartup), '', '', ''],
    ['', 'after run', '', mib(memory.rssAfterRun), '', '', ''],
    ['', 'after pull', '', mib(memory.rssAfterPull), '', mib(memory.peak), ''],
  ]);
  console.log('RSS: tugd\'s resident memory once it stopped moving, after startup, after the run measurement and after the pulls; max: its peak (VmHWM).');
}

function parseArgs(argv: string[]): { runRuns: number; pullRuns: number } {
  const parsed = { runRuns: 20, pullRuns: 5 };
  for (const arg of argv) {
    if (arg === SERVE_REGISTRY) continue;
    const m = /^--runs=(\d+)$/.exec(arg);
    if (!m || Number(m[1]) < 1) {
      console.error(`unknown argument ${arg}; usage: node --import tsx bench/engine/run.ts [--runs=N] (N ≥ 1)`);
      process.exit(2);
    }
    parsed.runRuns = parsed.pullRuns = Number(m[1]);
  }
  return parsed;
}

(process.argv[2] === SERVE_REGISTRY ? serveRegistry() : runBench(bench)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
