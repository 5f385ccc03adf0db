// /_ping, /version, /info, /events and /auth.

import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../engine';
import { matches } from '../events';
import { login, RegistryError } from '../registry/client';
import { seccompSupported } from '../runtime/seccomp';
import { folderSize } from '../runtime/volumes';
import { containerSummary } from './containers';
import { imageSummary } from './images';
import { ApiError, badRequest } from './errors';
import { API_VERSION, MIN_API_VERSION, type ApiServer } from './server';

export const ENGINE_VERSION = '0.1.0';

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };
const UNAME_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };

export function systemRoutes(api: ApiServer, engine: Engine): void {
  // HEAD /_ping takes the same route; Node leaves the body out of HEAD answers.
  api.route('GET', '/_ping', async (call) => {
    call.header('API-Version', API_VERSION);
    call.header('OSType', 'linux');
    call.header('Docker-Experimental', 'false');
    // The classic builder (POST /build): BuildKit's gRPC session is not spoken here.
    call.header('Builder-Version', '1');
    call.header('Cache-Control', 'no-cache, no-store, must-revalidate');
    call.header('Pragma', 'no-cache');
    call.text(200, 'OK');
  });

  // `docker login`: the daemon checks the credentials with the registry; the CLI keeps them.
  api.route('POST', '/auth', async (call) => {
    const body = await call.json<{ username?: unknown; password?: unknown; serveraddress?: unknown }>();
    if (typeof body?.username !== 'string' || typeof body.password !== 'string') throw badRequest('username and password are required');
    const serveraddress = typeof body.serveraddress === 'string' ? body.serveraddress : undefined;
    try {
      await login({ username: body.username, password: body.password, serveraddress }, { insecure: engine.options.insecureRegistries });
    } catch (error) {
      if (error instanceof RegistryError) throw new ApiError(401, error.message);
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new ApiError(500, `${(error as Error).message}${cause ? `: ${cause}` : ''}`);
    }
    call.send(200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  api.route('GET', '/version', async (call) => {
    const details = {
      ApiVersion: API_VERSION,
      Arch: ARCH[process.arch] ?? process.arch,
      BuildTime: '',
      Experimental: 'false',
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      KernelVersion: release(),
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    call.send(200, {
      Platform: { Name: 'Tug' },
      Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: details }],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: details.GoVersion,
      Os: 'linux',
      Arch: details.Arch,
      KernelVersion: details.KernelVersion,
      Experimental: false,
      BuildTime: '',
    });
  });

  api.route('GET', '/info', async (call) => {
    const all = engine.containers.list();
    const running = all.filter((c) => c.State.Running).length;
    call.send(200, {
      ID: engine.options.dataRoot,
      Containers: all.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: all.length - running,
      Images: engine.images.list().length,
      Driver: engine.options.storageDriver,
      DriverStatus: [],
      Plugins: { Volume: [], Network: ['host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: false,
      IPv4Forwarding: false,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(engine.cgroups.version),
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: 'Linux',
      OSVersion: '',
      OSType: 'linux',
      Architecture: UNAME_ARCH[process.arch] ?? process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        IndexConfigs: Object.fromEntries(
          engine.options.insecureRegistries.map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
        ),
        Mirrors: [],
      },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: engine.options.dataRoot,
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { tug: { path: 'tug-shim' } },
      DefaultRuntime: 'tug',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      // Containers run on while the engine is down (each has its own monitor).
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'tug-init',
      SecurityOptions: seccompSupported() ? ['name=seccomp,profile=builtin'] : [],
      Warnings: seccompSupported() ? [] : [`WARNING: no seccomp filter on ${process.arch}: containers run without one`],
    });
  });

  // `docker system df`: what images, containers and volumes take. A layer shared by images is
  // counted once; a container's own share is its writable layer.
  api.route('GET', '/system/df', async (call) => {
    const { containers, images, snapshots } = engine;
    // Each unpacked layer once, as it lies on disk (the images' sizes are unpacked sizes too).
    const layerDirs = new Set(images.list().flatMap((image) => snapshots.lowerDirs(image)));
    const layerSizes = await Promise.all([...layerDirs].map((dir) => folderSize(dir)));
    const containerRows = await Promise.all(
      containers.list().map(async (r) => ({ ...containerSummary(r), SizeRw: await folderSize(join(containers.dirOf(r.Id), r.Driver === 'vfs' ? 'rootfs' : 'upper')), SizeRootFs: 0 })),
    );
    const volumes = await Promise.all(
      containers.volumes.list().map(async (v) => ({ ...v, UsageData: { Size: await containers.volumes.size(v.Name), RefCount: containers.volumeUsers(v.Name).length } })),
    );
    call.send(200, {
      LayersSize: layerSizes.reduce((a, b) => a + b, 0),
      Images: images.list().map((i) => ({ ...imageSummary(i), SharedSize: 0, Containers: containers.usersOf(i.id).length })),
      Containers: containerRows,
      Volumes: volumes,
      BuildCache: [],
    });
  });

  api.route('GET', '/events', async (call) => {
    const filters = call.filters();
    const since = call.query.get('since');
    const until = call.query.get('until');
    const untilSeconds = until ? Number(until) : null;
    const res = call.stream('application/json');
    await new Promise<void>((resolve) => {
      const unsubscribe = engine.events.subscribe(
        (event) => {
          if (untilSeconds !== null && event.timeNano > untilSeconds * 1e9) return;
          if (matches(event, filters)) res.write(JSON.stringify(event) + '\n');
        },
        since ? Number(since) : undefined,
      );
      const finish = () => {
        unsubscribe();
        clearTimeout(timer);
        resolve();
      };
      // With `until`, the stream ends at that time (at once when it has passed).
      const timer = untilSeconds !== null ? setTimeout(finish, Math.max(0, untilSeconds * 1000 - Date.now())) : undefined;
      call.closed.addEventListener('abort', finish);
    });
    res.end();
  });
}

