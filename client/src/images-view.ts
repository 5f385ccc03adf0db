// The Images view: images by repository and tag with size and age, each expanding into its
// layers (the instruction that made each, and its size), oldest first as the Dockerfile reads.

import * as vscode from 'vscode';
import { ago, size } from '../../runtime-agent/src/cli/format';
import { imageLayers, type ImageItem, type Layer } from './images';
import type { EngineSession } from './session';

export type ImageElement =
  | { kind: 'image'; image: ImageItem }
  | { kind: 'layer'; image: string; index: number; layer: Layer }
  | { kind: 'message'; text: string };

/** The name to act on: `repository:tag`, or the ID of an untagged image. */
export const imageReference = (i: ImageItem) => (i.repository === '<none>' ? i.id : `${i.repository}:${i.tag}`);

export class ImagesView implements vscode.TreeDataProvider<ImageElement>, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<ImageElement | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  private unsubscribe: () => void = () => {};
  private session!: EngineSession;
  readonly view: vscode.TreeView<ImageElement>;

  constructor(session: EngineSession) {
    this.view = vscode.window.createTreeView('tug.images', { treeDataProvider: this, showCollapseAll: true });
    this.use(session);
  }

  use(session: EngineSession): void {
    this.unsubscribe();
    this.session = session;
    this.unsubscribe = session.images.onChange(() => this.changes.fire(undefined));
    this.changes.fire(undefined);
  }

  getTreeItem(element: ImageElement): vscode.TreeItem {
    if (element.kind === 'message') return new vscode.TreeItem(element.text);
    if (element.kind === 'layer') {
      const { layer } = element;
      const item = new vscode.TreeItem(layer.instruction.replace(/\s+/g, ' '));
      item.id = `${element.image}/${element.index}`;
      item.description = size(layer.size);
      item.tooltip = new vscode.MarkdownString().appendCodeblock(layer.instruction, 'dockerfile').appendMarkdown(`\n${size(layer.size)}, created ${ago(layer.created)}`);
      item.iconPath = new vscode.ThemeIcon(layer.size > 0 ? 'layers' : 'symbol-property');
      item.contextValue = 'layer';
      return item;
    }
    const i = element.image;
    const item = new vscode.TreeItem(i.repository === '<none>' ? `<none> (${i.id.replace(/^sha256:/, '').slice(0, 12)})` : `${i.repository}:${i.tag}`, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `${i.id}/${i.repository}:${i.tag}`;
    item.description = `${size(i.size)} · ${ago(i.created)}`;
    item.tooltip = new vscode.MarkdownString(`**${i.repository}:${i.tag}**\n\nID \`${i.id.replace(/^sha256:/, '').slice(0, 12)}\`  \n${size(i.size)}, created ${ago(i.created)}`);
    item.iconPath = new vscode.ThemeIcon('package');
    item.contextValue = i.repository === '<none>' ? 'image.untagged' : 'image';
    return item;
  }

  async getChildren(element?: ImageElement): Promise<ImageElement[]> {
    if (!element) {
      const images = this.session.images.list();
      if (!images.length && !this.session.images.connected) return [{ kind: 'message', text: `The engine at ${this.session.host} is not reachable` }];
      return images.map((image) => ({ kind: 'image', image }));
    }
    if (element.kind !== 'image') return [];
    try {
      const layers = await imageLayers(this.session.client, element.image.id);
      return layers.map((layer, index) => ({ kind: 'layer', image: element.image.id, index, layer }));
    } catch (error) {
      return [{ kind: 'message', text: `Its layers cannot be read: ${(error as Error).message}` }];
    }
  }

  dispose(): void {
    this.unsubscribe();
    this.view.dispose();
    this.changes.dispose();
  }
}
