// Build bench: tugd's builder, driven by the real docker CLI's legacy builder client, against
// `podman build` on the same Dockerfile, context and base image, on this machine, in the same
// run: a cold build (no build cache, base image present) and a rebuild with no change (every
// step from the cache). Prints median, min and max per tool and the ratio tug/peer, one verdict
// per goal, and where the time of one build of each kind goes, step by step. See README.md.
// Usage (as root, from anywhere): node --import tsx bench/build/run.ts [--runs=N] [--cpu-prof=DIR]

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run, startEngine, type TestEngine } from '../../test/helpers/engine';
import { busyboxLayer, pushImage } from '../../test/helpers/images';
import { mulberry32 } from '../../test/helpers/random';
import { startRegistry } from '../../test/helpers/registry';
import {
  type Cleanup, contestant, duration, firstLine, measure, noise, ok, printTable, progress, runBench, spawnFloor, stats, toolVersion,
  verdict, which, type Contestant, type Measurement,
} from '../shared/harness';
import { EngineCgroups, MachineState, mountsUnder, Podman, registryProcess, stopEngine, unmountUnder, writePeerConfig } from '../shared/host';

// Before the chdir: a --cpu-prof folder is relative to where the bench was started.
const options = parseArgs(process.argv.slice(2));

// The engine helper starts `node dist/tug.js`, relative to the repository root.
process.chdir(resolve(__dirname, '..', '..'));

/** Goals, as the project set them. */
const GOAL_COLD_RATIO = 0.25;
const GOAL_NO_CHANGE_MS = 150;

const TAG = 'bench-build:latest';
const CONTEXT_FILES = 40;
const CONTEXT_BYTES = 1 << 20;
/** The steps after FROM: what a rebuild with no change must take from the cache. */
const CACHED_STEPS = 4;

/** What the run found that looks wrong or slow in the engine (printed at the end). */
const notes = new Set<string>();

async function bench(cleanup: Cleanup): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run it as root: builds need namespaces, mounts and cgroups');
  for (const file of ['dist/tug.js', 'dist/tug-shim']) if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  for (const command of ['docker', 'docker-registry']) if (!which(command)) throw new Error(`${command} is not installed (see bench/build/README.md)`);
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: apt-get install -y busybox-static');

  // Podman keeps some state at fixed places whatever its flags; what it creates there is
  // removed at the end (registered first, so it runs last).
  const machine = await MachineState.record();
  cleanup.defer('podman state outside the temp dir', () => machine.restore());
  const tmp = await mkdtemp(join(tmpdir(), 'tug-bench-build-'));
  cleanup.defer(`temp dir ${tmp}`, async () => {
    await unmountUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  });

  progress('setting up: a registry on 127.0.0.1 with busybox, tugd, podman…');
  const registry = await startRegistry();
  const registryProc = await registryProcess(registry);
  cleanup.defer('registry', () => registryProc.stop());
  // A history entry for its layer, as every built image has: buildah refuses to commit on a base
  // whose history lists fewer layers than it has.
  await pushImage(registry, 'library/busybox', 'latest', {
    layers: [await busyboxLayer()],
    config: { history: [{ created: '2024-01-02T03:04:05Z', created_by: 'ADD busybox-static rootfs /' }] },
  });
  const base = `${registry.host}/library/busybox:latest`;
  const context = join(tmp, 'context');
  await writeContext(context, base);

  const cgroups = await EngineCgroups.record();
  const engine = await startEngine(options.cpuProf ? { args: ['-D'], nodeArgs: [...shebangFlags('dist/tug.js'), '--cpu-prof', '--cpu-prof-dir', options.cpuProf] } : { args: ['-D'] });
  cleanup.defer('tugd', () => stopEngine(engine, engine.pid, cgroups));
  await ok(engine.docker(['pull', base]), 'docker pull busybox');
  const tug = new TugBuilds(engine, context);
  await tug.recordBaseline();

  // A peer that is missing or cannot be set up only leaves its column empty.
  let podman: PodmanBuilds | Unavailable = { unavailable: 'podman is not installed (apt-get install -y podman runc)' };
  if (which('podman') && which('runc')) {
    try {
      await writePeerConfig(tmp, [registry.host]);
      const p = await Podman.create(join(tmp, 'podman'), cleanup);
      await p.pull(base);
      podman = new PodmanBuilds(p, context);
    } catch (error) {
      podman = { unavailable: `setup failed: ${firstLine(error)}` };
    }
  }
  const stub = await startStubEngine(join(tmp, 'stub.sock'));
  cleanup.defer('stub engine', () => stub.close());

  const floor = await spawnFloor();
  const cold = await coldMeasurement(tug, podman);
  const noChange = await noChangeMeasurement(tug, podman, stub.socket, tmp);
  progress('one more build of each kind per tool, with a time on each line of its output…');
  const timelines = await timelineBuilds(tug, podman);

  console.log(`\nBuild bench — ${await toolVersions(podman instanceof PodmanBuilds)}; node ${process.version}`);
  console.log(`  ${options.runs} runs per tool and measurement, each after one warm-up run, the tools taking turns run by run`);
  console.log(`  every figure includes starting a process from this script: ${duration(floor)} (median for /bin/true)`);
  console.log(`  context: ${CONTEXT_FILES} files of random bytes, ${(CONTEXT_BYTES / 2 ** 20).toFixed(0)} MiB in all, and the Dockerfile:`);
  for (const line of dockerfile(base).trimEnd().split('\n')) console.log(`    ${line}`);
  const measurements = [cold, noChange];
  printTable(measurements);
  printTimelines(timelines);
  console.log('');
  console.log(verdict('Cold', cold, `at most ${GOAL_COLD_RATIO}× podman build`, (ratio) => ratio <= GOAL_COLD_RATIO));
  const nc = stats(noChange.contestants[0]!.samples);
  const cli = stats(noChange.contestants.find((c) => c.tool === 'cli')?.samples ?? []);
  console.log(
    nc
      ? `No change: tugd ${duration(nc.median)} (median) — goal (under ${GOAL_NO_CHANGE_MS} ms) ${nc.median < GOAL_NO_CHANGE_MS ? 'met' : 'NOT met'}`
          + (cli ? `; the docker CLI alone, against an engine that answers at once: ${duration(cli.median)}` : '')
      : `No change: no verdict (tugd has no samples) — goal (under ${GOAL_NO_CHANGE_MS} ms) unknown`,
  );
  if (notes.size) console.log(`\nNoticed in the engine:\n${[...notes].map((n) => `  - ${n}`).join('\n')}`);
  for (const m of measurements) for (const c of m.contestants) if (c.unavailable) console.log(`${m.title}, ${c.tool}: ${c.unavailable}`);
  // tugd failing is a failed bench; a missing or failing peer only leaves its column empty.
  if (measurements.some((m) => m.contestants[0]!.unavailable) || !timelines.tug) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------
// The build.

function dockerfile(base: string): string {
  return [
    `FROM ${base}`,
    'COPY . /app',
    'RUN mkdir -p /out && echo built > /out/first',
    'RUN ls -lR /app > /out/listing',
    'RUN cat /out/first /out/listing > /out/all && rm /out/first',
    '',
  ].join('\n');
}

/** The Dockerfile and CONTEXT_FILES files in five folders, of seeded random sizes adding up to CONTEXT_BYTES. */
async function writeContext(dir: string, base: string): Promise<void> {
  const rand = mulberry32(0xb11d);
  const weights = Array.from({ length: CONTEXT_FILES }, () => 0.2 + rand());
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((w / total) * CONTEXT_BYTES));
  sizes[0]! += CONTEXT_BYTES - sizes.reduce((a, b) => a + b, 0);
  for (const [i, size] of sizes.entries()) {
    const file = join(dir, 'src', `part-${i % 5}`, `file-${i}.bin`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, noise(rand, size));
  }
  await writeFile(join(dir, 'Dockerfile'), dockerfile(base));
}

/** How many times a build's output says it took a step from the cache. */
function cacheHits(output: string): number {
  return (output.match(/Using cache/g) ?? []).length;
}

/** A cold build must run every step; a rebuild with no change must run none. */
function checkCold(tool: string, output: string): void {
  if (cacheHits(output)) throw new Error(`${tool}: the cold build took ${cacheHits(output)} step(s) from the cache`);
}

function checkNoChange(tool: string, output: string): void {
  if (cacheHits(output) !== CACHED_STEPS) throw new Error(`${tool}: the rebuild with no change took ${cacheHits(output)} of ${CACHED_STEPS} steps from the cache`);
}

/** tugd through `DOCKER_BUILDKIT=0 docker build`, and what it keeps between builds. */
class TugBuilds {
  private baseline = { images: 0, blobs: 0, snapshots: 0 };

  constructor(
    readonly engine: TestEngine,
    readonly context: string,
  ) {}

  readonly args = ['build', '-t', TAG];

  /** The docker CLI's environment, as the engine helper sets it. */
  get env(): NodeJS.ProcessEnv {
    return { DOCKER_HOST: this.engine.host, DOCKER_CONFIG: join(dirname(this.engine.socket), 'docker-config'), DOCKER_BUILDKIT: '0' };
  }

  async build(): Promise<string> {
    return (await ok(this.engine.docker([...this.args, this.context], { timeoutMs: 300_000 }), 'docker build')).stdout;
  }

  private async counts(): Promise<{ images: number; blobs: number; snapshots: number }> {
    const images = (await ok(this.engine.docker(['images', '-aq']), 'docker images')).stdout.split('\n').filter(Boolean).length;
    const entries = async (dir: string) => (await readdir(join(this.engine.dataRoot, dir)).catch(() => [])).length;
    return { images, blobs: await entries('content/blobs/sha256'), snapshots: await entries('snapshots') };
  }

  /** What the store holds with the base image alone: every reset must come back to it. */
  async recordBaseline(): Promise<void> {
    this.baseline = await this.counts();
  }

  /** Untags the image and prunes the build cache, which removes what the build made. */
  async reset(): Promise<void> {
    await ok(this.engine.docker(['rmi', TAG]), 'docker rmi');
    await ok(this.engine.docker(['builder', 'prune', '-f']), 'docker builder prune');
    const now = await this.counts();
    for (const key of ['images', 'blobs', 'snapshots'] as const) {
      if (now[key] > this.baseline[key]) notes.add(`after docker rmi and docker builder prune -f, ${key} are left: ${now[key]} where there were ${this.baseline[key]} before the first build`);
    }
    const mounts = await mountsUnder(dirname(this.engine.socket));
    if (mounts.length) notes.add(`mounts left in tugd's data root between builds: ${mounts.join(', ')}`);
  }
}

interface Unavailable {
  unavailable: string;
}

/** A contestant for podman, or one that says why there is none. */
function podmanContestant(podman: PodmanBuilds | Unavailable, make: (podman: PodmanBuilds) => Contestant): Contestant {
  return podman instanceof PodmanBuilds ? make(podman) : { ...contestant('podman', '', async () => {}), unavailable: podman.unavailable };
}

/** podman build on runc, with its layer cache; a network namespace with lo alone, as tugd's RUN gets. */
class PodmanBuilds {
  constructor(
    readonly podman: Podman,
    readonly context: string,
  ) {}

  readonly args = ['build', '--layers', '--network', 'none', '-t', TAG];

  async build(): Promise<string> {
    return (await this.podman.cmd([...this.args, this.context], 300_000)).stdout;
  }

  /** Removes the image, whose intermediate images go with it, and any dangling ones left. */
  async reset(): Promise<void> {
    await this.podman.cmd(['rmi', TAG]);
    await this.podman.cmd(['image', 'prune', '-f']);
    const left = (await this.podman.cmd(['images', '-aq'])).stdout.split('\n').filter(Boolean).length;
    if (left !== 1) throw new Error(`podman keeps ${left} images after rmi and image prune (1 expected: the base)`);
  }
}

/** Every build from an empty cache: each run is undone (image and cache) before the next. */
async function coldMeasurement(tug: TugBuilds, podman: PodmanBuilds | Unavailable): Promise<Measurement> {
  const contestants: Contestant[] = [
    {
      ...contestant('tug', `docker build -t ${TAG} <context>    (docker CLI → tugd); then docker rmi and docker builder prune -f`, async () => {
        checkCold('tugd', await tug.build());
      }),
      reset: () => tug.reset(),
    },
    podmanContestant(podman, (p) => ({
      ...contestant('podman', `podman --root … ${p.args.join(' ')} <context>; then podman rmi and podman image prune -f`, async () => {
        checkCold('podman', await p.build());
      }),
      reset: () => p.reset(),
    })),
  ];
  const m: Measurement = { title: 'build, cold', contestants, goalPeer: 'podman' };
  progress(`cold: ${options.runs} runs each, after one warm-up…`);
  await measure(m, options.runs);
  return m;
}

/** The same build again with nothing changed, after one build (not timed) that fills the cache. */
async function noChangeMeasurement(tug: TugBuilds, podman: PodmanBuilds | Unavailable, stubSocket: string, tmp: string): Promise<Measurement> {
  await tug.build();
  if (podman instanceof PodmanBuilds) await podman.build().catch(() => {}); // a failure shows in the measurement
  const contestants: Contestant[] = [
    contestant('tug', `docker build -t ${TAG} <context>    (docker CLI → tugd), the same again`, async () => {
      checkNoChange('tugd', await tug.build());
    }),
    podmanContestant(podman, (p) =>
      contestant('podman', `podman --root … ${p.args.join(' ')} <context>, the same again`, async () => {
        checkNoChange('podman', await p.build());
      }),
    ),
    // The docker CLI's own share: reading and sending the context to an engine that answers at once.
    contestant('cli', `docker build -t ${TAG} <context>    (docker CLI → a stub engine that reads the context and answers at once)`, async () => {
      const env = { DOCKER_HOST: `unix://${stubSocket}`, DOCKER_CONFIG: join(tmp, 'stub-docker-config'), DOCKER_BUILDKIT: '0' };
      await ok(run('docker', [...tug.args, tug.context], { env }), 'docker build against the stub');
    }),
  ];
  const m: Measurement = { title: 'build, no change', contestants, goalPeer: 'podman' };
  progress(`no change: ${options.runs} runs each, after one warm-up…`);
  await measure(m, options.runs);
  return m;
}

/**
 * Just enough of the Engine API for a legacy `docker build` to succeed at once: ping, and a
 * build that reads the whole context and says it built an image.
 */
async function startStubEngine(socket: string): Promise<{ socket: string; close(): Promise<void> }> {
  const id = `sha256:${'f'.repeat(64)}`;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
    req.once('end', () => {
      if (path.endsWith('/_ping')) res.writeHead(200, { 'API-Version': '1.47', 'Content-Type': 'text/plain' }).end('OK');
      else if (path.endsWith('/build')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ aux: { ID: id } })}\r\n${JSON.stringify({ stream: `Successfully built ${'f'.repeat(12)}\n` })}\r\n`);
      } else json(404, { message: `page not found: ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------------------------------------
// Where the time goes.

interface Timeline {
  /** Each line of output with the time it arrived, in ms from the start of the command. */
  lines: { at: number; text: string }[];
  total: number;
  /** What tugd logged (-D: every request with its time) while the command ran. */
  requests: string[];
}

type Kind = 'cold' | 'no change';

interface Timelines {
  tug?: Record<Kind, Timeline>;
  podman?: Record<Kind, Timeline>;
}

/** Runs a command, noting when each line of its stdout arrives. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timeline & { code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: { at: number; text: string }[] = [];
    let partial = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const at = performance.now() - started;
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at, text });
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const total = performance.now() - started;
      if (partial) lines.push({ at: total, text: partial });
      resolve({ lines, total, requests: [], code: code ?? 1, stderr });
    });
  });
}

/** One no-change build (the cache is full after the last measurement), then a reset and one cold build, per tool. */
async function timelineBuilds(tug: TugBuilds, podman: PodmanBuilds | Unavailable): Promise<Timelines> {
  const out: Timelines = {};
  const once = async (kind: Kind, tool: string, command: string, args: string[], env: NodeJS.ProcessEnv, log?: () => string): Promise<Timeline> => {
    const before = log?.().length ?? 0;
    const t = await timed(command, args, env);
    if (t.code !== 0) throw new Error(`${tool} build (${kind}) exited with ${t.code}: ${t.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const output = t.lines.map((l) => l.text).join('\n');
    if (kind === 'cold') checkCold(tool, output);
    else checkNoChange(tool, output);
    // -D lines: METHOD /path?query STATUS N ms.
    const requests = (log?.().slice(before) ?? '').split('\n').filter((l) => /^[A-Z]+ \/\S* \S+ [\d.]+ ms$/.test(l));
    return { lines: t.lines, total: t.total, requests };
  };
  try {
    const args = [...tug.args, tug.context];
    const noChange = await once('no change', 'tugd', 'docker', args, tug.env, tug.engine.log);
    await tug.reset();
    out.tug = { 'no change': noChange, cold: await once('cold', 'tugd', 'docker', args, tug.env, tug.engine.log) };
  } catch (error) {
    console.error(`tugd's timed builds failed: ${firstLine(error)}`);
  }
  if (podman instanceof PodmanBuilds) {
    try {
      const { args, env } = podman.podman.command([...podman.args, podman.context]);
      const noChange = await once('no change', 'podman', 'podman', args, env);
      await podman.reset();
      out.podman = { 'no change': noChange, cold: await once('cold', 'podman', 'podman', args, env) };
    } catch (error) {
      console.error(`podman's timed builds failed: ${firstLine(error)}`);
    }
  }
  return out;
}

const PHASES = ['start → context sent', '→ step 1', '1 FROM', '2 COPY', '3 RUN', '4 RUN', '5 RUN', 'image made → exit'] as const;

/**
 * A build's output cut at its landmarks: the CLI's "Sending build context" line (docker), each
 * "Step N/M" line, and the end of the last step (docker: "Successfully built"; podman: the
 * image ID it prints after COMMIT). Each phase runs from one landmark to the next.
 */
function phases(t: Timeline): (number | undefined)[] {
  const find = (test: (text: string, i: number) => boolean, from = 0) => {
    for (let i = from; i < t.lines.length; i++) if (test(t.lines[i]!.text, i)) return i;
    return -1;
  };
  const at = (i: number) => (i < 0 ? undefined : t.lines[i]!.at);
  const sent = find((text) => text.includes('Sending build context'));
  const steps = [1, 2, 3, 4, 5].map((n) => find((text) => new RegExp(`^step ${n}/\\d+ ?:`, 'i').test(text)));
  const commit = find((text) => text.startsWith('COMMIT '), Math.max(steps[4]!, 0));
  const done = find((text, i) => text.startsWith('Successfully built ') || (commit >= 0 && i > commit && text.startsWith('--> ')), Math.max(steps[4]!, 0));
  const marks = [0, at(sent), ...steps.map(at), at(done), t.total];
  const out: (number | undefined)[] = [];
  for (let i = 1; i < marks.length; i++) {
    const end = marks[i];
    // The phase starts at the last landmark found before it.
    const start = marks.slice(0, i).reverse().find((m) => m !== undefined);
    out.push(end === undefined || start === undefined ? undefined : end - start);
  }
  return out;
}

function printTimelines(timelines: Timelines): void {
  const columns: [string, Timeline][] = [];
  for (const kind of ['cold', 'no change'] as const) {
    if (timelines.tug) columns.push([`tug ${kind}`, timelines.tug[kind]]);
    if (timelines.podman) columns.push([`podman ${kind}`, timelines.podman[kind]]);
  }
  if (!columns.length) return;
  console.log('\nWhere the time goes, in one more build of each kind (from the start of the command to the line that begins each phase):');
  const cells = columns.map(([, t]) => phases(t));
  const rows = PHASES.map((name, i) => [name, ...cells.map((c) => (c[i] === undefined ? '' : duration(c[i]!)))]);
  rows.push(['total', ...columns.map(([, t]) => duration(t.total))]);
  const header = ['phase', ...columns.map(([name]) => name)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`  ${line(header)}`);
  for (const r of rows) console.log(`  ${line(r)}`);
  if (timelines.tug) {
    for (const kind of ['cold', 'no change'] as const) {
      const requests = timelines.tug[kind].requests.map((r) => r.replace(/\?\S*/, ''));
      console.log(`  tugd's requests (tugd -D), ${kind}: ${requests.join('; ') || 'none logged'}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Small things.

/** The node flags on a script's `#!/usr/bin/env -S node …` line, which a profiled start must keep. */
function shebangFlags(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0]!;
  const words = first.replace(/^#!\S+\s+(-S\s+)?/, '').split(/\s+/).filter(Boolean);
  return words[0] === 'node' ? words.slice(1) : [];
}

async function toolVersions(podman: boolean): Promise<string> {
  const parts = [`docker CLI ${await toolVersion('docker')}`];
  if (podman) parts.push(`podman ${await toolVersion('podman')}`, `runc ${await toolVersion('runc')}`);
  return parts.join(', ');
}

function parseArgs(argv: string[]): { runs: number; cpuProf?: string } {
  const parsed: { runs: number; cpuProf?: string } = { runs: 10 };
  for (const arg of argv) {
    const runs = /^--runs=(\d+)$/.exec(arg);
    const prof = /^--cpu-prof=(.+)$/.exec(arg);
    if (runs && Number(runs[1]) >= 1) parsed.runs = Number(runs[1]);
    else if (prof) parsed.cpuProf = resolve(prof[1]!);
    else {
      console.error(`unknown argument ${arg}; usage: node --import tsx bench/build/run.ts [--runs=N] (N ≥ 1) [--cpu-prof=DIR]`);
      process.exit(2);
    }
  }
  return parsed;
}

runBench(bench).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
