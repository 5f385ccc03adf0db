// The contract between the server and each language feature: the capabilities it announces
// and the handlers it registers.

import type { Connection, ServerCapabilities } from 'vscode-languageserver/node';
import type { FeatureContext } from '../context';
import type { Document } from '../document';

export interface Server {
  readonly connection: Connection;
  /** The open document's current version, or undefined when it is not open. */
  document(uri: string): Document | undefined;
  /**
   * Runs a feature on an open document; answers `fallback` when the document is not open or
   * when the feature throws (which is logged).
   */
  run<T>(name: string, uri: string, fallback: T, feature: (doc: Document, ctx: FeatureContext) => T): T;
  context(): FeatureContext;
}

export interface Feature {
  readonly capabilities: ServerCapabilities;
  register(server: Server): void;
}
