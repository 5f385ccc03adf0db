// LSP latency bench: our server (dist/server.js) against rcjsuen's dockerfile-language-server-nodejs
// on the same corpus, in the same run, one request at a time. Prints p50/p99 per request and
// the ratio of the p99s. See README.md. Usage: node --import tsx bench/lsp/run.ts [--files=N]
// [--warmup=N] [--rounds=N] [--timeout=MS] [--tug=dist/server.js]

import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CompletionContext, Position, SignatureHelpContext } from 'vscode-languageserver-protocol';
import { LspClient, LspTimeoutError } from '../../test/lsp-client';
import { buildCorpus, buildHugeDockerfile, type CorpusFile } from './corpus';

const options = parseArgs(process.argv.slice(2));

interface Server {
  label: string;
  command: string;
  args: string[];
  client?: LspClient;
  /** Why there is no client, or why it stopped being used. */
  unavailable?: string;
  samples: Map<Row, number[]>;
  errors: Map<Row, number>;
  /** Rows whose request the server does not advertise, and those requests. */
  unsupported: Set<Row>;
  unadvertised: Set<string>;
  firstError: Map<Row, string>;
  /**
   * Timeouts per kind of measurement (a 10k row shares the count of its small-file row): after a
   * few, that kind is skipped, so that a server that never answers cannot make the bench crawl.
   */
  timeouts: Map<string, number>;
  /** Timeouts since the last answer: a server that stops answering altogether is dropped. */
  timeoutsInARow: number;
}

const ROWS = [
  'diagnostics after didOpen',
  'diagnostics after didChange',
  'completion: line start',
  'completion: RUN --',
  'completion: $',
  'completion: COPY --from=',
  'hover: instruction',
  'hover: variable',
  'documentSymbol',
  'semanticTokens/full',
  'formatting',
  'foldingRange',
  'signatureHelp',
  '10k: diagnostics after didOpen',
  '10k: diagnostics after didChange',
  '10k: completion',
  '10k: hover',
  '10k: semanticTokens/full',
] as const;
type Row = (typeof ROWS)[number];

function newServer(label: string, command: string, args: string[]): Server {
  return { label, command, args, samples: new Map(), errors: new Map(), unsupported: new Set(), unadvertised: new Set(), firstError: new Map(), timeouts: new Map(), timeoutsInARow: 0 };
}

async function main(): Promise<void> {
  const corpus = buildCorpus(options.files);
  const huge = buildHugeDockerfile();
  const servers = [
    newServer('tug', process.execPath, [options.tug, '--stdio']),
    newServer('peer', process.execPath, ['node_modules/dockerfile-language-server-nodejs/bin/docker-langserver', '--stdio']),
  ];
  if (!existsSync(options.tug)) servers[0]!.unavailable = `${options.tug} not found (npm run build)`;

  for (const server of servers) {
    if (server.unavailable) continue;
    try {
      server.client = await LspClient.start(server.command, server.args, { timeoutMs: options.timeout });
    } catch (err) {
      server.unavailable = `failed to start: ${firstLine(err)}`;
    }
  }

  const lines = corpus.map((f) => f.text.split('\n').length);
  console.log(`LSP bench: ${corpus.length} Dockerfiles (${Math.min(...lines)}–${Math.max(...lines)} lines, ${sum(lines)} in all), `
    + `then one of ${huge.text.split('\n').length - 1} lines; ${options.warmup} warm-up files; node ${process.version}`);
  for (const s of servers) {
    const info = s.client?.initializeResult.serverInfo;
    console.log(`  ${s.label.padEnd(4)}  ${[s.command, ...s.args].join(' ')}${info ? `  (${info.name} ${info.version ?? ''})` : ''}`
      + `${s.unavailable ? `  — n/a: ${s.unavailable}` : ''}`);
  }

  // Warm-up files are measured but not recorded, so that JIT compilation is not in the numbers.
  const warmup = corpus.slice(0, options.warmup);
  const started = performance.now();
  for (const [i, file] of [...warmup, ...corpus].entries()) {
    const record = i >= warmup.length;
    // Interleaved file by file, so that both servers see the same machine conditions.
    for (const server of servers) if (usable(server)) await runFile(server, file, `file:///bench/${record ? '' : 'warmup/'}${file.name}`, record);
    if (record && (i + 1 - warmup.length) % 100 === 0) process.stderr.write(`  ${i + 1 - warmup.length}/${corpus.length} files\n`);
  }
  process.stderr.write(`  the ${huge.name} file, ${options.rounds} rounds (minutes: the peer's semantic tokens are slow there)\n`);
  for (const server of servers) if (usable(server)) await runHuge(server, huge);
  const seconds = (performance.now() - started) / 1000;

  printTable(servers);
  console.log(`\n${seconds.toFixed(1)} s in all.`);
  let failed = false;
  for (const server of servers) {
    const stderr = server.client?.stderr.trim();
    if (stderr) console.log(`\n${server.label} wrote to stderr:\n${stderr.split('\n').slice(0, 10).join('\n')}`);
    if (server.client) {
      if (server.unavailable) failed = true;
      await server.client.stop();
    }
  }
  process.exitCode = failed ? 1 : 0;
}

function usable(server: Server): server is Server & { client: LspClient } {
  return server.client !== undefined && server.unavailable === undefined;
}

/** The per-file scenario: open, edit, the editor's usual requests, close. */
async function runFile(server: Server & { client: LspClient }, file: CorpusFile, uri: string, record: boolean): Promise<void> {
  const client = server.client;
  const m = new Meter(server, record, options.timeout);
  const td = { uri };
  try {
    let t = performance.now();
    await client.open(uri, file.text);
    await m.diagnostics('diagnostics after didOpen', uri, t);

    // The edit a person makes while writing the next instructions; the probes sit on its lines.
    const probe = appendProbe(file.text);
    t = performance.now();
    await client.change(uri, [{ range: { start: probe.at, end: probe.at }, text: probe.text }]);
    await m.diagnostics('diagnostics after didChange', uri, t);

    const completion = (row: Row, position: Position, typed?: string) =>
      m.request(row, 'textDocument/completion', { textDocument: td, position, context: completionContext(client, typed) });
    await completion('completion: line start', probe.lineStart);
    await completion('completion: RUN --', probe.runFlag, '-');
    await completion('completion: $', probe.variable, '$');
    await completion('completion: COPY --from=', probe.copyFrom, '=');

    const instruction = findInstruction(file.text);
    if (instruction) await m.request('hover: instruction', 'textDocument/hover', { textDocument: td, position: instruction });
    const variable = findVariableUse(file.text);
    if (variable) await m.request('hover: variable', 'textDocument/hover', { textDocument: td, position: variable });

    await m.request('documentSymbol', 'textDocument/documentSymbol', { textDocument: td });
    await m.request('semanticTokens/full', 'textDocument/semanticTokens/full', { textDocument: td });
    await m.request('formatting', 'textDocument/formatting', { textDocument: td, options: { tabSize: 4, insertSpaces: true } });
    await m.request('foldingRange', 'textDocument/foldingRange', { textDocument: td });
    const sigContext: SignatureHelpContext = client.serverCapabilities.signatureHelpProvider?.triggerCharacters?.includes('=')
      ? { triggerKind: 2, triggerCharacter: '=', isRetrigger: false }
      : { triggerKind: 1, isRetrigger: false };
    await m.request('signatureHelp', 'textDocument/signatureHelp', { textDocument: td, position: probe.copyFrom, context: sigContext });

    await client.close(uri);
  } catch (err) {
    // Only sending can throw here (measurements catch their own errors): the connection is gone.
    server.unavailable = `stopped after ${file.name}: ${firstLine(err)}`;
  }
  if (!client.running) server.unavailable ??= `the server process ended during ${file.name}`;
}

/** The 10,000-line file: open once, then rounds of an edit and the requests that scale with size. */
async function runHuge(server: Server & { client: LspClient }, huge: CorpusFile): Promise<void> {
  const client = server.client;
  // The peer takes most of a minute for semantic tokens on this file; allow it twice that.
  const m = new Meter(server, true, Math.max(options.timeout, 120_000));
  const td = { uri: `file:///bench/${huge.name}` };
  try {
    let t = performance.now();
    await client.open(td.uri, huge.text);
    await m.diagnostics('10k: diagnostics after didOpen', td.uri, t);

    const fromLines = huge.text.split('\n').flatMap((line, i) => (line.startsWith('FROM ') ? [i] : []));
    for (let round = 0; round < options.rounds && client.running; round++) {
      // A new LABEL just before a stage's FROM, further down the file each round (so every
      // earlier insertion shifts this one by exactly one line per round).
      const line = fromLines[Math.floor(((round + 0.5) / options.rounds) * fromLines.length)]! + round;
      t = performance.now();
      const edit = `LABEL org.example.edit-${round}="${round}"\n`;
      await client.change(td.uri, [{ range: { start: { line, character: 0 }, end: { line, character: 0 } }, text: edit }]);
      await m.diagnostics('10k: diagnostics after didChange', td.uri, t);
      await m.request('10k: completion', 'textDocument/completion', { textDocument: td, position: { line, character: 0 }, context: { triggerKind: 1 } });
      await m.request('10k: hover', 'textDocument/hover', { textDocument: td, position: { line: line + 1, character: 1 } });
      await m.request('10k: semanticTokens/full', 'textDocument/semanticTokens/full', { textDocument: td });
    }
    await client.close(td.uri);
  } catch (err) {
    server.unavailable = `stopped in the 10k-line file: ${firstLine(err)}`;
  }
}

/** Times requests and diagnostics for one server, recording into its rows (unless warming up). */
class Meter {
  constructor(
    private readonly server: Server & { client: LspClient },
    private readonly record: boolean,
    private readonly timeoutMs: number,
  ) {}

  /** From `since` to the server's publish for the document's current version. */
  async diagnostics(row: Row, uri: string, since: number): Promise<void> {
    if (this.gaveUp(row)) return;
    try {
      const published = await this.server.client.waitForDiagnostics(uri, undefined, this.timeoutMs);
      this.note(row, published.receivedAt - since);
    } catch (err) {
      this.note(row, err);
    }
  }

  /** One request, alone on the wire; skipped when the server does not advertise it. */
  async request(row: Row, method: string, params: unknown): Promise<void> {
    if (!this.server.client.supports(method)) {
      this.server.unsupported.add(row);
      this.server.unadvertised.add(method);
      return;
    }
    if (this.gaveUp(row)) return;
    const t = performance.now();
    try {
      await this.server.client.request(method, params, this.timeoutMs);
      this.note(row, performance.now() - t);
    } catch (err) {
      this.note(row, err);
    }
  }

  private gaveUp(row: Row): boolean {
    return this.server.unavailable !== undefined || (this.server.timeouts.get(timeoutKey(row)) ?? 0) >= MAX_TIMEOUTS_PER_ROW;
  }

  private note(row: Row, result: number | unknown): void {
    const s = this.server;
    if (result instanceof LspTimeoutError) {
      s.timeouts.set(timeoutKey(row), (s.timeouts.get(timeoutKey(row)) ?? 0) + 1);
      if (++s.timeoutsInARow >= MAX_TIMEOUTS_IN_A_ROW) s.unavailable = `stopped answering (${s.timeoutsInARow} timeouts in a row)`;
    } else {
      s.timeoutsInARow = 0;
    }
    if (!this.record) return;
    if (typeof result === 'number') {
      let list = s.samples.get(row);
      if (!list) s.samples.set(row, (list = []));
      list.push(result);
      return;
    }
    s.errors.set(row, (s.errors.get(row) ?? 0) + 1);
    if (!s.firstError.has(row)) s.firstError.set(row, `${result instanceof LspTimeoutError ? 'timeout: ' : ''}${firstLine(result)}`);
  }
}

const MAX_TIMEOUTS_PER_ROW = 5;
const MAX_TIMEOUTS_IN_A_ROW = 10;

function timeoutKey(row: Row): string {
  return row.replace(/^10k: /, '');
}

// ---------------------------------------------------------------------------------------------
// Positions.

interface Probe {
  at: Position;
  text: string;
  lineStart: Position;
  runFlag: Position;
  variable: Position;
  copyFrom: Position;
}

/** Lines appended at the end of the file, as someone typing the next instructions would leave them. */
function appendProbe(text: string): Probe {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  const lastLine = lines.length - 1;
  const at = { line: lastLine, character: lines[lastLine]!.length };
  const prefix = lines[lastLine] === '' ? '' : eol; // start on a fresh line
  const first = lastLine + (prefix ? 1 : 0);
  const probeLines = ['', 'RUN --', 'WORKDIR /srv/$', 'COPY --from='];
  return {
    at,
    text: prefix + probeLines.join(eol) + eol,
    lineStart: { line: first, character: 0 },
    runFlag: { line: first + 1, character: probeLines[1]!.length },
    variable: { line: first + 2, character: probeLines[2]!.length },
    copyFrom: { line: first + 3, character: probeLines[3]!.length },
  };
}

/** What VS Code sends: "trigger character" when the character just typed is one the server listed. */
function completionContext(client: LspClient, typed: string | undefined): CompletionContext {
  const triggers = client.serverCapabilities.completionProvider?.triggerCharacters ?? [];
  return typed && triggers.includes(typed) ? { triggerKind: 2, triggerCharacter: typed } : { triggerKind: 1 };
}

/** The keyword of the first RUN (else the first instruction), one character in. */
function findInstruction(text: string): Position | undefined {
  const lines = text.split(/\r?\n/);
  let fallback: Position | undefined;
  for (const [line, content] of lines.entries()) {
    const m = /^(\s*)([A-Za-z]+)\s/.exec(content);
    if (!m || content.trimStart().startsWith('#')) continue;
    const position = { line, character: m[1]!.length + 1 };
    if (m[2]!.toUpperCase() === 'RUN') return position;
    fallback ??= position;
  }
  return fallback;
}

/** The first use of a variable that an ARG or ENV declares, on its name. */
function findVariableUse(text: string): Position | undefined {
  const declared = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (const [line, content] of lines.entries()) {
    if (content.trimStart().startsWith('#')) continue;
    for (const m of content.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (declared.has(m[1]!)) return { line, character: m.index! + m[0].length - m[1]!.length + 1 };
    }
    const decl = /^\s*(ARG|ENV)\s+(.*)$/i.exec(content);
    if (decl) for (const d of decl[2]!.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g)) declared.add(d[1]!);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Output.

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

function printTable(servers: Server[]): void {
  const [tug, peer] = servers as [Server, Server];
  const header = ['request', 'tug p50', 'tug p99', 'peer p50', 'peer p99', 'p99 ratio', 'n tug/peer', 'errors tug/peer'];
  const rows: string[][] = [];
  for (const row of ROWS) {
    const stats = (s: Server) => {
      const samples = [...(s.samples.get(row) ?? [])].sort((a, b) => a - b);
      if (s.unsupported.has(row) || samples.length === 0) return undefined;
      return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), n: samples.length };
    };
    const a = stats(tug);
    const b = stats(peer);
    const ms = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(1));
    const ratio = a && b ? (a.p99 / b.p99).toFixed(2) : 'n/a';
    rows.push([
      row, ms(a?.p50), ms(a?.p99), ms(b?.p50), ms(b?.p99), ratio,
      `${a?.n ?? 0}/${b?.n ?? 0}`, `${tug.errors.get(row) ?? 0}/${peer.errors.get(row) ?? 0}`,
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  console.log(`\n${fmt(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}`);
  for (const [i, r] of rows.entries()) {
    if (ROWS[i] === '10k: diagnostics after didOpen') console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    console.log(fmt(r));
  }
  console.log('\nTimes in ms; n/a: server missing, or request not advertised by it.');
  for (const s of servers) {
    if (s.unadvertised.size) console.log(`${s.label} does not advertise: ${[...s.unadvertised].join(', ')}`);
    for (const [row, message] of s.firstError) console.log(`${s.label} ${row}: ${s.errors.get(row)} error(s), first: ${message}`);
    for (const [kind, n] of s.timeouts) if (n >= MAX_TIMEOUTS_PER_ROW) console.log(`${s.label} ${kind}: gave up after ${n} timeouts`);
    if (s.unavailable && s.client) console.log(`${s.label}: ${s.unavailable}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function parseArgs(argv: string[]): { files: number; warmup: number; rounds: number; timeout: number; tug: string } {
  const numbers = { files: 400, warmup: 10, rounds: 5, timeout: 10_000 };
  let tug = 'dist/server.js';
  for (const arg of argv) {
    const m = /^--(files|warmup|rounds|timeout)=(\d+)$/.exec(arg);
    if (m) numbers[m[1] as keyof typeof numbers] = Number(m[2]);
    else if (arg.startsWith('--tug=')) tug = arg.slice('--tug='.length);
    else throw new Error(`unknown argument ${arg}; expected --files=N, --warmup=N, --rounds=N, --timeout=MS or --tug=PATH`);
  }
  return { ...numbers, tug };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
