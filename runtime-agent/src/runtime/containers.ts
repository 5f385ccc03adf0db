// Containers: their records on disk, their lifecycle (create, start, stop, kill, wait, remove)
// and their output. Every decision about how a container runs is made here and handed to the
// native helper as a spec: namespaces, mounts, capabilities, user, environment, cgroup limits.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { conflict, badRequest, forbidden, notFound, notModified, ApiError } from '../api/errors';
import type { Events } from '../events';
import { writeFileAtomic } from '../images/content';
import type { ContainerConfig, ImageRecord, ImageStore } from '../images/store';
import type { Snapshots } from '../images/snapshots';
import type { Cgroup, CgroupManager, CgroupStats, Limits } from './cgroups';
import type { HealthState } from './health';
import { checkMounts, parseBinds, specMounts, tmpfsMounts, type ApiMount, type MountPoint } from './mounts';
import { generateName, VALID_NAME } from './names';
import type { Networks } from './networks';
import { parsePortKey, portMap, PortProxies, publications, type PortBindings, type PortMap } from './ports';
import { CONTAINER_NAMESPACES, containerCapabilities, defaultSpec, MS, type ContainerSpec } from './spec';
import { alive, INIT_PATH, readExit, resizeTerminal, startShim, watchExit, type ExitStatus, type Monitors, type Prepared } from './shim';
import { resolveUser } from './users';
import { DEFAULT_DEVICE_RULES, deviceProgram, hostDevices, type DeviceMapping } from './devices';
import { seccompFilter, securityOf } from './security';
import { ANONYMOUS, type Volumes } from './volumes';

export interface HostConfig {
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  PidsLimit?: number | null;
  AutoRemove?: boolean;
  NetworkMode?: string;
  PortBindings?: PortBindings | null;
  PublishAllPorts?: boolean;
  /** `--restart`: no, on-failure (at most MaximumRetryCount times, 0 for no limit), always, unless-stopped. */
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
  [key: string]: unknown;
}

export interface CreateBody {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Image?: string;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  HostConfig?: HostConfig | null;
  [key: string]: unknown;
}

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** What `docker inspect` shows, persisted as is. */
export interface ContainerRecord {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: Status;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
    /** Its HEALTHCHECK's state, while it has one. */
    Health?: HealthState;
  };
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Name: string; Data: Record<string, string> };
  Mounts: MountPoint[];
  Config: {
    Hostname: string;
    Domainname: string;
    User: string;
    AttachStdin: boolean;
    AttachStdout: boolean;
    AttachStderr: boolean;
    Tty: boolean;
    OpenStdin: boolean;
    StdinOnce: boolean;
    Env: string[];
    Cmd: string[] | null;
    Image: string;
    Volumes: Record<string, object> | null;
    WorkingDir: string;
    Entrypoint: string[] | null;
    OnBuild: null;
    Labels: Record<string, string>;
    StopSignal?: string;
    StopTimeout?: number;
    ExposedPorts?: Record<string, object>;
    Healthcheck?: ContainerConfig['Healthcheck'];
  };
  NetworkSettings: NetworkSettings;
  /** Ours, not Docker's: the monitor's pid, to find a container again after a restart. */
  ShimPid?: number;
  /** Ours: stopped by someone (`docker stop`), so that a restart policy leaves it stopped. */
  ManuallyStopped?: boolean;
}

/** docker inspect's NetworkSettings: the bridge's endpoint fields while it runs on it, and its ports. */
export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey?: string;
  Ports: PortMap;
  IPAddress?: string;
  IPPrefixLen?: number;
  Gateway?: string;
  MacAddress?: string;
  /** The networks it is on, by name, with its address on each while it runs. */
  Networks: Record<string, EndpointSettings>;
}

/** One network's entry of NetworkSettings.Networks. */
export interface EndpointSettings {
  IPAMConfig: null;
  Links: null;
  Aliases: string[] | null;
  MacAddress: string;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

/** What the spec needs of a container's network: the namespace to join, its address and nameserver. */
interface Joined {
  netns: string;
  address?: string;
  nameserver?: string;
}

function endpointSettings(networkId: string, aliases: string[] | null): EndpointSettings {
  return {
    IPAMConfig: null, Links: null, Aliases: aliases, MacAddress: '', NetworkID: networkId, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

interface Live {
  record: ContainerRecord;
  dir: string;
  cgroup: Cgroup | null;
  /** The last run's cgroup being removed. */
  cgroupGone?: Promise<void>;
  /** Resolves at each exit; replaced at each start. */
  exit: Promise<void> | null;
  removed: Promise<void>;
  markRemoved: () => void;
  /** Waiters for the next exit. */
  exitWaiters: ((code: number) => void)[];
  /** Waiters for the next start (attach before start). */
  startWaiters: (() => void)[];
  /** Settles when the running process has ended (before its removal). */
  stopped: Promise<void>;
  markStopped: () => void;
  /** Attached readers still reading the log: --rm waits for them. */
  readers: number;
  /** Called when the last reader is done. */
  readersDone: (() => void)[];
  /** The record's writes, in order (see save). */
  saving: Promise<void>;
  /** The last run's monitor has ended (its exit file written): the next run waits for it. */
  monitorGone: Promise<void>;
  stopping: boolean;
  /** The running container's published ports. */
  proxies?: PortProxies;
  /** The last run's network being removed. */
  networkGone?: Promise<void>;
  /** Restarts by its policy in a row (the pause before the next doubles with each). */
  restarts: number;
}

export interface ContainerOptions {
  root: string;
  images: ImageStore;
  snapshots: Snapshots;
  cgroups: CgroupManager;
  /** Where containers' monitors (and, ahead of need, their cgroups) come from. */
  monitors: Monitors;
  events: Events;
  /** overlay2: the image's snapshots as overlay lower dirs; vfs: a full copy per container. */
  storageDriver: StorageDriver;
  /** The networks containers are on: the default bridge unless they ask for another. */
  networks: Networks;
  volumes: Volumes;
}

export type StorageDriver = 'overlay2' | 'vfs';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** A signal by name (with or without SIG), number, or SIGRTMIN+n; throws Docker's error otherwise. */
export function parseSignal(value: string): number {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n > 0 && n <= 64) return n;
  }
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  const rt = /^SIGRTMIN\+(\d+)$/.exec(name);
  if (rt && 34 + Number(rt[1]) <= 64) return 34 + Number(rt[1]);
  if (name === 'SIGRTMIN') return 34;
  if (name === 'SIGRTMAX') return 64;
  if (SIGNALS[name]) return SIGNALS[name];
  throw badRequest(`Invalid signal: ${value}`);
}

function asList(value: string[] | string | null | undefined): string[] | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? [value] : value;
}

const now = () => new Date().toISOString();
const ZERO_TIME = '0001-01-01T00:00:00Z';


/** What a container's mounts need to exist in its root: made once, shared by all (see initLayer). */
const INIT_DIRS = ['proc', 'sys', 'dev', 'etc'];
const INIT_FILES = ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'];

export class Containers {
  private readonly live = new Map<string, Live>();
  private init: Promise<string> | null = null;

  constructor(private readonly options: ContainerOptions) {}

  private get root(): string {
    return this.options.root;
  }

  /** Loads the records on disk; containers whose monitor is gone get their exit status. */
  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const cgroups = new Set(await this.options.cgroups.names());
    for (const id of await readdir(this.root)) {
      if (id.startsWith('.init-')) {
        await rm(join(this.root, id), { recursive: true, force: true });
        continue;
      }
      if (id.startsWith('.removing-')) {
        await rm(join(this.root, id), { recursive: true, force: true });
        continue;
      }
      let record: ContainerRecord;
      try {
        record = JSON.parse(await readFile(join(this.root, id, 'container.json'), 'utf8')) as ContainerRecord;
      } catch {
        continue; // a container whose creation never finished
      }
      const entry = this.track(record);
      if (record.State.Running) {
        // Its cgroup is still there: for top and stats while it runs, and to remove when it ends.
        entry.cgroup = this.options.cgroups.open(record.Id);
        const status = await readExit(join(entry.dir, 'exit'));
        if (status) await this.exited(entry, status);
        else if (record.ShimPid && alive(record.ShimPid)) {
          entry.stopped = new Promise((resolve) => (entry.markStopped = resolve));
          this.watch(entry, record.ShimPid);
          await this.reconnect(entry);
        } else await this.exited(entry, { exitCode: 255, signal: null, finishedAt: new Date(), error: 'the monitor is gone' });
      } else if (cgroups.has(record.Id)) {
        // An engine killed amid a start leaves what it began: a cgroup, maybe a process in it
        // whose run was never recorded. It goes, so the container is as recorded and can start.
        await this.options.cgroups.open(record.Id).destroy().catch((error: Error) => console.error(`container ${record.Id}: ${error.message}`));
      }
    }
    // Namespaces and veths of containers that ended while no engine ran.
    await this.options.networks.reconcile(new Set(this.list().filter((r) => r.State.Running).map((r) => r.Id))).catch((error: Error) => console.error(`networks: ${error.message}`));
  }

  /** A container that ran on through an engine restart: its addresses kept, its ports published again. */
  private async reconnect(entry: Live): Promise<void> {
    const { record } = entry;
    const attached = Object.entries(record.NetworkSettings.Networks ?? {}).filter(([, e]) => e.IPAddress);
    if (!attached.length) return;
    try {
      await this.options.networks.reserve(record.Id, attached.map(([ref, e]) => ({ ref, address: e.IPAddress, names: e.DNSNames ?? [] })));
      const bound = Object.entries(record.NetworkSettings.Ports ?? {}).flatMap(([key, list]) =>
        (list ?? []).map((b) => ({ ...parsePortKey(key), hostIp: b.HostIp, hostPort: Number(b.HostPort) })),
      );
      entry.proxies = await PortProxies.open(bound, attached[0][1].IPAddress);
      await this.options.networks.publish(record.Id, attached[0][0], bound, true);
    } catch (error) {
      console.error(`container ${record.Id}: its network could not be taken up again: ${(error as Error).message}`);
    }
  }

  /** Docker's events for what a run takes up and lets go: its volumes mounted, its networks joined. */
  private takenUp(record: ContainerRecord, starting: boolean): void {
    const events = this.options.events;
    const volumes = record.Mounts.filter((m) => m.Type === 'volume' && m.Name);
    if (starting) {
      for (const m of volumes) events.emit('volume', 'mount', m.Name!, { container: record.Id, destination: m.Destination, driver: 'local', propagation: m.Propagation, 'read/write': String(m.RW) });
    }
    for (const [name, endpoint] of Object.entries(record.NetworkSettings.Networks)) this.networkEvent(starting ? 'connect' : 'disconnect', record.Id, name, endpoint.NetworkID);
    if (!starting) for (const m of volumes) events.emit('volume', 'unmount', m.Name!, { container: record.Id, driver: 'local' });
  }

  private networkEvent(action: 'connect' | 'disconnect', container: string, name: string, id: string): void {
    const type = this.options.networks.list().find((n) => n.Id === id)?.Driver ?? 'bridge';
    this.options.events.emit('network', action, id, { container, name, type });
  }

  /** Stops publishing the engine's ports (it stops; containers run on) and removes an unused bridge. */
  async close(): Promise<void> {
    await Promise.all([...this.live.values()].map((entry) => entry.proxies?.close()));
    await this.options.networks.close();
  }

  private track(record: ContainerRecord): Live {
    let markRemoved = () => {};
    const removed = new Promise<void>((resolve) => (markRemoved = resolve));
    const entry: Live = { record, dir: join(this.root, record.Id), cgroup: null, exit: null, removed, markRemoved, exitWaiters: [], startWaiters: [], readers: 0, readersDone: [], saving: Promise.resolve(), monitorGone: Promise.resolve(), stopping: false, stopped: Promise.resolve(), markStopped: () => {}, restarts: 0 };
    this.live.set(record.Id, entry);
    return entry;
  }

  /** Settles when every record's writes so far are done (before the engine exits). */
  async flush(): Promise<void> {
    await Promise.all([...this.live.values()].map((entry) => entry.saving));
  }

  list(): ContainerRecord[] {
    return [...this.live.values()].map((l) => l.record);
  }

  /** By full ID, name (with or without /), or unique ID prefix. */
  find(ref: string): Live {
    const direct = this.live.get(ref);
    if (direct) return direct;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const entry of this.live.values()) if (entry.record.Name === name) return entry;
    const matches = ref.length > 0 ? [...this.live.values()].filter((l) => l.record.Id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw badRequest(`multiple IDs found with provided prefix: ${ref}`);
    throw notFound(`No such container: ${ref}`);
  }

  get(ref: string): ContainerRecord {
    return this.find(ref).record;
  }

  /** The container's directory: its record, log, stdin FIFO and writable layer. */
  dirOf(ref: string): string {
    return this.find(ref).dir;
  }

  /** Whether any container uses an image (by its ID). */
  usersOf(imageId: string): ContainerRecord[] {
    return this.list().filter((r) => r.Image === imageId);
  }

  async create(body: CreateBody, name: string | null): Promise<{ Id: string; Warnings: string[] }> {
    if (!body.Image) throw badRequest('Config cannot be empty in order to create a container');
    const image = this.options.images.get(body.Image);
    if (!image) throw notFound(`No such image: ${familiar(body.Image)}`);
    if (name !== null && name !== '') {
      if (!VALID_NAME.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const taken = [...this.live.values()].find((l) => l.record.Name === (name.startsWith('/') ? name : `/${name}`));
      if (taken) {
        throw conflict(
          `Conflict. The container name "/${name.replace(/^\//, '')}" is already in use by container "${taken.record.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
    const id = randomBytes(32).toString('hex');
    const config = mergeConfig(body, image, id);
    const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    if (command.length === 0) throw badRequest('No command specified');
    const dir = join(this.root, id);
    const host = body.HostConfig ?? {};
    const mounts = checkMounts([...parseBinds(host.Binds), ...((host.Mounts as ApiMount[] | undefined) ?? [])]);
    // The image's VOLUMEs that nothing else mounts get a volume of their own, as Docker gives them.
    for (const path of Object.keys(config.Volumes ?? {})) {
      const destination = posix.normalize(path);
      if (!mounts.some((m) => m.Destination === destination)) mounts.push({ Type: 'volume', Name: '', Source: '', Destination: destination, Driver: 'local', Mode: '', RW: true, Propagation: '' });
    }
    const network = this.networkMode(host.NetworkMode);
    // `--network-alias`: the names it has on its network besides its own.
    const endpoints = (body.NetworkingConfig as { EndpointsConfig?: Record<string, { Aliases?: string[] | null }> } | undefined)?.EndpointsConfig ?? {};
    const aliases = Object.entries(endpoints).find(([name]) => name === network || name === host.NetworkMode)?.[1]?.Aliases ?? null;
    try {
      publications(host.PortBindings ?? undefined, config.ExposedPorts, false);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    tmpfsMounts(host.Tmpfs);
    securityOf(host);
    for (const [field, flag] of [['PidMode', 'pid'], ['IpcMode', 'ipc'], ['UTSMode', 'uts']] as const) {
      const mode = host[field];
      if (mode && mode !== 'host' && !(field === 'IpcMode' && ['private', 'shareable'].includes(mode as string))) throw badRequest(`invalid --${flag}: "${mode}" (host is supported)`);
    }
    const policy = host.RestartPolicy?.Name ?? '';
    if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(policy)) throw badRequest(`invalid restart policy '${policy}'`);
    if (policy && policy !== 'no' && host.AutoRemove) throw badRequest(`can't create 'AutoRemove' container with restart policy`);
    if ((host.RestartPolicy?.MaximumRetryCount ?? 0) > 0 && policy !== 'on-failure') throw badRequest(`maximum retry count cannot be used with restart policy '${policy}'`);
    const hostConfig: HostConfig = {
      ...host,
      NetworkMode: network,
      AutoRemove: host.AutoRemove === true,
      Memory: host.Memory ?? 0,
      NanoCpus: host.NanoCpus ?? 0,
      CpuShares: host.CpuShares ?? 0,
      PidsLimit: host.PidsLimit ?? null,
    };
    const record: ContainerRecord = {
      Id: id,
      Created: now(),
      Path: command[0],
      Args: command.slice(1),
      State: {
        Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
        Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
      },
      Image: image.id,
      ResolvConfPath: join(dir, 'resolv.conf'),
      HostnamePath: join(dir, 'hostname'),
      HostsPath: join(dir, 'hosts'),
      LogPath: join(dir, `${id}-json.log`),
      Name: `/${name ? name.replace(/^\//, '') : generateName((n) => [...this.live.values()].some((l) => l.record.Name === `/${n}`))}`,
      RestartCount: 0,
      Driver: this.options.storageDriver,
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: hostConfig,
      GraphDriver:
        this.options.storageDriver === 'overlay2'
          ? { Name: 'overlay2', Data: { UpperDir: join(dir, 'upper'), WorkDir: join(dir, 'work'), MergedDir: join(dir, 'rootfs') } }
          : { Name: 'vfs', Data: { Dir: join(dir, 'rootfs') } },
      Mounts: mounts,
      Config: config,
      NetworkSettings: {
        Bridge: '', SandboxID: '', Ports: {},
        Networks: network.startsWith('container:') ? {} : { [network]: endpointSettings(this.options.networks.find(network).Id, aliases) },
      },
    };
    // Docker takes every published port as exposed too.
    for (const key of Object.keys(host.PortBindings ?? {})) {
      const { port, protocol } = parsePortKey(key);
      config.ExposedPorts = { ...config.ExposedPorts, [`${port}/${protocol}`]: {} };
    }
    for (const m of mounts.filter((m) => m.Type === 'volume')) {
      const volume = await this.options.volumes.create(m.Name || undefined, m.Name ? {} : { [ANONYMOUS]: '' });
      Object.assign(m, { Name: volume.Name, Source: volume.Mountpoint });
    }
    await mkdir(join(dir, 'rootfs'), { recursive: true });
    if (this.options.storageDriver === 'overlay2') {
      await mkdir(join(dir, 'upper'), { recursive: true });
      await mkdir(join(dir, 'work'), { recursive: true });
    } else {
      // Without overlay, the container's root is a copy of the image, made once.
      await this.options.snapshots.flattenInto(image, join(dir, 'rootfs'));
    }
    // The record goes last: a crash before it leaves a directory `load` ignores.
    await writeFileAtomic(join(dir, 'container.json'), JSON.stringify(record));
    this.track(record);
    this.emit('create', record);
    return { Id: id, Warnings: [] };
  }

  /**
   * Saves a change of state (started, exited), after the saves before it. It must survive the
   * engine, not the machine: a power loss ends the container's processes too, and a record a
   * step behind says no more than that. So no fsync on the path of every start and exit; the
   * creation itself is durable. A failure is logged as well as returned.
   */
  private save(entry: Live): Promise<void> {
    const json = JSON.stringify(entry.record);
    const write = entry.saving.then(() => writeFileAtomic(join(entry.dir, 'container.json'), json, { durable: false }));
    entry.saving = write.catch((error: Error) => console.error(`container ${entry.record.Id}: cannot save its state: ${error.message}`));
    return write;
  }

  /** Saves state changed in place from outside (a health check's result), as Docker checkpoints it. */
  checkpoint(ref: string): Promise<void> {
    return this.save(this.find(ref));
  }

  /** A start that did not get as far as the process: it stays created, with the reason. */
  private async startFailed(entry: Live, message: string, status: number): Promise<ApiError> {
    const { record } = entry;
    await this.disconnect(entry);
    record.State = { ...record.State, Status: 'created', Error: message, ExitCode: status127(message) };
    await this.save(entry);
    // Whoever waits on this start (attach, wait) learns it is over; --rm removes it, as Docker does.
    for (const waiter of entry.startWaiters.splice(0)) waiter();
    for (const waiter of entry.exitWaiters.splice(0)) waiter(record.State.ExitCode);
    if (record.HostConfig.AutoRemove) await this.remove(record.Id, { force: true }).catch(() => {});
    return new ApiError(status, message);
  }

  /** Tells listeners of the engine's events about a container (execs' too: exec_create…). */
  emit(action: string, record: ContainerRecord, extra: Record<string, string> = {}): void {
    this.options.events.emit('container', action, record.Id, {
      image: record.Config.Image,
      name: record.Name.slice(1),
      ...record.Config.Labels,
      ...extra,
    });
  }

  async start(ref: string): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    if (record.State.Running) throw notModified();
    if (record.State.Status === 'removing') throw conflict(`container ${record.Id} is marked for removal and cannot be started`);
    const image = this.options.images.get(record.Image);
    if (!image) throw notFound(`No such image: ${record.Image}`);
    const lower = this.options.storageDriver === 'overlay2' ? await this.options.snapshots.prepare(image) : [];
    // The last run's exit file is written after its end is told: it must not land on this run.
    await entry.monitorGone;
    await entry.networkGone;
    const endpoint = await this.connect(entry);
    let spec: ContainerSpec;
    let monitor: Prepared['monitor'];
    try {
      ({ spec, monitor } = await this.spec(entry, lower, endpoint));
    } catch (error) {
      throw await this.startFailed(entry, (error as Error).message, error instanceof ApiError ? error.status : 400);
    }
    let shim;
    try {
      shim = await startShim(join(entry.dir, 'spec'), spec, monitor);
    } catch (error) {
      await entry.cgroup?.destroy().catch(() => {});
      entry.cgroup = null;
      const message = `failed to create task for container: failed to create shim task: OCI runtime create failed: ${(error as Error).message}`;
      throw await this.startFailed(entry, message, /not found|no such file|permission denied/i.test(message) ? 400 : 500);
    }
    record.State = {
      ...record.State,
      Status: 'running', Running: true, Paused: false, Restarting: false, Pid: shim.pid, ExitCode: 0, Error: '', OOMKilled: false,
      StartedAt: now(), FinishedAt: ZERO_TIME,
    };
    record.ShimPid = shim.shimPid;
    delete record.ManuallyStopped;
    entry.monitorGone = shim.closed;
    entry.stopped = new Promise((resolve) => (entry.markStopped = resolve));
    // Saved while the answer goes out: the monitor holds the container whatever happens here.
    void this.save(entry).catch(() => {});
    this.takenUp(record, true);
    this.emit('start', record);
    for (const waiter of entry.startWaiters.splice(0)) waiter();
    entry.exit = shim.exited.then((status) => this.exited(entry, status));
  }

  get networks(): Networks {
    return this.options.networks;
  }

  get volumes(): Volumes {
    return this.options.volumes;
  }

  /** `docker network connect`: on the network from its next start, and at once if it runs. */
  async connectNetwork(ref: string, network: string, aliases: string[] | null): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    const { Name, Id } = this.options.networks.find(network);
    if (!this.options.networks.bridged(Name) || !Object.keys(record.NetworkSettings.Networks).some((n) => this.options.networks.bridged(n))) {
      throw forbidden(`container ${record.Name.slice(1)} cannot be connected to ${Name}: only containers on bridge networks join bridge networks`);
    }
    if (record.NetworkSettings.Networks[Name]) throw forbidden(`endpoint with name ${record.Name.slice(1)} already exists in network ${Name}`);
    record.NetworkSettings.Networks[Name] = endpointSettings(Id, aliases);
    if (record.State.Running) {
      const names = [record.Name.slice(1), ...(aliases ?? []), record.Id.slice(0, 12)];
      try {
        record.NetworkSettings.Networks[Name] = { ...record.NetworkSettings.Networks[Name], ...(await this.options.networks.attach(record.Id, Name, names)) };
        this.networkEvent('connect', record.Id, Name, Id);
      } catch (error) {
        delete record.NetworkSettings.Networks[Name];
        throw new ApiError(500, `failed to connect container ${record.Id} to ${Name}: ${(error as Error).message}`);
      }
    }
    await this.save(entry);
  }

  /** `docker network disconnect`. */
  async disconnectNetwork(ref: string, network: string): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    const { Name } = this.options.networks.find(network);
    if (!record.NetworkSettings.Networks[Name]) throw badRequest(`container ${record.Id} is not connected to network ${Name}`);
    if (record.State.Running) {
      await this.options.networks.detach(record.Id, Name);
      this.networkEvent('disconnect', record.Id, Name, record.NetworkSettings.Networks[Name].NetworkID);
    }
    delete record.NetworkSettings.Networks[Name];
    await this.save(entry);
  }

  /** `--add-host NAME:IP` as /etc/hosts lines; `host-gateway` is the default bridge's gateway, as Docker takes it. */
  private extraHosts(entries: unknown): string[] {
    return (Array.isArray(entries) ? entries : []).map((entry: string) => {
      const at = entry.indexOf(':');
      const [name, address] = [entry.slice(0, at), entry.slice(at + 1)];
      return `${address === 'host-gateway' ? this.options.networks.gateway('bridge') : address}\t${name}`;
    });
  }

  /** HostConfig.NetworkMode as it will be used: bridge (the default), host, none, or container:<ID>. */
  private networkMode(mode: string | undefined): string {
    if (!mode || mode === 'default') return 'bridge';
    if (mode.startsWith('container:')) return `container:${this.find(mode.slice('container:'.length)).record.Id}`;
    return this.options.networks.find(mode).Name;
  }

  /**
   * The container's networks, before it starts: on bridge networks, a namespace of its own with
   * an interface and address on each, and its ports published on the first; sharing another
   * container's network, that one's namespace.
   */
  private async connect(entry: Live): Promise<Joined | undefined> {
    const { record } = entry;
    const mode = record.HostConfig.NetworkMode ?? 'bridge';
    if (mode.startsWith('container:')) {
      const other = this.find(mode.slice('container:'.length)).record;
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.Id}`);
      return { netns: `/proc/${other.State.Pid}/ns/net` };
    }
    const networks = this.options.networks;
    const names = Object.keys(record.NetworkSettings.Networks).filter((n) => networks.bridged(n));
    if (!names.length) return undefined;
    let netns: string;
    try {
      netns = await networks.sandbox(record.Id);
      for (const name of names) {
        const settings = record.NetworkSettings.Networks[name];
        const dnsNames = [record.Name.slice(1), ...(settings.Aliases ?? []).filter((a) => a !== record.Id.slice(0, 12)), record.Id.slice(0, 12)];
        record.NetworkSettings.Networks[name] = { ...settings, ...(await networks.attach(record.Id, name, dnsNames)) };
      }
    } catch (error) {
      await this.disconnect(entry);
      throw new ApiError(500, `failed to set up the network of container ${record.Id}: ${(error as Error).message}`);
    }
    const first = record.NetworkSettings.Networks[names[0]];
    try {
      const wanted = publications(record.HostConfig.PortBindings ?? undefined, record.Config.ExposedPorts, record.HostConfig.PublishAllPorts === true);
      entry.proxies = await PortProxies.open(wanted, first.IPAddress);
    } catch (error) {
      await this.disconnect(entry);
      throw new ApiError(500, `driver failed programming external connectivity on endpoint ${record.Name.slice(1)} (${record.Id}): ${(error as Error).message}`);
    }
    // Where iptables is, the kernel carries the ports (the proxy stays bound, and carries them where not).
    await networks.publish(record.Id, names[0], entry.proxies.bound).catch((error: Error) => console.error(`container ${record.Id}: its ports go through the engine's proxy: ${error.message}`));
    const onBridge = record.NetworkSettings.Networks.bridge;
    Object.assign(record.NetworkSettings, {
      SandboxID: record.Id,
      SandboxKey: netns,
      Ports: portMap(record.Config.ExposedPorts, entry.proxies.bound),
      // The top-level fields are the default bridge's, as Docker's are.
      IPAddress: onBridge?.IPAddress ?? '', IPPrefixLen: onBridge?.IPPrefixLen ?? 0, Gateway: onBridge?.Gateway ?? '', MacAddress: onBridge?.MacAddress ?? '',
    });
    return { netns, address: first.IPAddress, nameserver: networks.nameserver(names) };
  }

  /** Once it has stopped (or failed to start): its ports unpublished, its endpoint removed. */
  private async disconnect(entry: Live): Promise<void> {
    const { proxies, record } = entry;
    entry.proxies = undefined;
    const networks = Object.fromEntries(
      Object.entries(record.NetworkSettings.Networks).map(([name, e]) => [name, { ...endpointSettings(e.NetworkID, e.Aliases), Aliases: e.Aliases }]),
    );
    record.NetworkSettings = { Bridge: '', SandboxID: '', Ports: {}, Networks: networks };
    await Promise.all([proxies?.close(), this.options.networks.release(record.Id)]);
  }

  /** Starts a container again after its restart policy's pause (unless it was removed or started meanwhile). */
  private async restartByPolicy(id: string): Promise<void> {
    const entry = this.live.get(id);
    if (!entry || entry.record.State.Running || !entry.record.State.Restarting) return;
    entry.record.State.Restarting = false;
    await this.start(id).catch((error: Error) => console.error(`container ${id}: its restart policy could not start it: ${error.message}`));
  }

  /** At the engine's start: containers whose policy is always (or unless-stopped, not stopped by hand) run again, as dockerd starts them. */
  async startByPolicy(): Promise<void> {
    for (const { record } of [...this.live.values()]) {
      const policy = record.HostConfig.RestartPolicy?.Name;
      if (record.State.Running || record.State.Restarting) continue;
      if (policy === 'always' || (policy === 'unless-stopped' && !record.ManuallyStopped)) {
        await this.start(record.Id).catch((error: Error) => console.error(`container ${record.Id}: its restart policy could not start it: ${error.message}`));
      }
    }
  }

  /** A container whose monitor outlived an engine restart: its exit file tells when it ends. */
  private watch(entry: Live, shimPid: number): void {
    entry.exit = watchExit(join(entry.dir, 'exit'), shimPid).then((status) => this.exited(entry, status));
  }

  private async exited(entry: Live, status: ExitStatus): Promise<void> {
    const { record } = entry;
    entry.markStopped();
    const oom = entry.cgroup ? await entry.cgroup.oomKilled().catch(() => false) : false;
    // Its network goes in the background too (deleting a namespace takes the kernel a while).
    entry.networkGone = this.disconnect(entry);
    // The cgroup goes in the background; a restart waits for it.
    entry.cgroupGone = entry.cgroup?.destroy().catch(() => {});
    entry.cgroup = null;
    record.State = {
      ...record.State,
      Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: status.exitCode, OOMKilled: oom,
      Error: status.error ?? '', FinishedAt: status.finishedAt.toISOString(),
    };
    delete record.ShimPid;
    if (entry.stopping) record.ManuallyStopped = true;
    entry.stopping = false;
    // The pause grows with each restart in a row, and starts again after a run of 10 s or more.
    if (status.finishedAt.getTime() - Date.parse(record.State.StartedAt) >= 10_000) entry.restarts = 0;
    const again = restartDelay(record, status.exitCode, entry.restarts);
    if (again !== undefined) {
      record.State.Restarting = true;
      record.State.Status = 'restarting';
      record.RestartCount++;
      entry.restarts++;
      setTimeout(() => void this.restartByPolicy(record.Id), again).unref();
    }
    // Saved in the background (waiters need not wait for the disk); one removed next is not.
    if (!record.HostConfig.AutoRemove) void this.save(entry).catch(() => {});
    if (oom) this.emit('oom', record);
    this.emit('die', record, { exitCode: String(status.exitCode) });
    this.takenUp(record, false);
    for (const waiter of entry.exitWaiters.splice(0)) waiter(status.exitCode);
    if (record.HostConfig.AutoRemove) {
      // Attached clients read the output to its end first.
      if (entry.readers > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          entry.readersDone.push(resolve);
          timer = setTimeout(resolve, 10_000);
        });
        clearTimeout(timer);
      }
      await this.remove(record.Id, { force: true }).catch(() => {});
    }
  }

  /**
   * Docker's init layer: the mount points a container's root needs, as a read-only layer above
   * the image's, so that they are not made in (and committed from) its writable layer.
   */
  private initLayer(): Promise<string> {
    this.init ??= (async () => {
      const dir = join(this.root, '.init');
      const tmp = `${dir}-${process.pid}-${randomBytes(4).toString('hex')}`;
      for (const sub of INIT_DIRS) await mkdir(join(tmp, sub), { recursive: true, mode: 0o755 });
      for (const file of INIT_FILES) await writeFile(join(tmp, file), '', { mode: 0o644 });
      // Whole or not at all; one made before is as good.
      await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
      return dir;
    })();
    this.init.catch(() => (this.init = null));
    return this.init;
  }

  /** Everything the monitor needs to run this container. */
  private async spec(entry: Live, lower: string[], joined: Joined | undefined): Promise<{ spec: ContainerSpec; monitor: Prepared['monitor'] }> {
    const { record, dir } = entry;
    const config = record.Config;
    const overlay = this.options.storageDriver === 'overlay2';
    const writable = join(dir, overlay ? 'upper' : 'rootfs');
    const user = await resolveUser([writable, ...lower], config.User);
    const env = [...config.Env];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${config.Hostname}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    await Promise.all([
      writeFile(record.HostnamePath, `${config.Hostname}\n`),
      writeFile(record.HostsPath, hostsFile(config.Hostname, joined?.address, this.extraHosts(record.HostConfig.ExtraHosts))),
      resolvConf(joined?.nameserver, record.HostConfig).then((text) => writeFile(record.ResolvConfPath, text)),
    ]);

    const limits: Limits = {};
    const host = record.HostConfig;
    if (host.Memory) limits.memory = host.Memory;
    if (host.MemorySwap) limits.memorySwap = host.MemorySwap;
    if (host.NanoCpus) limits.cpus = host.NanoCpus / 1e9;
    else if (host.CpuQuota && host.CpuQuota > 0) limits.cpus = host.CpuQuota / (host.CpuPeriod || 100_000);
    if (host.CpuShares) limits.cpuShares = host.CpuShares;
    if (host.PidsLimit && host.PidsLimit > 0) limits.pidsLimit = host.PidsLimit;
    const security = securityOf(host);
    const added = await hostDevices(host.Devices as DeviceMapping[] | undefined);
    // --privileged may use every device, as Docker's.
    limits.devices = security.privileged ? ['a'] : [...DEFAULT_DEVICE_RULES, ...added.rules, ...((host.DeviceCgroupRules as string[] | undefined) ?? [])];

    const network = host.NetworkMode ?? 'bridge';
    const rootfs = join(dir, 'rootfs');
    const spec = defaultSpec(rootfs);
    // On the bridge (or another container's network) it joins a namespace made for it; with
    // none, its own holds just the loopback device; with host, it has the host's.
    // --pid, --ipc and --uts host share the host's.
    const shared = new Set([host.PidMode === 'host' && 'pid', host.IpcMode === 'host' && 'ipc', host.UTSMode === 'host' && 'uts']);
    spec.namespaces = CONTAINER_NAMESPACES.filter((ns) => (ns !== 'network' || (network === 'none' && !joined)) && !shared.has(ns));
    if (joined) spec.joinNetwork = joined.netns;
    spec.hostname = network === 'host' || shared.has('uts') ? undefined : config.Hostname;
    spec.loopbackUp = network === 'none';
    if (overlay) spec.overlay = { lower: [await this.initLayer(), ...lower], upper: join(dir, 'upper'), work: join(dir, 'work') };
    for (const [file, target] of [
      [record.ResolvConfPath, '/etc/resolv.conf'],
      [record.HostnamePath, '/etc/hostname'],
      [record.HostsPath, '/etc/hosts'],
    ] as const) {
      spec.mounts.push({ source: file, target, type: 'bind', flags: BIND_FLAGS });
    }
    // /sys/fs/cgroup, after /sys and before the user's mounts (which may go below it).
    spec.mounts.push(...this.options.cgroups.containerMounts);
    await this.fillVolumes(record, overlay ? lower : [join(dir, 'rootfs')]);
    spec.mounts.push(...specMounts(record.Mounts ?? [], (host.Mounts as ApiMount[] | undefined) ?? []), ...tmpfsMounts(host.Tmpfs));
    // --shm-size: /dev/shm's size (64 MiB by default, as Docker's).
    if (typeof host.ShmSize === 'number' && host.ShmSize > 0) {
      const shm = spec.mounts.find((m) => m.target === '/dev/shm');
      if (shm) shm.data = `mode=1777,size=${host.ShmSize}`;
    }
    spec.devices.push(...added.devices);
    spec.capabilities = containerCapabilities(security.capAdd, security.capDrop, security.privileged);
    spec.readonlyRoot = host.ReadonlyRootfs === true;
    spec.noNewPrivileges = security.noNewPrivileges;
    spec.seccomp = seccompFilter(security, spec.capabilities);
    spec.rlimits = security.rlimits;
    if (security.privileged) {
      // As Docker's --privileged: nothing of /proc or /sys masked or read-only.
      spec.maskedPaths = [];
      spec.readonlyPaths = [];
    }
    spec.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
    spec.cwd = config.WorkingDir || '/';
    // Docker creates a missing working directory; in the writable layer, it merges with the image's.
    await mkdir(join(writable, spec.cwd), { recursive: true });
    spec.env = env;
    spec.args = [record.Path, ...record.Args];
    if (host.Init === true) {
      // --init: a minimal init as PID 1 that reaps zombies and passes on signals, where Docker mounts its own.
      spec.mounts.push({ source: INIT_PATH, target: '/sbin/docker-init', type: 'bind', flags: BIND_FLAGS | MS.RDONLY });
      spec.args = ['/sbin/docker-init', '--', ...spec.args];
    }
    spec.log = record.LogPath;
    if (config.OpenStdin) {
      spec.stdin = join(dir, 'stdin');
      // `run -d -i`, `create -i`: each attach writes a while; `run -i` attached: its end is the EOF.
      spec.stdinOpen = !config.StdinOnce;
    }
    if (config.Tty) spec.tty = { resize: join(dir, 'resize'), ...consoleSize(host.ConsoleSize) };
    spec.pidFile = join(dir, 'pid');
    spec.exitFile = join(dir, 'exit');
    // Last, since nothing after it may fail: the monitor chosen here waits for this spec.
    await entry.cgroupGone;
    const prepared = await this.options.monitors.prepare(record.Id, limits);
    entry.cgroup = prepared.cgroup;
    spec.cgroupProcs = prepared.cgroup.procsFiles;
    if (prepared.cgroup.cloneInto) spec.cgroupInto = prepared.cgroup.cloneInto;
    // cgroup v2 takes its device rules as a program (v1's were written to devices.allow).
    const v2 = this.options.cgroups.version === 2 ? prepared.cgroup.cloneInto : null;
    const program = v2 && limits.devices ? deviceProgram(limits.devices) : null;
    if (v2 && program) spec.deviceFilter = { cgroup: v2, program };
    spec.staged = prepared.staged;
    return { spec, monitor: prepared.monitor };
  }

  /**
   * A volume still empty takes the files the image has at its path, as Docker's do on first use
   * (`layers`: the image's, top first).
   */
  private async fillVolumes(record: ContainerRecord, layers: string[]): Promise<void> {
    for (const m of record.Mounts) {
      if (m.Type !== 'volume' || !m.Name || !(await this.options.volumes.empty(m.Name).catch(() => false))) continue;
      // Copied beside it and renamed over the empty folder: an engine killed midway leaves no
      // half-filled volume, which would count as filled at the next start.
      const staging = `${m.Source}.seeding`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging);
      // Bottom layer first, so that upper layers' files win.
      for (const layer of [...layers].reverse()) {
        const from = join(layer, m.Destination);
        // cp -a keeps owners and modes (a database's folder must stay its user's).
        if (await stat(from).then((s) => s.isDirectory(), () => false)) await run('cp', ['-a', `${from}/.`, staging]);
      }
      await rename(staging, m.Source);
    }
  }

  /** What an exec in a running container joins: its init's host pid and its cgroups; a 409 when it does not run. */
  execTarget(ref: string): { record: ContainerRecord; dir: string; pid: number; cgroupProcs: string[] } {
    const entry = this.find(ref);
    if (!entry.record.State.Running) throw conflict(`Container ${entry.record.Id} is not running`);
    if (entry.record.State.Paused) throw conflict(`Container ${entry.record.Id} is paused, unpause the container before exec`);
    return { record: entry.record, dir: entry.dir, pid: entry.record.State.Pid, cgroupProcs: entry.cgroup?.procsFiles ?? [] };
  }

  /** The host pid of a running container's init, or a 409 naming the container. */
  pid(ref: string): number {
    const { record } = this.find(ref);
    if (!record.State.Running) throw conflict(`Container ${record.Id} is not running`);
    return record.State.Pid;
  }

  async pids(ref: string): Promise<number[]> {
    const entry = this.find(ref);
    if (!entry.record.State.Running) throw conflict(`Container ${entry.record.Id} is not running`);
    return entry.cgroup ? entry.cgroup.pids() : [entry.record.State.Pid];
  }

  /** Sets a running container's terminal size (nothing to do without a terminal). */
  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const { record, dir } = this.find(ref);
    if (!record.State.Running) throw conflict(`Container ${record.Id} is not running`);
    if (!record.Config.Tty) return;
    await resizeTerminal(join(dir, 'resize'), rows, cols, () => record.State.Running);
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const entry = this.find(ref);
    const number = parseSignal(signal);
    if (!entry.record.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${entry.record.Id} is not running`);
    this.emit('kill', entry.record, { signal: String(number) });
    try {
      process.kill(entry.record.State.Pid, number);
    } catch {
      // Gone already: its exit is on the way.
    }
    await this.thawAfterSignal(entry);
  }

  /** `docker pause` (frozen: true) and `unpause`: every process of the container frozen in its cgroup, or thawed. */
  async pause(ref: string, frozen: boolean): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    if (!record.State.Running) throw conflict(`Container ${record.Id} is not running`);
    if (record.State.Paused === frozen) throw conflict(`Container ${record.Id} is ${frozen ? 'already paused' : 'not paused'}`);
    if (!entry.cgroup) throw conflict(`Container ${record.Id} has no cgroup to freeze`);
    try {
      await entry.cgroup.freeze(frozen);
    } catch (error) {
      throw new ApiError(500, (error as Error).message);
    }
    record.State = { ...record.State, Paused: frozen, Status: frozen ? 'paused' : 'running' };
    await this.save(entry);
    this.emit(frozen ? 'pause' : 'unpause', record);
  }

  /** A paused container's processes get a signal only once thawed: after sending one, thaw them, as Docker does. */
  private async thawAfterSignal(entry: Live): Promise<void> {
    if (!entry.record.State.Paused) return;
    await entry.cgroup?.freeze(false).catch(() => {});
    entry.record.State = { ...entry.record.State, Paused: false, Status: 'running' };
  }

  /** `docker rename`. */
  async rename(ref: string, name: string): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    const wanted = name.replace(/^\//, '');
    if (!VALID_NAME.test(wanted)) throw badRequest(`Invalid container name (${wanted}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const taken = [...this.live.values()].find((l) => l.record.Name === `/${wanted}`);
    if (taken && taken !== entry) throw conflict(`Error when allocating new name: Conflict. The container name "/${wanted}" is already in use by container "${taken.record.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const oldName = record.Name.slice(1);
    record.Name = `/${wanted}`;
    await this.save(entry);
    this.emit('rename', record, { oldName: `/${oldName}` });
  }

  /** `docker container prune`: every container that does not run goes. */
  async prune(): Promise<string[]> {
    const gone: string[] = [];
    for (const record of this.list()) {
      if (record.State.Running) continue;
      await this.remove(record.Id).then(() => gone.push(record.Id), () => {});
    }
    return gone;
  }

  /**
   * `docker diff`: what the container changed in its root, from its writable layer: Kind 0 a
   * change, 1 an addition, 2 a deletion (an overlay whiteout), by path.
   */
  async changes(ref: string): Promise<{ Path: string; Kind: number }[]> {
    const { record, dir } = this.find(ref);
    if (this.options.storageDriver !== 'overlay2') throw new ApiError(501, 'docker diff needs the overlay2 storage driver; this engine copies each container\'s root (vfs)');
    const image = this.options.images.get(record.Image);
    if (!image) throw notFound(`No such image: ${record.Image}`);
    const lower = [await this.initLayer(), ...(await this.options.snapshots.prepare(image))];
    const inLower = (path: string) => Promise.all(lower.map((l) => lstat(join(l, path)).then(() => true, () => false))).then((found) => found.includes(true));
    const changes: { Path: string; Kind: number }[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of (await readdir(join(dir, 'upper', rel)).catch(() => [] as string[])).sort()) {
        const path = posix.join('/', rel, name);
        const info = await lstat(join(dir, 'upper', path));
        if (info.isCharacterDevice() && info.rdev === 0) {
          changes.push({ Path: path, Kind: 2 });
          continue;
        }
        changes.push({ Path: path, Kind: (await inLower(path)) ? 0 : 1 });
        if (info.isDirectory()) await walk(path);
      }
    };
    await walk('/');
    return changes;
  }

  /** What `docker stats` shows of a running container: its cgroup's figures, and its network devices' counters. */
  async stats(ref: string): Promise<{ record: ContainerRecord; cgroup: CgroupStats; networks: Record<string, Record<string, number>> }> {
    const entry = this.find(ref);
    const { record } = entry;
    if (!record.State.Running || !entry.cgroup) throw conflict(`Container ${record.Id} is not running`);
    const cgroup = await entry.cgroup.stats();
    const networks: Record<string, Record<string, number>> = {};
    const dev = await readFile(`/proc/${record.State.Pid}/net/dev`, 'utf8').catch(() => '');
    for (const line of dev.split('\n').slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (!m || m[1] === 'lo') continue;
      const f = m[2].trim().split(/\s+/).map(Number);
      networks[m[1]] = { rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
    }
    return { record, cgroup, networks };
  }

  /** The stop signal, then SIGKILL after the timeout; resolves when it has exited. */
  async stop(ref: string, timeout?: number, signal?: string): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    if (record.State.Restarting) {
      // Waiting to be started again by its policy: it stays stopped.
      record.State = { ...record.State, Restarting: false, Status: 'exited' };
      record.ManuallyStopped = true;
      await this.save(entry);
      return;
    }
    if (!record.State.Running) throw notModified();
    const exit = entry.exit;
    entry.stopping = true;
    const seconds = timeout ?? record.Config.StopTimeout ?? 10;
    const stopSignal = parseSignal(signal || record.Config.StopSignal || 'SIGTERM');
    try {
      process.kill(record.State.Pid, stopSignal);
    } catch {
      // Exiting already.
    }
    await this.thawAfterSignal(entry);
    this.emit('kill', record, { signal: String(stopSignal) });
    const exited = await Promise.race([exit?.then(() => true), sleep(seconds < 0 ? 2 ** 31 - 1 : seconds * 1000).then(() => false)]);
    if (!exited && record.State.Running) {
      await entry.cgroup?.kill('SIGKILL').catch(() => {});
      try {
        process.kill(record.State.Pid, 'SIGKILL');
      } catch {
        // Exiting already.
      }
      await exit;
    }
    this.emit('stop', record);
  }

  /** Docker's wait conditions: not-running (default), next-exit, removed. Returns a starter. */
  waitFor(ref: string, condition: string): Promise<number> {
    const entry = this.find(ref);
    const { record } = entry;
    if (condition === 'removed') {
      return entry.removed.then(() => record.State.ExitCode);
    }
    if (condition !== 'next-exit' && !record.State.Running) return Promise.resolve(record.State.ExitCode);
    return new Promise((resolve) => entry.exitWaiters.push(resolve));
  }

  /** The containers (IDs) whose mounts use a volume. */
  volumeUsers(name: string): string[] {
    return this.list().filter((r) => r.Mounts.some((m) => m.Type === 'volume' && m.Name === name)).map((r) => r.Id);
  }

  /** `volumes`: its anonymous volumes go with it (`docker rm -v`, and `--rm`), unless another container uses them. */
  async remove(ref: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const entry = this.find(ref);
    const { record } = entry;
    if (record.State.Status === 'removing') throw conflict(`removal of container ${record.Id} is already in progress`);
    if (record.State.Running) {
      if (!options.force) {
        throw conflict(
          `cannot remove container "${record.Name}": container is running: stop the container before removing or force remove`,
        );
      }
      await this.kill(record.Id, 'SIGKILL').catch(() => {});
      await entry.exit;
    }
    // Its namespace and veths go before it is gone (they are removed in the background after an exit).
    await entry.networkGone;
    record.State.Status = 'removing';
    this.live.delete(record.Id);
    await entry.saving;
    // Renamed aside at once (the record with it), deleted in the background: `--rm` need not wait.
    const trash = join(this.root, `.removing-${record.Id}`);
    await rename(entry.dir, trash).catch(() => rm(entry.dir, { recursive: true, force: true }));
    void rm(trash, { recursive: true, force: true }).catch(() => {});
    if (options.volumes || record.HostConfig.AutoRemove) {
      for (const m of record.Mounts) {
        const volume = m.Type === 'volume' && m.Name && this.options.volumes.has(m.Name) ? this.options.volumes.get(m.Name) : undefined;
        if (volume && ANONYMOUS in volume.Labels && !this.volumeUsers(volume.Name).length) await this.options.volumes.remove(volume.Name, []).catch(() => {});
      }
    }
    this.emit('destroy', record);
    entry.markRemoved();
  }

  /** Whether the container is running now (for log followers). */
  running(ref: string): boolean {
    try {
      return this.find(ref).record.State.Running;
    } catch {
      return false; // removed already
    }
  }

  /** Resolves when the container runs: at once if it does, else at its next start (attach, then start). */
  started(ref: string, signal: AbortSignal): Promise<void> {
    const entry = this.find(ref);
    if (entry.record.State.Running) return Promise.resolve();
    return new Promise((resolve) => {
      entry.startWaiters.push(resolve);
      signal.addEventListener('abort', () => resolve());
    });
  }

  /** Settles when the container's current run has ended. */
  stopped(ref: string): Promise<void> {
    return this.find(ref).stopped;
  }

  /** Marks an attached reader of a container's output; call the result when it is done. */
  reading(ref: string): () => void {
    const entry = this.find(ref);
    entry.readers++;
    let done = false;
    return () => {
      if (!done && --entry.readers === 0) for (const resolve of entry.readersDone.splice(0)) resolve();
      done = true;
    };
  }

  /**
   * A container's root as layers, for what reads or writes its files from outside (`docker cp`,
   * `export`, `commit`): overlay2's upper dir and work dir over the read-only dirs (top first), or
   * vfs's one copy as `upper`.
   */
  async layers(ref: string): Promise<{ upper: string; work?: string; lower: string[] }> {
    const { record, dir } = this.find(ref);
    if (this.options.storageDriver !== 'overlay2') return { upper: join(dir, 'rootfs'), lower: [] };
    const image = this.options.images.get(record.Image);
    if (!image) throw notFound(`No such image: ${record.Image}`);
    return { upper: join(dir, 'upper'), work: join(dir, 'work'), lower: [await this.initLayer(), ...(await this.options.snapshots.prepare(image))] };
  }

  /**
   * Holds a container still while `work` reads or writes its files from outside: a running one
   * with its processes frozen (none can swap a directory just checked for a symlink), a stopped
   * one with its next start waiting (its upper dir takes one writable mount at a time). `work`
   * is told the running container's host pid, or 0.
   */
  async holdStill<T>(ref: string, work: (pid: number) => Promise<T>): Promise<T> {
    const entry = this.find(ref);
    const { record } = entry;
    if (!record.State.Running) {
      const done = work(0);
      // A start waits for monitorGone before it mounts anything: now for this work too.
      entry.monitorGone = Promise.all([entry.monitorGone, done.catch(() => {})]).then(() => {});
      return done;
    }
    // Where there is no freezer (cgroup v1 without one) the work goes on unfrozen, as Docker's always does.
    const frozen = record.State.Paused ? null : await entry.cgroup?.freeze(true).then(() => entry.cgroup, () => null);
    try {
      return await work(record.State.Pid);
    } finally {
      // Unless someone paused it meanwhile.
      if (frozen && !record.State.Paused) await frozen.freeze(false).catch(() => {});
    }
  }
}

/** The client's window as create gives it (HostConfig.ConsoleSize, API 1.42+); a resize follows otherwise. */
function consoleSize(value: unknown): { rows: number; cols: number } {
  const size = (n: unknown) => (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff ? n : 0);
  return Array.isArray(value) ? { rows: size(value[0]), cols: size(value[1]) } : { rows: 0, cols: 0 };
}

/** The exit code Docker gives a container whose command could not be run. */
/** The exit code of a process that could not be started: 126 when not executable, 127 when missing. */
export function status127(message: string): number {
  return /permission denied|not executable/i.test(message) ? 126 : 127;
}

const BIND_FLAGS = MS.BIND | MS.REC;

const run = promisify(execFile);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function familiar(ref: string): string {
  const lastSlash = ref.lastIndexOf('/');
  const hasTag = ref.lastIndexOf(':') > lastSlash || ref.includes('@');
  return hasTag ? ref : `${ref}:latest`;
}

/** The image's config combined with the create request, as Docker combines them. */
function mergeConfig(body: CreateBody, image: ImageRecord, id: string): ContainerRecord['Config'] {
  const ic = image.config.config ?? {};
  const env = new Map<string, string>();
  for (const e of [...(ic.Env ?? []), ...(body.Env ?? [])]) {
    const eq = e.indexOf('=');
    env.set(eq === -1 ? e : e.slice(0, eq), e);
  }
  const entrypoint = asList(body.Entrypoint);
  // An entrypoint given on create clears the image's CMD (Docker's rule), unless CMD is given too.
  const cmd = asList(body.Cmd) ?? (entrypoint !== null ? null : (ic.Cmd ?? null));
  return {
    Hostname: body.Hostname || id.slice(0, 12),
    Domainname: body.Domainname ?? '',
    User: body.User || ic.User || '',
    AttachStdin: body.AttachStdin === true,
    AttachStdout: body.AttachStdout === true,
    AttachStderr: body.AttachStderr === true,
    Tty: body.Tty === true,
    OpenStdin: body.OpenStdin === true,
    StdinOnce: body.StdinOnce === true,
    Env: [...env.values()],
    Cmd: cmd,
    Image: body.Image!,
    // The image's VOLUMEs and the ones asked for (`-v /path`), as Docker merges them.
    Volumes: body.Volumes || ic.Volumes ? { ...(ic.Volumes ?? {}), ...(body.Volumes ?? {}) } : null,
    WorkingDir: body.WorkingDir || ic.WorkingDir || '',
    Entrypoint: entrypoint ?? ic.Entrypoint ?? null,
    OnBuild: null,
    Labels: { ...(ic.Labels ?? {}), ...(body.Labels ?? {}) },
    ...(body.StopSignal || ic.StopSignal ? { StopSignal: body.StopSignal || ic.StopSignal } : {}),
    ...(typeof body.StopTimeout === 'number' ? { StopTimeout: body.StopTimeout } : {}),
    ...(body.ExposedPorts || ic.ExposedPorts ? { ExposedPorts: { ...(ic.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) } } : {}),
    // --health-cmd and the rest replace the image's HEALTHCHECK; --no-healthcheck is Test ["NONE"].
    ...(body.Healthcheck || ic.Healthcheck ? { Healthcheck: { ...(ic.Healthcheck ?? {}), ...((body.Healthcheck as object | undefined) ?? {}) } } : {}),
  };
}

/** /etc/hosts: localhost, and the container's name on its address (127.0.1.1 without one). */
function hostsFile(hostname: string, address = '127.0.1.1', extra: string[] = []): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::\tip6-localnet',
    'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `${address}\t${hostname}`,
    ...extra,
    '',
  ].join('\n');
}

/**
 * The host's resolv.conf; on a user network, the network's DNS server instead of the host's
 * nameservers; `--dns`, `--dns-search` and `--dns-option` replace what they name.
 */
async function resolvConf(nameserver: string | undefined, host: HostConfig): Promise<string> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const { Dns, DnsSearch, DnsOptions } = host as { Dns?: string[] | null; DnsSearch?: string[] | null; DnsOptions?: string[] | null };
  if (!nameserver && !Dns?.length && !DnsSearch?.length && !DnsOptions?.length) return text;
  const lines = (key: string) => text.split('\n').filter((l) => new RegExp(`^\\s*${key}\\s`).test(l));
  return [
    ...(Dns?.length ? Dns.map((d) => `nameserver ${d}`) : nameserver ? [`nameserver ${nameserver}`] : lines('nameserver')),
    ...(DnsSearch?.length ? [`search ${DnsSearch.join(' ')}`] : lines('search')),
    ...(DnsOptions?.length ? [`options ${DnsOptions.join(' ')}`] : nameserver ? ['options ndots:0'] : lines('options')),
    '',
  ].join('\n');
}

/**
 * How long until a container that just exited is started again by its restart policy, or
 * undefined when it is not: as Docker, 100 ms doubling with each restart, up to a minute; never
 * after `docker stop`; on-failure only for a non-zero code, and at most MaximumRetryCount times.
 */
function restartDelay(record: ContainerRecord, exitCode: number, inARow: number): number | undefined {
  const policy = record.HostConfig.RestartPolicy;
  if (record.ManuallyStopped || record.HostConfig.AutoRemove) return undefined;
  switch (policy?.Name) {
    case 'always':
    case 'unless-stopped':
      break;
    case 'on-failure':
      if (exitCode === 0 || ((policy.MaximumRetryCount ?? 0) > 0 && record.RestartCount >= policy.MaximumRetryCount!)) return undefined;
      break;
    default:
      return undefined;
  }
  return Math.min(100 * 2 ** inARow, 60_000);
}
