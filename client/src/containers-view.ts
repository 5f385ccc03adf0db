// The Containers view: every container with its state, image, status and ports, kept current
// from the engine's events (a change re-renders that container's row alone); a running one
// expands into its processes as a tree by parent PID, read again while it stays expanded.

import * as vscode from 'vscode';
import type { ContainerSummary } from './containers';
import { watchProcesses, type ProcessNode } from './processes';
import type { EngineSession } from './session';

export type ContainerElement =
  | { kind: 'container'; id: string }
  | { kind: 'process'; container: string; process: ProcessNode }
  | { kind: 'message'; text: string };

const REFRESH_MS = 1500;

export const containerName = (c: ContainerSummary) => (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');

/** `0.0.0.0:8080->80/tcp`, as `docker ps` shows a port. */
export function portText(p: ContainerSummary['Ports'][number]): string {
  return p.PublicPort ? `${p.IP ?? '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`;
}

function stateIcon(state: string): vscode.ThemeIcon {
  switch (state) {
    case 'running':
      return new vscode.ThemeIcon('vm-running', new vscode.ThemeColor('charts.green'));
    case 'paused':
      return new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('charts.yellow'));
    case 'restarting':
      return new vscode.ThemeIcon('sync~spin');
    case 'dead':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('charts.red'));
    case 'created':
      return new vscode.ThemeIcon('circle-outline');
    default:
      return new vscode.ThemeIcon('vm-outline');
  }
}

function memory(kib: number): string {
  return kib >= 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(1)} GiB` : kib >= 1024 ? `${(kib / 1024).toFixed(1)} MiB` : `${kib} KiB`;
}

interface Watch {
  stop: AbortController;
  tree?: ProcessNode[];
  first: Promise<void>;
}

export class ContainersView implements vscode.TreeDataProvider<ContainerElement>, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<ContainerElement | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  /** One element per container for as long as it exists: VS Code refreshes a row by its element. */
  private readonly nodes = new Map<string, ContainerElement & { kind: 'container' }>();
  private readonly watches = new Map<string, Watch>();
  private unsubscribe: (() => void)[] = [];
  private session!: EngineSession;
  readonly view: vscode.TreeView<ContainerElement>;

  constructor(session: EngineSession) {
    this.view = vscode.window.createTreeView('tug.containers', { treeDataProvider: this, showCollapseAll: true });
    this.view.onDidCollapseElement((e) => e.element.kind === 'container' && this.unwatch(e.element.id));
    this.use(session);
  }

  /** Shows another engine's containers. */
  use(session: EngineSession): void {
    for (const u of this.unsubscribe) u();
    for (const id of [...this.watches.keys()]) this.unwatch(id);
    this.nodes.clear();
    this.session = session;
    this.unsubscribe = [
      session.containers.onChange((id) => {
        if (id === null) return this.changes.fire(undefined);
        const node = this.nodes.get(id);
        const row = session.containers.get(id);
        if (!row) {
          this.unwatch(id);
          this.nodes.delete(id);
          return this.changes.fire(undefined); // a row gone: its parent (the root) lists again
        }
        if (row.State !== 'running') this.unwatch(id);
        this.changes.fire(node ?? undefined); // a new row: the root lists again
      }),
      session.containers.onConnection(() => this.changes.fire(undefined)),
    ];
    this.changes.fire(undefined);
  }

  /** The element of a container, by ID. */
  element(id: string): ContainerElement | undefined {
    return this.nodes.get(id);
  }

  getTreeItem(element: ContainerElement): vscode.TreeItem {
    if (element.kind === 'message') return new vscode.TreeItem(element.text);
    if (element.kind === 'process') {
      const p = element.process;
      const item = new vscode.TreeItem(p.command || `[${p.pid}]`, p.children.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
      item.id = `${element.container}/${p.pid}`;
      item.description = `PID ${p.pid} · ${p.user} · ${p.cpu || '0.0'}% CPU · ${memory(p.memoryKiB)}`;
      item.tooltip = `${p.command}\nPID ${p.pid}, parent ${p.ppid}\nuser ${p.user}\nCPU ${p.cpu}%\nmemory ${memory(p.memoryKiB)}`;
      item.iconPath = new vscode.ThemeIcon('symbol-event');
      item.contextValue = 'process';
      return item;
    }
    const c = this.session.containers.get(element.id);
    if (!c) return new vscode.TreeItem(element.id.slice(0, 12));
    const running = c.State === 'running';
    const item = new vscode.TreeItem(containerName(c), running ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = c.Id;
    const ports = c.Ports.map(portText);
    item.description = [c.Image, c.Status, ...ports].join(' · ');
    item.iconPath = stateIcon(c.State);
    item.contextValue = `container.${running ? 'running' : c.State === 'paused' ? 'paused' : 'stopped'}${c.Ports.some((p) => p.PublicPort) ? '.ports' : ''}`;
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown(`**${containerName(c)}** — ${c.State}\n\n`);
    tooltip.appendMarkdown(`ID \`${c.Id.slice(0, 12)}\`  \nimage \`${c.Image}\`  \ncommand \`${c.Command}\`  \n${c.Status}`);
    if (ports.length) tooltip.appendMarkdown(`  \nports ${ports.map((p) => `\`${p}\``).join(', ')}`);
    item.tooltip = tooltip;
    return item;
  }

  getParent(element: ContainerElement): ContainerElement | undefined {
    if (element.kind !== 'process') return undefined;
    const watch = this.watches.get(element.container);
    const find = (nodes: ProcessNode[], parent: ContainerElement): ContainerElement | undefined => {
      for (const n of nodes) {
        if (n.pid === element.process.pid) return parent;
        const found = find(n.children, { kind: 'process', container: element.container, process: n });
        if (found) return found;
      }
      return undefined;
    };
    return find(watch?.tree ?? [], this.nodes.get(element.container)!);
  }

  async getChildren(element?: ContainerElement): Promise<ContainerElement[]> {
    if (!element) {
      const rows = this.session.containers.list();
      if (!rows.length) return this.session.connected ? [] : [{ kind: 'message', text: `The engine at ${this.session.host} is not reachable` }];
      return rows.map((c) => {
        let node = this.nodes.get(c.Id);
        if (!node) this.nodes.set(c.Id, (node = { kind: 'container', id: c.Id }));
        return node;
      });
    }
    if (element.kind === 'process') return element.process.children.map((process) => ({ kind: 'process', container: element.container, process }));
    if (element.kind !== 'container') return [];
    const watch = this.watch(element.id);
    await watch.first;
    return (watch.tree ?? []).map((process) => ({ kind: 'process', container: element.id, process }));
  }

  /** Reads a container's processes until it collapses, stops or goes. */
  private watch(id: string): Watch {
    let watch = this.watches.get(id);
    if (watch) return watch;
    let first!: () => void;
    watch = { stop: new AbortController(), first: new Promise<void>((resolve) => (first = resolve)) };
    const w = watch;
    this.watches.set(id, w);
    watchProcesses(
      this.session.client,
      id,
      REFRESH_MS,
      (tree) => {
        const initial = w.tree === undefined;
        w.tree = tree;
        first();
        if (!initial) this.changes.fire(this.nodes.get(id));
      },
      w.stop.signal,
    )
      .catch(() => {})
      .finally(() => {
        first();
        if (this.watches.get(id) === w) this.watches.delete(id);
      });
    return w;
  }

  private unwatch(id: string): void {
    this.watches.get(id)?.stop.abort();
    this.watches.delete(id);
  }

  /** The process tree last read for a container (for the API). */
  processes(id: string): ProcessNode[] | undefined {
    return this.watches.get(id)?.tree;
  }

  dispose(): void {
    for (const u of this.unsubscribe) u();
    for (const id of [...this.watches.keys()]) this.unwatch(id);
    this.view.dispose();
    this.changes.dispose();
  }
}
