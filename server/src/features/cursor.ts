// What is at a position: the instruction whose lines hold it (and ONBUILD's trigger), its index in
// the instruction's logical text, the word around it, the options of a `--mount` flag, the
// variable reference or declaration there, and stage lookups. Shared by completion, hover and
// signature help; everything works from the model made once per version, and looks at one
// instruction at most.

import type { MarkupContent } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Declaration, Model, Reference, Stage } from '../dockerfile/model';
import type { Flag, Heredoc, Instruction, Logical, Pair } from '../dockerfile/syntax';
import { isSpace, type Span } from '../dockerfile/text';

export interface Located {
  /** The instruction as the file holds it; the model (scope, stage) knows only these. */
  readonly top: Instruction;
  /** The instruction the position is in: ONBUILD's trigger from the trigger's keyword on. */
  readonly instruction: Instruction;
  /** The position as an index in the logical text (shared by ONBUILD and its trigger). */
  readonly index: number;
  /** Set when the position is in a heredoc body or on its terminator line. */
  readonly heredoc: Heredoc | null;
}

/** The instruction whose lines hold an offset, or null (blank line, comment, directive, indentation). */
export function locate(doc: Document, offset: number): Located | null {
  const instructions = doc.model.syntax.instructions;
  const line = doc.lines.lineAt(offset);
  let lo = 0;
  let hi = instructions.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (instructions[mid].startLine <= line) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return null;
  const top = instructions[found];
  if (line > top.lastLine || offset < top.start) return null;
  if (line > top.endLine) {
    const heredoc = top.heredocs.find((h) => offset >= h.body.start && offset <= (h.terminator ?? h.body).end);
    return heredoc ? { top, instruction: top, index: -1, heredoc } : null;
  }
  // A comment line inside a continuation belongs to no instruction.
  if (line > top.startLine) {
    const text = doc.lines.lineText(line);
    if (text.trimStart().startsWith('#')) return null;
  }
  const index = logicalIndex(top.logical, offset);
  const instruction = top.trigger && index >= top.argsAt ? top.trigger : top;
  return { top, instruction, index, heredoc: null };
}

/**
 * The logical index of a document offset: where a character typed there would land. Offsets on
 * a line-continuation character map to the end of the piece before it.
 */
export function logicalIndex(logical: Logical, offset: number): number {
  const length = logical.text.length;
  if (logical.toDoc(0) >= offset) return 0;
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (logical.toDoc(mid) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return logical.toDoc(lo) === offset ? lo : Math.min(lo + 1, length);
}

/** The run of non-space characters around an index: [start, end). */
export function wordAround(text: string, index: number): [number, number] {
  let start = index;
  while (start > 0 && !isSpace(text.charCodeAt(start - 1))) start--;
  let end = index;
  while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
  return [start, end];
}

/** Where the keyword ends in the logical text (the trigger's keyword starts at ONBUILD's argsAt). */
export function keywordStart(top: Instruction, instruction: Instruction): number {
  return instruction === top ? 0 : top.argsAt;
}

/** The index of the argument word at a logical index: words that start before it are counted. */
export function argumentIndex(instruction: Instruction, wordStart: number): number {
  let n = 0;
  for (const word of instruction.words) if (word.at < wordStart) n++;
  return n;
}

/** The flag whose text holds an offset (its end included). */
export function flagAt(instruction: Instruction, offset: number): Flag | undefined {
  return instruction.flags.find((f) => offset >= f.start && offset <= f.end);
}

/** One `key=value` (or bare `key`) option of a `--mount` flag, by logical index. */
export interface MountPart {
  /** Lower case, as BuildKit reads it. */
  readonly key: string;
  readonly value: string | null;
  readonly start: number;
  /** Where the value starts (after `=`), or -1. */
  readonly valueAt: number;
  readonly end: number;
}

/**
 * Splits a mount value (logical text from `from` to `end`) into its comma-separated options.
 * BuildKit reads it as a CSV record, so commas inside double quotes do not split.
 */
export function mountParts(text: string, from: number, end: number): MountPart[] {
  const parts: MountPart[] = [];
  let start = from;
  let quote = false;
  for (let i = from; i <= end; i++) {
    const c = text.charCodeAt(i);
    if (i < end && c === 34) quote = !quote;
    if (i < end && (quote || c !== 44 /* , */)) continue;
    const raw = text.slice(start, i);
    const eq = raw.indexOf('=');
    const key = (eq === -1 ? raw : raw.slice(0, eq)).replace(/"/g, '').trim().toLowerCase();
    parts.push({
      key,
      value: eq === -1 ? null : raw.slice(eq + 1).replace(/"/g, ''),
      start,
      valueAt: eq === -1 ? -1 : start + eq + 1,
      end: i,
    });
    start = i + 1;
  }
  return parts;
}

/** The mount type a `--mount` value asks for: `type=`, or bind by default. */
export function mountType(parts: readonly MountPart[]): string {
  return parts.find((p) => p.key === 'type')?.value?.toLowerCase() ?? 'bind';
}

/** The logical range of a flag's value, or null for a flag without `=`. */
export function flagValueRange(instruction: Instruction, flag: Flag): [number, number] | null {
  if (!flag.valueSpan) return null;
  const { logical } = instruction;
  return [logicalIndex(logical, flag.valueSpan.start), logicalIndex(logical, flag.valueSpan.end)];
}

/** The variable reference at an offset in an instruction (its heredoc bodies included). */
export function referenceAt(model: Model, top: Instruction, offset: number): Reference | undefined {
  const refs = model.references;
  // References are in file order instruction by instruction: find this instruction's first.
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (refs[mid].start < top.start) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < refs.length && refs[i].start <= top.end; i++) {
    if (offset >= refs[i].start && offset < refs[i].end) return refs[i];
  }
  return undefined;
}

/** The declaration an ARG/ENV pair makes (declarations are in file order). */
export function declarationOf(model: Model, pair: Pair): Declaration | undefined {
  const list = model.declarations;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].pair.keySpan.start < pair.keySpan.start) lo = mid + 1;
    else hi = mid;
  }
  return list[lo]?.pair === pair ? list[lo] : undefined;
}

/** Named stages defined before an instruction, other than the one it belongs to. */
export function earlierStages(model: Model, top: Instruction): Stage[] {
  const own = model.stageOf(top);
  return model.stages.filter((s) => s.name && s.from.start < top.start && s !== own);
}

/** The stage a name refers to from an instruction (BuildKit matches names case-insensitively). */
export function stageNamed(model: Model, name: string, top: Instruction): Stage | undefined {
  const lower = name.toLowerCase();
  return earlierStages(model, top).find((s) => s.name!.text.toLowerCase() === lower);
}

/** Markdown for clients that take it, plain text for the others. */
export function markup(markdown: string, ctx: FeatureContext): MarkupContent {
  return ctx.client.markdown ? { kind: 'markdown', value: markdown } : { kind: 'plaintext', value: plainText(markdown) };
}

/** Markdown as readable plain text: no fences, backticks, emphasis or link syntax. */
export function plainText(markdown: string): string {
  return markdown
    .replace(/^```[a-z]*\n?/gm, '')
    .replace(/\[([^\]]*)\]\(([^)]*)\)/g, '$1: $2')
    .replace(/\*\*([^*]*)\*\*/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Inline code that survives backticks in the text. */
export function inlineCode(text: string): string {
  if (!text.includes('`')) return `\`${text}\``;
  return `\`\` ${text} \`\``;
}

export function contains(span: Span, offset: number): boolean {
  return offset >= span.start && offset < span.end;
}
