// What the Containers view offers on a container: logs (followed, in a terminal), a shell
// (`exec -it`, bash where there is one), stop, start, restart, remove, inspect (a read-only JSON
// document), copy ID, and open a published port in the browser.

import { StringDecoder } from 'node:string_decoder';
import * as vscode from 'vscode';
import { Demultiplexer } from '../../runtime-agent/src/api/stream';
import { containerName, type ContainerElement } from './containers-view';
import type { Log } from './log';
import { portHost } from './run';
import type { EngineSession } from './session';
import { style, type Terminals } from './terminal';

/** Documents of `tug-inspect:` URIs: what the engine answers for a container or an image, as JSON. */
export const INSPECT_SCHEME = 'tug-inspect';

export class InspectDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly session: () => EngineSession) {}

  /** `tug-inspect:/containers/<id>.json` or `tug-inspect:/images/<name>.json`. */
  static uri(kind: 'containers' | 'images', id: string, label: string): vscode.Uri {
    return vscode.Uri.from({ scheme: INSPECT_SCHEME, path: `/${kind}/${label}.json`, query: id });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const kind = uri.path.split('/')[1];
    const body = await this.session().client.call<unknown>('GET', `/${kind}/${encodeURIComponent(uri.query)}/json`);
    return `${JSON.stringify(body, null, 2)}\n`;
  }
}

type Target = ContainerElement | string | undefined;

export function registerContainerCommands(session: () => EngineSession, terminals: Terminals, log: Log): vscode.Disposable[] {
  /** The container a command acts on: the view's element, an ID, or the selection. */
  const idOf = (target: Target): string | undefined => (typeof target === 'string' ? target : target?.kind === 'container' ? target.id : undefined);
  const nameOf = (id: string) => {
    const row = session().containers.get(id);
    return row ? containerName(row) : id.slice(0, 12);
  };
  const act = (verb: string, run: (id: string) => Promise<unknown>) => async (target: Target) => {
    const id = idOf(target);
    if (!id) return;
    try {
      await run(id);
      log.info(`${verb} ${nameOf(id)}`);
    } catch (error) {
      const message = (error as Error).message;
      log.error(`${verb} ${nameOf(id)}: ${message}`);
      void vscode.window.showErrorMessage(`Tug: could not ${verb} ${nameOf(id)}: ${message}`);
    }
  };
  const post = (path: string) => session().client.call('POST', path);

  return [
    vscode.commands.registerCommand('tug.container.stop', act('stop', (id) => post(`/containers/${id}/stop`))),
    vscode.commands.registerCommand('tug.container.start', act('start', (id) => post(`/containers/${id}/start`))),
    vscode.commands.registerCommand('tug.container.restart', act('restart', (id) => post(`/containers/${id}/restart`))),
    vscode.commands.registerCommand(
      'tug.container.remove',
      act('remove', async (id) => {
        if (session().containers.get(id)?.State === 'running') {
          const yes = await vscode.window.showWarningMessage(`Remove the running container ${nameOf(id)}? It is stopped first.`, { modal: true }, 'Remove');
          if (!yes) return;
        }
        await session().client.call('DELETE', `/containers/${id}?force=1`);
      }),
    ),
    vscode.commands.registerCommand(
      'tug.container.inspect',
      act('inspect', async (id) => {
        // The .json name gives it the JSON language; a content provider's document is read-only.
        await vscode.window.showTextDocument(InspectDocuments.uri('containers', id, nameOf(id)), { preview: true });
      }),
    ),
    vscode.commands.registerCommand(
      'tug.container.copyId',
      act('copy the ID of', async (id) => {
        await vscode.env.clipboard.writeText(id);
        void vscode.window.setStatusBarMessage(`Copied ${id.slice(0, 12)}`, 3000);
      }),
    ),
    vscode.commands.registerCommand(
      'tug.container.openPort',
      act('open a port of', async (id) => {
        const ports = (session().containers.get(id)?.Ports ?? []).filter((p) => p.PublicPort && p.Type === 'tcp');
        if (!ports.length) throw new Error('it publishes no TCP port');
        const pick = ports.length === 1 ? ports[0] : (await vscode.window.showQuickPick(ports.map((p) => ({ label: `${p.PublicPort} → ${p.PrivatePort}`, port: p })), { title: 'Open which port?' }))?.port;
        if (!pick) return;
        await vscode.env.openExternal(vscode.Uri.parse(`http://${portHost(pick.IP)}:${pick.PublicPort}`));
      }),
    ),
    vscode.commands.registerCommand(
      'tug.container.logs',
      act('follow the logs of', async (id) => {
        const client = session().client;
        const { Config } = await client.call<{ Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
        const { output } = terminals.open(`Logs: ${nameOf(id)}`);
        const res = await client.stream('GET', `/containers/${id}/logs?follow=1&stdout=1&stderr=1&tail=all`);
        output.onClosed = () => res.destroy();
        const demux = new Demultiplexer();
        const decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')];
        res.on('data', (chunk: Buffer) => {
          if (Config.Tty) return output.raw(decoders[0].write(chunk));
          for (const frame of demux.push(chunk)) {
            const text = decoders[frame.stream === 2 ? 1 : 0].write(frame.data);
            output.write(frame.stream === 2 ? style.red(text) : text);
          }
        });
        res.on('end', () => output.write(style.dim('\n(the container stopped: no more logs)\n')));
        res.on('error', () => {});
      }),
    ),
    vscode.commands.registerCommand(
      'tug.container.shell',
      act('open a shell in', async (id) => {
        const client = session().client;
        const { output } = terminals.open(`Shell: ${nameOf(id)}`);
        const size = await output.size;
        const exec = await client.call<{ Id: string }>('POST', `/containers/${id}/exec`, {
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: true,
          ...(size ? { ConsoleSize: [size.rows, size.columns] } : {}),
          Cmd: ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'],
        });
        const socket = await client.hijack(`/exec/${exec.Id}/start`, { Detach: false, Tty: true });
        const decoder = new StringDecoder('utf8');
        socket.on('data', (data: Buffer) => output.raw(decoder.write(data)));
        socket.on('error', () => {});
        socket.on('close', () => output.exit());
        output.onInput = (keys) => socket.write(keys);
        output.onResize = (s) => void client.call('POST', `/exec/${exec.Id}/resize?h=${s.rows}&w=${s.columns}`).catch(() => {});
        output.onClosed = () => socket.destroy();
      }),
    ),
  ];
}
