// The Engines view: the engine in use (the `tug.engine.host` setting, else TUG_HOST or
// DOCKER_HOST, else the local tugd), whether it answers — for a remote one, whether its SSH link
// is up, reconnecting or refused — and its version, OS and disk use; then the engines of the
// `tug.engines` setting (and the local one, to go back to), each a click away from being used.
// When the one engine there is does not answer, the view's welcome content offers to start the
// local one.

import * as vscode from 'vscode';
import { DEFAULT_SOCKET } from '../../runtime-agent/src/cli/client';
import { size } from '../../runtime-agent/src/cli/format';
import { isRemote } from './remote-engines';
import type { EngineInfo, EngineSession } from './session';

export interface EngineElement {
  host: string;
  active: boolean;
}

const LOCAL = `unix://${DEFAULT_SOCKET}`;

/** The engines of the `tug.engines` setting. */
export function listedEngines(): string[] {
  return vscode.workspace.getConfiguration('tug').get<string[]>('engines', []).filter((h) => typeof h === 'string' && h.trim());
}

export class EnginesView implements vscode.TreeDataProvider<EngineElement>, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<EngineElement | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  private session!: EngineSession;
  private info: EngineInfo | undefined;
  private infoError = '';
  private unsubscribe: () => void = () => {};
  private readonly settings: vscode.Disposable;
  readonly view: vscode.TreeView<EngineElement>;

  constructor(session: EngineSession) {
    this.view = vscode.window.createTreeView('tug.engines', { treeDataProvider: this });
    this.settings = vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('tug.engines') && this.changes.fire(undefined));
    this.use(session);
  }

  use(session: EngineSession): void {
    this.unsubscribe();
    this.session = session;
    this.info = undefined;
    this.unsubscribe = session.onConnection(() => void this.refresh());
    void this.refresh();
  }

  /** Reads the engine's version again; the welcome view shows while it does not answer. */
  async refresh(): Promise<void> {
    const session = this.session;
    try {
      const info = await session.info();
      if (session !== this.session) return;
      this.info = info;
      this.infoError = '';
    } catch (error) {
      if (session !== this.session) return;
      this.info = undefined;
      this.infoError = (error as Error).message;
    }
    void vscode.commands.executeCommand('setContext', 'tug.engineReachable', this.info !== undefined);
    this.changes.fire(undefined);
  }

  getTreeItem(element: EngineElement): vscode.TreeItem {
    const { host, active } = element;
    const remote = isRemote(host);
    const item = new vscode.TreeItem(host === LOCAL ? 'Local engine' : host.replace(/^(ssh|unix):\/\//, ''));
    item.id = host;
    const icon = remote ? 'remote' : 'vm';
    item.iconPath = new vscode.ThemeIcon(icon);
    const tooltip = new vscode.MarkdownString(`**${host}**\n\n`);
    // Context keys for the menus: which engine, in use or not, answering or not, listed or not.
    const context = ['engine', remote ? 'ssh' : 'unix', active ? 'active' : 'inactive'];
    if (listedEngines().includes(host)) context.push('listed');
    if (active) {
      const info = this.info;
      const problem = this.session.problem();
      context.push(info ? 'connected' : 'disconnected');
      if (info) {
        item.description = `${info.name} ${info.version} · in use`;
        tooltip.appendMarkdown(`${info.name} ${info.version}  \n${info.os}/${info.arch}, kernel ${info.kernel}`);
        if (info.diskUse !== undefined) tooltip.appendMarkdown(`  \ndisk use ${size(info.diskUse)}`);
      } else {
        item.description = problem?.summary ?? 'not running';
        tooltip.appendMarkdown(problem?.detail ?? (this.infoError || 'not reachable'));
      }
      item.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(info ? 'charts.green' : 'disabledForeground'));
    } else {
      tooltip.appendMarkdown('Not in use: choose "Use This Engine" to switch to it.');
    }
    item.tooltip = tooltip;
    item.contextValue = context.join(' ');
    return item;
  }

  getChildren(element?: EngineElement): EngineElement[] {
    if (element) return [];
    const listed = listedEngines();
    const active = this.session.host;
    // Only a local engine, and it does not answer: no rows, so that the welcome content (Start
    // the local engine) shows. A remote one has a row that tells how its link is doing.
    if (!this.info && !isRemote(active) && listed.every((h) => h === active)) return [];
    // With engines listed, the local one stays in reach to go back to (Linux alone runs one).
    const local = process.platform === 'linux' && listed.length ? [LOCAL] : [];
    return [...new Set([active, ...local, ...listed])].map((host) => ({ host, active: host === active }));
  }

  /** What the view last read of the engine in use (for the API). */
  engineInfo(): EngineInfo | undefined {
    return this.info;
  }

  dispose(): void {
    this.unsubscribe();
    this.settings.dispose();
    this.view.dispose();
    this.changes.dispose();
  }
}
