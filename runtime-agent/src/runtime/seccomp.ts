// Seccomp: profiles in Docker's JSON format (`--security-opt seccomp=…`, which the docker CLI sends
// as `seccomp=<the file's JSON text>`), the engine's default profile, and a compiler from a profile
// to a classic BPF program (struct sock_filter[], 8 bytes an instruction, little-endian: u16 code,
// u8 jt, u8 jf, u32 k) that the shim installs with seccomp(SECCOMP_SET_MODE_FILTER) just before
// execve. libseccomp and runc do this for Docker; we compile the little we need ourselves.
//
// What a compiled program does, in order:
//  1. A call of another ABI than x86_64 (seccomp_data.arch is not AUDIT_ARCH_X86_64: 32-bit calls
//     through int 0x80 show AUDIT_ARCH_I386) or an x32 call (an x86_64 number with bit 30 set) gets
//     the default action, or EPERM where the default action lets calls through (ALLOW, LOG,
//     TRACE): our rules are written in x86_64 numbers and cannot apply to those tables, and letting
//     them through would step around every rule of a deny-list profile. 32-bit programs therefore
//     do not run under a filter; that is accepted as the safer choice (Docker translates the rules
//     for i386 and x32 through libseccomp).
//  2. Where the default action blocks, a number beyond the syscall table (a syscall newer than the
//     headers it came from) gets ENOSYS, as runc's stub gives it, so that libc falls back to an
//     older call (glibc's fchmodat2 → fchmodat) instead of failing with EPERM.
//  3. The rules, as a binary search on the syscall number over ranges of numbers that share an
//     action; a number with argument rules runs them (conditions of one rule AND together, rules
//     for one number are tried in profile order, the first that matches decides, as rules for one
//     name OR in libseccomp), and gets the default action when none matches.
//
// Semantics follow Docker's and runc's where they matter: `includes`/`excludes` are resolved
// against the container's capabilities, the architecture ('amd64') and the kernel release before
// compiling; names the table does not know are skipped; a rule whose action is the default action
// is dropped; a name with an unconditional rule ignores its argument rules (libseccomp keeps the
// broader rule). `architectures`/`archMap` are checked but change nothing on x86_64: libseccomp
// always filters the native architecture, and we give the other ABIs the treatment of (1). One
// difference from runc: two conditions on the same argument AND together (runc turns them into
// separate rules that OR).

import { release } from 'node:os';
import { badRequest } from '../api/errors';
import { X86_64_SYSCALLS } from './syscalls';

// ---------------------------------------------------------------------------------------------
// Docker's profile format

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
  'SCMP_ACT_ALLOW',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOp = (typeof SECCOMP_OPS)[number];

/** A condition on one argument, compared as an unsigned 64-bit number. For SCMP_CMP_MASKED_EQ,
 * `value` is the mask and `valueTwo` what the masked argument must equal. */
export interface SeccompArg {
  index: number;
  value: number | bigint;
  valueTwo?: number | bigint;
  op: SeccompOp;
}

export interface SeccompFilter {
  /** Capabilities: `includes` needs all of them, `excludes` drops the rule for any one. */
  caps?: string[];
  /** 'amd64' (Docker's name), 'x86_64' or 'SCMP_ARCH_X86_64' name this machine. */
  arches?: string[];
  /** "5.10": `includes` needs at least that kernel, `excludes` drops the rule from it on. */
  minKernel?: string;
}

export interface SeccompSyscallRule {
  names?: string[];
  /** The older form of `names`: one name. */
  name?: string;
  action: SeccompAction;
  /** The errno of SCMP_ACT_ERRNO (EPERM when absent), the data of SCMP_ACT_TRACE. */
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: SeccompSyscallRule[];
  /** SECCOMP_FILTER_FLAG_TSYNC, _LOG or _SPEC_ALLOW: accepted; the shim installs with no flags. */
  flags?: string[];
}

const ARCHITECTURES = new Set([
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_SH',
]);

const FLAGS = new Set(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']);

/** The names of this machine in `includes.arches`/`excludes.arches`. */
const NATIVE_ARCH_NAMES = new Set(['amd64', 'x86_64', 'SCMP_ARCH_X86_64']);

// ---------------------------------------------------------------------------------------------
// Parsing and validation

const fail = (where: string, why: string): never => {
  throw badRequest(`seccomp profile: ${where}: ${why}`);
};

/** Integers JSON.parse would round (beyond 2^53) arrive as strings with this prefix. */
const BIG = '\u0000uint64:';

/** JSON.parse, except that integers too large for a double keep every digit (see BIG): a
 * profile's values are unsigned 64-bit numbers, and 0xffffffffffffffff must not become 2^64. */
function parseJsonExact(text: string): unknown {
  let out = '';
  let from = 0;
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      number.lastIndex = i;
      const m = number.exec(text);
      if (!m) continue;
      const literal = m[0];
      if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
        out += text.slice(from, i) + JSON.stringify(BIG + literal);
        from = i + literal.length;
      }
      i += literal.length - 1;
    }
  }
  return JSON.parse(out + text.slice(from));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalObject(v: unknown, where: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(where, 'must be an object');
  return v as Record<string, unknown>;
}

function optionalArray(v: unknown, where: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(where, 'must be an array');
  return v as unknown[];
}

function strings(v: unknown, where: string): string[] | undefined {
  const list = optionalArray(v, where);
  if (!list) return undefined;
  return list.map((s, i) => (typeof s === 'string' ? s : fail(`${where}[${i}]`, 'must be a string')));
}

function optionalString(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(where, 'must be a string');
  return v as string;
}

function errno(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4095) fail(where, 'must be an errno, an integer from 0 to 4095');
  return v as number;
}

const U64_MAX = (1n << 64n) - 1n;

function uint64(v: unknown, where: string): number | bigint {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && v.startsWith(BIG)) {
    const n = BigInt(v.slice(BIG.length));
    if (n >= 0n && n <= U64_MAX) return n;
  }
  return fail(where, 'must be an unsigned 64-bit integer');
}

function action(v: unknown, where: string): SeccompAction {
  if (v === 'SCMP_ACT_NOTIFY') fail(where, 'SCMP_ACT_NOTIFY (a user-space agent deciding calls) is not supported');
  if (typeof v !== 'string' || !(SECCOMP_ACTIONS as readonly string[]).includes(v)) {
    fail(where, `unknown action ${JSON.stringify(v)} (expected one of ${SECCOMP_ACTIONS.join(', ')})`);
  }
  return v as SeccompAction;
}

const KERNEL_VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?/;

function filter(v: unknown, where: string): SeccompFilter | undefined {
  const o = optionalObject(v, where);
  if (!o) return undefined;
  const caps = strings(o.caps, `${where}.caps`);
  const arches = strings(o.arches, `${where}.arches`);
  const minKernel = optionalString(o.minKernel, `${where}.minKernel`);
  if (minKernel && !KERNEL_VERSION.test(minKernel)) fail(`${where}.minKernel`, `"${minKernel}" is not a kernel version like "5.10"`);
  const f: SeccompFilter = {};
  if (caps?.length) f.caps = caps;
  if (arches?.length) f.arches = arches;
  if (minKernel) f.minKernel = minKernel;
  return f;
}

function rule(v: unknown, where: string): SeccompSyscallRule {
  if (!isObject(v)) return fail(where, 'must be an object');
  const names = strings(v.names, `${where}.names`);
  const name = optionalString(v.name, `${where}.name`);
  if (name && names?.length) fail(where, 'has both "name" and "names": use one');
  if (!name && !names?.length) fail(where, 'names no syscall ("names" is empty)');
  const act = action(v.action, `${where}.action`);
  const errnoRet = errno(v.errnoRet, `${where}.errnoRet`);
  if (errnoRet !== undefined && act !== 'SCMP_ACT_ERRNO' && act !== 'SCMP_ACT_TRACE') {
    fail(`${where}.errnoRet`, 'only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one');
  }
  const args = optionalArray(v.args, `${where}.args`)?.map((a, j): SeccompArg => {
    const at = `${where}.args[${j}]`;
    if (!isObject(a)) return fail(at, 'must be an object');
    const index = a.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) fail(`${at}.index`, 'must be an argument number from 0 to 5');
    const op = a.op;
    if (typeof op !== 'string' || !(SECCOMP_OPS as readonly string[]).includes(op)) {
      fail(`${at}.op`, `unknown operator ${JSON.stringify(op)} (expected one of ${SECCOMP_OPS.join(', ')})`);
    }
    return { index: index as number, value: uint64(a.value, `${at}.value`), valueTwo: uint64(a.valueTwo, `${at}.valueTwo`), op: op as SeccompOp };
  });
  const r: SeccompSyscallRule = { action: act };
  if (name) r.name = name;
  else r.names = names;
  if (errnoRet !== undefined) r.errnoRet = errnoRet;
  if (args?.length) r.args = args;
  const includes = filter(v.includes, `${where}.includes`);
  const excludes = filter(v.excludes, `${where}.excludes`);
  if (includes && Object.keys(includes).length) r.includes = includes;
  if (excludes && Object.keys(excludes).length) r.excludes = excludes;
  return r;
}

/** A profile in Docker's JSON format, checked: an error (400) names the field at fault. Names of
 * syscalls this machine does not have are kept; the compiler skips them, as runc does. */
export function parseSeccompProfile(text: string): SeccompProfile {
  let json: unknown;
  try {
    json = parseJsonExact(text);
  } catch (error) {
    return fail('not valid JSON', error instanceof Error ? error.message : String(error));
  }
  if (!isObject(json)) return fail('the profile', 'must be a JSON object');
  if (json.listenerPath !== undefined && json.listenerPath !== null && json.listenerPath !== '') {
    fail('listenerPath', 'a seccomp agent (SCMP_ACT_NOTIFY and its listener) is not supported');
  }
  if (json.defaultAction === undefined) fail('defaultAction', 'is required');
  const defaultAction = action(json.defaultAction, 'defaultAction');
  const profile: SeccompProfile = { defaultAction };
  const defaultErrnoRet = errno(json.defaultErrnoRet, 'defaultErrnoRet');
  if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = defaultErrnoRet;

  const architectures = strings(json.architectures, 'architectures');
  architectures?.forEach((a, i) => ARCHITECTURES.has(a) || fail(`architectures[${i}]`, `unknown architecture "${a}"`));
  const archMap = optionalArray(json.archMap, 'archMap')?.map((m, i) => {
    const where = `archMap[${i}]`;
    if (!isObject(m)) return fail(where, 'must be an object');
    const architecture = m.architecture;
    if (typeof architecture !== 'string' || !ARCHITECTURES.has(architecture)) fail(`${where}.architecture`, `unknown architecture ${JSON.stringify(architecture)}`);
    const sub = strings(m.subArchitectures, `${where}.subArchitectures`) ?? [];
    sub.forEach((a, j) => ARCHITECTURES.has(a) || fail(`${where}.subArchitectures[${j}]`, `unknown architecture "${a}"`));
    return { architecture: architecture as string, subArchitectures: sub };
  });
  if (architectures?.length && archMap?.length) fail('the profile', 'has both "architectures" and "archMap": use one');
  if (architectures?.length) profile.architectures = architectures;
  if (archMap?.length) profile.archMap = archMap;

  const flags = strings(json.flags, 'flags');
  flags?.forEach((f, i) => FLAGS.has(f) || fail(`flags[${i}]`, `unknown or unsupported flag "${f}" (expected one of ${[...FLAGS].join(', ')})`));
  if (flags?.length) profile.flags = flags;

  const syscalls = optionalArray(json.syscalls, 'syscalls');
  if (syscalls) profile.syscalls = syscalls.map((r, i) => rule(r, `syscalls[${i}]`));
  return profile;
}

/** The profile `HostConfig.SecurityOpt` asks for: `seccomp=unconfined` (or `--privileged`, as
 * Docker does) → null, none or `seccomp=builtin` → the default profile, `seccomp=<JSON>` (what the
 * docker CLI sends for a file) → that profile. `seccomp:…` is the older spelling. */
/** Profiles given as JSON, by their text: the same text is the same object (whose compiled filters are kept). */
const parsedProfiles = new Map<string, SeccompProfile>();

export function seccompProfileOf(securityOpt: readonly string[], privileged = false): SeccompProfile | null {
  let chosen: SeccompProfile | null = DEFAULT_SECCOMP_PROFILE;
  for (const option of securityOpt) {
    const m = /^seccomp[=:]([\s\S]*)$/.exec(option);
    if (!m) continue;
    const value = m[1].trim();
    if (value === 'unconfined') chosen = null;
    else if (value === 'builtin' || value === '') chosen = DEFAULT_SECCOMP_PROFILE;
    else if (value.startsWith('{')) {
      chosen = parsedProfiles.get(value) ?? parseSeccompProfile(value);
      // A few profiles at a time is what a machine runs; the oldest goes first.
      parsedProfiles.delete(value);
      if (parsedProfiles.size >= 32) parsedProfiles.delete(parsedProfiles.keys().next().value!);
      parsedProfiles.set(value, chosen);
    }
    else throw badRequest(`seccomp profile: "${value.slice(0, 80)}" is not a profile: the docker CLI sends the file's JSON, which it reads itself`);
  }
  return privileged ? null : chosen;
}

// ---------------------------------------------------------------------------------------------
// The default profile: our own data, in Docker's format. What it blocks follows Docker's default
// profile (moby/profiles/seccomp/default.json) and the kernel's capability checks; ptrace and its
// kin need CAP_SYS_PTRACE (stricter than Docker, which allows ptrace on kernels from 4.8).
// The allow list is written out, not derived from the table, so that a syscall added to a later
// kernel (and table) stays blocked until it is named here.

/** Allowed to every container: the calls of ordinary programs. */
const ALLOWED = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'arch_prctl', 'bind', 'brk', 'capget', 'capset',
  'chdir', 'chmod', 'chown', 'clock_adjtime', 'clock_getres', 'clock_gettime', 'clock_nanosleep',
  'close', 'close_range', 'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2',
  'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group',
  'faccessat', 'faccessat2', 'fadvise64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod',
  'fchmodat', 'fchown', 'fchownat', 'fcntl', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork',
  'fremovexattr', 'fsetxattr', 'fstat', 'fstatfs', 'fsync', 'ftruncate', 'futex', 'futex_waitv',
  'futimesat', 'get_robust_list', 'get_thread_area', 'getcpu', 'getcwd', 'getdents', 'getdents64',
  'getegid', 'geteuid', 'getgid', 'getgroups', 'getitimer', 'getpeername', 'getpgid', 'getpgrp',
  'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid', 'getresuid', 'getrlimit', 'getrusage',
  'getsid', 'getsockname', 'getsockopt', 'gettid', 'gettimeofday', 'getuid', 'getxattr',
  'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel',
  'io_destroy', 'io_getevents', 'io_pgetevents', 'io_setup', 'io_submit', 'ioctl', 'ioprio_get',
  'ioprio_set', 'kill', 'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self',
  'lchown', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr', 'lremovexattr',
  'lseek', 'lsetxattr', 'lstat', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore',
  'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'modify_ldt',
  'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedsend',
  'mq_unlink', 'mremap', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall',
  'munmap', 'name_to_handle_at', 'nanosleep', 'newfstatat', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
  'poll', 'ppoll', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'process_mrelease',
  'pselect6', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat',
  'readv', 'recvfrom', 'recvmmsg', 'recvmsg', 'remap_file_pages', 'removexattr', 'rename', 'renameat',
  'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask',
  'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_tgsigqueueinfo',
  'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
  'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_setaffinity',
  'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select',
  'semctl', 'semget', 'semop', 'semtimedop', 'sendfile', 'sendmmsg', 'sendmsg', 'sendto',
  'set_robust_list', 'set_thread_area', 'set_tid_address', 'setfsgid', 'setfsuid', 'setgid',
  'setgroups', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setresgid', 'setresuid',
  'setreuid', 'setrlimit', 'setsid', 'setsockopt', 'setuid', 'setxattr', 'shmat', 'shmctl', 'shmdt',
  'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'socketpair', 'splice', 'stat',
  'statfs', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee',
  'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime',
  'timer_settime', 'timerfd_create', 'timerfd_gettime', 'timerfd_settime', 'times', 'tkill',
  'truncate', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimes', 'vfork',
  'vmsplice', 'wait4', 'waitid', 'write', 'writev',
];

/** Allowed only to a container with the capability (the kernel checks most of them too). */
const WITH_CAPABILITY: [string, string[]][] = [
  ['CAP_SYS_ADMIN', [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick',
    'lookup_dcookie', 'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open',
    'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount2', 'unshare',
  ]],
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
  ['CAP_SYS_BOOT', ['reboot']],
  ['CAP_SYS_CHROOT', ['chroot']],
  ['CAP_SYS_MODULE', ['delete_module', 'finit_module', 'init_module']],
  ['CAP_SYS_PACCT', ['acct']],
  ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace']],
  ['CAP_SYS_RAWIO', ['ioperm', 'iopl']],
  ['CAP_SYS_TIME', ['clock_settime', 'settimeofday']],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node']],
  ['CAP_SYSLOG', ['syslog']],
  ['CAP_BPF', ['bpf']],
  ['CAP_PERFMON', ['perf_event_open']],
];

/** The namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
const CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
const AF_VSOCK = 40;
const ENOSYS = 38;

// Everything else in the table stays blocked (EPERM), whatever the capabilities: the kernel
// keyring (keyctl, add_key, request_key), userfaultfd, io_uring_* (Docker dropped them in 25.0),
// kexec_load/kexec_file_load, swapon/swapoff, pivot_root, migrate_pages/move_pages, uselib, ustat,
// sysfs, _sysctl, nfsservctl, the obsolete module calls (create_module, get_kernel_syms,
// query_module) and the unimplemented ones (afs_syscall, getpmsg, putpmsg, security, tuxcall,
// vserver). vm86/vm86old are i386 calls, blocked with that whole ABI.

export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [
    { names: ALLOWED, action: 'SCMP_ACT_ALLOW' },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }], comment: 'not AF_VSOCK' },
    ...[0, 0x0008, 0x20000, 0x20008, 0xffffffff].map(
      (persona): SeccompSyscallRule => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] }),
    ),
    ...WITH_CAPABILITY.map(([cap, names]): SeccompSyscallRule => ({ names, action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } })),
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACES, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
      comment: 'no new namespaces without CAP_SYS_ADMIN',
    },
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: ENOSYS,
      excludes: { caps: ['CAP_SYS_ADMIN'] },
      comment: 'its flags are in memory, out of reach: ENOSYS makes libc fall back to clone',
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Compiling

export interface SeccompCompileOptions {
  /** The container's capabilities ('CAP_SYS_ADMIN'; 'SYS_ADMIN' is read the same). */
  capabilities: ReadonlySet<string>;
  /** process.arch by default; only 'x64' compiles. */
  arch?: string;
  /** The kernel release for `minKernel`, os.release() by default. */
  kernel?: string;
}

/** Whether filters can be compiled for this architecture; elsewhere the engine runs containers
 * without one, with a warning, as Docker does where seccomp is unavailable. */
export function seccompSupported(arch: string = process.arch): boolean {
  return arch === 'x64';
}

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const X32_SYSCALL_BIT = 0x40000000;
/** BPF_MAXINSNS: the kernel refuses longer programs. */
export const BPF_MAXINSNS = 4096;

const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
};

function actionValue(act: SeccompAction, data: number | undefined): number {
  switch (act) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return (RET.ERRNO | ((data ?? 1) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (RET.TRACE | ((data ?? 1) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG':
      return RET.LOG;
    case 'SCMP_ACT_ALLOW':
      return RET.ALLOW;
  }
}

const lets = (act: SeccompAction) => act === 'SCMP_ACT_ALLOW' || act === 'SCMP_ACT_LOG' || act === 'SCMP_ACT_TRACE';

const capName = (cap: string) => {
  const upper = cap.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
};

function kernelVersion(text: string): number[] {
  const m = KERNEL_VERSION.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

function atLeast(kernel: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (kernel[i] !== min[i]) return kernel[i] > min[i];
  return true;
}

/** A condition resolved to 32-bit halves. */
interface Condition {
  index: number;
  op: SeccompOp;
  hi: number;
  lo: number;
  /** MASKED_EQ: the datum's halves (hi/lo are the mask's). */
  hi2: number;
  lo2: number;
}
interface Resolved {
  action: number;
  conditions: Condition[];
}

const halves = (v: number | bigint): [number, number] => {
  const n = BigInt(v) & U64_MAX;
  return [Number(n >> 32n), Number(n & 0xffffffffn)];
};

/** Whether a rule applies to this container, by its `includes` and `excludes` (Docker's daemon
 * decides this before the runtime sees the profile). */
function applies(r: SeccompSyscallRule, caps: ReadonlySet<string>, kernel: number[]): boolean {
  const inc = r.includes ?? {};
  const exc = r.excludes ?? {};
  const native = (arches: string[]) => arches.some((a) => NATIVE_ARCH_NAMES.has(a));
  if (exc.arches?.length && native(exc.arches)) return false;
  if (exc.caps?.some((c) => caps.has(capName(c)))) return false;
  if (exc.minKernel && atLeast(kernel, kernelVersion(exc.minKernel))) return false;
  if (inc.arches?.length && !native(inc.arches)) return false;
  if (inc.caps?.some((c) => !caps.has(capName(c)))) return false;
  if (inc.minKernel && !atLeast(kernel, kernelVersion(inc.minKernel))) return false;
  return true;
}

/** The rules that apply to this container, per syscall number. */
function resolve(profile: SeccompProfile, options: SeccompCompileOptions, defaultValue: number): Map<number, Resolved[]> {
  const caps = new Set([...options.capabilities].map(capName));
  const kernel = kernelVersion(options.kernel ?? release());
  const byNr = new Map<number, Resolved[]>();
  for (const r of profile.syscalls ?? []) {
    if (!applies(r, caps, kernel)) continue;
    const value = actionValue(r.action, r.errnoRet);
    if (value === defaultValue) continue; // redundant, as runc drops it
    const conditions = (r.args ?? []).map((a): Condition => {
      const [hi, lo] = halves(a.value);
      const [hi2, lo2] = halves(a.valueTwo ?? 0);
      return { index: a.index, op: a.op, hi, lo, hi2, lo2 };
    });
    for (const name of r.names ?? (r.name ? [r.name] : [])) {
      if (!Object.hasOwn(X86_64_SYSCALLS, name)) continue; // not a syscall of this architecture
      const nr = X86_64_SYSCALLS[name];
      const list = byNr.get(nr) ?? [];
      list.push({ action: value, conditions });
      byNr.set(nr, list);
    }
  }
  return byNr;
}

/** Classic BPF, the instructions seccomp accepts (and these programs use). */
export const BPF = { LD_W_ABS: 0x20, ALU_AND_K: 0x54, JA: 0x05, JEQ: 0x15, JGT: 0x25, JGE: 0x35, JSET: 0x45, RET_K: 0x06 } as const;
const { LD_W_ABS, ALU_AND_K, JA, JEQ, JGT, JGE, JSET, RET_K } = BPF;

/** A jump target inside a rule: 'fail' is the next rule. */
type Target = number | 'fail';
interface Insn {
  code: number;
  jt: Target;
  jf: Target;
  k: number;
}
const insn = (code: number, k: number, jt: Target = 0, jf: Target = 0): Insn => ({ code, jt, jf, k: k >>> 0 });
const ret = (k: number) => insn(RET_K, k);

const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;
const argHigh = (i: number) => 16 + 8 * i + 4;

/** One condition; falls through when it holds, jumps to 'fail' when not. */
function condition(c: Condition): Insn[] {
  const ldHi = insn(LD_W_ABS, argHigh(c.index));
  const ldLo = insn(LD_W_ABS, argLow(c.index));
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      return [ldHi, insn(JEQ, c.hi, 0, 'fail'), ldLo, insn(JEQ, c.lo, 0, 'fail')];
    case 'SCMP_CMP_NE':
      return [ldHi, insn(JEQ, c.hi, 0, 2), ldLo, insn(JEQ, c.lo, 'fail', 0)];
    case 'SCMP_CMP_GT':
      return [ldHi, insn(JGT, c.hi, 3, 0), insn(JEQ, c.hi, 0, 'fail'), ldLo, insn(JGT, c.lo, 0, 'fail')];
    case 'SCMP_CMP_GE':
      return [ldHi, insn(JGT, c.hi, 3, 0), insn(JEQ, c.hi, 0, 'fail'), ldLo, insn(JGE, c.lo, 0, 'fail')];
    case 'SCMP_CMP_LT':
      return [ldHi, insn(JGT, c.hi, 'fail', 0), insn(JEQ, c.hi, 0, 2), ldLo, insn(JGE, c.lo, 'fail', 0)];
    case 'SCMP_CMP_LE':
      return [ldHi, insn(JGT, c.hi, 'fail', 0), insn(JEQ, c.hi, 0, 2), ldLo, insn(JGT, c.lo, 'fail', 0)];
    case 'SCMP_CMP_MASKED_EQ':
      return [ldHi, insn(ALU_AND_K, c.hi), insn(JEQ, c.hi2, 0, 'fail'), ldLo, insn(ALU_AND_K, c.lo), insn(JEQ, c.lo2, 0, 'fail')];
  }
}

/** The code for a number whose rules have conditions: each rule in turn, the first that holds
 * returns its action; none → the default. It always returns, so the accumulator (which holds an
 * argument after a check) is never compared as the syscall number again. */
function conditional(rules: Resolved[], defaultValue: number): Insn[] {
  const out: Insn[] = [];
  for (const r of rules) {
    const body = [...r.conditions.flatMap(condition), ret(r.action)];
    // 'fail' is the instruction after this rule's return.
    body.forEach((ins, i) => {
      const skip = body.length - (i + 1);
      if (skip > 255) throw badRequest('seccomp profile: a rule has too many argument conditions to compile');
      if (ins.jt === 'fail') ins.jt = skip;
      if (ins.jf === 'fail') ins.jf = skip;
    });
    out.push(...body);
  }
  out.push(ret(defaultValue));
  return out;
}

/** A run of syscall numbers [lo, hi] that share what happens to them. */
interface Segment {
  lo: number;
  hi: number;
  /** Straight to this return value, or the conditional code. */
  value?: number;
  code?: Insn[];
}

/** Segments covering every number, 0…2^32-1, in order; neighbours with the same return merged. */
function segments(byNr: Map<number, Resolved[]>, defaultValue: number): Segment[] {
  const out: Segment[] = [];
  const add = (lo: number, hi: number, value: number | undefined, code?: Insn[]) => {
    const last = out[out.length - 1];
    if (value !== undefined && last?.value === value) last.hi = hi;
    else out.push({ lo, hi, value, code });
  };
  let next = 0;
  for (const nr of [...byNr.keys()].sort((a, b) => a - b)) {
    if (nr > next) add(next, nr - 1, defaultValue);
    const rules = byNr.get(nr)!;
    const unconditional = rules.find((r) => r.conditions.length === 0);
    if (unconditional) add(nr, nr, unconditional.action);
    else add(nr, nr, undefined, conditional(rules, defaultValue));
    next = nr + 1;
  }
  add(next, 0xffffffff, defaultValue);
  return out;
}

/** What happens to a number known to lie in the segment. */
const leaf = (s: Segment): Insn[] => s.code ?? [ret(s.value!)];

/** A binary search over segments (the number is in the accumulator and inside segs' span). */
function search(segs: Segment[]): Insn[] {
  if (segs.length === 1) return leaf(segs[0]);
  if (segs.length <= 3) {
    // nr > hi of the first: the rest; else the first.
    const first = leaf(segs[0]);
    const rest = search(segs.slice(1));
    return [...jumpIfAbove(segs[0].hi, first.length), ...first, ...rest];
  }
  const mid = segs.length >> 1;
  const left = search(segs.slice(0, mid));
  const right = search(segs.slice(mid));
  return [...jumpIfAbove(segs[mid - 1].hi, left.length), ...left, ...right];
}

/** Skips `over` instructions when nr > k: one jgt while that fits its 8 bits, else jgt + ja. */
function jumpIfAbove(k: number, over: number): Insn[] {
  if (over <= 255) return [insn(JGT, k, over, 0)];
  return [insn(JGT, k, 0, 1), insn(JA, over)];
}

/** The classic BPF program of a profile for a container with those capabilities: raw struct
 * sock_filter[] (8 bytes an instruction, little-endian), at most BPF_MAXINSNS instructions. */
export function compileSeccomp(profile: SeccompProfile, options: SeccompCompileOptions): Buffer {
  const arch = options.arch ?? process.arch;
  if (!seccompSupported(arch)) throw new Error(`seccomp filters are compiled for x86_64 only, not ${arch}`);
  const defaultValue = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  // Another ABI's calls, and x32's: the default action if it blocks, else EPERM (see the top).
  const foreignValue = lets(profile.defaultAction) ? actionValue('SCMP_ACT_ERRNO', 1) : defaultValue;
  const byNr = resolve(profile, options, defaultValue);

  const program: Insn[] = [
    insn(LD_W_ABS, OFFSET_ARCH),
    insn(JEQ, AUDIT_ARCH_X86_64, 1, 0),
    ret(foreignValue),
    insn(LD_W_ABS, OFFSET_NR),
    insn(JSET, X32_SYSCALL_BIT, 0, 1),
    ret(foreignValue),
  ];
  if (!lets(profile.defaultAction)) {
    const last = Math.max(...Object.values(X86_64_SYSCALLS));
    program.push(insn(JGT, last, 0, 1), ret(actionValue('SCMP_ACT_ERRNO', ENOSYS)));
  }
  program.push(...search(segments(byNr, defaultValue)));

  if (program.length > BPF_MAXINSNS) {
    throw badRequest(`seccomp profile: it compiles to ${program.length} BPF instructions, more than the kernel's ${BPF_MAXINSNS}`);
  }
  const out = Buffer.alloc(program.length * 8);
  program.forEach((ins, i) => {
    if (typeof ins.jt !== 'number' || typeof ins.jf !== 'number') throw new Error('seccomp: an unresolved jump');
    out.writeUInt16LE(ins.code, i * 8);
    out.writeUInt8(ins.jt, i * 8 + 2);
    out.writeUInt8(ins.jf, i * 8 + 3);
    out.writeUInt32LE(ins.k, i * 8 + 4);
  });
  return out;
}

/** `linux.seccomp` of an OCI runtime spec (config.json), as Docker's daemon writes it for runc:
 * the rules that apply to this container (`includes`/`excludes` resolved), the architectures of
 * this machine's `archMap` entry. Values at or beyond 2^53 stay bigints, which JSON.stringify
 * refuses: serialize those yourself. */
export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: { names: string[]; action: SeccompAction; errnoRet?: number; args?: { index: number; value: number | bigint; valueTwo: number | bigint; op: SeccompOp }[] }[];
}

export function ociSeccomp(profile: SeccompProfile, options: Omit<SeccompCompileOptions, 'arch'>): OciSeccomp {
  const caps = new Set([...options.capabilities].map(capName));
  const kernel = kernelVersion(options.kernel ?? release());
  const out: OciSeccomp = { defaultAction: profile.defaultAction, syscalls: [] };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const native = profile.archMap?.find((m) => m.architecture === 'SCMP_ARCH_X86_64');
  const architectures = profile.architectures ?? (native ? [native.architecture, ...(native.subArchitectures ?? [])] : undefined);
  if (architectures?.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = profile.flags;
  const exact = (v: number | bigint) => (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  for (const r of profile.syscalls ?? []) {
    if (!applies(r, caps, kernel)) continue;
    const rule: OciSeccomp['syscalls'][number] = { names: r.names ?? (r.name ? [r.name] : []), action: r.action };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (r.args?.length) rule.args = r.args.map((a) => ({ index: a.index, value: exact(a.value), valueTwo: exact(a.valueTwo ?? 0), op: a.op }));
    out.syscalls.push(rule);
  }
  return out;
}
