// Document highlight: the occurrences of the symbol under the cursor, declarations as writes and
// uses as reads.

import { DocumentHighlightKind, type DocumentHighlight } from 'vscode-languageserver/node';
import type { Document } from '../document';
import type { Position } from '../dockerfile/text';
import type { Feature } from './feature';
import { symbolsOf } from './symbols';

export function documentHighlights(doc: Document, position: Position): DocumentHighlight[] {
  const occurrence = symbolsOf(doc).at(doc.offsetAt(position));
  if (!occurrence) return [];
  return occurrence.symbol.occurrences.map((o) => ({
    range: doc.range(o.span),
    kind: o.declaration ? DocumentHighlightKind.Write : DocumentHighlightKind.Read,
  }));
}

export const documentHighlightFeature: Feature = {
  capabilities: { documentHighlightProvider: true },
  register(server) {
    server.connection.onDocumentHighlight((params) =>
      server.run('documentHighlight', params.textDocument.uri, [], (doc) => documentHighlights(doc, params.position)),
    );
  },
};
