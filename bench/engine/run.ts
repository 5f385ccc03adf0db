// Engine bench: tugd, driven by the real docker CLI, against runc, podman and skopeo doing the
// same work on this machine, in the same run: starting a busybox container, a cold pull of a
// 100 MB image from a local registry, and tugd's idle memory. Prints median, min and max per
// tool and the ratio tug/peer, then one verdict per goal. See README.md.
// Usage (as root, from anywhere): node --import tsx bench/engine/run.ts [--runs=N]

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chainIds } from '../../runtime-agent/src/images/snapshots';
import { run, startEngine, type CommandResult, type TestEngine } from '../../test/helpers/engine';
import { busyboxLayer, pushImage, tarOf, type PushedImage } from '../../test/helpers/images';
import { mulberry32, type Rand } from '../../test/helpers/random';
import { startRegistry } from '../../test/helpers/registry';
import type { TarWriteEntry } from '../../runtime-agent/src/images/tar';

// The engine helper starts `node dist/tug.js`, relative to the repository root.
process.chdir(resolve(__dirname, '..', '..'));

/** The argument that makes this script the registry process (see startRegistryProcess). */
const SERVE_REGISTRY = '--serve-registry';

const options = parseArgs(process.argv.slice(2));

/** Goals, as the project set them. */
const GOAL_IDLE_MIB = 60;

/** Set by SIGINT/SIGTERM: the measurements stop at the next step and everything is cleaned up. */
let interrupted = false;

/** One tool on one measurement: how to time one run, and how to undo it so the next is cold. */
interface Contestant {
  tool: string;
  /** The command, as printed in the legend. */
  shown: string;
  once(i: number): Promise<void>;
  reset?(i: number): Promise<void>;
  samples: number[];
  /** Why it has no (more) samples. */
  unavailable?: string;
}

interface Measurement {
  title: string;
  contestants: Contestant[];
  /** The peer whose median the goal compares with. */
  goalPeer: string;
}

/** Things to undo, last first; each runs even when an earlier one fails. */
class Cleanup {
  private readonly steps: { label: string; undo: () => Promise<void> }[] = [];

  defer(label: string, undo: () => Promise<void>): void {
    this.steps.push({ label, undo });
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (error) {
        console.error(`cleanup (${step.label}) failed: ${firstLine(error)}`);
        process.exitCode = 1;
      }
    }
  }
}

/** What the run found that looks wrong or slow in the engine (printed at the end). */
const notes = new Set<string>();

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const stop = (signal: string) => {
    if (interrupted) process.exit(130); // a second signal: give up on cleaning
    interrupted = true;
    console.error(`\n${signal}: stopping after the current step, then cleaning up (again to quit at once)`);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    await bench(cleanup);
  } catch (error) {
    console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

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
  const engine = await startEngine();
  const pid = await findProcess((argv) => argv.includes('daemon') && argv.includes(engine.socket), `tugd on ${engine.socket}`);
  cleanup.defer('tugd', () => stopEngine(engine, pid));
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
  printTable(measurements, { rssStartup, rssAfterRun, rssAfterPull, peak });
  console.log('');
  console.log(verdict('Run', runBench, 'faster than runc run'));
  const cli = stats(runBench.contestants.find((c) => c.tool === 'cli')?.samples ?? []);
  const runc = stats(runBench.contestants.find((c) => c.tool === 'runc')?.samples ?? []);
  if (cli && runc) {
    console.log(`     the docker CLI alone, against an engine that answers at once: ${duration(cli.median)} (runc run: ${duration(runc.median)}); tugd's own part: about ${duration(Math.max(0, stats(runBench.contestants[0]!.samples)!.median - cli.median))}`);
  }
  console.log(verdict('Pull', pullBench, 'faster than podman pull'));
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
  const config = (argv: string[]) => (argv[0] === 'docker-registry' && argv[1] === 'serve' ? argv[2] : undefined);
  const pid = await findProcess(
    async (argv) => config(argv) !== undefined && (await readFile(config(argv)!, 'utf8').catch(() => '')).includes(`addr: ${registry.host}\n`),
    `docker-registry on ${registry.host}`,
  );
  const dir = dirname(config((await commandLine(pid)) ?? [])!);
  const shutdown = async (code: number) => {
    await stopped(registry.stop(), pid);
    await rm(dir, { recursive: true, force: true });
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
    contestant('tug', 'docker run --rm busybox true    (docker CLI → tugd)', async () => {
      await ok(engine.docker(['run', '--rm', 'busybox', 'true']), 'docker run');
    }),
  ];
  const { runc, podman } = peers;
  contestants.push(
    runc ? contestant('runc', `runc --root … run --bundle ${runc.bundle} <fresh id>`, (i) => runc.run(i)) : missing('runc'),
  );
  if (podman) {
    // --network none: a network namespace with lo up, as tugd and runc give (podman's default
    // bridge would also make a veth pair and firewall rules on the host).
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

// ---------------------------------------------------------------------------------------------
// Measuring.

function contestant(tool: string, shown: string, once: (i: number) => Promise<void>): Contestant {
  return { tool, shown, once, samples: [] };
}

function missing(tool: string): Contestant {
  return { ...contestant(tool, '', async () => {}), unavailable: `${tool} is not installed (apt-get install -y ${tool})` };
}

/**
 * One warm-up run per tool (not recorded), then `runs` rounds in which every tool runs once,
 * the order turning round by round so that no tool always follows the same one. A tool that
 * fails drops out with its error; the others go on.
 */
async function measure(m: Measurement, runs: number): Promise<void> {
  for (let round = -1; round < runs; round++) {
    const order = m.contestants.map((_, i) => m.contestants[(i + Math.max(round, 0)) % m.contestants.length]!);
    for (const c of order) {
      if (interrupted) throw new Error('interrupted');
      if (c.unavailable) continue;
      const i = round + 1;
      try {
        const started = performance.now();
        await c.once(i);
        const ms = performance.now() - started;
        if (round >= 0) c.samples.push(ms);
        await c.reset?.(i);
      } catch (error) {
        c.unavailable = `failed on run ${i}: ${firstLine(error)}`;
      }
    }
    if (round >= 0 && (round + 1) % 5 === 0) progress(`  ${round + 1}/${runs}`);
  }
}

/** What starting a process and seeing it end costs from here, the floor of every measurement. */
async function spawnFloor(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await ok(run('true', []), 'true');
    samples.push(performance.now() - started);
  }
  return stats(samples)!.median;
}

async function ok(result: Promise<CommandResult>, what: string): Promise<CommandResult> {
  const r = await result;
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The peers.

/**
 * What podman and skopeo read besides their flags, in our temp dir: no search registries or
 * mirrors from the machine (so a short name is only ever a local tag), and a trust policy that
 * accepts the unsigned test images.
 */
async function writePeerConfig(tmp: string): Promise<void> {
  await writeFile(join(tmp, 'registries.conf'), 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
  await writeFile(policyFile(tmp), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })}\n`);
}

function policyFile(tmp: string): string {
  return join(tmp, 'policy.json');
}

/** The environment podman and skopeo run with: their config and temp files in our temp dir. */
function peerEnv(tmp: string): NodeJS.ProcessEnv {
  return { TMPDIR: tmp, CONTAINERS_REGISTRIES_CONF: join(tmp, 'registries.conf') };
}

/**
 * Podman with storage, run state and config of its own in a temp dir, so that nothing of the
 * machine's podman is touched; runc as its runtime, cgroupfs and a file for events (as on a
 * machine without systemd).
 */
class Podman {
  private constructor(
    private readonly global: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly policy: string,
  ) {}

  /** `dir` is a new folder in the temp dir, whose config writePeerConfig wrote. */
  static async create(dir: string, cleanup: Cleanup): Promise<Podman> {
    const tmp = dirname(dir);
    for (const sub of ['root', 'run', 'tmp', 'networks']) await mkdir(join(dir, sub), { recursive: true });
    // default_ulimits: on this kind of machine runc refuses podman's default nofile limit.
    await writeFile(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = []',
        '[network]',
        `network_config_dir = "${join(dir, 'networks')}"`,
        '[engine]',
        `image_copy_tmp_dir = "${join(dir, 'tmp')}"`,
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'run')}"\n`);
    const env = { ...peerEnv(tmp), CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
    const global = [
      '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'overlay',
      '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
    ];
    const podman = new Podman(global, env, policyFile(tmp));
    cleanup.defer('podman containers and images', async () => {
      await run('podman', [...global, 'rm', '-af'], { env });
      await run('podman', [...global, 'rmi', '-af'], { env });
    });
    return podman;
  }

  /** Runs podman; throws with its error when it fails. */
  async cmd(args: string[], timeoutMs = 120_000): Promise<CommandResult> {
    return ok(run('podman', [...this.global, ...args], { env: this.env, timeoutMs }), `podman ${args[0]}`);
  }

  async pull(ref: string): Promise<void> {
    await this.cmd(['pull', '--tls-verify=false', '--signature-policy', this.policy, ref], 600_000);
  }
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

/**
 * Paths podman and skopeo use whatever their flags (the blob-info cache of containers/image,
 * netavark's state dir, runc's default state dir that podman's runc calls use) and the cgroup
 * parent podman's cgroupfs manager makes in every hierarchy. What did not exist before the bench
 * is removed after it, but a folder only when empty: someone else's podman may have started
 * using it meanwhile.
 */
class MachineState {
  /** Deepest first. */
  static readonly PATHS = [
    '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
    '/var/lib/containers/cache',
    '/var/lib/containers',
    '/run/containers/networks',
    '/run/containers',
    '/run/runc',
  ];

  private constructor(
    private readonly paths: string[],
    private readonly cgroups: string[],
  ) {}

  static async record(): Promise<MachineState> {
    return new MachineState(await missingOf(MachineState.PATHS), await missingOf(await MachineState.cgroupParents()));
  }

  private static async cgroupParents(): Promise<string[]> {
    const hierarchies = await readdir('/sys/fs/cgroup').catch(() => []);
    // cgroup v1: one per hierarchy; v2 alone: at the top.
    return ['/sys/fs/cgroup/libpod_parent', ...hierarchies.map((h) => join('/sys/fs/cgroup', h, 'libpod_parent'))];
  }

  async restore(): Promise<void> {
    const kept: string[] = [];
    for (const path of this.paths) {
      const st = await stat(path).catch(() => null);
      if (!st) continue;
      if (!st.isDirectory()) await rm(path, { force: true });
      else if (!(await removeIfEmpty(path))) kept.push(path);
    }
    for (const cgroup of this.cgroups) if ((await exists(cgroup)) && !(await removeCgroup(cgroup))) kept.push(cgroup);
    if (kept.length) console.error(`left in place, something else uses them now: ${kept.join(', ')}`);
  }
}

/** rmdir, unless the folder is not empty (or, for a cgroup, has processes): then false. */
async function removeIfEmpty(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (error) {
    if (['ENOTEMPTY', 'EEXIST', 'EBUSY'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}

/** A cgroup and its empty children, deepest first (cgroupfs wants rmdir, not unlinking its files). */
async function removeCgroup(dir: string): Promise<boolean> {
  let all = true;
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isDirectory()) all = (await removeCgroup(join(dir, entry.name))) && all;
  return all && removeIfEmpty(dir);
}

/** Unmounts whatever is mounted under `dir`, deepest first (a tool that failed may leave mounts). */
async function unmountUnder(dir: string): Promise<string[]> {
  // Field 5 of mountinfo is the mount point; our temp paths contain no characters it escapes.
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)));
  for (const point of mounts.sort((a, b) => b.length - a.length)) {
    if ((await run('umount', [point])).code !== 0) await run('umount', ['-l', point]);
  }
  return mounts;
}

/**
 * A test helper's stop(), which waits for its process's 'exit' with a check that misses a death
 * by signal (Ctrl-C reaches the whole process group): so it may never resolve. Done when it
 * resolves or shortly after the process is gone, whichever comes first.
 */
async function stopped(stop: Promise<void>, pid: number): Promise<void> {
  const gone = async () => {
    while (alive(pid)) await delay(100);
    await delay(500); // what the helper does after the exit, if it saw it
  };
  await Promise.race([stop, gone()]);
}

/**
 * Stops tugd and its containers, then removes what a tugd that died (or a bug) left: mounts
 * under its temp dir, its containers' cgroups, the dir itself. Leftovers of a clean stop are
 * reported, since they are the engine's.
 */
async function stopEngine(engine: TestEngine, pid: number): Promise<void> {
  const dir = dirname(engine.socket);
  const ids = await readdir(join(engine.dataRoot, 'containers')).catch(() => []);
  const wasAlive = alive(pid);
  await stopped(engine.stop(), pid);
  const mounts = await unmountUnder(dir);
  const hierarchies = await readdir('/sys/fs/cgroup').catch(() => []);
  const cgroups = await existing(ids.flatMap((id) => hierarchies.map((h) => join('/sys/fs/cgroup', h, 'tug', id))));
  for (const cgroup of cgroups) await removeCgroup(cgroup);
  await rm(dir, { recursive: true, force: true });
  if (wasAlive && (mounts.length || cgroups.length)) console.error(`tugd left ${mounts.length} mount(s) and ${cgroups.length} cgroup(s) after it stopped`);
}

async function toolVersions(peers: Peers): Promise<string> {
  const version = async (command: string) => /\d+\.\d+(\.\d+)?/.exec((await run(command, ['--version'])).stdout)?.[0] ?? '?';
  const parts = [`docker CLI ${await version('docker')}`];
  if (peers.runc) parts.push(`runc ${await version('runc')}`);
  if (peers.podman) parts.push(`podman ${await version('podman')}`);
  if (peers.skopeo) parts.push(`skopeo ${await version('skopeo')}`);
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

function noise(rand: Rand, size: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = rand() * 0x1_0000_0000;
  return Buffer.from(words.buffer, 0, size);
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

/** The pid of our child process whose command line matches (the helpers do not say it). */
async function findProcess(match: (argv: string[]) => boolean | Promise<boolean>, what: string): Promise<number> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The parent pid is the second field after the command name, which sits in parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const argv = await commandLine(Number(name));
    if (ppid === process.pid && argv && (await match(argv))) return Number(name);
  }
  throw new Error(`cannot find the process of ${what}`);
}

async function commandLine(pid: number): Promise<string[] | undefined> {
  const text = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return text ? text.replace(/\0$/, '').split('\0') : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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
    if ((last.length === 6 && Math.max(...last) - Math.min(...last) <= 0.01 * Math.max(...last)) || Date.now() > deadline || interrupted) {
      return last[last.length - 1]!;
    }
    await delay(500);
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

function stats(samples: number[]): { median: number; min: number; max: number } | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function printTable(measurements: Measurement[], memory: { rssStartup: number; rssAfterRun: number; rssAfterPull: number; peak: number }): void {
  console.log('\nCommands:');
  for (const m of measurements) {
    console.log(`  ${m.title}`);
    for (const c of m.contestants) console.log(`    ${c.tool.padEnd(7)} ${c.shown || 'n/a'}`);
  }
  const header = ['measurement', 'tool', 'n', 'median', 'min', 'max', 'tug/tool'];
  const rows: string[][] = [];
  for (const m of measurements) {
    const tug = stats(m.contestants[0]!.samples);
    for (const [i, c] of m.contestants.entries()) {
      const s = stats(c.samples);
      const ratio = i > 0 && tug && s ? (tug.median / s.median).toFixed(2) : '';
      rows.push([i === 0 ? m.title : '', c.tool, String(c.samples.length), s ? duration(s.median) : 'n/a', s ? duration(s.min) : '', s ? duration(s.max) : '', ratio]);
    }
  }
  const mib = (v: number) => `${v.toFixed(1)} MiB`;
  rows.push(['idle tugd RSS', 'startup', '', mib(memory.rssStartup), '', '', '']);
  rows.push(['', 'after run', '', mib(memory.rssAfterRun), '', '', '']);
  rows.push(['', 'after pull', '', mib(memory.rssAfterPull), '', mib(memory.peak), '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const [i, r] of rows.entries()) {
    if (i > 0 && r[0]) console.log(''); // a blank line between measurements
    console.log(line(r));
  }
  console.log('\nmedian/min/max over the runs; tug/tool: ratio of the medians (below 1: tugd is faster).');
  console.log('RSS: tugd\'s resident memory once it stopped moving, after startup, after the run measurement and after the pulls; max: its peak (VmHWM).');
}

function verdict(label: string, m: Measurement, goal: string): string {
  const tug = stats(m.contestants[0]!.samples);
  const peer = m.contestants.find((c) => c.tool === m.goalPeer)!;
  const p = stats(peer.samples);
  if (!tug || !p) return `${label}: no verdict (${!tug ? 'tugd' : peer.tool} has no samples) — goal (${goal}) unknown`;
  const ratio = tug.median / p.median;
  return `${label}: tugd ${duration(tug.median)}, ${peer.tool} ${duration(p.median)} (medians): ${ratio.toFixed(2)}× — goal (${goal}) ${ratio < 1 ? 'met' : 'NOT met'}`;
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Small things.

function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, command);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function existing(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) if (await exists(path)) found.push(path);
  return found;
}

async function missingOf(paths: string[]): Promise<string[]> {
  const absent: string[] = [];
  for (const path of paths) if (!(await exists(path))) absent.push(path);
  return absent;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
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

(process.argv[2] === SERVE_REGISTRY ? serveRegistry() : main()).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
