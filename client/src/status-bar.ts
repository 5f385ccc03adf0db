// The status bar item: the engine in use and how many of its containers run; a click opens the
// Containers view.

import * as vscode from 'vscode';
import { DEFAULT_SOCKET } from '../../runtime-agent/src/cli/client';
import type { EngineSession } from './session';

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('tug.engine', vscode.StatusBarAlignment.Left, 50);
  private unsubscribe: (() => void)[] = [];
  private session!: EngineSession;

  constructor(session: EngineSession) {
    this.item.name = 'Tug engine';
    this.item.command = 'tug.containers.focus';
    this.use(session);
    this.item.show();
  }

  use(session: EngineSession): void {
    for (const u of this.unsubscribe) u();
    this.session = session;
    this.unsubscribe = [session.containers.onChange(() => this.render()), session.onConnection(() => this.render())];
    this.render();
  }

  render(): void {
    const s = this.session;
    const name = s.host === `unix://${DEFAULT_SOCKET}` ? 'local' : s.host.replace(/^(unix|ssh):\/\//, '');
    if (!s.connected) {
      const problem = s.problem();
      this.item.text = `$(${problem?.retrying ? 'sync~spin' : 'circle-slash'}) Tug: ${name}${problem ? ` (${problem.summary})` : ''}`;
      this.item.tooltip = `The engine at ${s.host} is not reachable${problem ? `: ${problem.detail}` : ''}`;
      return;
    }
    const running = s.containers.list().filter((c) => c.State === 'running').length;
    this.item.text = `$(package) Tug: ${name} · ${running} running`;
    this.item.tooltip = `Engine ${s.host}: ${running} container(s) running`;
  }

  dispose(): void {
    for (const u of this.unsubscribe) u();
    this.item.dispose();
  }
}
