// `docker exec`'s endpoints: create, start (attached on the connection it takes over, or
// detached), resize and inspect. The process's output comes from its log as attach's does.

import type { Engine } from '../engine';
import { readLog } from '../runtime/logs';
import { resizeTerminal } from '../runtime/shim';
import { ExecFailed, type ExecConfig } from '../runtime/execs';
import { detachKeys, encode, forwardInput, streamType, terminalSize } from './containers';
import { badRequest } from './errors';
import type { ApiServer } from './server';
import { frame } from './stream';

export function execRoutes(api: ApiServer, engine: Engine): void {
  const { execs } = engine;

  api.route('POST', '/containers/{id}/exec', async (call) => {
    const config = await call.json<ExecConfig>();
    detachKeys(config.DetachKeys);
    call.send(201, { Id: execs.create(call.params.id, config) });
  });

  api.route('POST', '/exec/{id}/start', async (call) => {
    const body = await call.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>();
    const exec = execs.get(call.params.id);
    if (body.ConsoleSize !== undefined && body.ConsoleSize !== null && (!Array.isArray(body.ConsoleSize) || body.ConsoleSize.length !== 2)) {
      throw badRequest('ConsoleSize must be [height, width]');
    }
    execs.startable(exec.id); // refused as HTTP errors while the connection is still HTTP
    const keys = detachKeys(exec.config.DetachKeys);
    if (body.Detach) {
      await execs.start(exec.id, body.ConsoleSize);
      return call.send(200);
    }
    const tty = !!exec.config.Tty;
    // Taken over first, as Docker does: a process that cannot start is told on the stream, and
    // the client reads its exit code (126 or 127) from inspect.
    const socket = call.hijack(streamType(call, tty));
    let started;
    try {
      started = await execs.start(exec.id, body.ConsoleSize);
    } catch (error) {
      if (!(error instanceof ExecFailed)) throw error;
      const text = Buffer.from(`${error.message}\r\n`);
      socket.end(tty ? text : frame(1, text));
      return;
    }
    const files = execs.files(started);
    const detached = new AbortController();
    if (exec.config.AttachStdin) void forwardInput(socket, files.stdin, tty ? { keys, detached: () => detached.abort() } : undefined);
    let ended = false;
    const finished = started.ended.then(() => (ended = true));
    for await (const entry of readLog(files.log, { follow: true, done: () => ended, signal: AbortSignal.any([call.closed, detached.signal]), finished })) {
      if (entry.stream === 'stdout' ? exec.config.AttachStdout !== false : exec.config.AttachStderr !== false) socket.write(encode(entry, tty, false));
    }
    socket.end();
  });

  api.route('POST', '/exec/{id}/resize', async (call) => {
    const exec = execs.get(call.params.id);
    const [rows, cols] = terminalSize(call);
    if (exec.config.Tty && exec.running) await resizeTerminal(execs.files(exec).resize, rows, cols, () => exec.running);
    call.send(200);
  });

  api.route('GET', '/exec/{id}/json', async (call) => {
    call.send(200, execs.inspect(call.params.id));
  });
}
