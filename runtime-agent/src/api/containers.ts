// The /containers endpoints of the Docker Engine API.

import { constants as fsConstants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine';
import { logSize, readLog, type LogEntry } from '../runtime/logs';
import { portSummary } from '../runtime/ports';
import { top } from '../runtime/top';
import type { ContainerRecord, CreateBody } from '../runtime/containers';
import { badRequest } from './errors';
import { compareVersions, type ApiServer, type Call } from './server';
import { frame } from './stream';

/** go-units' HumanDuration, which `docker ps` statuses use. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(ms / 60_000);
  const hours = Math.floor(ms / 3_600_000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

function statusText(record: ContainerRecord): string {
  const state = record.State;
  switch (state.Status) {
    case 'running': {
      const health = state.Health ? ` (${state.Health.Status === 'starting' ? 'health: starting' : state.Health.Status})` : '';
      return `Up ${humanDuration(Date.now() - Date.parse(state.StartedAt))}${health}`;
    }
    case 'paused':
      return `Up ${humanDuration(Date.now() - Date.parse(state.StartedAt))} (Paused)`;
    case 'exited':
      return `Exited (${state.ExitCode}) ${humanDuration(Date.now() - Date.parse(state.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

/** One container as `docker ps` lists it. */
export function containerSummary(record: ContainerRecord) {
  return {
    Id: record.Id,
    Names: [record.Name],
    Image: record.Config.Image,
    ImageID: record.Image,
    Command: [record.Path, ...record.Args].join(' '),
    Created: Math.floor(Date.parse(record.Created) / 1000),
    Ports: portSummary(record.NetworkSettings.Ports),
    Labels: record.Config.Labels,
    State: record.State.Status,
    Status: statusText(record),
    HostConfig: { NetworkMode: record.HostConfig.NetworkMode ?? 'bridge' },
    NetworkSettings: { Networks: record.NetworkSettings.Networks },
    Mounts: [],
  };
}

function inspect(record: ContainerRecord) {
  const { ShimPid: _, ManuallyStopped: __, ...shown } = record;
  return shown;
}

function matchesFilters(record: ContainerRecord, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const ok = values.some((v) => {
      switch (key) {
        case 'id':
          return record.Id.startsWith(v);
        case 'name':
          return record.Name.slice(1).includes(v.replace(/^\//, ''));
        case 'status':
          return record.State.Status === v;
        case 'exited':
          return record.State.Status === 'exited' && String(record.State.ExitCode) === v;
        case 'ancestor':
          return record.Config.Image === v || record.Image === v || record.Image.startsWith(`sha256:${v}`);
        case 'label': {
          const eq = v.indexOf('=');
          return eq === -1 ? v in record.Config.Labels : record.Config.Labels[v.slice(0, eq)] === v.slice(eq + 1);
        }
        default:
          throw badRequest(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** Multiplexed frames for API 1.42+ clients say so in their content type. */
export function streamType(call: Call, tty: boolean): string {
  if (tty) return 'application/vnd.docker.raw-stream';
  return compareVersions(call.apiVersion, '1.42') >= 0 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
}

/** `?h=ROWS&w=COLS` of a resize call. */
export function terminalSize(call: Call): [number, number] {
  return (['h', 'w'] as const).map((name) => {
    const text = call.query.get(name) ?? '';
    if (!/^\d+$/.test(text) || Number(text) > 0xffff) throw badRequest(`invalid ${name === 'h' ? 'height' : 'width'} "${text}": a number from 0 to 65535 is needed`);
    return Number(text);
  }) as [number, number];
}

export function encode(entry: LogEntry, tty: boolean, timestamps: boolean): Buffer {
  const text = Buffer.from(timestamps ? `${entry.time} ${entry.log}` : entry.log, 'utf8');
  return tty ? text : frame(entry.stream === 'stderr' ? 2 : 1, text);
}

export function containerRoutes(api: ApiServer, engine: Engine): void {
  const { containers } = engine;

  api.route('GET', '/containers/json', async (call) => {
    const all = call.bool('all');
    const filters = call.filters();
    let list = containers
      .list()
      .filter((r) => all || r.State.Running || filters.has('status') || filters.has('exited'))
      .filter((r) => matchesFilters(r, filters))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const limit = call.int('limit');
    if (limit && limit > 0) list = list.slice(0, limit);
    call.send(200, list.map(containerSummary));
  });

  api.route('POST', '/containers/create', async (call) => {
    const body = await call.json<CreateBody>();
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid request body: expected a JSON object');
    call.send(201, await containers.create(body, call.query.get('name')));
  });

  api.route('GET', '/containers/{id}/json', async (call) => {
    call.send(200, inspect(containers.get(call.params.id)));
  });

  api.route('POST', '/containers/{id}/start', async (call) => {
    await containers.start(call.params.id);
    call.send(204);
  });

  api.route('POST', '/containers/{id}/stop', async (call) => {
    await containers.stop(call.params.id, call.int('t') ?? call.int('timeout'), call.query.get('signal') ?? undefined);
    call.send(204);
  });

  api.route('POST', '/containers/{id}/restart', async (call) => {
    const record = containers.get(call.params.id);
    if (record.State.Running) await containers.stop(record.Id, call.int('t'), call.query.get('signal') ?? undefined);
    await containers.start(record.Id);
    call.send(204);
  });

  for (const [action, frozen] of [['pause', true], ['unpause', false]] as const) {
    api.route('POST', `/containers/{id}/${action}`, async (call) => {
      await containers.pause(call.params.id, frozen);
      call.send(204);
    });
  }

  api.route('POST', '/containers/{id}/rename', async (call) => {
    const name = call.query.get('name');
    if (!name) throw badRequest('name is required');
    await containers.rename(call.params.id, name);
    call.send(204);
  });

  api.route('GET', '/containers/{id}/changes', async (call) => {
    call.send(200, await containers.changes(call.params.id));
  });

  api.route('POST', '/containers/prune', async (call) => {
    call.send(200, { ContainersDeleted: await containers.prune(), SpaceReclaimed: 0 });
  });

  // One sample (stream=false, or one-shot with no previous one to compare), or one a second.
  api.route('GET', '/containers/{id}/stats', async (call) => {
    const stream = !['0', 'false'].includes(call.query.get('stream') ?? '');
    const oneShot = call.bool('one-shot');
    let previous = emptyCpu;
    let previousRead = ZERO_TIME;
    const sample = async () => {
      const { record, cgroup, networks } = await containers.stats(call.params.id);
      const cpu = { cpu_usage: { total_usage: cgroup.cpuUsageNanos, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: await systemCpuNanos(), online_cpus: cpus().length, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
      const read = new Date().toISOString();
      const body = {
        read, preread: previousRead, id: record.Id, name: record.Name,
        pids_stats: { current: cgroup.pids }, num_procs: 0, storage_stats: {},
        blkio_stats: { io_service_bytes_recursive: [{ major: 0, minor: 0, op: 'read', value: cgroup.ioReadBytes }, { major: 0, minor: 0, op: 'write', value: cgroup.ioWriteBytes }] },
        cpu_stats: cpu, precpu_stats: previous,
        memory_stats: { usage: cgroup.memoryUsage, limit: cgroup.memoryLimit, stats: {} },
        networks,
      };
      [previous, previousRead] = [cpu, read];
      return body;
    };
    if (!stream) {
      // As Docker: without one-shot, a first sample and one a second later, for a CPU figure.
      if (!oneShot) {
        await sample();
        await new Promise((r) => setTimeout(r, 1000));
      }
      call.send(200, await sample());
      return;
    }
    const res = call.stream('application/json');
    while (!call.closed.aborted && containers.running(call.params.id)) {
      res.write(JSON.stringify(await sample().catch(() => null)) + '\n');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        call.closed.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    res.end();
  });

  api.route('POST', '/containers/{id}/kill', async (call) => {
    await containers.kill(call.params.id, call.query.get('signal') || 'SIGKILL');
    call.send(204);
  });

  // A terminal's size (the CLI sends it after start with -t, and again when its window changes).
  api.route('POST', '/containers/{id}/resize', async (call) => {
    const [rows, cols] = terminalSize(call);
    await containers.resize(call.params.id, rows, cols);
    call.send(200);
  });

  api.route('POST', '/containers/{id}/wait', async (call) => {
    const condition = call.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition: "${condition}"`);
    const waiting = containers.waitFor(call.params.id, condition);
    // The headers go out once the waiter is in place: the client starts the container then.
    const res = call.stream('application/json');
    const code = await waiting;
    res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  });

  api.route('DELETE', '/containers/{id}', async (call) => {
    await containers.remove(call.params.id, { force: call.bool('force'), volumes: call.bool('v') });
    call.send(204);
  });

  // Tug's own variant answers with the PIDs the container sees (Docker's shows the host's).
  for (const [path, namespaced] of [['/containers/{id}/top', false], ['/tug/containers/{id}/top', true]] as const) {
    api.route('GET', path, async (call) => {
      const pids = await containers.pids(call.params.id);
      try {
        call.send(200, await top(pids, call.query.get('ps_args') ?? undefined, namespaced));
      } catch (error) {
        throw badRequest((error as Error).message);
      }
    });
  }

  api.route('GET', '/containers/{id}/logs', async (call) => {
    const record = containers.get(call.params.id);
    const stdout = call.bool('stdout');
    const stderr = call.bool('stderr');
    if (!stdout && !stderr) throw badRequest('Bad parameters: you must choose at least one stream');
    const follow = call.bool('follow');
    const timestamps = call.bool('timestamps');
    const since = Number(call.query.get('since') || 0);
    const until = Number(call.query.get('until') || 0);
    const tailParam = call.query.get('tail');
    const tail = tailParam && tailParam !== 'all' ? Math.max(0, Number(tailParam)) : -1;
    const tty = record.Config.Tty;
    const res = call.stream(streamType(call, tty));
    const wanted = (e: LogEntry) =>
      (e.stream === 'stdout' ? stdout : stderr) &&
      (!since || Date.parse(e.time) / 1000 >= since) &&
      (!until || Date.parse(e.time) / 1000 <= until);
    let from = 0;
    if (tail >= 0) {
      // The last N entries of what is there now, then (with -f) what comes.
      const kept: LogEntry[] = [];
      for await (const entry of readLog(record.LogPath)) {
        if (!wanted(entry)) continue;
        kept.push(entry);
        if (kept.length > tail) kept.shift();
      }
      for (const entry of kept) res.write(encode(entry, tty, timestamps));
      from = await logSize(record.LogPath);
      if (!follow) return void res.end();
    }
    const done = () => !containers.running(record.Id);
    const finished = record.State.Running ? containers.stopped(record.Id) : undefined;
    for await (const entry of readLog(record.LogPath, { from, follow, done, signal: call.closed, finished })) {
      if (wanted(entry)) res.write(encode(entry, tty, timestamps));
    }
    res.end();
  });

  api.route('POST', '/containers/{id}/attach', async (call) => {
    const record = containers.get(call.params.id);
    const tty = record.Config.Tty;
    const stdout = call.bool('stdout');
    const stderr = call.bool('stderr');
    const from = call.bool('logs') ? 0 : await logSize(record.LogPath);
    // On a terminal, the detach keys end this attach and leave the container running.
    const keys = detachKeys(call.query.get('detachKeys') ?? undefined);
    const detached = new AbortController();
    const ended = AbortSignal.any([call.closed, detached.signal]);
    const socket = call.hijack(streamType(call, tty));
    const release = containers.reading(record.Id);
    try {
      if (call.bool('stdin') && record.Config.OpenStdin) void forwardStdin(engine, record, socket, call.closed, tty ? { keys, detached: () => detached.abort() } : undefined);
      await containers.started(record.Id, ended);
      const done = () => !containers.running(record.Id);
      if (stdout || stderr) {
        const finished = containers.stopped(record.Id);
        for await (const entry of readLog(record.LogPath, { from, follow: call.bool('stream'), done, signal: ended, finished })) {
          if (entry.stream === 'stdout' ? stdout : stderr) socket.write(encode(entry, tty, false));
        }
      }
    } finally {
      release();
    }
    socket.end();
  });
}

/** What the client types goes to the container's stdin FIFO; its end closes it. */
async function forwardStdin(engine: Engine, record: ContainerRecord, socket: Duplex, closed: AbortSignal, detach?: Detach): Promise<void> {
  await engine.containers.started(record.Id, closed);
  if (engine.containers.running(record.Id)) await forwardInput(socket, `${engine.containers.dirOf(record.Id)}/stdin`, detach);
}

/** What the client types on a hijacked connection goes to a stdin FIFO; its end closes it. */
export async function forwardInput(socket: Duplex, fifoPath: string, detach?: Detach): Promise<void> {
  let fifo: FileHandle;
  try {
    // Read-write: the open never waits for a reader, which a process that has already ended
    // (an exec done before its input came) would never bring; what it did not read is dropped.
    fifo = await open(fifoPath, fsConstants.O_RDWR);
  } catch {
    return;
  }
  // Events, not `for await`: iterating would destroy the socket at the end of the input, and
  // with it the output still to be sent.
  let writing: Promise<unknown> = Promise.resolve();
  let matched = 0; // bytes of the detach keys typed so far, held back
  await new Promise<void>((resolve) => {
    socket.on('data', (input: Buffer) => {
      let chunk = input;
      if (detach) {
        const passed: number[] = [];
        for (const byte of input) {
          if (byte !== detach.keys[matched]) {
            // Not the sequence after all: what was held back goes on.
            passed.push(...detach.keys.subarray(0, matched));
            matched = 0;
          }
          if (byte !== detach.keys[matched]) passed.push(byte);
          else if (++matched === detach.keys.length) {
            socket.removeAllListeners('data');
            detach.detached();
            return resolve();
          }
        }
        chunk = Buffer.from(passed);
      }
      socket.pause();
      writing = fifo.write(chunk);
      writing.then(
        () => socket.resume(),
        () => resolve(),
      );
    });
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
  await writing.catch(() => {});
  await fifo.close();
}

/** A terminal's detach keys (ctrl-p,ctrl-q unless the client names others) and what detaching does. */
export interface Detach {
  keys: Buffer;
  detached: () => void;
}

/** Docker's detach key syntax: comma-separated `ctrl-<a-z @ [ \\ ] ^ _>` or single characters. */
export function detachKeys(spec: string | undefined): Buffer {
  const keys: number[] = [];
  for (const key of (spec || 'ctrl-p,ctrl-q').split(',')) {
    const ctrl = /^ctrl-([a-z@[\\\]^_])$/.exec(key.trim());
    if (ctrl) keys.push(ctrl[1] === '@' ? 0 : ctrl[1] >= 'a' && ctrl[1] <= 'z' ? ctrl[1].charCodeAt(0) - 96 : ctrl[1].charCodeAt(0) - 64);
    else if (key.length === 1) keys.push(key.charCodeAt(0));
    else throw badRequest(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(keys);
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const emptyCpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };

/** The machine's CPU time in nanoseconds, from /proc/stat's first line (in USER_HZ, 100 a second). */
async function systemCpuNanos(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  return line.trim().split(/\s+/).slice(1, 9).reduce((n, v) => n + Number(v), 0) * 1e7;
}
