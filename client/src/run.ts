// The run half of Build and Run: a container created, attached and started on the engine in
// use, its output handed on as it comes (for a terminal), keys sent to it, its terminal sized.
// Detaching leaves it running, as closing `docker attach` does.

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { Demultiplexer } from '../../runtime-agent/src/api/stream';
import type { EngineClient } from '../../runtime-agent/src/cli/client';

export interface RunOptions {
  image: string;
  name?: string;
  /** The image's command when absent. */
  command?: string[];
  env?: string[];
  /** A terminal (`-t`) and input (`-i`), as `docker run -it`. */
  tty: boolean;
  interactive: boolean;
  size?: { rows: number; cols: number };
  autoRemove?: boolean;
  /** As `docker run -p`: `[IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]`. */
  ports?: string[];
  /** As `docker run -v`: `SOURCE:TARGET[:OPTIONS]`. */
  volumes?: string[];
}

/** `-p` values as the create body's ExposedPorts and HostConfig.PortBindings. */
export function portBindings(specs: readonly string[]): {
  ExposedPorts: Record<string, object>;
  PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const spec of specs) {
    const [address, protocol = 'tcp'] = spec.split('/');
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    const match = /^(?:(\[[^\]]+\]|[^:]*):)?(?:([^:]*):)?(\d+)$/.exec(address);
    if (!match || !/^(tcp|udp|sctp)$/.test(protocol)) throw new Error(`invalid port "${spec}": expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`);
    let [, ip = '', hostPort = ''] = match;
    // Two parts are HOSTPORT:CONTAINERPORT, not IP:CONTAINERPORT.
    if (ip && match[2] === undefined) [ip, hostPort] = ['', ip];
    const key = `${match[3]}/${protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: ip.replace(/^\[|\]$/g, ''), HostPort: hostPort });
  }
  return { ExposedPorts: exposed, PortBindings: bindings };
}

/** Whether this machine's port is free to listen on (TCP, or UDP). */
function portFree(port: number, protocol: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, () => socket.close(() => resolve(true)));
      return;
    }
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * `-p` values that publish the image's EXPOSEd ports (those `ports` does not publish already):
 * on the same port of this machine where the engine is here and the port free, as a person
 * expects localhost:3000 for EXPOSE 3000; else on a port the engine chooses.
 */
export async function exposedPorts(client: EngineClient, image: string, ports: readonly string[], local: boolean): Promise<string[]> {
  const { Config } = await client.call<{ Config?: { ExposedPorts?: Record<string, object> | null } }>('GET', `/images/${encodeURIComponent(image)}/json`);
  const published = new Set(Object.keys(portBindings(ports).ExposedPorts));
  const specs: string[] = [];
  for (const key of Object.keys(Config?.ExposedPorts ?? {})) {
    const [port, protocol = 'tcp'] = key.split('/');
    if (published.has(`${port}/${protocol}`) || protocol === 'sctp') continue;
    specs.push(local && (await portFree(Number(port), protocol)) ? `${port}:${port}/${protocol}` : `${port}/${protocol}`);
  }
  return specs;
}

/** The host to open a published port at: localhost for a port published on every address. */
export function portHost(ip: string | undefined): string {
  return !ip || ip === '0.0.0.0' || ip === '::' ? 'localhost' : ip;
}

/**
 * A `-v` value as an entry of HostConfig.Mounts (which every Docker-API engine takes, tugd
 * included): a path is a bind mount, a name a named volume.
 */
export function volumeMount(spec: string): { Type: 'bind' | 'volume'; Source: string; Target: string; ReadOnly: boolean } {
  const [source, target, mode = ''] = spec.split(':');
  if (!source || !target || !target.startsWith('/') || spec.split(':').length > 3) throw new Error(`invalid volume "${spec}": expected SOURCE:TARGET[:ro], TARGET an absolute path`);
  return { Type: source.startsWith('/') ? 'bind' : 'volume', Source: source, Target: target, ReadOnly: mode.split(',').includes('ro') };
}

export class AttachedContainer {
  /** The container's exit code once it ends; never settles while detached. */
  readonly exited: Promise<number>;

  private constructor(
    private readonly client: EngineClient,
    readonly id: string,
    private readonly socket: Duplex,
    exited: Promise<number>,
  ) {
    this.exited = exited;
  }

  /** Creates, attaches and starts; `output` hears stdout and stderr (one stream with a terminal). */
  static async start(client: EngineClient, options: RunOptions, output: (data: Buffer, stream: 'stdout' | 'stderr') => void): Promise<AttachedContainer> {
    const body = {
      Image: options.image,
      Cmd: options.command?.length ? options.command : null,
      Env: options.env ?? [],
      Tty: options.tty,
      OpenStdin: options.interactive,
      StdinOnce: options.interactive,
      AttachStdin: options.interactive,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        AutoRemove: options.autoRemove === true,
        ...(options.size ? { ConsoleSize: [options.size.rows, options.size.cols] } : {}),
        ...(options.volumes?.length ? { Mounts: options.volumes.map(volumeMount) } : {}),
      },
    };
    if (options.ports?.length) {
      const { ExposedPorts, PortBindings } = portBindings(options.ports);
      Object.assign(body, { ExposedPorts });
      Object.assign(body.HostConfig, { PortBindings });
    }
    const { Id: id } = await client.call<{ Id: string }>('POST', `/containers/create${options.name ? `?name=${encodeURIComponent(options.name)}` : ''}`, body);
    const socket = await client.hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1${options.interactive ? '&stdin=1' : ''}`);
    const demux = new Demultiplexer();
    socket.on('data', (data: Buffer) => {
      if (options.tty) output(data, 'stdout');
      else for (const frame of demux.push(data)) output(frame.data, frame.stream === 2 ? 'stderr' : 'stdout');
    });
    socket.on('error', () => {});
    const ended = new Promise<void>((resolve) => socket.once('close', resolve));
    const waited = client.call<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=${options.autoRemove ? 'removed' : 'next-exit'}`);
    // The code once the output has all arrived, so that nothing of it comes after the exit.
    const exited = waited.then(async ({ StatusCode }) => {
      await ended;
      return StatusCode;
    });
    await client.call('POST', `/containers/${id}/start`);
    return new AttachedContainer(client, id, socket, exited);
  }

  /** Keys or text for the container's stdin. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  resize(rows: number, cols: number): Promise<void> {
    return this.client.call('POST', `/containers/${this.id}/resize?h=${rows}&w=${cols}`);
  }

  /** Stops listening; the container runs on. */
  detach(): void {
    this.socket.destroy();
  }
}
