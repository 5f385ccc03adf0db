// Go to definition: from a variable to the ARG/ENV it reads (and, for a value-less `ARG name`
// in a stage, to the global ARG it takes its value from), from a stage reference to `AS name`,
// from a heredoc terminator to its `<<NAME`.

import type { Location } from 'vscode-languageserver/node';
import type { Document } from '../document';
import type { Position } from '../dockerfile/text';
import type { Feature } from './feature';
import { symbolsOf } from './symbols';

export function definition(doc: Document, position: Position): Location[] {
  const index = symbolsOf(doc);
  const occurrence = index.at(doc.offsetAt(position));
  if (!occurrence) return [];
  return index.definitions(occurrence).map((span) => ({ uri: doc.uri, range: doc.range(span) }));
}

export const definitionFeature: Feature = {
  capabilities: { definitionProvider: true },
  register(server) {
    server.connection.onDefinition((params) =>
      server.run('definition', params.textDocument.uri, [], (doc) => definition(doc, params.position)),
    );
  },
};
