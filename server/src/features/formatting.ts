// Formatting: whole document, ranges, and on type. It follows the conventions of Dockerfile
// formatters (rcjsuen's dockerfile-utils among them): an instruction's keyword and top-level
// comments start at column 0, every continuation line (comments inside the continuation too)
// is indented by one indent unit, whitespace-only lines are emptied, trailing whitespace goes
// when the client asks for it, and a final newline is added when it asks for that. Parser
// directives, heredoc bodies and terminators are never touched, and neither is any line of a
// multi-line instruction when `tug.formatter.ignoreMultilineInstructions` is set.
//
// Edits replace only whitespace. A continuation line whose start lies inside a word (a quoted
// string broken over lines, or a word glued across the line break) keeps its indentation,
// since changing it would change the instruction's text as BuildKit joins it.

import type { FormattingOptions, Position, Range, TextEdit } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import { firstInstructionFrom, type Instruction } from '../dockerfile/syntax';
import { isSpace, type Span } from '../dockerfile/text';
import type { Feature } from './feature';

/** What formatting does with a line's leading whitespace. */
const enum Role {
  /** Directive, heredoc body or terminator, hand-indented instruction: no edit at all. */
  Untouched,
  /** Instruction keyword line, top-level comment, blank line: column 0. */
  Column0,
  /** Continuation line (or comment inside one): one indent unit; blank ones are emptied. */
  Continuation,
  /** Continuation line that starts inside a word: indentation kept, trailing space trimmed. */
  InsideWord,
}

/** Walks lines from..to (inclusive) with the role of each, in one pass over the instructions. */
function forEachLine(doc: Document, from: number, to: number, ignoreMultiline: boolean, visit: (line: number, role: Role) => void): void {
  const { syntax } = doc.model;
  const instructions = syntax.instructions;
  const directiveLines = new Set(syntax.directives.map((d) => d.line));
  let k = firstInstructionFrom(instructions, from);
  for (let line = from; line <= to; line++) {
    while (k < instructions.length && instructions[k].lastLine < line) k++;
    const ins = instructions[k] as Instruction | undefined;
    if (ins && ins.startLine <= line) {
      if (line > ins.endLine || (ignoreMultiline && ins.endLine > ins.startLine)) visit(line, Role.Untouched);
      else if (line === ins.startLine) visit(line, Role.Column0);
      else visit(line, startsInsideWord(ins, doc.lines.lineStart(line)) ? Role.InsideWord : Role.Continuation);
    } else visit(line, directiveLines.has(line) ? Role.Untouched : Role.Column0);
  }
}


/** Whether a word (or flag, or the keyword) of the instruction runs across this line start. */
function startsInsideWord(ins: Instruction, offset: number): boolean {
  return (
    across(ins.words, offset) ||
    across(ins.flags, offset) ||
    across([ins.keywordSpan], offset) ||
    (ins.trigger !== null && (across(ins.trigger.flags, offset) || across([ins.trigger.keywordSpan], offset)))
  );
}

/** Binary search over spans sorted by start: one starts before offset and ends after it. */
function across(spans: readonly Span[], offset: number): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].start < offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found !== -1 && spans[found].end > offset;
}

function indentUnit(options: FormattingOptions): string {
  return options.insertSpaces ? ' '.repeat(Math.max(0, Math.min(options.tabSize | 0, 64))) : '\t';
}

function pos(line: number, character: number): Position {
  return { line, character };
}

/** Edits for lines from..to: leading whitespace to its role's indentation, trailing trimmed. */
function lineEdits(doc: Document, from: number, to: number, options: FormattingOptions, ctx: FeatureContext, out: TextEdit[]): void {
  const text = doc.text;
  const lines = doc.lines;
  const unit = indentUnit(options);
  const trim = options.trimTrailingWhitespace === true;
  forEachLine(doc, from, to, ctx.settings.formatter.ignoreMultilineInstructions, (line, role) => {
    if (role === Role.Untouched) return;
    const lineStart = lines.lineStart(line);
    const start = line === 0 && text.charCodeAt(0) === 0xfeff ? 1 : lineStart;
    const end = lines.lineEnd(line);
    let first = start;
    while (first < end && isSpace(text.charCodeAt(first))) first++;
    if (first === end) {
      // A whitespace-only line: its whitespace is all leading, and goes.
      if (end > start) out.push({ range: { start: pos(line, start - lineStart), end: pos(line, end - lineStart) }, newText: '' });
      return;
    }
    const want = role === Role.Column0 ? '' : role === Role.Continuation ? unit : null;
    if (want !== null && (first - start !== want.length || text.slice(start, first) !== want)) {
      out.push({ range: { start: pos(line, start - lineStart), end: pos(line, first - lineStart) }, newText: want });
    }
    if (trim) {
      // Only spaces and tabs: those are what BuildKit ignores after a line's escape character.
      let last = end;
      while (last > first && (text.charCodeAt(last - 1) === 32 || text.charCodeAt(last - 1) === 9)) last--;
      if (last < end) out.push({ range: { start: pos(line, last - lineStart), end: pos(line, end - lineStart) }, newText: '' });
    }
  });
}

export function formatDocument(doc: Document, options: FormattingOptions, ctx: FeatureContext): TextEdit[] {
  const edits: TextEdit[] = [];
  const lines = doc.lines;
  lineEdits(doc, 0, lines.lineCount - 1, options, ctx, edits);
  const text = doc.text;
  if (options.insertFinalNewline === true && text.length > 0 && text.charCodeAt(text.length - 1) !== 10 && !endsInHeredocBody(doc)) {
    const last = lines.lineCount - 1;
    const at = pos(last, text.length - lines.lineStart(last));
    const newline = text.indexOf('\r\n') !== -1 ? '\r\n' : '\n';
    edits.push({ range: { start: at, end: at }, newText: newline });
  }
  return edits;
}

/** An unterminated heredoc's body runs to the end of the file; a newline would change it. */
function endsInHeredocBody(doc: Document): boolean {
  const instructions = doc.model.syntax.instructions;
  const last = instructions[instructions.length - 1];
  const heredoc = last?.heredocs[last.heredocs.length - 1];
  return heredoc !== undefined && heredoc.terminator === null;
}

/**
 * The lines of the given ranges. A range that ends at the start of a line (a selection of
 * whole lines) does not include that line.
 */
export function formatRanges(doc: Document, ranges: readonly Range[], options: FormattingOptions, ctx: FeatureContext): TextEdit[] {
  const last = doc.lines.lineCount - 1;
  const spans = ranges
    .map((r) => {
      const from = Math.max(0, Math.min(r.start.line, last));
      let to = Math.max(0, Math.min(r.end.line, last));
      if (r.end.character === 0 && r.end.line > r.start.line) to = Math.max(from, to - 1);
      return [from, to] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  const edits: TextEdit[] = [];
  let done = -1;
  for (const [from, to] of spans) {
    if (to <= done) continue;
    lineEdits(doc, Math.max(from, done + 1), to, options, ctx, edits);
    done = to;
  }
  return edits;
}

/**
 * On type: a newline typed after a line that continues (the new line is a continuation line)
 * indents the new line; the escape character typed at the end of a line indents the next line
 * when that line exists and is not blank.
 */
export function formatOnType(doc: Document, position: Position, ch: string, options: FormattingOptions, ctx: FeatureContext): TextEdit[] {
  const { syntax } = doc.model;
  if (ctx.settings.formatter.ignoreMultilineInstructions) return [];
  const text = doc.text;
  const lines = doc.lines;
  let target: number;
  if (ch === '\n') {
    target = position.line;
  } else if (ch === syntax.escape) {
    const line = position.line;
    if (line < 0 || line >= lines.lineCount - 1) return [];
    const lineStart = lines.lineStart(line);
    const end = lines.lineEnd(line);
    const at = lineStart + position.character;
    if (at < lineStart + 1 || at > end || text[at - 1] !== ch) return [];
    for (let i = at; i < end; i++) if (text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 9) return [];
    // A line that starts with `#` is a comment (or directive): its last character continues nothing.
    let first = lineStart;
    while (first < end && isSpace(text.charCodeAt(first))) first++;
    if (text.charCodeAt(first) === 35 /* # */) return [];
    target = line + 1;
  } else return [];
  if (target <= 0 || target >= lines.lineCount) return [];
  const ins = continuationOwner(doc, target);
  if (!ins) return [];
  const lineStart = lines.lineStart(target);
  if (startsInsideWord(ins, lineStart)) return [];
  const end = lines.lineEnd(target);
  let first = lineStart;
  while (first < end && isSpace(text.charCodeAt(first))) first++;
  // The escape character never indents a blank line; a newline does: the cursor is on it.
  if (first === end && ch !== '\n') return [];
  const unit = indentUnit(options);
  if (text.slice(lineStart, first) === unit) return [];
  return [{ range: { start: pos(target, 0), end: pos(target, first - lineStart) }, newText: unit }];
}

/** The instruction a line continues, if it is a continuation line. */
function continuationOwner(doc: Document, line: number): Instruction | null {
  const { syntax } = doc.model;
  const instructions = syntax.instructions;
  const ins = instructions[firstInstructionFrom(instructions, line)];
  if (ins && line > ins.startLine && line <= ins.endLine) return ins;
  // After a final newline there is one more (empty) line, which the parser, like BuildKit's
  // line scanner, does not count: the cursor is on it after Enter at the end of the file.
  const text = doc.text;
  if (line !== doc.lines.lineCount - 1 || !text.endsWith('\n')) return null;
  const before = instructions[instructions.length - 1];
  if (!before || before.lastLine !== line - 1 || before.heredocs.length) return null;
  const start = doc.lines.lineStart(line - 1);
  const end = doc.lines.lineEnd(line - 1);
  let first = start;
  while (first < end && isSpace(text.charCodeAt(first))) first++;
  // A blank or comment line inside the instruction: the continuation is still open.
  if (first === end || text.charCodeAt(first) === 35 /* # */) return line - 1 > before.startLine ? before : null;
  let last = end;
  while (last > first && (text.charCodeAt(last - 1) === 32 || text.charCodeAt(last - 1) === 9)) last--;
  return text[last - 1] === syntax.escape ? before : null;
}

export const formattingFeature: Feature = {
  capabilities: {
    documentFormattingProvider: true,
    documentRangeFormattingProvider: { rangesSupport: true },
    documentOnTypeFormattingProvider: { firstTriggerCharacter: '\n', moreTriggerCharacter: ['\\', '`'] },
  },
  register(server) {
    const { connection } = server;
    connection.onDocumentFormatting((params) =>
      server.run('formatting', params.textDocument.uri, [], (doc, ctx) => formatDocument(doc, params.options, ctx)),
    );
    connection.onDocumentRangeFormatting((params) =>
      server.run('rangeFormatting', params.textDocument.uri, [], (doc, ctx) => formatRanges(doc, [params.range], params.options, ctx)),
    );
    connection.onDocumentRangesFormatting((params) =>
      server.run('rangesFormatting', params.textDocument.uri, [], (doc, ctx) => formatRanges(doc, params.ranges, params.options, ctx)),
    );
    connection.onDocumentOnTypeFormatting((params) =>
      server.run('onTypeFormatting', params.textDocument.uri, [], (doc, ctx) =>
        formatOnType(doc, params.position, params.ch, params.options, ctx),
      ),
    );
  },
};
