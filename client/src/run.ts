// The run half of Build and Run: a container created, attached and started on the engine in
// use, its output handed on as it comes (for a terminal), keys sent to it, its terminal sized.
// Detaching leaves it running, as closing `docker attach` does.

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
      HostConfig: { AutoRemove: options.autoRemove === true, ...(options.size ? { ConsoleSize: [options.size.rows, options.size.cols] } : {}) },
    };
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
