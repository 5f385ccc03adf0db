// The `tug` command: `tug daemon` runs the engine; the other commands are a client of its API
// (or of any Docker-API engine), for people without the docker CLI.

import { Demultiplexer } from '../api/stream';
import { DEFAULT_DATA_ROOT, startDaemon } from '../daemon';
import type { StorageDriver } from '../runtime/containers';
import { isLayerWorker } from '../images/layer-worker';
import { isPullProcess } from '../registry/pull-process';
import { load, save } from './archive';
import { build } from './build';
import { DEFAULT_SOCKET, EngineClient, EngineError, engineHost, socketPath } from './client';
import { UsageError, all, on, one, parse } from './flags';
import { ago, size } from './format';

const USAGE = `Usage: tug [--host unix://PATH] COMMAND

Commands:
  daemon [--socket PATH] [--data-root DIR] [--insecure-registry HOST]... [--storage-driver overlay2|vfs] [--cgroup-mount DIR]
         [-D|--debug]                                                      run the engine (-D: log every request)
  build [-t NAME[:TAG]]... [-f FILE] [--build-arg KEY[=VALUE]]... [--label KEY[=VALUE]]... [--target STAGE]
        [--no-cache] [--pull] [-q] [--iidfile FILE] [--platform P] [--network MODE] [--rm=false] [--force-rm]
        PATH | -                                                         build an image (the engine's POST /build)
  pull IMAGE
  run [-d] [-i] [-t] [--rm] [--name NAME] [-e KEY=VALUE] [-w DIR] [-u USER] [--entrypoint CMD]
      [--hostname NAME] [--network host|none] [-m BYTES] [--cpus N] [--cpu-shares N]
      [--pids-limit N] IMAGE [COMMAND [ARG...]]
  ps [-a] [-q]
  images [-q]
  top CONTAINER [ps OPTIONS]
  logs [-f] [-t] [--tail N] CONTAINER
  stop [-t SECONDS] CONTAINER...
  rm [-f] CONTAINER...
  rmi [-f] IMAGE...
  save [-o FILE] IMAGE...                                                 write images to a tar archive (stdout by default)
  load [-i FILE] [-q]                                                     load images from a tar archive (stdin by default)

The host defaults to $TUG_HOST, then $DOCKER_HOST, then unix://${DEFAULT_SOCKET}.`;

/** Docker's RAMInBytes: 512m, 1g, 1024k, binary units. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid size: '${text}'`);
  const power = 'bkmgtp'.indexOf((m[2] || 'b').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd()).join('\n') + '\n';
}

async function pull(client: EngineClient, image: string): Promise<void> {
  const ref = image.includes('@') || /:[^/]+$/.test(image) ? image : `${image}:latest`;
  const [name, tag] = ref.includes('@') ? [ref, ''] : [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const query = new URLSearchParams({ fromImage: name, ...(tag ? { tag } : {}) });
  for await (const message of client.lines<{ status?: string; id?: string; error?: string; progress?: string }>('POST', `/images/create?${query}`)) {
    if (message.error) throw new EngineError(500, message.error);
    if (message.status && !/^(Downloading|Extracting|Waiting)$/.test(message.status)) {
      process.stderr.write(`${message.id ? `${message.id}: ` : ''}${message.status}\n`);
    }
  }
}

async function run(client: EngineClient, args: string[]): Promise<number> {
  const { flags, rest } = parse(args, ['-d', '--detach', '-i', '--interactive', '--rm', '-t', '--tty']);
  const [image, ...command] = rest;
  if (!image) throw new UsageError('"tug run" requires at least 1 argument');
  const detach = on(flags, '-d', '--detach');
  const interactive = on(flags, '-i', '--interactive');
  const tty = on(flags, '-t', '--tty');
  // As docker says: a terminal's keys need a terminal to come from.
  if (tty && interactive && !detach && !process.stdin.isTTY) throw new UsageError('the input device is not a TTY');
  const entrypoint = one(flags, '--entrypoint');
  const memory = one(flags, '-m', '--memory');
  const cpus = one(flags, '--cpus');
  const body = {
    Image: image,
    Cmd: command.length ? command : null,
    ...(entrypoint !== undefined ? { Entrypoint: entrypoint === '' ? [] : [entrypoint] } : {}),
    Env: all(flags, '-e', '--env'),
    WorkingDir: one(flags, '-w', '--workdir') ?? '',
    User: one(flags, '-u', '--user') ?? '',
    Hostname: one(flags, '-h', '--hostname') ?? '',
    Tty: tty,
    AttachStdin: interactive && !detach,
    AttachStdout: !detach,
    AttachStderr: !detach,
    OpenStdin: interactive,
    StdinOnce: interactive && !detach,
    HostConfig: {
      AutoRemove: on(flags, '--rm'),
      ...(tty && process.stdout.isTTY ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {}),
      NetworkMode: one(flags, '--network', '--net') ?? 'bridge',
      ...(memory ? { Memory: parseBytes(memory) } : {}),
      ...(cpus ? { NanoCpus: Math.round(Number(cpus) * 1e9) } : {}),
      ...(one(flags, '--cpu-shares', '-c') ? { CpuShares: Number(one(flags, '--cpu-shares', '-c')) } : {}),
      ...(one(flags, '--pids-limit') ? { PidsLimit: Number(one(flags, '--pids-limit')) } : {}),
    },
  };
  const name = one(flags, '--name');
  const create = () => client.call<{ Id: string }>('POST', `/containers/create${name ? `?name=${encodeURIComponent(name)}` : ''}`, body);
  let created: { Id: string };
  try {
    created = await create();
  } catch (error) {
    if (!(error instanceof EngineError && error.status === 404 && /No such image/.test(error.message))) throw error;
    process.stderr.write(`Unable to find image '${image}' locally\n`);
    await pull(client, image);
    created = await create();
  }
  const id = created.Id;
  if (detach) {
    await client.call('POST', `/containers/${id}/start`);
    process.stdout.write(`${id}\n`);
    return 0;
  }
  const socket = await client.hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1${interactive ? '&stdin=1' : ''}`);
  const waited = client.call<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=${on(flags, '--rm') ? 'removed' : 'next-exit'}`);
  const output = new Promise<void>((resolve) => {
    const demux = new Demultiplexer();
    socket.on('data', (data: Buffer) => {
      // A terminal's output is one raw stream; otherwise stdout and stderr come framed.
      if (tty) process.stdout.write(data);
      else for (const { stream, data: chunk } of demux.push(data)) (stream === 2 ? process.stderr : process.stdout).write(chunk);
    });
    socket.on('end', resolve);
    socket.on('close', resolve);
    socket.on('error', () => resolve());
  });
  // With a terminal on both sides, keys go through as they are typed, and the size follows the window.
  const raw = tty && interactive && process.stdin.isTTY;
  if (raw) process.stdin.setRawMode(true);
  const resize = () => void client.call('POST', `/containers/${id}/resize?h=${process.stdout.rows}&w=${process.stdout.columns}`).catch(() => {});
  if (tty && process.stdout.isTTY) process.stdout.on('resize', resize);
  if (interactive) process.stdin.pipe(socket);
  try {
    await client.call('POST', `/containers/${id}/start`);
    await output;
  } finally {
    process.stdout.off('resize', resize);
    if (raw) process.stdin.setRawMode(false);
    if (interactive) process.stdin.unpipe(socket).pause();
  }
  return (await waited).StatusCode;
}

function storageDriver(value: string | undefined): StorageDriver | undefined {
  if (value === undefined || value === 'overlay2' || value === 'vfs') return value;
  throw new UsageError(`unknown storage driver "${value}": use overlay2 or vfs`);
}

async function main(argv: string[]): Promise<number> {
  const { flags: global, rest } = parse(argv, ['--help', '-h']);
  if (on(global, '--help', '-h') || rest.length === 0) {
    process.stdout.write(USAGE + '\n');
    return rest.length === 0 && !on(global, '--help', '-h') ? 1 : 0;
  }
  const [command, ...args] = rest;
  if (command === 'daemon') {
    const { flags } = parse(args, ['--debug', '-D']);
    const daemon = await startDaemon({
      debug: on(flags, '--debug', '-D'),
      socket: one(flags, '--socket') ?? socketPath(one(global, '--host', '-H') ?? DEFAULT_SOCKET),
      dataRoot: one(flags, '--data-root') ?? DEFAULT_DATA_ROOT,
      insecureRegistries: all(flags, '--insecure-registry'),
      storageDriver: storageDriver(one(flags, '--storage-driver', '-s')),
      cgroupMount: one(flags, '--cgroup-mount'),
    });
    process.stderr.write(`tugd is listening (data root ${daemon.engine.options.dataRoot})\n`);
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, resolve);
    });
    await daemon.close();
    // Containers outlive the engine (their monitors hold on to them): a later engine takes them
    // up again. Their monitors and exit watchers would keep this process alive until they end.
    process.exit(0);
  }
  const host = engineHost(one(global, '--host', '-H'));
  // The SSH code is a bundle of its own (dist/remote.js), loaded only for a remote engine: the
  // daemon and every other command start without reading it.
  const remote = host.startsWith('ssh://') ? await (require('./remote') as typeof import('./remote')).openRemoteEngine(host) : undefined;
  const client = new EngineClient(remote ?? socketPath(host));
  try {
    return await runCommand(client, command, args);
  } finally {
    remote?.close();
  }
}

async function runCommand(client: EngineClient, command: string, args: string[]): Promise<number> {
  switch (command) {
    case 'build':
      return build(client, args);
    case 'pull': {
      if (!args[0]) throw new UsageError('"tug pull" requires exactly 1 argument');
      await pull(client, args[0]);
      return 0;
    }
    case 'run':
      return run(client, args);
    case 'save':
      return save(client, args);
    case 'load':
      return load(client, args);
    case 'ps': {
      const { flags } = parse(args, ['-a', '--all', '-q', '--quiet']);
      type Summary = { Id: string; Image: string; Command: string; Created: number; Status: string; Names: string[] };
      const list = await client.call<Summary[]>('GET', `/containers/json${on(flags, '-a', '--all') ? '?all=1' : ''}`);
      if (on(flags, '-q', '--quiet')) process.stdout.write(list.map((c) => c.Id.slice(0, 12) + '\n').join(''));
      else {
        const rows = list.map((c) => [c.Id.slice(0, 12), c.Image, JSON.stringify(c.Command.length > 20 ? c.Command.slice(0, 19) + '…' : c.Command), ago(c.Created), c.Status, '', c.Names[0].slice(1)]);
        process.stdout.write(table([['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], ...rows]));
      }
      return 0;
    }
    case 'images': {
      const { flags } = parse(args, ['-q', '--quiet', '-a', '--all']);
      type Image = { Id: string; RepoTags: string[]; Created: number; Size: number };
      const list = await client.call<Image[]>('GET', '/images/json');
      if (on(flags, '-q', '--quiet')) process.stdout.write(list.map((i) => i.Id.slice(7, 19) + '\n').join(''));
      else {
        const rows = list.flatMap((i) =>
          (i.RepoTags.length ? i.RepoTags : ['<none>:<none>']).map((t) => {
            const colon = t.lastIndexOf(':');
            return [t.slice(0, colon), t.slice(colon + 1), i.Id.slice(7, 19), ago(i.Created), size(i.Size)];
          }),
        );
        process.stdout.write(table([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows]));
      }
      return 0;
    }
    case 'top': {
      const [container, ...psArgs] = args;
      if (!container) throw new UsageError('"tug top" requires at least 1 argument');
      const query = psArgs.length ? `?ps_args=${encodeURIComponent(psArgs.join(' '))}` : '';
      const result = await client.call<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${container}/top${query}`);
      process.stdout.write(table([result.Titles, ...result.Processes]));
      return 0;
    }
    case 'logs': {
      const { flags, rest: names } = parse(args, ['-f', '--follow', '-t', '--timestamps']);
      if (!names[0]) throw new UsageError('"tug logs" requires exactly 1 argument');
      const query = new URLSearchParams({
        stdout: '1',
        stderr: '1',
        follow: on(flags, '-f', '--follow') ? '1' : '0',
        timestamps: on(flags, '-t', '--timestamps') ? '1' : '0',
        tail: one(flags, '-n', '--tail') ?? 'all',
      });
      const res = await client.stream('GET', `/containers/${names[0]}/logs?${query}`);
      const demux = new Demultiplexer();
      const raw = !String(res.headers['content-type']).includes('multiplexed') && !String(res.headers['content-type']).includes('raw-stream');
      for await (const chunk of res) {
        if (raw) process.stdout.write(chunk as Buffer);
        else for (const { stream, data } of demux.push(chunk as Buffer)) (stream === 2 ? process.stderr : process.stdout).write(data);
      }
      return 0;
    }
    case 'stop':
    case 'rm':
    case 'rmi': {
      const { flags, rest: names } = parse(args, ['-f', '--force'], false);
      if (names.length === 0) throw new UsageError(`"tug ${command}" requires at least 1 argument`);
      let failed = 0;
      for (const name of names) {
        try {
          if (command === 'stop') await client.call('POST', `/containers/${name}/stop${one(flags, '-t', '--time') ? `?t=${one(flags, '-t', '--time')}` : ''}`);
          else if (command === 'rm') await client.call('DELETE', `/containers/${name}${on(flags, '-f', '--force') ? '?force=1' : ''}`);
          else {
            const result = await client.call<({ Untagged?: string; Deleted?: string })[]>('DELETE', `/images/${name}${on(flags, '-f', '--force') ? '?force=1' : ''}`);
            for (const r of result) process.stdout.write(r.Untagged ? `Untagged: ${r.Untagged}\n` : `Deleted: ${r.Deleted}\n`);
            continue;
          }
          process.stdout.write(`${name}\n`);
        } catch (error) {
          process.stderr.write(`Error response from daemon: ${(error as Error).message}\n`);
          failed++;
        }
      }
      return failed ? 1 : 0;
    }
    default:
      throw new UsageError(`unknown command "${command}" for "tug"`);
  }
}

// A layer worker thread and a pull's process run this bundle too, for their own work only.
if (!isLayerWorker && !isPullProcess) main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`tug: ${error.message}\nSee 'tug --help'.\n`);
      process.exitCode = 125;
    } else if (error instanceof EngineError) {
      process.stderr.write(`Error response from daemon: ${error.message}\n`);
      process.exitCode = 125;
    } else {
      process.stderr.write(`tug: ${(error as Error).message}\n`);
      process.exitCode = 125;
    }
  },
);
