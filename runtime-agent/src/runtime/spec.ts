// The container spec: everything the native helper (runtime-agent/native/shim.c) needs to run one
// container, fully decided here. The helper takes no decisions; it performs the calls in order.
//
// On disk the spec is a text file the C program parses without a JSON parser:
//
//   tug-spec 1                      the first line: the format and its version
//   KEY FIELD FIELD…                one entry per line; fields separated by exactly one space
//
// Inside a field every byte outside 0x21–0x7e, and `%` itself, is written `%XX` (two upper-case
// hex digits), so a field never holds a space or a newline; an empty field is nothing between
// two separators. NUL cannot be carried (the helper uses C strings), so writeSpec refuses it.
// Numbers are decimal, except a device's mode (octal) and the capability mask (16 hex digits).
// Keys, with their fields; keys marked * may repeat, in order:
//
//   namespace* NAME                mount | pid | uts | ipc | cgroup | network
//   join-network PATH              setns() into this network namespace
//   hostname NAME
//   loopback-up                    (no field) bring lo up in the new network namespace
//   root PATH                      the host directory that becomes /
//   overlay-lower* PATH            top layer first
//   overlay-upper PATH
//   overlay-work PATH
//   readonly-root                  (no field)
//   mount* SOURCE TARGET TYPE FLAGS DATA
//   device* PATH c|b MAJOR MINOR MODE UID GID
//   symlink* TARGET PATH
//   masked* PATH
//   readonly* PATH
//   capabilities HEX
//   no-new-privileges              (no field)
//   user UID GID
//   group* GID                     additional groups
//   cwd PATH
//   env* NAME=VALUE
//   arg* ARG
//   cgroup-procs* FILE
//   staged                         (no field) the cgroups hold the standby monitor's process already
//   cgroup-into DIR                cgroup v2: clone the process into it instead of writing cgroup-procs
//   tty RESIZE-FIFO ROWS COLS      a terminal for stdin, stdout and stderr, of that size (0 0: the
//                                  kernel's), resized through the FIFO
//   log PATH
//   stdin PATH
//   pid-file PATH
//   exit-file PATH

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { writeFileAtomic } from '../images/content';

export type Namespace = 'mount' | 'pid' | 'uts' | 'ipc' | 'cgroup' | 'network';

/** A container's own namespaces, as Docker gives them (`--network host` goes without 'network'). */
export const CONTAINER_NAMESPACES: readonly Namespace[] = ['mount', 'pid', 'uts', 'ipc', 'cgroup', 'network'];

export interface Mount {
  source: string;
  /** Inside the container. */
  target: string;
  type: string;
  /** MS_* bits. */
  flags: number;
  data?: string;
}

export interface Device {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface ContainerSpec {
  /** Created with clone(); 'network' absent and no joinNetwork = the host's network. */
  namespaces: Namespace[];
  /** setns() into this network namespace file instead. */
  joinNetwork?: string;
  /** Needs 'uts'. */
  hostname?: string;
  /** Bring the loopback device up in the new network namespace (Docker's containers have it up). */
  loopbackUp?: boolean;
  /** The directory that becomes /. */
  root: string;
  /** Mounted at `root` (inside the new mount namespace) before anything else; lower[0] is the top layer. */
  overlay?: { lower: string[]; upper: string; work: string };
  readonlyRoot?: boolean;
  /** In order, after the root is in place (targets created as dirs, or files when the source is a file). */
  mounts: Mount[];
  /** mknod inside /dev (after the /dev tmpfs mount from `mounts`). */
  devices: Device[];
  /** e.g. /dev/fd -> /proc/self/fd */
  symlinks: { target: string; path: string }[];
  /** /dev/null bind-mounted over files, a read-only tmpfs over directories. */
  maskedPaths: string[];
  /** Bind-remounted read-only. */
  readonlyPaths: string[];
  /** The bounding, permitted and effective sets; inheritable and ambient are empty. */
  capabilities: bigint;
  noNewPrivileges: boolean;
  /** setrlimit() for each, by Docker's --ulimit names (nofile, nproc…); the rest are the engine's. */
  rlimits?: Rlimit[];
  /** A seccomp filter (struct sock_filter[], from seccomp.ts) installed just before execve. */
  seccomp?: Buffer;
  /**
   * cgroup v2: the devices the container may use, as an eBPF program (struct bpf_insn[], from
   * devices.ts) attached to its cgroup before it runs.
   */
  deviceFilter?: { cgroup: string; program: Buffer };
  user: { uid: number; gid: number; additionalGids: number[] };
  cwd: string;
  env: string[];
  /** args[0] is looked up in the container's PATH (from env) as runc does. */
  args: string[];
  /** Files (cgroup.procs of each hierarchy) the container's pid is written to before it runs. */
  cgroupProcs: string[];
  /**
   * The cgroups of cgroupProcs are the ones a standby monitor cloned its waiting process into
   * (tug-shim --standby), renamed: that process becomes the container if the namespaces agree.
   */
  staged?: boolean;
  /** cgroup v2: the cgroup to clone the process into (cgroupProcs are written where the kernel cannot). */
  cgroupInto?: string;
  /** The Docker json-file log the monitor appends to. */
  log: string;
  /** A FIFO the monitor creates; the container's stdin reads it (EOF once its writer has gone). */
  stdin?: string;
  /** The stdin stays open as writers come and go (Docker's StdinOnce=false): no EOF. */
  stdinOpen?: boolean;
  /**
   * A pseudo-terminal for stdin, stdout and stderr, opened in the container's /dev/pts, of the
   * size given (if any); later sizes come as "ROWS COLS" lines written to the FIFO `resize`
   * (which the monitor creates).
   */
  tty?: { resize: string; rows?: number; cols?: number };
  /** Written (atomically) with the container's host pid once it is running. */
  pidFile: string;
  /** Written (atomically) when it ends: `<exitCode> <signal or 0> <finishedAt unix ns>`. */
  exitFile: string;
  /**
   * An exec: the process joins the namespaces of this running process (a container's init, by
   * host pid) and its root; no namespace, root, mount, device or hostname of its own then.
   */
  enter?: number;
}

export interface Rlimit {
  name: string;
  soft: bigint;
  hard: bigint;
}

/** The resources --ulimit names, as the helper knows them (RLIMIT_<NAME>). */
export const RLIMIT_NAMES: readonly string[] = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** mount(2) flags, as Linux defines them. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** Capability numbers, as Linux defines them. */
export const CAP: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** The mask of the named capabilities (`CAP_CHOWN` or `CHOWN`, any case); an unknown name throws. */
export function capabilityMask(names: Iterable<string>): bigint {
  let mask = 0n;
  for (const name of names) {
    const upper = name.toUpperCase();
    const bit = CAP[upper.startsWith('CAP_') ? upper : `CAP_${upper}`];
    if (bit === undefined) throw new Error(`unknown capability: "${name}"`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** The names (`CAP_CHOWN`…) of the capabilities in a mask. */
export function capabilityNames(mask: bigint): string[] {
  return Object.entries(CAP).filter(([, bit]) => (mask >> BigInt(bit)) & 1n).map(([name]) => name);
}

/**
 * Every capability a container can have (`--privileged`, `--cap-add ALL`): those of the engine's
 * own bounding set, which holds what the kernel knows and this machine allows.
 */
function allCapabilities(): bigint {
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return bounding ? BigInt(`0x${bounding}`) : capabilityMask(Object.keys(CAP));
}

/**
 * The container's capabilities as Docker works them out: its defaults (every one when
 * privileged), less `--cap-drop` (ALL drops them all), plus `--cap-add` (ALL adds them all).
 * An unknown name throws.
 */
export function containerCapabilities(add: readonly string[] = [], drop: readonly string[] = [], privileged = false): bigint {
  const all = (list: readonly string[]) => list.some((c) => c.toUpperCase() === 'ALL');
  const everything = allCapabilities();
  let mask = privileged ? everything : DOCKER_DEFAULT_CAPS;
  mask &= all(drop) ? 0n : ~capabilityMask(drop);
  mask |= all(add) ? everything : capabilityMask(add);
  return mask & everything;
}

/** Docker's default capability set: 0xa80425fb. */
export const DOCKER_DEFAULT_CAPS: bigint = capabilityMask([
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP',
  'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
]);

/** Docker's PATH for a container whose image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's masked paths (what `docker inspect` shows as HostConfig.MaskedPaths). */
export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths (HostConfig.ReadonlyPaths). */
export const DOCKER_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * A spec with Docker's standard namespaces, mounts, devices, /dev symlinks, masked and read-only
 * paths and capabilities for a root directory, running as root in /. The caller fills in what is
 * specific to a container: args, env, user, cgroups, log, stdin, pid and exit files.
 *
 * /sys/fs/cgroup is not mounted here: what to mount there depends on the host's cgroup layout
 * (cgroup2 with a cgroup namespace, or v1's hierarchies read-only as runc does), which only the
 * cgroups module knows; the container manager adds it.
 */
export function defaultSpec(root: string): ContainerSpec {
  const { NOSUID, NOEXEC, NODEV, RDONLY, STRICTATIME } = MS;
  const device = (name: string, major: number, minor: number): Device => ({
    path: `/dev/${name}`, type: 'c', major, minor, mode: 0o666, uid: 0, gid: 0,
  });
  return {
    namespaces: ['mount', 'pid', 'uts', 'ipc', 'network'],
    root,
    mounts: [
      { source: 'proc', target: '/proc', type: 'proc', flags: NOSUID | NOEXEC | NODEV },
      { source: 'tmpfs', target: '/dev', type: 'tmpfs', flags: NOSUID | STRICTATIME, data: 'mode=755,size=65536k' },
      { source: 'devpts', target: '/dev/pts', type: 'devpts', flags: NOSUID | NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
      { source: 'sysfs', target: '/sys', type: 'sysfs', flags: NOSUID | NOEXEC | NODEV | RDONLY },
      { source: 'mqueue', target: '/dev/mqueue', type: 'mqueue', flags: NOSUID | NOEXEC | NODEV },
      { source: 'shm', target: '/dev/shm', type: 'tmpfs', flags: NOSUID | NOEXEC | NODEV, data: 'mode=1777,size=65536k' },
    ],
    devices: [device('null', 1, 3), device('zero', 1, 5), device('full', 1, 7), device('random', 1, 8), device('urandom', 1, 9), device('tty', 5, 0)],
    symlinks: [
      { target: '/proc/self/fd', path: '/dev/fd' },
      { target: '/proc/self/fd/0', path: '/dev/stdin' },
      { target: '/proc/self/fd/1', path: '/dev/stdout' },
      { target: '/proc/self/fd/2', path: '/dev/stderr' },
      { target: 'pts/ptmx', path: '/dev/ptmx' },
    ],
    maskedPaths: [...DOCKER_MASKED_PATHS],
    readonlyPaths: [...DOCKER_READONLY_PATHS],
    capabilities: DOCKER_DEFAULT_CAPS,
    noNewPrivileges: false,
    user: { uid: 0, gid: 0, additionalGids: [] },
    cwd: '/',
    env: [`PATH=${DEFAULT_PATH}`],
    args: [],
    cgroupProcs: [],
    log: '',
    pidFile: '',
    exitFile: '',
  };
}

const NAMESPACES: ReadonlySet<string> = new Set<Namespace>(['mount', 'pid', 'uts', 'ipc', 'cgroup', 'network']);
const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to the kernel

/** One field, %XX-escaped as the format above says. */
function field(value: string, what: string): string {
  if (value.includes('\0')) throw new Error(`${what} contains a NUL byte`);
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function integer(value: number, max: number, what: string): string {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${what} must be an integer from 0 to ${max}, not ${value}`);
  return String(value);
}

function containerPath(path: string, what: string): string {
  if (!path.startsWith('/')) throw new Error(`${what} must be an absolute path inside the container, not "${path}"`);
  return field(path, what);
}

/** Host paths are made absolute: the helper changes its directory to / before it starts. */
function hostPath(path: string, what: string): string {
  if (path === '') throw new Error(`${what} is required`);
  return field(isAbsolute(path) ? path : resolve(path), what);
}

/** Overlay options are separated by `,` and lower dirs by `:`; the helper does not escape them. */
function overlayPath(path: string, what: string): string {
  if (/[,:\\]/.test(path)) throw new Error(`${what} "${path}" contains a character overlayfs options cannot carry (',', ':' or '\\')`);
  return hostPath(path, what);
}

/** The spec as text, checked: a spec the helper would refuse is refused here with the reason. */
export function serializeSpec(spec: ContainerSpec): string {
  const lines = ['tug-spec 1'];
  const add = (key: string, ...fields: string[]) => lines.push([key, ...fields].join(' '));

  const namespaces = new Set(spec.namespaces);
  for (const ns of namespaces) {
    if (!NAMESPACES.has(ns)) throw new Error(`unknown namespace "${ns}"`);
    add('namespace', ns);
  }
  if (spec.enter !== undefined) {
    const own = spec.mounts.length + spec.devices.length + spec.symlinks.length + spec.maskedPaths.length + spec.readonlyPaths.length;
    if (namespaces.size || spec.root || spec.overlay || own || spec.hostname !== undefined || spec.loopbackUp || spec.joinNetwork !== undefined) {
      throw new Error('an exec joins a container: no namespace, root, mount, device or hostname of its own');
    }
    add('enter', integer(spec.enter, 0x7fffffff, 'the pid to enter'));
  } else if (!namespaces.has('mount')) {
    // The root is set up with mounts and pivot_root, which must not touch the host's mount table.
    throw new Error('a container needs the mount namespace');
  }
  if (spec.joinNetwork !== undefined) {
    if (namespaces.has('network')) throw new Error('joinNetwork and a new network namespace exclude each other');
    add('join-network', hostPath(spec.joinNetwork, 'joinNetwork'));
  }
  if (spec.hostname !== undefined) {
    if (!namespaces.has('uts')) throw new Error('a hostname needs the uts namespace (it would rename the host)');
    add('hostname', field(spec.hostname, 'hostname'));
  }
  if (spec.loopbackUp) {
    if (!namespaces.has('network')) throw new Error('bringing lo up needs a new network namespace (it would touch the host)');
    add('loopback-up');
  }
  if (spec.enter === undefined) add('root', hostPath(spec.root, 'root'));
  if (spec.overlay) {
    if (spec.overlay.lower.length === 0) throw new Error('an overlay needs at least one lower directory');
    for (const lower of spec.overlay.lower) add('overlay-lower', overlayPath(lower, 'overlay lower directory'));
    add('overlay-upper', overlayPath(spec.overlay.upper, 'overlay upper directory'));
    add('overlay-work', overlayPath(spec.overlay.work, 'overlay work directory'));
  }
  if (spec.readonlyRoot) add('readonly-root');
  for (const m of spec.mounts) {
    const what = `mount on ${m.target}`;
    if (m.type === '') throw new Error(`${what}: the type is required`);
    add('mount', field(m.source, `${what}: source`), containerPath(m.target, `${what}: target`), field(m.type, `${what}: type`),
      integer(m.flags, 0xffffffff, `${what}: flags`), field(m.data ?? '', `${what}: data`));
  }
  for (const d of spec.devices) {
    const what = `device ${d.path}`;
    if (d.type !== 'c' && d.type !== 'b') throw new Error(`${what}: type must be "c" or "b"`);
    integer(d.mode, 0o7777, `${what}: mode`);
    add('device', containerPath(d.path, 'device path'), d.type, integer(d.major, 0xfff, `${what}: major`),
      integer(d.minor, 0xfffff, `${what}: minor`), d.mode.toString(8).padStart(4, '0'),
      integer(d.uid, MAX_ID, `${what}: uid`), integer(d.gid, MAX_ID, `${what}: gid`));
  }
  for (const s of spec.symlinks) add('symlink', field(s.target, 'symlink target'), containerPath(s.path, 'symlink path'));
  for (const p of spec.maskedPaths) add('masked', containerPath(p, 'masked path'));
  for (const p of spec.readonlyPaths) add('readonly', containerPath(p, 'read-only path'));
  if (spec.capabilities < 0n || spec.capabilities >= 1n << 64n) throw new Error(`capabilities must be a 64-bit mask, not ${spec.capabilities}`);
  add('capabilities', spec.capabilities.toString(16).padStart(16, '0'));
  if (spec.noNewPrivileges) add('no-new-privileges');
  for (const r of spec.rlimits ?? []) {
    if (!RLIMIT_NAMES.includes(r.name)) throw new Error(`unknown rlimit "${r.name}"`);
    if (r.soft < 0n || r.hard < 0n || r.hard >= 1n << 64n || r.soft > r.hard) throw new Error(`rlimit ${r.name}: soft ${r.soft} and hard ${r.hard} must be 64-bit and soft <= hard`);
    add('rlimit', r.name, r.soft.toString(), r.hard.toString());
  }
  if (spec.seccomp) {
    if (spec.seccomp.length === 0 || spec.seccomp.length % 8) throw new Error('a seccomp filter is whole 8-byte instructions');
    add('seccomp', spec.seccomp.toString('hex'));
  }
  if (spec.deviceFilter) {
    if (spec.deviceFilter.program.length === 0 || spec.deviceFilter.program.length % 8) throw new Error('a device filter is whole 8-byte instructions');
    add('device-filter', hostPath(spec.deviceFilter.cgroup, 'device filter cgroup'), spec.deviceFilter.program.toString('hex'));
  }
  add('user', integer(spec.user.uid, MAX_ID, 'uid'), integer(spec.user.gid, MAX_ID, 'gid'));
  for (const gid of spec.user.additionalGids) add('group', integer(gid, MAX_ID, 'additional gid'));
  add('cwd', containerPath(spec.cwd, 'cwd'));
  for (const e of spec.env) add('env', field(e, 'environment variable'));
  if (spec.args.length === 0 || spec.args[0] === '') throw new Error('no command specified');
  for (const a of spec.args) add('arg', field(a, 'argument'));
  for (const file of spec.cgroupProcs) add('cgroup-procs', hostPath(file, 'cgroup.procs file'));
  if (spec.staged) add('staged');
  if (spec.cgroupInto !== undefined) add('cgroup-into', hostPath(spec.cgroupInto, 'cgroup-into directory'));
  add('log', hostPath(spec.log, 'log'));
  if (spec.stdin !== undefined) add('stdin', hostPath(spec.stdin, 'stdin'));
  if (spec.stdinOpen) add('stdin-open');
  if (spec.tty) {
    add('tty', hostPath(spec.tty.resize, 'tty resize FIFO'), integer(spec.tty.rows ?? 0, 0xffff, 'tty rows'), integer(spec.tty.cols ?? 0, 0xffff, 'tty columns'));
  }
  add('pid-file', hostPath(spec.pidFile, 'pidFile'));
  add('exit-file', hostPath(spec.exitFile, 'exitFile'));
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the spec for the helper, whole or not at all. It is read at once and written afresh at
 * every start, so it needs no fsync.
 */
export async function writeSpec(path: string, spec: ContainerSpec): Promise<void> {
  await writeFileAtomic(path, serializeSpec(spec), { durable: false, mode: 0o600 });
}
