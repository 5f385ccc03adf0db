// The extension's entry point: the Dockerfile language server, and — over the Docker Engine API
// of the engine in use — Build and Run, the Engines, Containers and Images views, the status bar
// and the Tug output channel. activate() returns the API that tests (and other extensions) use.

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { engineHost } from '../../runtime-agent/src/cli/client';
import { BuildAndRun, type BuildAndRunOptions } from './build-and-run';
import { InspectDocuments, INSPECT_SCHEME, registerContainerCommands } from './container-commands';
import { ContainersView } from './containers-view';
import { EnginesView, listedEngines, type EngineElement } from './engines-view';
import { registerImageCommands } from './image-commands';
import { ImagesView } from './images-view';
import { startLocalEngine } from './local-engine';
import { Log } from './log';
import { engineAddress, isRemote, remoteLink } from './remote-engines';
import { EngineSession } from './session';
import { StatusBar } from './status-bar';
import { Terminals } from './terminal';

export interface TugApi {
  /** Resolves once the language server runs (or failed to start, which the person is told). */
  languageReady(): Promise<void>;
  session(): EngineSession;
  readonly containers: ContainersView;
  readonly images: ImagesView;
  readonly engines: EnginesView;
  readonly builds: BuildAndRun;
  /** What one of Tug's terminals showed, escape sequences left out. */
  terminalText(terminal: vscode.Terminal): string | undefined;
  /** The pid of a local engine this extension started itself. */
  startedEnginePid(): number | undefined;
  /** What the status bar item says. */
  statusText(): string;
}

let client: LanguageClient | undefined;
let session: EngineSession | undefined;

/** The Dockerfile a command acts on: the one clicked, the active editor's, or one picked from the workspace. */
async function dockerfileOf(target: unknown): Promise<vscode.Uri | undefined> {
  if (target instanceof vscode.Uri) return target;
  const active = vscode.window.activeTextEditor?.document;
  if (active?.languageId === 'dockerfile' && active.uri.scheme === 'file') return active.uri;
  const found = await vscode.workspace.findFiles('{**/Dockerfile,**/Dockerfile.*,**/*.dockerfile,**/Containerfile}', '**/node_modules/**', 50);
  if (found.length === 1) return found[0];
  const pick = await vscode.window.showQuickPick(
    found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { title: 'Which Dockerfile?', placeHolder: found.length ? undefined : 'No Dockerfile in this workspace' },
  );
  return pick?.uri;
}

export function activate(context: vscode.ExtensionContext): TugApi {
  const log = new Log();
  const terminals = new Terminals();
  const config = () => vscode.workspace.getConfiguration('tug');
  const hostSetting = () => config().get<string>('engine.host') || undefined;
  const newSession = () => {
    // The setting, else the engine the tug CLI would use (TUG_HOST, DOCKER_HOST, the local tugd).
    const host = engineHost(hostSetting());
    try {
      return isRemote(host) ? remoteSession(host) : new EngineSession(host);
    } catch (error) {
      void vscode.window.showErrorMessage(`Tug: the engine "${host}" cannot be used: ${(error as Error).message}. Set tug.engine.host to a unix:// socket or an ssh:// host.`);
      return new EngineSession(engineHost(undefined, {}));
    }
  };
  // A remote engine's link is logged as it goes; a refusal (which is not retried) is told.
  const remoteSession = (host: string) => {
    const link = remoteLink(host, context.extensionPath);
    const next = new EngineSession(host, link);
    link.onState((state) => {
      if (state.status === 'connected') log.info(`${host}: connected${state.engine.uploaded ? ', engine installed' : ''}${state.engine.started ? ', engine started' : ''}`);
      if (state.status !== 'disconnected') return;
      log.error(`${host}: ${state.error.message}${state.retryAt ? `; trying again at ${new Date(state.retryAt).toLocaleTimeString()}` : ''}`);
      if (state.retryAt === undefined && session === next) {
        void vscode.window.showErrorMessage(`Tug: cannot use the engine at ${host}: ${state.error.message}`, 'Reconnect', 'Show the log').then((choice) => {
          if (choice === 'Reconnect') void vscode.commands.executeCommand('tug.engines.reconnect');
          if (choice === 'Show the log') log.channel.show();
        });
      }
    });
    return next;
  };
  /** Makes `host` the engine in use, where the setting in force is written (the workspace's, else the user's). */
  const useEngine = (host: string | undefined) => {
    const target = config().inspect('engine.host')?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    return config().update('engine.host', host, target);
  };
  const hostOf = (target: EngineElement | string | undefined) => (typeof target === 'string' ? target : target?.host);
  session = newSession();
  const current = () => session!;
  log.info(`engine: ${session.host}`);

  const containers = new ContainersView(session);
  const images = new ImagesView(session);
  const engines = new EnginesView(session);
  const status = new StatusBar(session);
  const builds = new BuildAndRun(context.workspaceState, current, terminals, log);
  let started: { pid?: number; disposable: vscode.Disposable } | undefined;

  const use = async (next: EngineSession) => {
    const previous = session;
    session = next;
    log.info(`engine: ${next.host}`);
    for (const view of [containers, images, engines, status]) view.use(next);
    await previous?.dispose();
    await next.start();
  };

  context.subscriptions.push(
    log,
    terminals,
    containers,
    images,
    engines,
    status,
    builds,
    vscode.workspace.registerTextDocumentContentProvider(INSPECT_SCHEME, new InspectDocuments(current)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('tug.engine.host')) void use(newSession());
    }),
    vscode.commands.registerCommand('tug.buildAndRun', async (target?: unknown, options?: BuildAndRunOptions) => {
      const uri = await dockerfileOf(target);
      return uri && builds.buildAndRun(uri, options);
    }),
    vscode.commands.registerCommand('tug.build', async (target?: unknown, options?: BuildAndRunOptions) => {
      const uri = await dockerfileOf(target);
      if (!uri) return undefined;
      if (!options?.tag) {
        const tag = await vscode.window.showInputBox({ title: 'Build', prompt: 'Tag the image as repository:tag', value: builds.options(uri).tag });
        if (!tag) return undefined;
        options = { ...options, tag };
      }
      return builds.buildOnly(uri, options);
    }),
    vscode.commands.registerCommand('tug.startLocalEngine', async () => {
      try {
        started?.disposable.dispose();
        started = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Starting the local engine' }, () =>
          startLocalEngine(context.extensionPath, current().host, log, context.logUri.fsPath),
        );
        await use(newSession());
      } catch (error) {
        log.error(`start the local engine: ${(error as Error).message}`);
        void vscode.window.showErrorMessage(`Tug: the local engine did not start: ${(error as Error).message}`, 'Show the log').then((c) => c && log.channel.show());
      }
    }),
    vscode.commands.registerCommand('tug.refresh', () => use(newSession())),
    vscode.commands.registerCommand('tug.engines.add', async (given?: string) => {
      const usage = 'ssh://user@host[:port], a Host of ~/.ssh/config, or unix:///path/to/socket';
      const text =
        given ??
        (await vscode.window.showInputBox({
          title: 'Tug: Add Engine',
          prompt: `The engine's address: ${usage}`,
          placeHolder: 'ssh://me@build-server',
          ignoreFocusOut: true,
          validateInput: (v) => (!v.trim() || engineAddress(v) ? undefined : `Not an engine address: give ${usage}`),
        }));
      const host = text && engineAddress(text);
      if (!host) {
        if (text) void vscode.window.showErrorMessage(`Tug: "${text}" is not an engine address: give ${usage}`);
        return undefined;
      }
      const listed = listedEngines();
      if (!listed.includes(host)) await config().update('engines', [...listed, host], vscode.ConfigurationTarget.Global);
      await useEngine(host);
      return host;
    }),
    vscode.commands.registerCommand('tug.engines.use', (target?: EngineElement | string) => {
      const host = hostOf(target);
      return host && useEngine(host);
    }),
    vscode.commands.registerCommand('tug.engines.remove', async (target?: EngineElement | string) => {
      const host = hostOf(target);
      if (!host) return;
      await config().update('engines', listedEngines().filter((h) => h !== host), vscode.ConfigurationTarget.Global);
      if (current().host === host) await useEngine(undefined);
    }),
    vscode.commands.registerCommand('tug.engines.reconnect', async () => {
      const link = current().link;
      if (!link) return use(newSession());
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Connecting to ${current().host}` }, () => link.connect());
      } catch {
        // The link's state says why: the views show it and the log has it.
      }
    }),
    vscode.commands.registerCommand('tug.showLog', () => log.channel.show()),
    { dispose: () => started?.disposable.dispose() },
    ...registerContainerCommands(current, terminals, log),
    ...registerImageCommands(current, builds, log),
  );

  // Activation returns at once: the language client (a bundle of its own, most of the
  // extension's code) loads just after, and the server and the views' lists arrive when ready.
  const languageReady = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    const { startLanguageClient } = require('./language-client') as typeof import('./language-client');
    client = startLanguageClient(context);
    context.subscriptions.push(client);
    return client.start();
  }).catch((error: Error) => {
    log.error(`the Dockerfile language server did not start: ${error.message}`);
    void vscode.window.showErrorMessage(`Tug: the Dockerfile language server did not start: ${error.message}`, 'Show the log').then((c) => c && log.channel.show());
  });
  void session.start();

  return {
    languageReady: () => languageReady,
    session: current,
    containers,
    images,
    engines,
    builds,
    terminalText: (t) => terminals.text(t),
    startedEnginePid: () => started?.pid,
    statusText: () => status.item.text,
  };
}

export async function deactivate(): Promise<void> {
  await Promise.all([client?.stop(), session?.dispose()]);
  client = undefined;
  session = undefined;
}
