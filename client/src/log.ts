// The `Tug` output channel: the extension's own lines and those of a local engine it started.

import * as vscode from 'vscode';

export class Log implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Tug', { log: true });

  info(message: string): void {
    this.channel.info(message);
  }

  error(message: string): void {
    this.channel.error(message);
  }

  /** A line the engine wrote (its stderr), marked as the engine's. */
  engine(line: string): void {
    this.channel.info(`[engine] ${line}`);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
