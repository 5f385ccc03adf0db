// Build and Run, Build, and Run Image: the commands, their options, and the `tug` task type.
// Options come, weakest first, from Tug's defaults, what this workspace used last, the
// `tug.buildAndRun` settings, and a `tug` task in tasks.json naming the Dockerfile (which fixes
// them). The build streams into a terminal with a cancellable progress notification; a failure
// puts a diagnostic on the failing line; the container then runs attached in the same terminal.

import { basename, dirname, relative } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import * as vscode from 'vscode';
import { parse, UsageError } from '../../runtime-agent/src/cli/flags';
import { buildImage, type BuildResult } from './build';
import { defaultRepository } from './repository';
import type { Log } from './log';
import { AttachedContainer, exposedPorts, portBindings, portHost, volumeMount } from './run';
import type { EngineSession } from './session';
import { OutputTerminal, style, type Terminals } from './terminal';

/** What the person can fix for a Dockerfile: the `tug.buildAndRun` settings and a `tug` task's fields. */
export interface BuildAndRunOptions {
  tag?: string;
  /** The build context, relative to the workspace folder (the Dockerfile's folder by default). */
  context?: string;
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  ports?: string[];
  env?: string[];
  volumes?: string[];
  /** The container's command instead of the image's (a string is split like a shell's words). */
  command?: string[] | string;
  /** A terminal with keys for the container (`-it`); true by default. */
  interactive?: boolean;
  /** Remove the container when it exits (`--rm`). */
  autoRemove?: boolean;
  /** Publish the image's EXPOSEd ports too (on the same host ports where free); true by default. */
  publishExposed?: boolean;
}

/** The `tug` task's definition in tasks.json. */
export interface TugTaskDefinition extends vscode.TaskDefinition, BuildAndRunOptions {
  type: 'tug';
  /** The Dockerfile, relative to the workspace folder. */
  dockerfile: string;
  /** Run the image after building it (true by default). */
  run?: boolean;
}

export interface BuildAndRunOutcome {
  imageId?: string;
  containerId?: string;
  terminal: vscode.Terminal;
  /** The container's exit code once it ends (never, while it runs detached). */
  exited?: Promise<number>;
  error?: string;
}

const RUN_OPTIONS = 'tug.runOptions';
const TAGS = 'tug.tags';

/** Words as a shell splits them: quotes group, a backslash escapes. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) word = (word ?? '') + text[++i];
    else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + c;
  }
  if (quote) throw new Error(`unterminated ${quote} in "${text}"`);
  if (word !== null) words.push(word);
  return words;
}

/** `docker run`'s options as one line (`-p 8080:80 -e A=1 -v /src:/dst --rm -- cmd args`), as the Run Image prompt takes them. */
export function parseRunLine(line: string): BuildAndRunOptions {
  const { flags, rest } = parse(shellWords(line), ['-i', '-t', '--interactive', '--tty', '--rm', '-d', '--detach'], true, {
    '--publish': '-p',
    '--env': '-e',
    '--volume': '-v',
  });
  const known = new Set(['-i', '-t', '--interactive', '--tty', '--rm', '-d', '--detach', '-p', '-e', '-v']);
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown option ${name}: Run Image takes -p, -e, -v, --rm and -it, then the command`);
  const options: BuildAndRunOptions = {
    ports: flags.get('-p') ?? [],
    env: flags.get('-e') ?? [],
    volumes: flags.get('-v') ?? [],
    autoRemove: flags.has('--rm'),
    command: rest,
  };
  portBindings(options.ports!); // refused here, before anything runs
  options.volumes!.forEach(volumeMount);
  return options;
}

/** The options as that line again (for the prompt's value). */
export function runLine(options: BuildAndRunOptions): string {
  const quote = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
  const parts = [
    ...(options.ports ?? []).flatMap((p) => ['-p', p]),
    ...(options.env ?? []).flatMap((e) => ['-e', e]),
    ...(options.volumes ?? []).flatMap((v) => ['-v', v]),
    ...(options.autoRemove ? ['--rm'] : []),
  ].map(quote);
  const command = typeof options.command === 'string' ? shellWords(options.command) : (options.command ?? []);
  return [...parts, ...command.map(quote)].join(' ');
}

export class BuildAndRun implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('tug-build');
  private readonly disposables: vscode.Disposable[] = [this.diagnostics];

  constructor(
    private readonly state: vscode.Memento,
    private readonly session: () => EngineSession,
    private readonly terminals: Terminals,
    private readonly log: Log,
  ) {
    this.disposables.push(
      vscode.tasks.registerTaskProvider('tug', {
        provideTasks: () => [],
        resolveTask: (task) => this.task(task),
      }),
    );
  }

  /** The options for a Dockerfile, from every source, the strongest last. */
  options(dockerfile: vscode.Uri, given: BuildAndRunOptions = {}): BuildAndRunOptions & { tag: string } {
    const folder = vscode.workspace.getWorkspaceFolder(dockerfile);
    const settings = vscode.workspace.getConfiguration('tug', dockerfile).get<BuildAndRunOptions>('buildAndRun') ?? {};
    const task = this.taskFor(dockerfile);
    const remembered = this.state.get<BuildAndRunOptions>(RUN_OPTIONS) ?? {};
    const tag = this.state.get<Record<string, string>>(TAGS)?.[dockerfile.fsPath];
    const name = defaultRepository(basename(folder?.uri.fsPath ?? dirname(dockerfile.fsPath)));
    const merged: BuildAndRunOptions = { interactive: true, ...clean(remembered), ...(tag ? { tag } : {}), ...clean(settings), ...clean(task ?? {}), ...clean(given) };
    return { ...merged, tag: merged.tag || `${name}:latest` };
  }

  /** Builds, then runs the image attached in the build's terminal. */
  async buildAndRun(dockerfile: vscode.Uri, given: BuildAndRunOptions = {}): Promise<BuildAndRunOutcome> {
    const options = this.options(dockerfile, given);
    const { terminal, output } = this.terminals.open(`Tug: ${options.tag}`);
    const built = await this.build(dockerfile, options, output);
    if (!built.ok) return { terminal, error: built.message };
    await this.remember(dockerfile, options);
    return { terminal, imageId: built.imageId, ...(await this.runIn(output, options.tag, options)) };
  }

  /** Builds into a terminal of its own. */
  async buildOnly(dockerfile: vscode.Uri, given: BuildAndRunOptions = {}): Promise<BuildAndRunOutcome> {
    const options = this.options(dockerfile, given);
    const { terminal, output } = this.terminals.open(`Tug build: ${options.tag}`);
    const built = await this.build(dockerfile, options, output);
    if (!built.ok) return { terminal, error: built.message };
    await this.remember(dockerfile, options);
    return { terminal, imageId: built.imageId };
  }

  /** Runs an image attached in a new terminal, with these options (the workspace's last ones when absent). */
  async runImage(image: string, given: BuildAndRunOptions = {}): Promise<BuildAndRunOutcome> {
    const options = { interactive: true, ...clean(this.state.get<BuildAndRunOptions>(RUN_OPTIONS) ?? {}), ...clean(given) };
    const { terminal, output } = this.terminals.open(`Tug: ${image}`);
    await this.state.update(RUN_OPTIONS, runOptionsOf(options));
    return { terminal, ...(await this.runIn(output, image, options)) };
  }

  /** The remembered options, as the Run Image prompt shows them. */
  rememberedRunLine(): string {
    return runLine(this.state.get<BuildAndRunOptions>(RUN_OPTIONS) ?? {});
  }

  private async remember(dockerfile: vscode.Uri, options: BuildAndRunOptions & { tag: string }): Promise<void> {
    await this.state.update(TAGS, { ...this.state.get<Record<string, string>>(TAGS), [dockerfile.fsPath]: options.tag });
    await this.state.update(RUN_OPTIONS, runOptionsOf(options));
  }

  private async build(dockerfile: vscode.Uri, options: BuildAndRunOptions & { tag: string }, output: OutputTerminal): Promise<BuildResult> {
    const folder = vscode.workspace.getWorkspaceFolder(dockerfile);
    const context = options.context && folder ? vscode.Uri.joinPath(folder.uri, options.context).fsPath : dirname(dockerfile.fsPath);
    const shown = folder ? relative(folder.uri.fsPath, dockerfile.fsPath) : dockerfile.fsPath;
    output.write(style.bold(`Building ${options.tag} from ${shown}`) + style.dim(` on ${this.session().host}`) + '\n');
    this.log.info(`build ${options.tag} from ${dockerfile.fsPath} (context ${context})`);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Building ${options.tag}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        try {
          return await buildImage(
            this.session().client,
            { dockerfile: dockerfile.fsPath, context, tags: [options.tag], buildArgs: options.buildArgs, noCache: options.noCache },
            (text) => {
              const step = /^Step (\d+\/\d+) : (.*)/.exec(text);
              if (step) progress.report({ message: `step ${step[1]}: ${step[2].slice(0, 60)}` });
              output.write(step ? style.bold(text) : text);
            },
            abort.signal,
          );
        } catch (error) {
          return { ok: false as const, message: (error as Error).message };
        }
      },
    );
    if (result.ok) {
      this.diagnostics.delete(dockerfile);
      output.write(style.green(`Built ${options.tag} (${result.imageId.replace(/^sha256:/, '').slice(0, 12)})`) + '\n');
      return result;
    }
    output.write(style.red(`The build failed: ${result.message}`) + '\n');
    this.log.error(`build ${options.tag}: ${result.message}`);
    if (result.line) {
      const line = Math.max(0, result.line - 1);
      const diagnostic = new vscode.Diagnostic(new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER), `The build failed here: ${result.message}`, vscode.DiagnosticSeverity.Error);
      diagnostic.source = 'tug build';
      this.diagnostics.set(dockerfile, [diagnostic]);
    }
    void vscode.window.showErrorMessage(`Tug: the build of ${options.tag} failed: ${result.message}`, ...(result.line ? ['Show the line'] : [])).then((choice) => {
      if (choice) void vscode.window.showTextDocument(dockerfile, { selection: new vscode.Range(result.line! - 1, 0, result.line! - 1, 0) });
    });
    return result;
  }

  /** Creates, attaches and starts the container in `output`; closing the terminal detaches. */
  private async runIn(output: OutputTerminal, image: string, options: BuildAndRunOptions): Promise<{ containerId?: string; exited?: Promise<number>; error?: string }> {
    const interactive = options.interactive !== false;
    const size = await output.size;
    const decoder = new StringDecoder('utf8');
    const session = this.session();
    let container: AttachedContainer;
    let ports = options.ports ?? [];
    try {
      if (options.publishExposed !== false) ports = [...ports, ...(await exposedPorts(session.client, image, ports, !session.link))];
      container = await AttachedContainer.start(
        this.session().client,
        {
          image,
          command: typeof options.command === 'string' ? shellWords(options.command) : options.command,
          env: options.env,
          ports,
          volumes: options.volumes,
          autoRemove: options.autoRemove,
          tty: interactive,
          interactive,
          ...(size ? { size: { rows: size.rows, cols: size.columns } } : {}),
        },
        (data) => (interactive ? output.raw(decoder.write(data)) : output.write(decoder.write(data))),
      );
    } catch (error) {
      const message = (error as Error).message;
      output.write(style.red(`The container did not start: ${message}`) + '\n');
      this.log.error(`run ${image}: ${message}`);
      void vscode.window.showErrorMessage(`Tug: ${image} did not start: ${message}`);
      return { error: message };
    }
    this.log.info(`run ${image}: container ${container.id.slice(0, 12)}`);
    if (ports.length) await this.tellPorts(output, container.id);
    let running = true;
    output.onInput = (keys) => running && container.write(keys);
    output.onResize = (s) => void container.resize(s.rows, s.columns).catch(() => {});
    output.onClosed = () => {
      if (!running) return;
      container.detach();
      void vscode.window.showInformationMessage(`Tug: the container ${container.id.slice(0, 12)} of ${image} keeps running.`, 'Stop it').then((choice) => {
        if (choice) void this.session().client.call('POST', `/containers/${container.id}/stop`).catch((e: Error) => vscode.window.showErrorMessage(`Tug: the container did not stop: ${e.message}`));
      });
    };
    const exited = container.exited.then((code) => {
      running = false;
      output.write(`\n${(code === 0 ? style.dim : style.red)(`The container exited with code ${code}.`)}\n`);
      return code;
    });
    exited.catch(() => {});
    return { containerId: container.id, exited };
  }

  /** Where its published TCP ports answer, as links the terminal makes clickable. */
  private async tellPorts(output: OutputTerminal, id: string): Promise<void> {
    const { NetworkSettings } = await this.session().client.call<{ NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } }>('GET', `/containers/${id}/json`).catch(() => ({ NetworkSettings: undefined }));
    for (const [port, bindings] of Object.entries(NetworkSettings?.Ports ?? {})) {
      for (const b of bindings ?? []) {
        const host = portHost(b.HostIp);
        output.write(style.dim(port.endsWith('/tcp') ? `${port} is published at http://${host}:${b.HostPort}` : `${port} is published on ${host}:${b.HostPort}`) + '\n');
      }
    }
  }

  private taskFor(dockerfile: vscode.Uri): TugTaskDefinition | undefined {
    const folder = vscode.workspace.getWorkspaceFolder(dockerfile);
    if (!folder) return undefined;
    const tasks = vscode.workspace.getConfiguration('tasks', folder.uri).get<TugTaskDefinition[]>('tasks') ?? [];
    return tasks.find((t) => t.type === 'tug' && vscode.Uri.joinPath(folder.uri, t.dockerfile ?? '').fsPath === dockerfile.fsPath);
  }

  /** A `tug` task from tasks.json: builds (and runs) in the task's terminal; its exit code is the build's or the container's. */
  private task(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as TugTaskDefinition;
    const folder = typeof task.scope === 'object' ? task.scope : vscode.workspace.workspaceFolders?.[0];
    if (!definition.dockerfile || !folder) return undefined;
    const dockerfile = vscode.Uri.joinPath(folder.uri, definition.dockerfile);
    const execution = new vscode.CustomExecution(async () => {
      const output = new OutputTerminal();
      void (async () => {
        await output.size;
        const options = this.options(dockerfile, definition);
        const built = await this.build(dockerfile, options, output);
        if (!built.ok) return output.exit(1);
        if (definition.run === false) return output.exit(0);
        const ran = await this.runIn(output, options.tag, options);
        output.exit(ran.exited ? await ran.exited : 1);
      })();
      return output;
    });
    return new vscode.Task(definition, folder, task.name, 'tug', execution);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function clean(options: object): BuildAndRunOptions {
  const { type: _type, dockerfile: _dockerfile, run: _run, ...rest } = options as Partial<TugTaskDefinition>;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null)) as BuildAndRunOptions;
}

function runOptionsOf(options: BuildAndRunOptions): BuildAndRunOptions {
  const { ports, env, volumes, command, interactive, autoRemove, publishExposed } = options;
  return { ports, env, volumes, command, interactive, autoRemove, publishExposed };
}
