// Find all references: every occurrence of the symbol under the cursor (a stage, a variable as
// BuildKit scopes it, a heredoc delimiter), its declarations only when the client asks.

import type { Location } from 'vscode-languageserver/node';
import type { Document } from '../document';
import type { Position } from '../dockerfile/text';
import type { Feature } from './feature';
import { symbolsOf } from './symbols';

export function references(doc: Document, position: Position, includeDeclaration: boolean): Location[] {
  const occurrence = symbolsOf(doc).at(doc.offsetAt(position));
  if (!occurrence) return [];
  return occurrence.symbol.occurrences
    .filter((o) => includeDeclaration || !o.declaration)
    .map((o) => ({ uri: doc.uri, range: doc.range(o.span) }));
}

export const referencesFeature: Feature = {
  capabilities: { referencesProvider: true },
  register(server) {
    server.connection.onReferences((params) =>
      server.run('references', params.textDocument.uri, [], (doc) =>
        references(doc, params.position, params.context?.includeDeclaration !== false),
      ),
    );
  },
};
