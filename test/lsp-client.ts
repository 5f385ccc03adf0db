// A small LSP client over stdio, shared by the language server's tests and bench/lsp: it spawns
// a server, initializes it like VS Code would, keeps the text of open documents, answers the
// requests a server sends to its client, and collects what the server publishes.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  CancellationTokenSource,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  TextDocumentSyncKind,
  createMessageConnection,
  type ClientCapabilities,
  type ConfigurationParams,
  type Diagnostic,
  type InitializeParams,
  type InitializeResult,
  type MessageConnection,
  type PublishDiagnosticsParams,
  type Registration,
  type RegistrationParams,
  type ServerCapabilities,
  type TextDocumentContentChangeEvent,
  type UnregistrationParams,
} from 'vscode-languageserver-protocol/node';

/** The client capabilities VS Code 1.100 sends, trimmed to what a Dockerfile server can use. */
export const vscodeLikeCapabilities: ClientCapabilities = {
  general: {
    positionEncodings: ['utf-16'],
    markdown: { parser: 'marked', version: '1.1.0' },
    staleRequestSupport: {
      cancel: true,
      retryOnContentModified: ['textDocument/semanticTokens/full', 'textDocument/semanticTokens/range', 'textDocument/semanticTokens/full/delta'],
    },
  },
  window: { workDoneProgress: true, showMessage: { messageActionItem: { additionalPropertiesSupport: true } }, showDocument: { support: true } },
  workspace: {
    applyEdit: true,
    configuration: true,
    workspaceFolders: true,
    workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'], failureHandling: 'textOnlyTransactional', normalizesLineEndings: true },
    didChangeConfiguration: { dynamicRegistration: true },
    didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true },
    executeCommand: { dynamicRegistration: true },
    semanticTokens: { refreshSupport: true },
    // No workspace/diagnostic/refresh: this client takes pushed diagnostics only.
  },
  textDocument: {
    synchronization: { dynamicRegistration: true, willSave: true, willSaveWaitUntil: true, didSave: true },
    // Push diagnostics only: no `diagnostic` (pull) capability is declared.
    publishDiagnostics: {
      relatedInformation: true,
      versionSupport: false,
      tagSupport: { valueSet: [1, 2] },
      codeDescriptionSupport: true,
      dataSupport: true,
    },
    completion: {
      dynamicRegistration: true,
      contextSupport: true,
      completionItemKind: { valueSet: Array.from({ length: 25 }, (_, i) => i + 1) as ClientCompletionKinds },
      insertTextMode: 2,
      completionItem: {
        snippetSupport: true,
        commitCharactersSupport: true,
        documentationFormat: ['markdown', 'plaintext'],
        deprecatedSupport: true,
        preselectSupport: true,
        tagSupport: { valueSet: [1] },
        insertReplaceSupport: true,
        resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] },
        insertTextModeSupport: { valueSet: [1, 2] },
        labelDetailsSupport: true,
      },
      completionList: { itemDefaults: ['commitCharacters', 'editRange', 'insertTextFormat', 'insertTextMode', 'data'] },
    },
    hover: { dynamicRegistration: true, contentFormat: ['markdown', 'plaintext'] },
    signatureHelp: {
      dynamicRegistration: true,
      contextSupport: true,
      signatureInformation: {
        documentationFormat: ['markdown', 'plaintext'],
        parameterInformation: { labelOffsetSupport: true },
        activeParameterSupport: true,
      },
    },
    definition: { dynamicRegistration: true, linkSupport: true },
    references: { dynamicRegistration: true },
    documentHighlight: { dynamicRegistration: true },
    documentSymbol: {
      dynamicRegistration: true,
      symbolKind: { valueSet: Array.from({ length: 26 }, (_, i) => i + 1) as ClientSymbolKinds },
      hierarchicalDocumentSymbolSupport: true,
      tagSupport: { valueSet: [1] },
      labelSupport: true,
    },
    codeAction: {
      dynamicRegistration: true,
      isPreferredSupport: true,
      disabledSupport: true,
      dataSupport: true,
      resolveSupport: { properties: ['edit'] },
      codeActionLiteralSupport: {
        codeActionKind: {
          valueSet: ['', 'quickfix', 'refactor', 'refactor.extract', 'refactor.inline', 'refactor.rewrite', 'source', 'source.organizeImports'],
        },
      },
      honorsChangeAnnotations: true,
    },
    formatting: { dynamicRegistration: true },
    rangeFormatting: { dynamicRegistration: true, rangesSupport: true },
    onTypeFormatting: { dynamicRegistration: true },
    rename: { dynamicRegistration: true, prepareSupport: true, prepareSupportDefaultBehavior: 1, honorsChangeAnnotations: true },
    documentLink: { dynamicRegistration: true, tooltipSupport: true },
    foldingRange: {
      dynamicRegistration: true,
      rangeLimit: 5000,
      lineFoldingOnly: true,
      foldingRangeKind: { valueSet: ['comment', 'imports', 'region'] },
      foldingRange: { collapsedText: false },
    },
    selectionRange: { dynamicRegistration: true },
    semanticTokens: {
      dynamicRegistration: true,
      tokenTypes: [
        'namespace', 'type', 'class', 'enum', 'interface', 'struct', 'typeParameter', 'parameter', 'variable', 'property',
        'enumMember', 'event', 'function', 'method', 'macro', 'keyword', 'modifier', 'comment', 'string', 'number',
        'regexp', 'operator', 'decorator',
      ],
      tokenModifiers: [
        'declaration', 'definition', 'readonly', 'static', 'deprecated', 'abstract', 'async', 'modification',
        'documentation', 'defaultLibrary',
      ],
      formats: ['relative'],
      requests: { range: true, full: { delta: true } },
      multilineTokenSupport: false,
      overlappingTokenSupport: false,
      serverCancelSupport: true,
      augmentsSyntaxTokens: true,
    },
  },
};
type ClientCompletionKinds = NonNullable<NonNullable<NonNullable<ClientCapabilities['textDocument']>['completion']>['completionItemKind']>['valueSet'];
type ClientSymbolKinds = NonNullable<NonNullable<NonNullable<ClientCapabilities['textDocument']>['documentSymbol']>['symbolKind']>['valueSet'];

export interface LspClientOptions {
  initializationOptions?: unknown;
  /** Replaces vscodeLikeCapabilities entirely. */
  capabilities?: ClientCapabilities;
  /** Answers workspace/configuration; may also be set later through `client.settings`. */
  settings?: Record<string, unknown>;
  rootUri?: string | null;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default timeout of `request` and `waitForDiagnostics`, in ms. */
  timeoutMs?: number;
}

/** One textDocument/publishDiagnostics, stamped when it arrived. */
export interface PublishedDiagnostics {
  uri: string;
  version?: number;
  diagnostics: Diagnostic[];
  /** performance.now() when the notification was read. */
  receivedAt: number;
}

export class LspTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`${what} got no answer within ${timeoutMs} ms`);
    this.name = 'LspTimeoutError';
  }
}

interface OpenDocument {
  languageId: string;
  version: number;
  text: string;
}

interface DiagnosticsWaiter {
  uri: string;
  matches: (p: PublishedDiagnostics & { seq: number }) => boolean;
  resolve: (p: PublishedDiagnostics) => void;
}

// Which server capability stands for which request, for `supports`.
const providerOf: Record<string, (c: ServerCapabilities) => unknown> = {
  'textDocument/completion': (c) => c.completionProvider,
  'completionItem/resolve': (c) => c.completionProvider?.resolveProvider,
  'textDocument/hover': (c) => c.hoverProvider,
  'textDocument/signatureHelp': (c) => c.signatureHelpProvider,
  'textDocument/definition': (c) => c.definitionProvider,
  'textDocument/references': (c) => c.referencesProvider,
  'textDocument/documentHighlight': (c) => c.documentHighlightProvider,
  'textDocument/documentSymbol': (c) => c.documentSymbolProvider,
  'textDocument/codeAction': (c) => c.codeActionProvider,
  'textDocument/documentLink': (c) => c.documentLinkProvider,
  'textDocument/formatting': (c) => c.documentFormattingProvider,
  'textDocument/rangeFormatting': (c) => c.documentRangeFormattingProvider,
  'textDocument/onTypeFormatting': (c) => c.documentOnTypeFormattingProvider,
  'textDocument/rename': (c) => c.renameProvider,
  'textDocument/prepareRename': (c) => typeof c.renameProvider === 'object' && c.renameProvider.prepareProvider,
  'textDocument/foldingRange': (c) => c.foldingRangeProvider,
  'textDocument/selectionRange': (c) => c.selectionRangeProvider,
  'textDocument/semanticTokens/full': (c) => {
    const full = c.semanticTokensProvider?.full;
    return full === true || typeof full === 'object';
  },
  'textDocument/semanticTokens/full/delta': (c) => {
    const full = c.semanticTokensProvider?.full;
    return typeof full === 'object' && full.delta === true;
  },
  'textDocument/semanticTokens/range': (c) => c.semanticTokensProvider?.range,
  'textDocument/inlayHint': (c) => c.inlayHintProvider,
  'workspace/executeCommand': (c) => c.executeCommandProvider,
};

export class LspClient {
  /** Answers workspace/configuration: a request for section "a.b" gets settings.a.b, or null. */
  settings: Record<string, unknown>;
  /** Registrations made through client/registerCapability and not yet unregistered, by id. */
  readonly registrations = new Map<string, Registration>();
  /** Every notification other than publishDiagnostics (window/logMessage, $/progress, …). */
  readonly notifications: { method: string; params: unknown }[] = [];
  /** Every server-to-client request, by method, in order (workspace/configuration, …). */
  readonly serverRequests: { method: string; params: unknown }[] = [];
  /** workspace/applyEdit requests, which this client records and reports as applied. */
  readonly appliedEdits: unknown[] = [];
  readonly initializeResult: InitializeResult;
  /** Resolves with the exit code (or null after a signal) when the server process ends. */
  readonly exited: Promise<number | null>;

  private readonly documents = new Map<string, OpenDocument>();
  private readonly latestDiagnostics = new Map<string, PublishedDiagnostics & { seq: number }>();
  // The sequence number of the last open/change of each URI: a publish older than it is stale.
  private readonly editSeq = new Map<string, number>();
  private readonly waiters = new Set<DiagnosticsWaiter>();
  private seq = 0;
  private stderrText = '';
  private exitCode: number | null | undefined;
  private readonly timeoutMs: number;

  private constructor(
    private readonly process: ChildProcessWithoutNullStreams,
    private readonly connection: MessageConnection,
    options: LspClientOptions,
    initializeResult: InitializeResult,
    exited: Promise<number | null>,
  ) {
    this.settings = options.settings ?? {};
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.initializeResult = initializeResult;
    this.exited = exited;
  }

  /** Spawns `command args`, runs initialize/initialized, and returns the ready client. */
  static async start(command: string, args: string[], options: LspClientOptions = {}): Promise<LspClient> {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: 'pipe' });
    const reader = new StreamMessageReader(child.stdout);
    // vscode-jsonrpc re-arms a "partial message" timer forever once a server dies mid-message,
    // and disposing does not clear it: the test process would never exit. We do not use it.
    reader.partialMessageTimeout = 0;
    const connection = createMessageConnection(reader, new StreamMessageWriter(child.stdin));
    // The client object exists only once initialize has answered; until then, buffer here.
    const holder: { client?: LspClient } = {};
    const early = { stderr: '', notifications: [] as { method: string; params: unknown }[] };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (holder.client) holder.client.stderrText += chunk;
      else early.stderr += chunk;
    });
    // A server that dies must not leave requests pending forever: disposing rejects them.
    const exited = new Promise<number | null>((resolve) => {
      child.on('error', (err) => {
        early.stderr += `spawn failed: ${err.message}\n`;
        connection.dispose();
        resolve(null);
      });
      child.on('exit', (code) => {
        if (holder.client) holder.client.exitCode = code;
        connection.dispose();
        resolve(code);
      });
    });
    // Writing to a dead server's stdin raises EPIPE; the exit handler reports the death instead.
    child.stdin.on('error', () => {});

    // Handlers must exist before listen(), since a server may call back during initialize.
    connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      holder.client?.onPublish(params, performance.now());
    });
    connection.onNotification((method: string, params: unknown) => {
      (holder.client?.notifications ?? early.notifications).push({ method, params });
    });
    connection.onRequest((method: string, params: unknown) => {
      if (!holder.client) return new ResponseError(ErrorCodes.ServerNotInitialized, `${method} arrived before initialize returned`);
      return holder.client.onServerRequest(method, params);
    });
    connection.listen();

    const initParams: InitializeParams = {
      processId: process.pid,
      clientInfo: { name: 'tug-lsp-client', version: '0.1.0' },
      locale: 'en',
      rootUri: options.rootUri ?? null,
      workspaceFolders: options.rootUri ? [{ uri: options.rootUri, name: 'workspace' }] : null,
      capabilities: options.capabilities ?? vscodeLikeCapabilities,
      initializationOptions: options.initializationOptions,
      trace: 'off',
    };
    const timeoutMs = options.timeoutMs ?? 10_000;
    let result: InitializeResult;
    try {
      result = await withTimeout(
        Promise.race([
          connection.sendRequest<InitializeResult>('initialize', initParams),
          exited.then((code) => Promise.reject(new Error(`server exited (code ${code}) before answering initialize`))),
        ]),
        timeoutMs,
        'initialize',
      );
    } catch (err) {
      child.kill('SIGKILL');
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${command} ${args.join(' ')}: ${message}${early.stderr ? `\nstderr:\n${early.stderr}` : ''}`);
    }
    const client = new LspClient(child, connection, options, result, exited);
    client.stderrText = early.stderr;
    client.notifications.push(...early.notifications);
    holder.client = client;
    await connection.sendNotification('initialized', {});
    return client;
  }

  get serverCapabilities(): ServerCapabilities {
    return this.initializeResult.capabilities;
  }

  /** False once the server process has exited. */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Everything the server wrote to stderr so far. */
  get stderr(): string {
    return this.stderrText;
  }

  /** Whether the server offers `method`, statically in initialize or by a later registration. */
  supports(method: string): boolean {
    for (const r of this.registrations.values()) if (r.method === method) return true;
    const provider = providerOf[method];
    if (!provider) throw new Error(`supports(): no capability is known for ${method}`);
    return Boolean(provider(this.serverCapabilities));
  }

  /** Sends a request; rejects with the server's ResponseError, or LspTimeoutError after cancelling it. */
  async request<R>(method: string, params: unknown, timeoutMs = this.timeoutMs): Promise<R> {
    const cancel = new CancellationTokenSource();
    try {
      return await withTimeout(this.connection.sendRequest<R>(method, params, cancel.token), timeoutMs, method, () => cancel.cancel());
    } finally {
      cancel.dispose();
    }
  }

  notify(method: string, params?: unknown): Promise<void> {
    return this.connection.sendNotification(method, params);
  }

  /** Replaces the settings and tells the server, as VS Code does when the user edits them. */
  async configure(settings: Record<string, unknown>): Promise<void> {
    this.settings = settings;
    await this.notify('workspace/didChangeConfiguration', { settings });
  }

  /** textDocument/didOpen; returns the version sent (1 unless given). */
  async open(uri: string, text: string, languageId = 'dockerfile', version = 1): Promise<number> {
    this.documents.set(uri, { languageId, version, text });
    this.editSeq.set(uri, ++this.seq);
    await this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
    return version;
  }

  /**
   * textDocument/didChange with the whole new text or with incremental changes; the client
   * applies them to its copy and sends what the server's sync kind asks for. Returns the new version.
   */
  async change(uri: string, changes: string | TextDocumentContentChangeEvent[]): Promise<number> {
    const doc = this.documents.get(uri);
    if (!doc) throw new Error(`change(): ${uri} is not open`);
    const events: TextDocumentContentChangeEvent[] = typeof changes === 'string' ? [{ text: changes }] : changes;
    for (const event of events) doc.text = applyChange(doc.text, event);
    doc.version += 1;
    this.editSeq.set(uri, ++this.seq);
    const contentChanges = this.syncKind() === TextDocumentSyncKind.Incremental ? events : [{ text: doc.text }];
    await this.notify('textDocument/didChange', { textDocument: { uri, version: doc.version }, contentChanges });
    return doc.version;
  }

  async close(uri: string): Promise<void> {
    this.documents.delete(uri);
    this.editSeq.set(uri, ++this.seq);
    await this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  /** The client's copy of an open document. */
  text(uri: string): string | undefined {
    return this.documents.get(uri)?.text;
  }

  version(uri: string): number | undefined {
    return this.documents.get(uri)?.version;
  }

  /** The last diagnostics published for `uri`, whether or not they are current. */
  lastDiagnostics(uri: string): PublishedDiagnostics | undefined {
    return this.latestDiagnostics.get(uri);
  }

  /**
   * The first publishDiagnostics for `uri` after its last open/change (already arrived or still
   * to come). A publish that names a version must name `version` (default: the document's
   * current one) or a later one; servers that omit the version are matched by arrival alone.
   */
  waitForDiagnostics(uri: string, version = this.version(uri), timeoutMs = this.timeoutMs): Promise<PublishedDiagnostics> {
    const since = this.editSeq.get(uri) ?? 0;
    const matches = (p: PublishedDiagnostics & { seq: number }): boolean =>
      p.seq > since && (p.version === undefined || version === undefined || p.version >= version);
    const latest = this.latestDiagnostics.get(uri);
    if (latest && matches(latest)) return Promise.resolve(latest);
    let waiter: DiagnosticsWaiter | undefined;
    const wait = new Promise<PublishedDiagnostics>((resolve) => {
      waiter = { uri, matches, resolve };
      this.waiters.add(waiter);
    });
    return withTimeout(wait, timeoutMs, `diagnostics for ${uri}`).finally(() => this.waiters.delete(waiter!));
  }

  /** shutdown + exit, then waits for the process; kills it if it lingers. */
  /** Sends the server a signal (as an editor that goes away does) and waits for it to end. */
  async kill(signal: NodeJS.Signals): Promise<number | null> {
    this.process.kill(signal);
    await this.exited;
    this.connection.dispose();
    return this.exitCode ?? null;
  }

  async stop(timeoutMs = 5_000): Promise<number | null> {
    if (this.exitCode === undefined) {
      try {
        await this.request('shutdown', undefined, timeoutMs);
        await this.notify('exit');
      } catch {
        // A server that cannot shut down is killed below.
      }
      const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    this.connection.dispose();
    return this.exitCode ?? null;
  }

  private syncKind(): TextDocumentSyncKind {
    const sync = this.serverCapabilities.textDocumentSync;
    if (sync === undefined) return TextDocumentSyncKind.None;
    return typeof sync === 'number' ? sync : (sync.change ?? TextDocumentSyncKind.None);
  }

  private onPublish(params: PublishDiagnosticsParams, receivedAt: number): void {
    const published = { uri: params.uri, version: params.version, diagnostics: params.diagnostics, receivedAt, seq: ++this.seq };
    this.latestDiagnostics.set(params.uri, published);
    for (const waiter of this.waiters) {
      if (waiter.uri === params.uri && waiter.matches(published)) {
        this.waiters.delete(waiter);
        waiter.resolve(published);
      }
    }
  }

  // Answers what VS Code answers; anything else is "method not found", as the spec says.
  private onServerRequest(method: string, params: unknown): unknown {
    this.serverRequests.push({ method, params });
    switch (method) {
      case 'workspace/configuration':
        return (params as ConfigurationParams).items.map((item) => lookup(this.settings, item.section));
      case 'client/registerCapability':
        for (const r of (params as RegistrationParams).registrations) this.registrations.set(r.id, r);
        return null;
      case 'client/unregisterCapability':
        for (const u of (params as UnregistrationParams).unregisterations) this.registrations.delete(u.id);
        return null;
      case 'workspace/applyEdit':
        this.appliedEdits.push(params);
        return { applied: true };
      case 'window/showMessageRequest':
      case 'window/workDoneProgress/create':
      case 'workspace/semanticTokens/refresh':
      case 'workspace/codeLens/refresh':
      case 'workspace/inlayHint/refresh':
      case 'workspace/inlineValue/refresh':
        return null;
      case 'workspace/workspaceFolders':
        return null;
      default:
        return new ResponseError(ErrorCodes.MethodNotFound, `this client does not handle ${method}`);
    }
  }
}

function lookup(settings: Record<string, unknown>, section: string | undefined): unknown {
  if (!section) return settings;
  let value: unknown = settings;
  for (const key of section.split('.')) {
    if (value === null || typeof value !== 'object' || !(key in value)) return null;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Applies one LSP content change (UTF-16 positions, like the server sees them). */
export function applyChange(text: string, change: TextDocumentContentChangeEvent): string {
  if (!('range' in change) || !change.range) return change.text;
  const start = offsetAt(text, change.range.start.line, change.range.start.character);
  const end = offsetAt(text, change.range.end.line, change.range.end.character);
  return text.slice(0, start) + change.text + text.slice(end);
}

export function offsetAt(text: string, line: number, character: number): number {
  let offset = 0;
  for (let l = 0; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  if (lineEnd > offset && text[lineEnd - 1] === '\r') lineEnd -= 1;
  return Math.min(offset + character, lineEnd);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new LspTimeoutError(what, timeoutMs));
    }, timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
