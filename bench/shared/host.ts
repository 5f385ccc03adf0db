// What the engine benches start and leave on the machine, and how they take it away again: tugd
// and what it mounts, podman in a temp dir of its own, the state podman keeps at fixed places
// whatever its flags, cgroups.

import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { detectCgroups } from '../../runtime-agent/src/runtime/cgroups';
import { run, type CommandResult, type TestEngine } from '../../test/helpers/engine';
import type { TestRegistry } from '../../test/helpers/registry';
import { alive, type Cleanup, commandLine, delay, exists, findProcess, missingOf, ok } from './harness';

/** rmdir, unless the folder is not empty (or, for a cgroup, has processes): then false. */
export async function removeIfEmpty(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (error) {
    if (['ENOTEMPTY', 'EEXIST', 'EBUSY'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}

/** A cgroup and its empty children, deepest first (cgroupfs wants rmdir, not unlinking its files). */
export async function removeCgroup(dir: string): Promise<boolean> {
  let all = true;
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isDirectory()) all = (await removeCgroup(join(dir, entry.name))) && all;
  return all && removeIfEmpty(dir);
}

/** The mount points at or under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  // Field 5 of mountinfo is the mount point; our temp paths contain no characters it escapes.
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts whatever is mounted under `dir`, deepest first (a tool that failed may leave mounts). */
export async function unmountUnder(dir: string): Promise<string[]> {
  const mounts = await mountsUnder(dir);
  for (const point of mounts) {
    if ((await run('umount', [point])).code !== 0) await run('umount', ['-l', point]);
  }
  return mounts;
}

/**
 * A test helper's stop(), which waits for its process's 'exit' with a check that misses a death
 * by signal (Ctrl-C reaches the whole process group): so it may never resolve. Done when it
 * resolves or shortly after the process is gone, whichever comes first.
 */
export async function stopped(stop: Promise<void>, pid: number): Promise<void> {
  const gone = async () => {
    while (alive(pid)) await delay(100);
    await delay(500); // what the helper does after the exit, if it saw it
  };
  await Promise.race([stop, gone()]);
}

/**
 * The cgroups tugd makes: a parent (`tug`, below the cgroup it starts in, which is this
 * process's) in each hierarchy, and in it one per container (named by its ID) and one per
 * standby monitor (`standby-<tugd's pid>-…`). Other engines may share the parent (on cgroup v1
 * it is /tug wherever a hierarchy puts us at its root), so only what is named after our tugd
 * is removed, and the parent only if it did not exist before and is empty.
 */
export class EngineCgroups {
  private constructor(
    private readonly parents: string[],
    private readonly existed: Set<string>,
  ) {}

  /** Before tugd starts. */
  static async record(): Promise<EngineCgroups> {
    const parents = (await detectCgroups()).parentDirs;
    const existed = new Set<string>();
    for (const parent of parents) if (await exists(parent)) existed.add(parent);
    return new EngineCgroups(parents, existed);
  }

  /** After tugd stopped: removes its cgroups; returns how many there were. */
  async removeOwn(pid: number, containerIds: string[]): Promise<number> {
    const ids = new Set(containerIds);
    const own = (name: string) => ids.has(name) || name.startsWith(`standby-${pid}-`);
    let found = 0;
    for (const parent of this.parents) {
      for (const entry of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
        if (!entry.isDirectory() || !own(entry.name)) continue;
        found++;
        const dir = join(parent, entry.name);
        if (!(await removeCgroup(dir))) console.error(`cgroup ${dir} still has processes: left in place`);
      }
      if (!this.existed.has(parent) && (await exists(parent))) await removeIfEmpty(parent);
    }
    return found;
  }
}

/**
 * Stops tugd and its containers, then removes what a tugd that died (or a bug) left: mounts
 * under its temp dir, its containers' and standby monitors' cgroups, the dir itself. Leftovers
 * of a clean stop are reported, since they are the engine's.
 */
export async function stopEngine(engine: TestEngine, pid: number, cgroups: EngineCgroups): Promise<void> {
  const dir = dirname(engine.socket);
  const ids = await readdir(join(engine.dataRoot, 'containers')).catch(() => []);
  const wasAlive = alive(pid);
  await stopped(engine.stop(), pid);
  const mounts = await unmountUnder(dir);
  const left = await cgroups.removeOwn(pid, ids);
  await rm(dir, { recursive: true, force: true });
  if (wasAlive && (mounts.length || left)) console.error(`tugd left ${mounts.length} mount(s) and ${left} cgroup(s) after it stopped`);
}

/**
 * The docker-registry process of a test registry, which the helper does not name, and a stop
 * that also removes the registry's files.
 */
export async function registryProcess(registry: TestRegistry): Promise<{ pid: number; stop(): Promise<void> }> {
  const config = (argv: string[]) => (argv[0] === 'docker-registry' && argv[1] === 'serve' ? argv[2] : undefined);
  const pid = await findProcess(
    async (argv) => config(argv) !== undefined && (await readFile(config(argv)!, 'utf8').catch(() => '')).includes(`addr: ${registry.host}\n`),
    `docker-registry on ${registry.host}`,
  );
  const dir = dirname(config((await commandLine(pid)) ?? [])!);
  return {
    pid,
    async stop() {
      await stopped(registry.stop(), pid);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Paths podman and skopeo use whatever their flags (the blob-info cache of containers/image,
 * netavark's state dir, runc's default state dir that podman's runc calls use) and the cgroup
 * parent podman's cgroupfs manager makes in every hierarchy. What did not exist before the bench
 * is removed after it, but a folder only when empty: someone else's podman may have started
 * using it meanwhile.
 */
export class MachineState {
  /** Deepest first. */
  static readonly PATHS = [
    '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
    '/var/lib/containers/cache',
    '/var/lib/containers',
    '/run/containers/networks',
    '/run/containers',
    '/run/runc',
  ];

  private constructor(
    private readonly paths: string[],
    private readonly cgroups: string[],
  ) {}

  static async record(): Promise<MachineState> {
    return new MachineState(await missingOf(MachineState.PATHS), await missingOf(await MachineState.cgroupParents()));
  }

  private static async cgroupParents(): Promise<string[]> {
    const hierarchies = await readdir('/sys/fs/cgroup').catch(() => []);
    // cgroup v1: one per hierarchy; v2 alone: at the top.
    return ['/sys/fs/cgroup/libpod_parent', ...hierarchies.map((h) => join('/sys/fs/cgroup', h, 'libpod_parent'))];
  }

  async restore(): Promise<void> {
    const kept: string[] = [];
    for (const path of this.paths) {
      const st = await stat(path).catch(() => null);
      if (!st) continue;
      if (!st.isDirectory()) await rm(path, { force: true });
      else if (!(await removeIfEmpty(path))) kept.push(path);
    }
    for (const cgroup of this.cgroups) if ((await exists(cgroup)) && !(await removeCgroup(cgroup))) kept.push(cgroup);
    if (kept.length) console.error(`left in place, something else uses them now: ${kept.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Podman (and skopeo's config).

/**
 * What podman and skopeo read besides their flags, in our temp dir: no search registries or
 * mirrors from the machine (so a short name is only ever a local tag), the registries in
 * `insecure` reachable over plain HTTP, and a trust policy that accepts the unsigned test images.
 */
export async function writePeerConfig(tmp: string, insecure: string[] = []): Promise<void> {
  const registries = insecure.map((location) => `\n[[registry]]\nlocation = "${location}"\ninsecure = true\n`).join('');
  await writeFile(join(tmp, 'registries.conf'), `unqualified-search-registries = []\nshort-name-mode = "disabled"\n${registries}`);
  await writeFile(policyFile(tmp), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })}\n`);
}

export function policyFile(tmp: string): string {
  return join(tmp, 'policy.json');
}

/** The environment podman and skopeo run with: their config and temp files in our temp dir. */
export function peerEnv(tmp: string): NodeJS.ProcessEnv {
  return { TMPDIR: tmp, CONTAINERS_REGISTRIES_CONF: join(tmp, 'registries.conf') };
}

/**
 * Podman with storage, run state and config of its own in a temp dir, so that nothing of the
 * machine's podman is touched; runc as its runtime, cgroupfs and a file for events (as on a
 * machine without systemd).
 */
export class Podman {
  private constructor(
    private readonly global: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly policy: string,
  ) {}

  /** `dir` is a new folder in the temp dir, whose config writePeerConfig wrote. */
  static async create(dir: string, cleanup: Cleanup): Promise<Podman> {
    const tmp = dirname(dir);
    for (const sub of ['root', 'run', 'tmp', 'networks']) await mkdir(join(dir, sub), { recursive: true });
    // default_ulimits: on this kind of machine runc refuses podman's default nofile limit.
    await writeFile(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = []',
        '[network]',
        `network_config_dir = "${join(dir, 'networks')}"`,
        '[engine]',
        `image_copy_tmp_dir = "${join(dir, 'tmp')}"`,
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'run')}"\n`);
    const env = { ...peerEnv(tmp), CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
    const global = [
      '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'overlay',
      '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
    ];
    const podman = new Podman(global, env, policyFile(tmp));
    cleanup.defer('podman containers and images', async () => {
      await run('podman', [...global, 'rm', '-af'], { env });
      await run('podman', [...global, 'rmi', '-af'], { env });
    });
    return podman;
  }

  /** Runs podman; throws with its error when it fails. */
  async cmd(args: string[], timeoutMs = 120_000): Promise<CommandResult> {
    return ok(run('podman', [...this.global, ...args], { env: this.env, timeoutMs }), `podman ${args[0]}`);
  }

  /** The command line and environment of `podman ARGS`, for a caller that spawns it itself. */
  command(args: string[]): { args: string[]; env: NodeJS.ProcessEnv } {
    return { args: [...this.global, ...args], env: this.env };
  }

  async pull(ref: string): Promise<void> {
    await this.cmd(['pull', '--tls-verify=false', '--signature-policy', this.policy, ref], 600_000);
  }
}
