// The same image and options run once through tugd (driven by the docker CLI) and once through
// runc (Debian's package) from an equivalent OCI bundle, written here as Docker's daemon writes
// one: what the process sees must match — capabilities, NoNewPrivs, the seccomp mode and what
// the filter refuses, the mounts with their options, masked and read-only paths, the hostname,
// namespaces of its own, rlimits.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_SECCOMP_PROFILE, ociSeccomp } from '../../runtime-agent/src/runtime/seccomp';
import { capabilityNames, DEFAULT_PATH, DOCKER_DEFAULT_CAPS, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS } from '../../runtime-agent/src/runtime/spec';
import { busyboxEngine } from '../helpers/busybox-engine';
import { probeDir } from '../helpers/probe';
import { makeBusyboxRootfs } from '../helpers/rootfs';

const t = busyboxEngine({ pull: true });
const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts'];
const PROBES = ['unshare_user', 'clone_newuser', 'keyctl', 'add_key', 'bpf', 'perf_event_open', 'kexec_load', 'finit_module', 'vsock', 'mount /mnt', 'personality 0', 'personality 40000'];

/** What the process reports about itself, one fact per line. */
const SCRIPT = [
  "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status",
  'echo "hostname $(hostname)"',
  ...NAMESPACES.map((ns) => `echo "ns ${ns} $(readlink /proc/self/ns/${ns})"`),
  "grep -E '^Max (open files|processes|core file size)' /proc/self/limits",
  // Mount point, its options, type and the filesystem's options; the root's type is the store's own.
  "awk '{ for (i = 7; $i != \"-\"; i++); if ($5 == \"/\") print \"mount / \" $6; else print \"mount \" $5 \" \" $6 \" \" $(i+1) \" \" $(i+3) }' /proc/self/mountinfo | sort",
  ...[...DOCKER_MASKED_PATHS, ...DOCKER_READONLY_PATHS].map((p) => `echo "read ${p} $(/probe/probe read ${p} 2>&1)"`),
  ...PROBES.map((p) => `echo "probe ${p} $(/probe/probe ${p})"`),
].join('\n');

test('tugd and runc give the same process the same view: capabilities, seccomp, mounts, masked and read-only paths, hostname, namespaces, rlimits', async () => {
  const probe = await probeDir();
  const ours = await t.engine.docker(['run', '--rm', '--network', 'none', '--hostname', 'same', '-v', `${probe}:/probe:ro`, '--ulimit', 'nofile=1024:2048', t.busybox, 'sh', '-c', SCRIPT]);
  assert.equal(ours.code, 0, ours.stderr);

  const dir = await mkdtemp(join(tmpdir(), 'tug-runc-'));
  const id = `tug-diff-${process.pid}`;
  try {
    const rootfs = join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    for (const [file, text] of [['hosts', '127.0.0.1\tlocalhost\n'], ['hostname', 'same\n'], ['resolv.conf', 'nameserver 127.0.0.1\n']]) await writeFile(join(dir, file), text);
    const caps = capabilityNames(DOCKER_DEFAULT_CAPS);
    const bind = (source: string, destination: string, ro = false) => ({ destination, type: 'bind', source, options: ['rbind', ro ? 'ro' : 'rw', 'rprivate'] });
    // What Docker's daemon puts in a container's config.json for these options.
    const config = {
      ociVersion: '1.0.2',
      process: {
        terminal: false,
        user: { uid: 0, gid: 0 },
        args: ['sh', '-c', SCRIPT],
        env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=same', 'HOME=/root'],
        cwd: '/',
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        rlimits: [{ type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 }],
        noNewPrivileges: false,
      },
      root: { path: rootfs, readonly: false },
      hostname: 'same',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
        { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
        bind(join(dir, 'resolv.conf'), '/etc/resolv.conf'),
        bind(join(dir, 'hostname'), '/etc/hostname'),
        bind(join(dir, 'hosts'), '/etc/hosts'),
        bind(probe, '/probe', true),
      ],
      linux: {
        namespaces: ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup'].map((type) => ({ type })),
        // Under the cgroup runc runs in, and removed with the container.
        cgroupsPath: id,
        resources: { devices: [{ allow: false, access: 'rwm' }] },
        maskedPaths: DOCKER_MASKED_PATHS,
        readonlyPaths: DOCKER_READONLY_PATHS,
        seccomp: ociSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: new Set(caps) }),
      },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    const runc = await promisify(execFile)('runc', ['--root', join(dir, 'state'), 'run', '--bundle', dir, id], { maxBuffer: 1 << 20 }).catch((e: { stdout: string; stderr: string; code: number }) => {
      throw new Error(`runc run: ${e.code} ${e.stderr}${e.stdout}`);
    });

    const facts = (out: string) => out.trim().split('\n');
    const namespaced = (lines: string[]) => lines.filter((l) => !l.startsWith('ns '));
    // Everything but the namespaces' identities (each run has its own) is the same.
    assert.deepEqual(namespaced(facts(ours.stdout)), namespaced(facts(runc.stdout)));
    // The facts must say something: the filter, the masks, the limits.
    assert.ok(facts(ours.stdout).includes('Seccomp:\t2'));
    assert.ok(facts(ours.stdout).includes('probe unshare_user EPERM'));
    assert.ok(facts(ours.stdout).includes('read /proc/timer_list 0'));
    assert.ok(facts(ours.stdout).some((l) => /^Max open files\s+1024\s+2048\s/.test(l)));
    // Each namespace is neither the host's nor (for the two runs) shared.
    for (const out of [ours.stdout, runc.stdout]) {
      for (const ns of NAMESPACES) {
        const line = facts(out).find((l) => l.startsWith(`ns ${ns} `));
        assert.ok(line, `ns ${ns} reported`);
        assert.notEqual(line.split(' ')[2], await readlink(`/proc/self/ns/${ns}`), `${ns} is the host's`);
      }
    }
  } finally {
    await promisify(execFile)('runc', ['--root', join(dir, 'state'), 'delete', '--force', id]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});
