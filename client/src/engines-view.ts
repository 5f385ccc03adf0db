// The Engines view: the engine in use (the `tug.engine.host` setting, else TUG_HOST or
// DOCKER_HOST, else the local tugd), whether it answers, and its version, OS and disk use.
// When no engine answers, the view's welcome content offers to start the local one.

import * as vscode from 'vscode';
import { DEFAULT_SOCKET } from '../../runtime-agent/src/cli/client';
import { size } from '../../runtime-agent/src/cli/format';
import type { EngineInfo, EngineSession } from './session';

export interface EngineElement {
  host: string;
  active: boolean;
}

export class EnginesView implements vscode.TreeDataProvider<EngineElement>, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<EngineElement | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  private session!: EngineSession;
  private info: EngineInfo | undefined;
  private infoError = '';
  private unsubscribe: () => void = () => {};
  readonly view: vscode.TreeView<EngineElement>;

  constructor(session: EngineSession) {
    this.view = vscode.window.createTreeView('tug.engines', { treeDataProvider: this });
    this.use(session);
  }

  use(session: EngineSession): void {
    this.unsubscribe();
    this.session = session;
    this.info = undefined;
    this.unsubscribe = session.containers.onConnection(() => void this.refresh());
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
    const info = this.info;
    const local = this.session.host === `unix://${DEFAULT_SOCKET}`;
    const item = new vscode.TreeItem(local ? 'Local engine' : element.host);
    item.id = element.host;
    item.description = info ? `${info.name} ${info.version}${element.active ? ' · in use' : ''}` : 'not running';
    item.iconPath = new vscode.ThemeIcon(info ? 'pass-filled' : 'circle-slash', new vscode.ThemeColor(info ? 'charts.green' : 'disabledForeground'));
    const tooltip = new vscode.MarkdownString(`**${element.host}**\n\n`);
    if (info) {
      tooltip.appendMarkdown(`${info.name} ${info.version}  \n${info.os}/${info.arch}, kernel ${info.kernel}`);
      if (info.diskUse !== undefined) tooltip.appendMarkdown(`  \ndisk use ${size(info.diskUse)}`);
    } else tooltip.appendMarkdown(this.infoError || 'not reachable');
    item.tooltip = tooltip;
    item.contextValue = info ? 'engine.connected' : 'engine.disconnected';
    return item;
  }

  getChildren(element?: EngineElement): EngineElement[] {
    if (element) return [];
    // No engine answers: no rows, so that the welcome content (Start the local engine) shows.
    if (!this.info) return [];
    return [{ host: this.session.host, active: true }];
  }

  /** What the view last read of the engine in use (for the API). */
  engineInfo(): EngineInfo | undefined {
    return this.info;
  }

  dispose(): void {
    this.unsubscribe();
    this.view.dispose();
    this.changes.dispose();
  }
}
