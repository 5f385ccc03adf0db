import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AUDIT_ARCH_X86_64,
  BPF,
  BPF_MAXINSNS,
  compileSeccomp,
  DEFAULT_SECCOMP_PROFILE,
  ociSeccomp,
  parseSeccompProfile,
  seccompProfileOf,
  seccompSupported,
  type SeccompAction,
  type SeccompOp,
  type SeccompProfile,
} from '../../runtime-agent/src/runtime/seccomp';
import { capabilityNames, DOCKER_DEFAULT_CAPS } from '../../runtime-agent/src/runtime/spec';
import { X86_64_SYSCALLS } from '../../runtime-agent/src/runtime/syscalls';

// The seccomp compiler, without a kernel: a classic BPF interpreter (the instructions seccomp
// accepts, checked as the kernel checks them: every jump inside the program, loads inside
// seccomp_data, a return at the end, at most BPF_MAXINSNS) runs the compiled programs on
// seccomp_data values and the decisions are asserted, for the default profile and user profiles,
// and against a model of the rules for random profiles.

const AUDIT_ARCH_I386 = 0x40000003;
const EPERM = 1;
const ENOSYS = 38;
const EACCES = 13;

const ALLOW = 0x7fff0000;
const errno = (e: number) => (0x00050000 | e) >>> 0;

/** Docker's default capabilities. */
const DOCKER_CAPS = capabilityNames(DOCKER_DEFAULT_CAPS);

// ---------------------------------------------------------------------------------------------
// A classic BPF interpreter for seccomp programs

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const { LD_W_ABS, ALU_AND_K, JA, JEQ, JGT, JGE, JSET, RET_K } = BPF;

/** Decodes and checks a program as the kernel would before accepting it. */
function load(program: Buffer): Insn[] {
  assert.equal(program.length % 8, 0, 'whole instructions');
  const n = program.length / 8;
  assert.ok(n >= 1 && n <= BPF_MAXINSNS, `1 to ${BPF_MAXINSNS} instructions, not ${n}`);
  const insns: Insn[] = [];
  for (let i = 0; i < n; i++) {
    insns.push({ code: program.readUInt16LE(i * 8), jt: program[i * 8 + 2], jf: program[i * 8 + 3], k: program.readUInt32LE(i * 8 + 4) });
  }
  insns.forEach((ins, i) => {
    switch (ins.code) {
      case LD_W_ABS:
        assert.ok(ins.k % 4 === 0 && ins.k < 64, `instruction ${i}: load inside seccomp_data (${ins.k})`);
        break;
      case ALU_AND_K:
      case RET_K:
        break;
      case JA:
        assert.ok(i + 1 + ins.k < n, `instruction ${i}: ja +${ins.k} lands outside the program`);
        break;
      case JEQ:
      case JGT:
      case JGE:
      case JSET:
        assert.ok(i + 1 + ins.jt < n, `instruction ${i}: jt +${ins.jt} lands outside the program`);
        assert.ok(i + 1 + ins.jf < n, `instruction ${i}: jf +${ins.jf} lands outside the program`);
        break;
      default:
        assert.fail(`instruction ${i}: code 0x${ins.code.toString(16)} is not one seccomp takes`);
    }
  });
  assert.equal(insns[n - 1].code, RET_K, 'the program ends with a return');
  return insns;
}

interface Call {
  nr: number;
  arch?: number;
  args?: (bigint | number)[];
}

/** The return value of the program for one call. */
function run(insns: Insn[], call: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE((call.arch ?? AUDIT_ARCH_X86_64) >>> 0, 4);
  data.writeBigUInt64LE(0x401000n, 8);
  (call.args ?? []).forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  let a = 0;
  for (let pc = 0; ; pc++) {
    const ins = insns[pc];
    assert.ok(ins, `fell off the program at ${pc}`);
    switch (ins.code) {
      case LD_W_ABS:
        a = data.readUInt32LE(ins.k);
        break;
      case ALU_AND_K:
        a = (a & ins.k) >>> 0;
        break;
      case JA:
        pc += ins.k;
        break;
      case JEQ:
        pc += a === ins.k ? ins.jt : ins.jf;
        break;
      case JGT:
        pc += a > ins.k ? ins.jt : ins.jf;
        break;
      case JGE:
        pc += a >= ins.k ? ins.jt : ins.jf;
        break;
      case JSET:
        pc += (a & ins.k) !== 0 ? ins.jt : ins.jf;
        break;
      case RET_K:
        return ins.k >>> 0;
    }
  }
}

const nr = (name: string) => {
  assert.ok(Object.hasOwn(X86_64_SYSCALLS, name), `${name} is in the table`);
  return X86_64_SYSCALLS[name];
};

/** A compiled filter: decide(name or number, ...args). */
function filter(profile: SeccompProfile, caps: string[] = DOCKER_CAPS, kernel = '6.1.0') {
  const insns = load(compileSeccomp(profile, { capabilities: new Set(caps), arch: 'x64', kernel }));
  const decide = (name: string | number, ...args: (bigint | number)[]) => run(insns, { nr: typeof name === 'number' ? name : nr(name), args });
  return Object.assign(decide, { insns, run: (call: Call) => run(insns, call) });
}

// ---------------------------------------------------------------------------------------------

describe('the default profile', () => {
  const plain = filter(DEFAULT_SECCOMP_PROFILE);

  test('what ordinary programs call is allowed', () => {
    for (const name of ['read', 'write', 'openat', 'close', 'mmap', 'execve', 'exit_group', 'futex', 'clock_gettime', 'epoll_wait', 'statx', 'arch_prctl', 'rt_sigreturn', 'chroot', 'vfork', 'fork']) {
      assert.equal(plain(name), ALLOW, name);
    }
  });

  test('what Docker blocks is refused with EPERM without the capability', () => {
    for (const name of [
      'mount', 'umount2', 'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'reboot', 'keyctl', 'add_key',
      'request_key', 'bpf', 'perf_event_open', 'unshare', 'setns', 'pivot_root', 'ptrace', 'process_vm_readv', 'process_vm_writev',
      'kcmp', 'pidfd_getfd', 'open_by_handle_at', 'syslog', 'fsopen', 'fsmount', 'move_mount', 'open_tree', 'mount_setattr',
      'quotactl', 'settimeofday', 'clock_settime', 'acct', 'iopl', 'ioperm', 'mbind', 'set_mempolicy', 'migrate_pages',
      'move_pages', 'swapon', 'swapoff', 'vhangup', 'userfaultfd', 'uselib', 'ustat', 'sysfs', '_sysctl', 'nfsservctl',
      'create_module', 'get_kernel_syms', 'query_module', 'lookup_dcookie', 'fanotify_init', 'io_uring_setup', 'sethostname',
    ]) {
      assert.equal(plain(name), errno(EPERM), name);
    }
  });

  test('every syscall of the table is allowed, allowed on conditions, or blocked by name', () => {
    const named = new Set((DEFAULT_SECCOMP_PROFILE.syscalls ?? []).flatMap((r) => r.names ?? []));
    const unnamed = Object.keys(X86_64_SYSCALLS).filter((n) => !named.has(n)).sort();
    assert.deepEqual(unnamed, [
      '_sysctl', 'add_key', 'afs_syscall', 'create_module', 'get_kernel_syms', 'getpmsg', 'io_uring_enter', 'io_uring_register',
      'io_uring_setup', 'kexec_file_load', 'kexec_load', 'keyctl', 'migrate_pages', 'move_pages', 'nfsservctl', 'pivot_root',
      'putpmsg', 'query_module', 'request_key', 'security', 'swapoff', 'swapon', 'sysfs', 'tuxcall', 'uselib', 'userfaultfd',
      'ustat', 'vserver',
    ]);
    for (const name of unnamed) assert.equal(plain(name), errno(EPERM), name);
    for (const name of Object.keys(X86_64_SYSCALLS)) assert.ok([ALLOW, errno(EPERM), errno(ENOSYS)].includes(plain(name, 0)), name);
  });

  test('capabilities open their syscalls', () => {
    const admin = filter(DEFAULT_SECCOMP_PROFILE, [...DOCKER_CAPS, 'CAP_SYS_ADMIN']);
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'perf_event_open', 'fsopen', 'syslog', 'sethostname']) assert.equal(admin(name), ALLOW, name);
    assert.equal(admin('clone', 0x10000000 | 17), ALLOW, 'clone with CLONE_NEWUSER');
    assert.equal(admin('clone3'), ALLOW);
    for (const name of ['pivot_root', 'kexec_load', 'keyctl', 'ptrace', 'init_module']) assert.equal(admin(name), errno(EPERM), name);

    const ptrace = filter(DEFAULT_SECCOMP_PROFILE, [...DOCKER_CAPS, 'CAP_SYS_PTRACE']);
    for (const name of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd']) assert.equal(ptrace(name), ALLOW, name);
    assert.equal(ptrace('mount'), errno(EPERM));

    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['SYS_MODULE'])('finit_module'), ALLOW, 'names without CAP_ read the same');
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_BOOT'])('reboot'), ALLOW);
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_BOOT'])('kexec_load'), errno(EPERM), 'kexec stays blocked, as in Docker');
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_TIME'])('settimeofday'), ALLOW);
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_DAC_READ_SEARCH'])('open_by_handle_at'), ALLOW);
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_SYSLOG'])('syslog'), ALLOW);
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_NICE'])('mbind'), ALLOW);
    assert.equal(filter(DEFAULT_SECCOMP_PROFILE, [])('chroot'), errno(EPERM), 'chroot needs CAP_SYS_CHROOT');
  });

  test('clone: new namespaces refused, fork-style allowed, only the low 32 bits of the flags count', () => {
    const SIGCHLD = 17;
    assert.equal(plain('clone', SIGCHLD), ALLOW);
    assert.equal(plain('clone', 0x003d0f00), ALLOW, 'pthread_create flags');
    for (const ns of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]) {
      assert.equal(plain('clone', ns | SIGCHLD), errno(EPERM), `0x${ns.toString(16)}`);
    }
    // The kernel reads the low 32 bits of clone's flags: high bits neither hide a namespace flag
    // nor look like one.
    assert.equal(plain('clone', 0xffffffff_00000000n | BigInt(SIGCHLD)), ALLOW);
    assert.equal(plain('clone', 0x10000000_00000000n | BigInt(SIGCHLD)), ALLOW);
    assert.equal(plain('clone', 0xffffffff_00000000n | 0x10000000n | BigInt(SIGCHLD)), errno(EPERM));
  });

  test('clone3 answers ENOSYS, so that libc falls back to clone', () => {
    assert.equal(plain('clone3', 0, 88), errno(ENOSYS));
  });

  test('personality: only the harmless personas', () => {
    for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) assert.equal(plain('personality', p), ALLOW, `0x${p.toString(16)}`);
    for (const p of [0x0040000, 0x0400000, 1, 0xffffffff_ffffffffn, 0x1_00000000n]) assert.equal(plain('personality', p), errno(EPERM), `0x${p.toString(16)}`);
  });

  test('socket: not AF_VSOCK', () => {
    assert.equal(plain('socket', 2, 1, 0), ALLOW, 'AF_INET');
    assert.equal(plain('socket', 1, 1, 0), ALLOW, 'AF_UNIX');
    assert.equal(plain('socket', 40, 1, 0), errno(EPERM), 'AF_VSOCK');
    assert.equal(plain('socket', 0x1_00000028n, 1, 0), ALLOW, 'high bits make it another number');
  });

  test('other ABIs and numbers beyond the table', () => {
    assert.equal(plain.run({ nr: 3, arch: AUDIT_ARCH_I386 }), errno(EPERM), 'i386 read (int 0x80)');
    assert.equal(plain.run({ nr: 20, arch: AUDIT_ARCH_I386 }), errno(EPERM), 'i386 getpid');
    assert.equal(plain.run({ nr: nr('read'), arch: 0xc00000b7 }), errno(EPERM), 'aarch64');
    assert.equal(plain(0x40000000 | nr('read')), errno(EPERM), 'x32 read');
    assert.equal(plain(0x40000000 | nr('mount')), errno(EPERM), 'x32 mount');
    assert.equal(plain(0x40000000 + 512), errno(EPERM), 'x32-only number');
    const last = Math.max(...Object.values(X86_64_SYSCALLS));
    assert.equal(plain(last + 2), errno(ENOSYS), 'a syscall newer than the table (fchmodat2)');
    assert.equal(plain(0x3fffffff), errno(ENOSYS));
    assert.equal(plain(0xffffffff), errno(EPERM), 'nr -1 has bit 30 set');
    assert.equal(plain(400), errno(EPERM), 'a hole in the table');
  });

  test('the program is small', () => {
    assert.ok(plain.insns.length < 400, `${plain.insns.length} instructions`);
  });
});

describe('user profiles', () => {
  const compile = (json: object, caps: string[] = [], kernel = '6.1.0') => filter(parseSeccompProfile(JSON.stringify(json)), caps, kernel);

  test('each operator compares unsigned 64-bit values, high words included', () => {
    const V = 0x00000001_00000005n;
    const samples = [
      0n, 1n, 5n, 6n, 4n, V - 1n, V, V + 1n, 0x00000001_00000000n, 0x00000001_ffffffffn, 0x00000000_ffffffffn, 0x00000002_00000000n,
      0x00000002_00000005n, 0x00000000_00000005n, 0xffffffff_ffffffffn, 0x80000000_00000005n, 0x00000001_80000005n,
    ];
    const ref: Record<string, (x: bigint) => boolean> = {
      SCMP_CMP_EQ: (x) => x === V,
      SCMP_CMP_NE: (x) => x !== V,
      SCMP_CMP_LT: (x) => x < V,
      SCMP_CMP_LE: (x) => x <= V,
      SCMP_CMP_GT: (x) => x > V,
      SCMP_CMP_GE: (x) => x >= V,
    };
    for (const [op, holds] of Object.entries(ref)) {
      const f = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 2, value: Number(V), op }] }] });
      for (const x of samples) assert.equal(f('read', 0, 0, x), holds(x) ? ALLOW : errno(EPERM), `${op} 0x${x.toString(16)}`);
    }
    // MASKED_EQ: value is the mask, valueTwo the datum; both with high words.
    const mask = 0x000000ff_0000ff00n;
    const datum = 0x00000012_00003400n;
    const masked = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 5, value: Number(mask), valueTwo: Number(datum), op: 'SCMP_CMP_MASKED_EQ' }] }] });
    for (const x of [...samples, datum, datum | 0xffff0000_ffff00ffn, datum ^ 0x00000001_00000000n, datum ^ 0x100n, 0x00000012_00000000n, 0x3400n]) {
      assert.equal(masked('read', 0, 0, 0, 0, 0, x), (x & mask) === datum ? ALLOW : errno(EPERM), `MASKED_EQ 0x${x.toString(16)}`);
    }
  });

  test('values beyond 2^53 are read exactly from the JSON text', () => {
    const text = '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]},{"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":9007199254740993,"op":"SCMP_CMP_EQ"}]}]}';
    const profile = parseSeccompProfile(text);
    assert.equal(profile.syscalls?.[0].args?.[0].value, 18446744073709551615n);
    const f = filter(profile);
    assert.equal(f('read', 0xffffffff_ffffffffn), ALLOW);
    assert.equal(f('read', 0xffffffff_fffffffen), errno(EPERM));
    assert.equal(f('write', 9007199254740993n), ALLOW);
    assert.equal(f('write', 9007199254740992n), errno(EPERM));
    assert.throws(() => parseSeccompProfile(text.replace('18446744073709551615', '18446744073709551616')), /args\[0\]\.value: must be an unsigned 64-bit integer/);
    assert.throws(() => parseSeccompProfile(text.replace('18446744073709551615', '-1')), /args\[0\]\.value: must be an unsigned 64-bit integer/);
  });

  test('several conditions AND, several rules for one name OR', () => {
    const f = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 3, op: 'SCMP_CMP_EQ' }, { index: 2, value: 100, op: 'SCMP_CMP_LE' }] },
        { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 7, op: 'SCMP_CMP_EQ' }] },
        { names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES, args: [{ index: 0, value: 9, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    assert.equal(f('read', 3, 0, 100), ALLOW);
    assert.equal(f('read', 3, 0, 101), errno(EPERM));
    assert.equal(f('read', 4, 0, 1), errno(EPERM));
    assert.equal(f('read', 7, 0, 1_000_000), ALLOW);
    assert.equal(f('read', 9), errno(EACCES));
    assert.equal(f('write', 3), errno(EPERM));
  });

  test('defaultAction ALLOW with one ERRNO rule; errnoRet and defaultErrnoRet honoured', () => {
    const f = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES }] });
    assert.equal(f('mkdir'), errno(EACCES));
    assert.equal(f('mkdirat'), errno(EACCES));
    assert.equal(f('read'), ALLOW);
    assert.equal(f('mount'), ALLOW);
    assert.equal(f(1000), ALLOW, 'no ENOSYS stub where the default lets calls through');
    assert.equal(f.run({ nr: 39, arch: AUDIT_ARCH_I386 }), errno(EPERM), 'other ABIs would step around the rules: EPERM');
    assert.equal(f(0x40000000 | nr('mkdir')), errno(EPERM), 'x32 mkdir');

    const e = compile({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['write'], action: 'SCMP_ACT_ERRNO' }] });
    assert.equal(e('read'), ALLOW);
    assert.equal(e('write'), errno(EPERM), 'errnoRet defaults to EPERM');
    assert.equal(e('getpid'), errno(ENOSYS), 'defaultErrnoRet');
  });

  test('the other actions return their values', () => {
    const actions: [SeccompAction, number][] = [
      ['SCMP_ACT_KILL', 0],
      ['SCMP_ACT_KILL_THREAD', 0],
      ['SCMP_ACT_KILL_PROCESS', 0x80000000],
      ['SCMP_ACT_TRAP', 0x00030000],
      ['SCMP_ACT_TRACE', 0x7ff00000 | 1],
      ['SCMP_ACT_LOG', 0x7ffc0000],
    ];
    for (const [action, value] of actions) {
      const f = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action }] });
      assert.equal(f('getpid'), value, action);
      assert.equal(f('getppid'), ALLOW);
      const d = compile({ defaultAction: action, syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }] });
      assert.equal(d('getppid'), value, `default ${action}`);
    }
    assert.equal(compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 7 }] })('getpid'), 0x7ff00007);
  });

  test('includes and excludes: caps, arches, minKernel', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] } },
        { names: ['write'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] } },
        { names: ['getpid'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.10' } },
        { names: ['getppid'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
        { names: ['gettid'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
        { names: ['getuid'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['getgid'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['umask'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['SCMP_ARCH_X86_64'] } },
      ],
    };
    const none = compile(profile, [], '5.4.0-150-generic');
    assert.equal(none('read'), errno(EPERM));
    assert.equal(none('write'), ALLOW);
    assert.equal(none('getpid'), errno(EPERM), 'kernel 5.4 < 5.10');
    assert.equal(none('getppid'), ALLOW);
    assert.equal(none('gettid'), ALLOW);
    assert.equal(none('getuid'), errno(EPERM));
    assert.equal(none('getgid'), errno(EPERM));
    assert.equal(none('umask'), ALLOW);

    const some = compile(profile, ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_BPF'], '6.18.44-fc-v657');
    assert.equal(some('read'), ALLOW, 'has all the caps');
    assert.equal(some('write'), errno(EPERM), 'has one excluded cap');
    assert.equal(some('getpid'), ALLOW);
    assert.equal(some('getppid'), errno(EPERM));
    assert.equal(compile(profile, ['CAP_NET_ADMIN'])('read'), errno(EPERM), 'one cap of two is not enough');
    assert.equal(compile(profile, [], '5.10')('getpid'), ALLOW, 'exactly the minimum');
    assert.equal(compile(profile, [], '5.9.16')('getpid'), errno(EPERM));
  });

  test('names of other architectures and unknown names are skipped; an unconditional rule wins', () => {
    const f = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['chown32', 'no_such_call', 'read'], action: 'SCMP_ACT_ALLOW' },
        { name: 'write', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
        { name: 'write', action: 'SCMP_ACT_ALLOW' },
        { names: ['close'], action: 'SCMP_ACT_ERRNO', comment: 'the default action: dropped, as runc drops it' },
        { names: ['close'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, op: 'SCMP_CMP_GE' }] },
      ],
    });
    assert.equal(f('read'), ALLOW);
    assert.equal(f('write', 7), ALLOW);
    assert.equal(f('close', 3), ALLOW);
    assert.equal(f('close', 1), errno(EPERM));
  });

  test('parse errors name the field', () => {
    const err = (text: string, message: RegExp) => assert.throws(() => parseSeccompProfile(text), (e: Error & { status?: number }) => {
      assert.match(e.message, message);
      assert.equal(e.status, 400);
      return true;
    });
    const p = (o: object) => JSON.stringify(o);
    err('{"defaultAction": "SCMP_ACT_ERRNO",', /^seccomp profile: not valid JSON: /);
    err('[]', /the profile: must be a JSON object/);
    err(p({ syscalls: [] }), /defaultAction: is required/);
    err(p({ defaultAction: 'SCMP_ACT_DENY' }), /defaultAction: unknown action "SCMP_ACT_DENY" \(expected one of SCMP_ACT_KILL,/);
    err(p({ defaultAction: 'SCMP_ACT_NOTIFY' }), /defaultAction: SCMP_ACT_NOTIFY .* not supported/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['connect'], action: 'SCMP_ACT_NOTIFY' }] }), /syscalls\[0\]\.action: SCMP_ACT_NOTIFY .* not supported/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }), /listenerPath: .* not supported/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['x'], action: 'ALLOW' }] }), /syscalls\[1\]\.action: unknown action "ALLOW"/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQUAL' }] }] }), /syscalls\[0\]\.args\[0\]\.op: unknown operator "SCMP_CMP_EQUAL"/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }), /syscalls\[0\]\.args\[0\]\.index: must be an argument number from 0 to 5/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }] }] }), /args\[0\]\.value: must be an unsigned 64-bit integer/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: ['read'] }), /syscalls\[0\]: must be an object/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }), /syscalls: must be an array/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', names: ['write'], action: 'SCMP_ACT_ERRNO' }] }), /syscalls\[0\]: has both "name" and "names"/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }), /syscalls\[0\]: names no syscall/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 5 }] }), /syscalls\[0\]\.errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE/);
    err(p({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 }), /defaultErrnoRet: must be an errno/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }), /has both "architectures" and "archMap"/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }), /architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }), /flags\[0\]: unknown or unsupported flag/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: 'five' } }] }), /syscalls\[0\]\.includes\.minKernel: "five" is not a kernel version/);
    err(p({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', includes: [] }] }), /syscalls\[0\]\.includes: must be an object/);
  });

  test("Docker's own profile shape parses (archMap, null fields, comments)", () => {
    const profile = parseSeccompProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }, { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null }],
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: null, comment: '', includes: {}, excludes: {} },
          { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } },
        ],
        flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      }),
    );
    const f = filter(profile);
    assert.equal(f('read'), ALLOW);
    assert.equal(f('clone', 17), ALLOW);
    assert.equal(f('clone', 0x10000011), errno(EPERM));
  });

  test('long rules and large profiles still jump inside the program; too large is refused', () => {
    // One name with 60 rules: its code is longer than an 8-bit jump.
    const many = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read', 'write', 'close', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
        ...Array.from({ length: 60 }, (_, i) => ({ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x5400 + i, op: 'SCMP_CMP_EQ' }] })),
      ],
    });
    assert.ok(many.insns.length > 300, `${many.insns.length} instructions`);
    for (let i = 0; i < 65; i++) assert.equal(many('ioctl', 0, 0x5400 + i), i < 60 ? ALLOW : errno(EPERM), `ioctl 0x${(0x5400 + i).toString(16)}`);
    assert.equal(many('read'), ALLOW);
    assert.equal(many('exit_group'), ALLOW);
    assert.equal(many('mount'), errno(EPERM));

    // Every other syscall with conditions: the search tree's jumps grow long.
    const names = Object.keys(X86_64_SYSCALLS).filter((_, i) => i % 2 === 0);
    const wide = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: names.map((n) => ({ names: [n], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_NE' }] })) });
    for (const n of Object.keys(X86_64_SYSCALLS)) {
      const listed = names.includes(n);
      assert.equal(wide(n, 0), listed ? ALLOW : errno(EPERM), n);
      assert.equal(wide(n, 1), errno(EPERM), n);
    }

    const huge = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: Object.keys(X86_64_SYSCALLS).map((n) => ({ names: [n], action: 'SCMP_ACT_ALLOW', args: [0, 1, 2].map((index) => ({ index, value: 1, op: 'SCMP_CMP_EQ' })) })) };
    assert.throws(() => compile(huge), /compiles to \d+ BPF instructions, more than the kernel's 4096/);
  });

  test('random profiles decide as their rules say', () => {
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pick = <T>(list: readonly T[]) => list[rand(list.length)];
    const names = ['read', 'write', 'openat', 'close', 'mmap', 'ioctl', 'socket', 'clone', 'kill', 'fcntl'];
    const ops: SeccompOp[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
    const interesting = [0n, 1n, 2n, 0xffffffffn, 0x1_00000000n, 0x1_00000001n, 0xffffffff_ffffffffn, 0x80000000_00000000n, 0x7fffffffn];
    const value = () => (rand(3) === 0 ? BigInt(rand(4)) : pick(interesting));
    const holds = (op: SeccompOp, x: bigint, v: bigint, v2: bigint) =>
      ({ SCMP_CMP_NE: x !== v, SCMP_CMP_LT: x < v, SCMP_CMP_LE: x <= v, SCMP_CMP_EQ: x === v, SCMP_CMP_GE: x >= v, SCMP_CMP_GT: x > v, SCMP_CMP_MASKED_EQ: (x & v) === v2 })[op];
    for (let round = 0; round < 60; round++) {
      const defaultAction = pick<SeccompAction>(['SCMP_ACT_ERRNO', 'SCMP_ACT_ALLOW']);
      const rules = Array.from({ length: 1 + rand(12) }, () => ({
        names: [pick(names)],
        action: pick<SeccompAction>(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_LOG']),
        errnoRet: undefined as number | undefined,
        args: Array.from({ length: rand(4) }, () => ({ index: rand(6), op: pick(ops), value: value(), valueTwo: value() })),
      }));
      for (const r of rules) if (r.action === 'SCMP_ACT_ERRNO') r.errnoRet = 2 + rand(3);
      const profile: SeccompProfile = { defaultAction, syscalls: rules };
      const f = filter(profile);
      const defaultValue = defaultAction === 'SCMP_ACT_ALLOW' ? ALLOW : errno(EPERM);
      const valueOf = (r: (typeof rules)[number]) => (r.action === 'SCMP_ACT_ALLOW' ? ALLOW : r.action === 'SCMP_ACT_LOG' ? 0x7ffc0000 : errno(r.errnoRet!));
      for (let call = 0; call < 200; call++) {
        const name = pick(names);
        const args = Array.from({ length: 6 }, value);
        // The model: rules with the default's value dropped; an unconditional rule wins; else the
        // first rule whose conditions all hold; else the default.
        const live = rules.filter((r) => r.names[0] === name && valueOf(r) !== defaultValue);
        const unconditional = live.find((r) => r.args.length === 0);
        const match = unconditional ?? live.find((r) => r.args.every((a) => holds(a.op, args[a.index], a.value, a.valueTwo)));
        assert.equal(f(name, ...args), match ? valueOf(match) : defaultValue, `round ${round}, ${name}(${args.join(', ')}) under ${JSON.stringify(profile, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`);
      }
    }
  });
});

describe('choosing a profile', () => {
  test('SecurityOpt: default, unconfined, builtin, JSON; privileged runs unconfined', () => {
    assert.equal(seccompProfileOf([]), DEFAULT_SECCOMP_PROFILE);
    assert.equal(seccompProfileOf(['no-new-privileges']), DEFAULT_SECCOMP_PROFILE);
    assert.equal(seccompProfileOf(['seccomp=unconfined']), null);
    assert.equal(seccompProfileOf(['seccomp:unconfined']), null);
    assert.equal(seccompProfileOf(['seccomp=builtin']), DEFAULT_SECCOMP_PROFILE);
    assert.equal(seccompProfileOf([], true), null);
    const mine = seccompProfileOf(['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}']);
    assert.equal(mine?.defaultAction, 'SCMP_ACT_ALLOW');
    assert.throws(() => seccompProfileOf(['seccomp=/etc/profile.json']), /not a profile: the docker CLI sends the file's JSON/);
    assert.throws(() => seccompProfileOf(['seccomp={"defaultAction":1}']), /defaultAction: unknown action 1/);
  });

  test("the OCI form runc takes: includes and excludes resolved, as Docker's daemon writes it", () => {
    const plain = ociSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: new Set(DOCKER_CAPS), kernel: '6.1.0' });
    assert.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(plain.architectures, ['SCMP_ARCH_X86_64']);
    const named = plain.syscalls.flatMap((r) => r.names);
    assert.ok(named.includes('read') && named.includes('chroot') && !named.includes('ptrace') && !named.includes('mount'));
    assert.deepEqual(plain.syscalls.find((r) => r.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
    assert.deepEqual(plain.syscalls.find((r) => r.names[0] === 'clone')?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    const admin = ociSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: new Set(['CAP_SYS_ADMIN']) });
    assert.ok(admin.syscalls.some((r) => r.names.includes('mount')));
    assert.ok(!admin.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'));
    const mapped = ociSeccomp(parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]},{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}]}'), { capabilities: new Set() });
    assert.deepEqual(mapped.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  test('x86_64 only', () => {
    assert.equal(seccompSupported('x64'), true);
    assert.equal(seccompSupported('arm64'), false);
    assert.throws(() => compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: new Set(), arch: 'arm64' }), /x86_64 only/);
  });
});
