// Folding ranges, by whole lines: each build stage (its FROM to its last instruction), each
// instruction that spans several lines (its continuation lines and heredocs), each heredoc body
// of two lines or more (from its first line to its last: the terminator stays in view like a
// closing bracket), each run of two or more consecutive comment lines, and the parser
// directives block (both of kind "comment").
//
// VS Code keeps one range per start line and drops ranges that overlap without nesting, so
// ranges are sorted by start line and, on the same start line, only the largest is kept (a
// multi-line FROM folds with its stage).

import { FoldingRangeKind, type FoldingRange } from 'vscode-languageserver';
import type { Document } from '../document';
import type { Feature } from './feature';

export function foldingRanges(doc: Document): FoldingRange[] {
  const { syntax, stages } = doc.model;
  const lines = syntax.lines;
  const found: FoldingRange[] = [];
  const add = (startLine: number, endLine: number, kind?: string) => {
    if (endLine > startLine) found.push(kind ? { startLine, endLine, kind } : { startLine, endLine });
  };

  const directives = syntax.directives;
  if (directives.length > 1) add(directives[0].line, directives[directives.length - 1].line, FoldingRangeKind.Comment);

  for (const stage of stages) {
    add(stage.from.startLine, stage.instructions[stage.instructions.length - 1].lastLine);
  }

  for (const ins of syntax.instructions) {
    add(ins.startLine, ins.lastLine);
    for (const heredoc of ins.heredocs) {
      const { body } = heredoc;
      if (body.end > body.start) add(lines.lineAt(body.start), lines.lineAt(body.end - 1));
    }
  }

  // Comments are in document order; a run is consecutive lines.
  let runStart = -1;
  let runEnd = -1;
  for (const comment of syntax.comments) {
    const line = lines.lineAt(comment.start);
    if (line === runEnd + 1 && runStart !== -1) {
      runEnd = line;
      continue;
    }
    if (runStart !== -1) add(runStart, runEnd, FoldingRangeKind.Comment);
    runStart = runEnd = line;
  }
  if (runStart !== -1) add(runStart, runEnd, FoldingRangeKind.Comment);

  found.sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  const result: FoldingRange[] = [];
  for (const range of found) {
    if (result.length && result[result.length - 1].startLine === range.startLine) continue;
    result.push(range);
  }
  return result;
}

export const foldingRangesFeature: Feature = {
  capabilities: { foldingRangeProvider: true },
  register(server) {
    server.connection.onFoldingRanges((params) => server.run('foldingRanges', params.textDocument.uri, [], (doc) => foldingRanges(doc)));
  },
};
