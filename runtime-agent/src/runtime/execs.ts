// `docker exec`: a process started in a running container, joining its namespaces, root and
// cgroups (the native helper's `enter`), with the container's environment, user and working
// directory unless the exec names its own. Like Docker, the engine keeps execs in memory: each
// has a folder under its container's with its spec, output log, stdin and resize FIFOs and exit
// file, removed with the container.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, conflict, notFound } from '../api/errors';
import { status127, type Containers } from './containers';
import { seccompFilter, securityOf } from './security';
import { startShim, type ExitStatus } from './shim';
import { containerCapabilities, DEFAULT_PATH, type ContainerSpec } from './spec';
import { resolveUser } from './users';

/** The body of `POST /containers/{id}/exec`. */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Privileged?: boolean;
  /** The terminal's detach keys, Docker's syntax (ctrl-p,ctrl-q when empty). */
  DetachKeys?: string;
}

export interface Exec {
  id: string;
  containerId: string;
  config: ExecConfig;
  dir: string;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** Settles once it has ended, its output logged. */
  ended: Promise<ExitStatus>;
  started: boolean;
}

/** The process could not be started (its exit code says why: 126 or 127). */
export class ExecFailed extends Error {}

export class Execs {
  private readonly execs = new Map<string, Exec>();

  constructor(private readonly containers: Containers) {}

  create(ref: string, config: ExecConfig): string {
    const { record, dir } = this.containers.execTarget(ref);
    // Those of removed containers are forgotten (their folders went with them).
    const live = new Set(this.containers.list().map((c) => c.Id));
    for (const [id, exec] of this.execs) if (!live.has(exec.containerId)) this.execs.delete(id);
    if (!config.Cmd?.length) throw badRequest('No exec command specified');
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, containerId: record.Id, config, dir: join(dir, 'exec', id), running: false, exitCode: null, pid: 0, ended: new Promise(() => {}), started: false });
    this.containers.emit(`exec_create: ${config.Cmd.join(' ')}`, record, { execID: id });
    return id;
  }

  get(id: string): Exec {
    const exec = this.execs.get(id);
    if (!exec) throw notFound(`No such exec instance: ${id}`);
    return exec;
  }

  /** The exec's output log, stdin FIFO and resize FIFO. */
  files(exec: Exec): { log: string; stdin: string; resize: string } {
    return { log: join(exec.dir, 'log'), stdin: join(exec.dir, 'stdin'), resize: join(exec.dir, 'resize') };
  }

  /** Throws Docker's error when it cannot start now: unknown, started already, or its container stopped. */
  startable(id: string): Exec {
    const exec = this.get(id);
    if (exec.started) throw conflict(`exec ${id} has already been started`);
    this.containers.execTarget(exec.containerId);
    return exec;
  }

  /** Starts it; resolves once its process runs. `size`: its terminal's [rows, cols]. */
  async start(id: string, size?: [number, number] | null): Promise<Exec> {
    const exec = this.startable(id);
    const { record, pid, cgroupProcs } = this.containers.execTarget(exec.containerId);
    exec.started = true;
    const { config } = exec;
    const files = this.files(exec);
    await mkdir(exec.dir, { recursive: true });
    // The container's root as its init sees it: where its users and groups are looked up.
    const user = await resolveUser([`/proc/${pid}/root`], config.User ?? record.Config.User).catch((e: Error) => {
      exec.exitCode = 126;
      throw new ExecFailed(e.message);
    });
    const env = [...record.Config.Env, ...(config.Env ?? [])];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const [rows, cols] = size ?? config.ConsoleSize ?? [0, 0];
    const security = securityOf(record.HostConfig);
    // The container's own, as Docker gives an exec (every one with exec --privileged).
    const capabilities = config.Privileged ? containerCapabilities(['ALL']) : containerCapabilities(security.capAdd, security.capDrop, security.privileged);
    const spec: ContainerSpec = {
      enter: pid,
      namespaces: [],
      root: '',
      mounts: [],
      devices: [],
      symlinks: [],
      maskedPaths: [],
      readonlyPaths: [],
      capabilities,
      noNewPrivileges: security.noNewPrivileges,
      seccomp: seccompFilter(security, capabilities),
      rlimits: security.rlimits,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      cwd: config.WorkingDir || record.Config.WorkingDir || '/',
      env,
      args: config.Cmd!,
      cgroupProcs,
      log: files.log,
      ...(config.AttachStdin ? { stdin: files.stdin } : {}),
      ...(config.Tty ? { tty: { resize: files.resize, rows, cols } } : {}),
      pidFile: join(exec.dir, 'pid'),
      exitFile: join(exec.dir, 'exit'),
    };
    let shim;
    try {
      shim = await startShim(join(exec.dir, 'spec'), spec);
    } catch (error) {
      const message = (error as Error).message;
      exec.exitCode = status127(message);
      throw new ExecFailed(`OCI runtime exec failed: exec failed: ${message}`);
    }
    exec.running = true;
    exec.pid = shim.pid;
    this.containers.emit(`exec_start: ${config.Cmd!.join(' ')}`, record, { execID: id });
    exec.ended = shim.exited.then((status) => {
      exec.running = false;
      exec.exitCode = status.exitCode;
      this.containers.emit('exec_die', record, { execID: id, exitCode: String(status.exitCode) });
      return status;
    });
    return exec;
  }

  /** `GET /exec/{id}/json`, as Docker answers it. */
  inspect(id: string): Record<string, unknown> {
    const exec = this.get(id);
    const cmd = exec.config.Cmd ?? [];
    return {
      ID: exec.id,
      ContainerID: exec.containerId,
      Running: exec.running,
      ExitCode: exec.exitCode,
      Pid: exec.pid,
      OpenStdin: !!exec.config.AttachStdin,
      OpenStdout: !!exec.config.AttachStdout,
      OpenStderr: !!exec.config.AttachStderr,
      CanRemove: false,
      DetachKeys: exec.config.DetachKeys ?? '',
      ProcessConfig: { tty: !!exec.config.Tty, entrypoint: cmd[0] ?? '', arguments: cmd.slice(1), privileged: false, user: exec.config.User ?? '' },
    };
  }
}
