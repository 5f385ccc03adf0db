// Quick fixes: the fixes each rule attached to its findings, offered for the findings that
// touch the requested range.

import { CodeActionKind, type CodeAction, type TextEdit } from 'vscode-languageserver';
import type { Document } from '../document';
import type { FeatureContext } from '../context';
import { asyncFindings, lint, toDiagnostics } from './diagnostics';
import type { Feature } from './feature';
import type { Range } from '../dockerfile/text';

export function codeActions(doc: Document, range: Range, ctx: FeatureContext, only?: readonly string[]): CodeAction[] {
  if (only && !only.some((kind) => CodeActionKind.QuickFix.startsWith(kind))) return [];
  const start = doc.offsetAt(range.start);
  const end = doc.offsetAt(range.end);
  const actions: CodeAction[] = [];
  for (const finding of [...lint(doc, ctx), ...asyncFindings(doc)]) {
    if (!finding.fixes?.length || finding.span.end < start || finding.span.start > end) continue;
    // A finding whose code is turned off has no diagnostic, and so no fix.
    const [diagnostic] = toDiagnostics(doc, [finding], ctx);
    if (!diagnostic) continue;
    for (const fix of finding.fixes) {
      const edits: TextEdit[] = fix.edits.map((edit) => ({ range: doc.range(edit.span), newText: edit.text }));
      actions.push({
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [diagnostic],
        isPreferred: fix.preferred === true || undefined,
        edit: { changes: { [doc.uri]: edits } },
      });
    }
  }
  return actions;
}

export const codeActionsFeature: Feature = {
  capabilities: { codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] } },
  register(server) {
    server.connection.onCodeAction((params) =>
      server.run('codeAction', params.textDocument.uri, [], (doc, ctx) =>
        codeActions(doc, params.range, ctx, params.context.only),
      ),
    );
  },
};
