// The Dockerfile language client: starts dist/server.js (IPC) for Dockerfiles and hands it the
// `tug` settings. Bundled apart from extension.ts and loaded just after activation, so that
// activating does not wait for vscode-languageclient to load.

import * as path from 'node:path';
import type * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

export function startLanguageClient(context: vscode.ExtensionContext): LanguageClient {
  const module = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'dockerfile' },
      { scheme: 'untitled', language: 'dockerfile' },
    ],
    synchronize: { configurationSection: 'tug' },
  };
  return new LanguageClient('tug', 'Tug Dockerfile', serverOptions, clientOptions);
}
