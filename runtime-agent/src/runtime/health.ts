// HEALTHCHECK, as Docker runs it: while a container runs, its check is exec'd in it every
// interval (30 s by default), killed after its timeout; `retries` failures in a row (3) make it
// unhealthy, one success healthy; failures in the start period do not count. The state is the
// container's State.Health (its last five results), shown by ps and inspect.

import { readFile } from 'node:fs/promises';
import type { Events } from '../events';
import type { Containers } from './containers';
import type { Execs } from './execs';

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const SECOND_NS = 1e9;
const DEFAULTS = { interval: 30, timeout: 30, retries: 3, startPeriod: 0 };
/** Docker keeps this much of a check's output. */
const MAX_OUTPUT = 4096;

/** The check's command as the exec runs it; undefined when there is none (or NONE). */
export function healthCommand(test: string[] | undefined): string[] | undefined {
  const [kind, ...rest] = test ?? [];
  if (kind === 'CMD' && rest.length) return rest;
  if (kind === 'CMD-SHELL' && rest.length) return ['/bin/sh', '-c', rest.join(' ')];
  return undefined;
}

export class HealthChecks {
  private readonly running = new Map<string, () => void>();

  constructor(
    private readonly containers: Containers,
    private readonly execs: Execs,
    events: Events,
  ) {
    events.subscribe((event) => {
      if (event.Type !== 'container') return;
      if (event.Action === 'start') this.begin(event.Actor.ID);
      if (event.Action === 'die' || event.Action === 'destroy') this.running.get(event.Actor.ID)?.();
    });
  }

  /** Starts checking a container that has just started (and any that runs, when the engine starts). */
  begin(id: string): void {
    const record = this.containers.running(id) ? this.containers.get(id) : undefined;
    const check = record?.Config.Healthcheck;
    const command = healthCommand(check?.Test);
    if (!record || !check || !command || this.running.has(id)) return;
    const seconds = (ns: number | undefined, fallback: number) => (ns && ns > 0 ? ns / SECOND_NS : fallback);
    const interval = seconds(check.Interval, DEFAULTS.interval);
    const timeout = seconds(check.Timeout, DEFAULTS.timeout);
    const retries = check.Retries && check.Retries > 0 ? check.Retries : DEFAULTS.retries;
    const startedAt = Date.parse(record.State.StartedAt);
    const startPeriod = seconds(check.StartPeriod, DEFAULTS.startPeriod) * 1000;
    // Starting again, as Docker starts it on every start and engine restart; the log is kept.
    record.State.Health = { Status: 'starting', FailingStreak: 0, Log: record.State.Health?.Log ?? [] };
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    this.running.set(id, () => {
      stopped = true;
      clearTimeout(timer);
      this.running.delete(id);
    });
    const probe = async () => {
      if (stopped) return;
      const result = await this.probe(id, command, timeout * 1000).catch((error: Error) => ({ start: new Date(), exitCode: -1, output: error.message }));
      if (stopped || !this.containers.running(id)) return;
      const current = this.containers.get(id);
      if (!current.State.Health) return;
      const health = current.State.Health;
      health.Log = [...health.Log, { Start: result.start.toISOString(), End: new Date().toISOString(), ExitCode: result.exitCode, Output: result.output }].slice(-5);
      const before = health.Status;
      if (result.exitCode === 0) {
        health.FailingStreak = 0;
        health.Status = 'healthy';
      } else if (Date.now() - startedAt >= startPeriod || health.Status !== 'starting') {
        health.FailingStreak++;
        if (health.FailingStreak >= retries) health.Status = 'unhealthy';
      }
      if (health.Status !== before) this.containers.emit(`health_status: ${health.Status}`, current);
      await this.containers.checkpoint(id).catch(() => {});
      timer = setTimeout(() => void probe(), interval * 1000);
    };
    timer = setTimeout(() => void probe(), interval * 1000);
  }

  /** One run of the check: its exit code and output; killed after `timeoutMs`. */
  private async probe(id: string, command: string[], timeoutMs: number): Promise<{ start: Date; exitCode: number; output: string }> {
    const start = new Date();
    const execId = this.execs.create(id, { Cmd: command, AttachStdout: true, AttachStderr: true });
    const exec = await this.execs.start(execId);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([exec.ended, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      try {
        process.kill(exec.pid, 'SIGKILL');
      } catch {
        // It ended meanwhile.
      }
      return { start, exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
    }
    // The exec's output, as its monitor logged it (json-file lines).
    const log = await readFile(this.execs.files(exec).log, 'utf8').catch(() => '');
    const output = log.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { log: string }).log).join('');
    return { start, exitCode: outcome.exitCode, output: output.slice(0, MAX_OUTPUT) };
  }
}
