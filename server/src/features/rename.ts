// Rename a stage, an ARG/ENV variable or a heredoc delimiter everywhere it occurs. Names that
// BuildKit would refuse, predefined build args and variables this file does not declare are
// refused with a message the user sees; prepareRename answers null where there is no symbol.

import {
  ErrorCodes,
  LSPErrorCodes,
  ResponseError,
  type Range,
  type TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver/node';
import type { Document } from '../document';
import type { Position } from '../dockerfile/text';
import type { Feature } from './feature';
import { isPredefinedArg, symbolsOf, type DocSymbol, type Occurrence } from './symbols';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** BuildKit's stage name rule, checked on the lower-cased name. */
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
/** A delimiter that needs no quoting in the `<<NAME` word. */
const HEREDOC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Why a symbol cannot be renamed at all, or null. */
function refusal(occurrence: Occurrence): string | null {
  const { symbol } = occurrence;
  if (symbol.kind !== 'variable') return null;
  if (isPredefinedArg(symbol.name)) return `${symbol.name} is a predefined build argument and cannot be renamed`;
  if (!symbol.occurrences.some((o) => o.declaration)) {
    return `${symbol.name} is not declared by an ARG or ENV in this Dockerfile and cannot be renamed`;
  }
  return null;
}

/** Why a new name is not valid for a symbol, or null. */
function invalidName(doc: Document, symbol: DocSymbol, newName: string): string | null {
  switch (symbol.kind) {
    case 'variable':
      if (!VARIABLE_NAME.test(newName)) return `'${newName}' is not a valid variable name: use letters, digits and _, not starting with a digit`;
      if (isPredefinedArg(newName)) return `'${newName}' is a predefined build argument`;
      return null;
    case 'stage': {
      const lower = newName.toLowerCase();
      if (!STAGE_NAME.test(lower)) {
        return `'${newName}' is not a valid stage name: it must start with a letter and contain only letters, digits, '-', '_' and '.'`;
      }
      const taken = doc.model.stages.some((s) => s !== symbol.stage && s.name?.text.toLowerCase() === lower);
      return taken ? `a stage named '${newName}' already exists` : null;
    }
    case 'heredoc': {
      if (!HEREDOC_NAME.test(newName)) return `'${newName}' is not a valid heredoc delimiter: use letters, digits, '_', '.' and '-'`;
      const body = symbol.body!;
      for (const line of doc.text.slice(body.span.start, body.span.end).split('\n')) {
        const content = line.replace(/\r$/, '');
        if ((body.chomp ? content.replace(/^\t+/, '') : content) === newName) {
          return `the heredoc's body has a line '${newName}', which would end it early`;
        }
      }
      return null;
    }
  }
}

export function prepareRename(doc: Document, position: Position): { range: Range; placeholder: string } | ResponseError | null {
  const occurrence = symbolsOf(doc).at(doc.offsetAt(position));
  if (!occurrence) return null;
  const reason = refusal(occurrence);
  if (reason) return new ResponseError(LSPErrorCodes.RequestFailed, reason);
  return { range: doc.range(occurrence.span), placeholder: doc.text.slice(occurrence.span.start, occurrence.span.end) };
}

export function rename(doc: Document, position: Position, newName: string): WorkspaceEdit | ResponseError {
  const occurrence = symbolsOf(doc).at(doc.offsetAt(position));
  if (!occurrence) return new ResponseError(LSPErrorCodes.RequestFailed, 'there is no stage, variable or heredoc to rename here');
  const reason = refusal(occurrence);
  if (reason) return new ResponseError(LSPErrorCodes.RequestFailed, reason);
  const invalid = invalidName(doc, occurrence.symbol, newName);
  if (invalid) return new ResponseError(ErrorCodes.InvalidParams, invalid);
  const edits: TextEdit[] = occurrence.symbol.occurrences.map((o) => ({ range: doc.range(o.span), newText: newName }));
  return { changes: { [doc.uri]: edits } };
}

export const renameFeature: Feature = {
  capabilities: { renameProvider: { prepareProvider: true } },
  register(server) {
    server.connection.onPrepareRename((params) =>
      server.run<ReturnType<typeof prepareRename>>('prepareRename', params.textDocument.uri, null, (doc) =>
        prepareRename(doc, params.position),
      ),
    );
    server.connection.onRenameRequest((params) =>
      server.run<WorkspaceEdit | ResponseError | null>('rename', params.textDocument.uri, null, (doc) =>
        rename(doc, params.position, params.newName),
      ),
    );
  },
};
