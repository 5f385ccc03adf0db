// The Dockerfile language server: `node dist/server.js --stdio`. Keeps one Document (and its
// analysis) per open file and version, and wires every language feature to the protocol.
// A failing feature is logged and answers empty; it never takes the server down.

import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { ClientFeatures, FeatureContext } from './context';
import { Document } from './document';
import { DiagnosticsScheduler } from './features/diagnostics';
import type { Server } from './features/feature';
import { FEATURES } from './features';
import { DEFAULT_SETTINGS, readSettings, type Settings } from './settings';

const connection = createConnection(ProposedFeatures.all);
console.log = connection.console.log.bind(connection.console);
console.error = connection.console.error.bind(connection.console);

const texts = new TextDocuments(TextDocument);
const documents = new Map<string, Document>();
let settings: Settings = DEFAULT_SETTINGS;
let client: ClientFeatures = { snippets: false, markdown: false, hierarchicalSymbols: false };
let pullConfiguration = false;
let refreshHints = false;

const context = (): FeatureContext => ({ settings, client });

/** The Document for the open file's current version. */
function documentOf(uri: string): Document | undefined {
  const text = texts.get(uri);
  if (!text) return undefined;
  let doc = documents.get(uri);
  if (!doc || doc.version !== text.version) {
    doc = new Document(uri, text.version, text.getText());
    documents.set(uri, doc);
  }
  return doc;
}

const diagnostics = new DiagnosticsScheduler(documentOf, context, (doc, list) => {
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: list });
});

const server: Server = { connection, document: documentOf, run, context };

function run<T>(name: string, uri: string, fallback: T, feature: (doc: Document, ctx: FeatureContext) => T): T {
  const doc = documentOf(uri);
  if (!doc) return fallback;
  const fail = (error: unknown) => {
    console.error(`${name} failed on ${uri}: ${(error as Error).stack ?? error}`);
    return fallback;
  };
  try {
    const result = feature(doc, context());
    // An asynchronous feature's failure is caught the same way.
    return result instanceof Promise ? (result.catch(fail) as T) : result;
  } catch (error) {
    return fail(error);
  }
}

connection.onInitialize((params: InitializeParams): InitializeResult => {
  const caps = params.capabilities;
  client = {
    snippets: caps.textDocument?.completion?.completionItem?.snippetSupport === true,
    markdown: caps.textDocument?.hover?.contentFormat?.includes('markdown') === true,
    hierarchicalSymbols: caps.textDocument?.documentSymbol?.hierarchicalDocumentSymbolSupport === true,
  };
  pullConfiguration = caps.workspace?.configuration === true;
  refreshHints = caps.workspace?.inlayHint?.refreshSupport === true;
  if (params.initializationOptions) settings = readSettings(params.initializationOptions);
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      ...Object.assign({}, ...FEATURES.map((feature) => feature.capabilities)),
    },
    serverInfo: { name: 'tug-dockerfile', version: '0.1.0' },
  };
});

async function refreshSettings(): Promise<void> {
  if (!pullConfiguration) return;
  try {
    // A client with no `tug` section answers null: keep what initializationOptions gave.
    const raw: unknown = await connection.workspace.getConfiguration('tug');
    if (raw) settings = readSettings(raw);
  } catch (error) {
    console.error(`reading settings failed: ${(error as Error).message}`);
  }
}

// Diagnostics wait for the client's settings, so that a rule turned off never flashes up.
let settingsReady: Promise<void> = Promise.resolve();
connection.onInitialized(() => {
  settingsReady = refreshSettings();
  void settingsReady.then(() => diagnostics.scheduleAll(texts.keys()));
});

connection.onDidChangeConfiguration((change) => {
  const raw = (change.settings as { tug?: unknown } | null)?.tug;
  if (raw !== undefined) settings = readSettings(raw);
  void refreshSettings().then(() => {
    diagnostics.scheduleAll(texts.keys());
    if (refreshHints) void connection.languages.inlayHint.refresh();
  });
});

texts.onDidChangeContent((change) => void settingsReady.then(() => diagnostics.schedule(change.document.uri)));
texts.onDidClose((change) => {
  documents.delete(change.document.uri);
  diagnostics.forget(change.document.uri);
  void connection.sendDiagnostics({ uri: change.document.uri, diagnostics: [] });
});

connection.onShutdown(() => diagnostics.dispose());

for (const feature of FEATURES) feature.register(server);
texts.listen(connection);
connection.listen();
