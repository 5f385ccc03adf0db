// A terminal the extension writes to itself (a Pseudoterminal): build progress, a container's
// output, logs. It keeps what it showed, so that the Tug API (and its tests) can read it back,
// and hands keys, resizes and its closing to whoever runs in it.

import * as vscode from 'vscode';

export const style = {
  bold: (s: string) => `\x1b[1m${s}\x1b[22m`,
  dim: (s: string) => `\x1b[2m${s}\x1b[22m`,
  red: (s: string) => `\x1b[31m${s}\x1b[39m`,
  green: (s: string) => `\x1b[32m${s}\x1b[39m`,
};

export class OutputTerminal implements vscode.Pseudoterminal {
  private readonly writes = new vscode.EventEmitter<string>();
  private readonly closes = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writes.event;
  readonly onDidClose = this.closes.event;
  /** Everything written, escape sequences included. */
  transcript = '';
  private pending: string[] = [];
  private opened = false;
  private ready!: (size: vscode.TerminalDimensions | undefined) => void;
  /** Resolves with the terminal's size once VS Code has opened it. */
  readonly size = new Promise<vscode.TerminalDimensions | undefined>((resolve) => (this.ready = resolve));
  /** Keys typed in the terminal. */
  onInput: (data: string) => void = () => {};
  onResize: (size: vscode.TerminalDimensions) => void = () => {};
  /** The person closed the terminal. */
  onClosed: () => void = () => {};
  private closed = false;

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.opened = true;
    for (const text of this.pending) this.writes.fire(text);
    this.pending = [];
    this.ready(dimensions);
  }

  handleInput(data: string): void {
    this.onInput(data);
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.onResize(dimensions);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
  }

  /** Text as a program writes it (lone `\n` become `\r\n`, as a terminal's output processing would). */
  write(text: string): void {
    this.raw(text.replace(/\r?\n/g, '\r\n'));
  }

  /** Bytes from a container's own terminal, written as they are. */
  raw(text: string): void {
    this.transcript += text;
    if (this.opened) this.writes.fire(text);
    else this.pending.push(text);
  }

  /** Ends the terminal from this side (a task's exit code). */
  exit(code?: number): void {
    this.closed = true;
    this.closes.fire(code);
  }

  dispose(): void {
    this.writes.dispose();
    this.closes.dispose();
  }
}

/** The terminals the extension opened, with what each showed. */
export class Terminals implements vscode.Disposable {
  private readonly byTerminal = new Map<vscode.Terminal, OutputTerminal>();
  private readonly subscription = vscode.window.onDidCloseTerminal((t) => {
    this.byTerminal.get(t)?.dispose();
    this.byTerminal.delete(t);
  });

  /** Opens (and shows) a terminal named `name`. */
  open(name: string, show = true): { terminal: vscode.Terminal; output: OutputTerminal } {
    const output = new OutputTerminal();
    const terminal = vscode.window.createTerminal({ name, pty: output, iconPath: new vscode.ThemeIcon('package') });
    this.byTerminal.set(terminal, output);
    if (show) terminal.show(true);
    return { terminal, output };
  }

  /** What a terminal of the extension showed so far, escape sequences left out. */
  text(terminal: vscode.Terminal): string | undefined {
    const t = this.byTerminal.get(terminal)?.transcript;
    return t === undefined ? undefined : t.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }

  dispose(): void {
    this.subscription.dispose();
    for (const output of this.byTerminal.values()) output.dispose();
    this.byTerminal.clear();
  }
}
