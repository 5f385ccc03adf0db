// What the engine benches share to measure and report: the order tools take turns in, the
// statistics and the table, cleaning up after Ctrl-C, and small process helpers.

import { accessSync, constants as fsConstants } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run, type CommandResult } from '../../test/helpers/engine';
import type { Rand } from '../../test/helpers/random';

/** Set by SIGINT/SIGTERM: the measurements stop at the next step and everything is cleaned up. */
let interrupted = false;

export function isInterrupted(): boolean {
  return interrupted;
}

/** Things to undo, last first; each runs even when an earlier one fails. */
export class Cleanup {
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

/**
 * Runs a bench with its cleanup: a failure or the first Ctrl-C ends the measurements and cleans
 * up (exit code 1 on failure); a second Ctrl-C quits at once.
 */
export async function runBench(bench: (cleanup: Cleanup) => Promise<void>): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Measuring.

/** One tool on one measurement: how to time one run, and how to undo it so the next is cold. */
export interface Contestant {
  tool: string;
  /** The command, as printed in the legend. */
  shown: string;
  once(i: number): Promise<void>;
  reset?(i: number): Promise<void>;
  samples: number[];
  /** Why it has no (more) samples. */
  unavailable?: string;
}

export interface Measurement {
  title: string;
  /** tugd first: the ratios are of its median to the others'. */
  contestants: Contestant[];
  /** The peer whose median the goal compares with. */
  goalPeer: string;
}

export function contestant(tool: string, shown: string, once: (i: number) => Promise<void>): Contestant {
  return { tool, shown, once, samples: [] };
}

export function missing(tool: string): Contestant {
  return { ...contestant(tool, '', async () => {}), unavailable: `${tool} is not installed (apt-get install -y ${tool})` };
}

/**
 * One warm-up run per tool (not recorded), then `runs` rounds in which every tool runs once,
 * the order turning round by round so that no tool always follows the same one. A tool that
 * fails drops out with its error; the others go on.
 */
export async function measure(m: Measurement, runs: number): Promise<void> {
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
export async function spawnFloor(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await ok(run('true', []), 'true');
    samples.push(performance.now() - started);
  }
  return stats(samples)!.median;
}

export async function ok(result: Promise<CommandResult>, what: string): Promise<CommandResult> {
  const r = await result;
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Output.

export function stats(samples: number[]): { median: number; min: number; max: number } | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

export function duration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The commands, then one row per measurement and tool (median, min, max, and the ratio of
 * tugd's median to the tool's); `extra`: rows of the same seven columns to append.
 */
export function printTable(measurements: Measurement[], extra: string[][] = []): void {
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
  rows.push(...extra);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const [i, r] of rows.entries()) {
    if (i > 0 && r[0]) console.log(''); // a blank line between measurements
    console.log(line(r));
  }
  console.log('\nmedian/min/max over the runs; tug/tool: ratio of the medians (below 1: tugd is faster).');
}

/** The goal line of a measurement whose goal is a ratio to a peer's median: `met` judges the ratio. */
export function verdict(label: string, m: Measurement, goal: string, met: (ratio: number) => boolean): string {
  const tug = stats(m.contestants[0]!.samples);
  const peer = m.contestants.find((c) => c.tool === m.goalPeer)!;
  const p = stats(peer.samples);
  if (!tug || !p) return `${label}: no verdict (${!tug ? 'tugd' : peer.tool} has no samples) — goal (${goal}) unknown`;
  const ratio = tug.median / p.median;
  return `${label}: tugd ${duration(tug.median)}, ${peer.tool} ${duration(p.median)} (medians): ${ratio.toFixed(2)}× — goal (${goal}) ${met(ratio) ? 'met' : 'NOT met'}`;
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Processes.

/** The pid of our child process whose command line matches (the helpers do not say it). */
export async function findProcess(match: (argv: string[]) => boolean | Promise<boolean>, what: string): Promise<number> {
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

export async function commandLine(pid: number): Promise<string[] | undefined> {
  const text = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return text ? text.replace(/\0$/, '').split('\0') : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first version number `command --version` prints. */
export async function toolVersion(command: string): Promise<string> {
  return /\d+\.\d+(\.\d+)?/.exec((await run(command, ['--version'])).stdout)?.[0] ?? '?';
}

// ---------------------------------------------------------------------------------------------
// Small things.

export function which(command: string): string | undefined {
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

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function existing(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) if (await exists(path)) found.push(path);
  return found;
}

export async function missingOf(paths: string[]): Promise<string[]> {
  const absent: string[] = [];
  for (const path of paths) if (!(await exists(path))) absent.push(path);
  return absent;
}

/** Bytes from a seeded PRNG: the same every run, and gzip cannot shrink them. */
export function noise(rand: Rand, size: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = rand() * 0x1_0000_0000;
  return Buffer.from(words.buffer, 0, size);
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
