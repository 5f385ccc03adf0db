// The Dockerfile parser: text → directives, comments and instructions, with every piece
// located by offset. It follows BuildKit's parser (frontend/dockerfile/parser) line by line:
// parser directives only at the top, the escape character, continuation lines (comments and
// blank lines inside them skipped), flags at the start of the arguments, JSON or shell forms,
// heredocs for RUN/COPY/ADD, and ONBUILD's trigger. It never throws: what BuildKit would refuse
// becomes a problem with a location, and parsing goes on.

import { isSpace, LineIndex, type Span } from './text';

export type Escape = '\\' | '`';

export interface Directive extends Span {
  /** Lower case. */
  readonly name: string;
  readonly value: string;
  readonly nameSpan: Span;
  readonly valueSpan: Span;
  readonly line: number;
}

/** A word of an instruction's arguments, as written (quotes and escapes kept). */
export interface Word extends Span {
  readonly text: string;
  /** Index in the instruction's logical text (continuations joined), for mapping sub-ranges. */
  readonly at: number;
}

export interface Flag extends Span {
  /** Without the dashes. */
  readonly name: string;
  readonly nameSpan: Span;
  /** The value with quotes removed, or null for a flag written without `=`. */
  readonly value: string | null;
  /** Where the value is written (quotes included); empty right after `=` for `--flag=`. */
  readonly valueSpan: Span | null;
}

export interface JsonString extends Span {
  /** Decoded. */
  readonly value: string;
}

export interface JsonArray extends Span {
  readonly items: readonly JsonString[];
}

export interface Heredoc {
  readonly name: string;
  /** The `<<EOF` word on the instruction line. */
  readonly marker: Span;
  /** The delimiter's name within the marker. */
  readonly nameSpan: Span;
  /** `<<-`: leading tabs are stripped from the body and the terminator. */
  readonly chomp: boolean;
  /** An unquoted delimiter: variables in the body are expanded. */
  readonly expand: boolean;
  /** The lines between the instruction and the terminator. */
  readonly body: Span;
  /** The terminator line, or null when the file ends first. */
  readonly terminator: Span | null;
}

/** A key/value pair of ENV, LABEL or ARG. */
export interface Pair {
  readonly key: string;
  readonly keySpan: Span;
  /** Raw value text (quotes kept), or null (ARG without default, or a missing value). */
  readonly value: string | null;
  readonly valueSpan: Span | null;
  /** Whether `=` is written. */
  readonly equals: boolean;
  /** The word the pair came from. */
  readonly word: Word;
}

/**
 * The text of an instruction with continuation lines joined, as BuildKit sees it, and a map
 * back to document offsets.
 */
export class Logical {
  constructor(
    readonly text: string,
    /** Pairs of [logical index, document offset] where each piece starts, ascending. */
    private readonly pieces: readonly number[],
  ) {}

  /** The document offset of a logical index. */
  toDoc(i: number): number {
    const p = this.pieces;
    // The last piece starting at or before i.
    let lo = 0;
    let hi = (p.length >> 1) - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (p[mid * 2] <= i) lo = mid;
      else hi = mid - 1;
    }
    return p[lo * 2 + 1] + (i - p[lo * 2]);
  }

  /** The document offset just after logical index i - 1 (an exclusive end). */
  toDocEnd(i: number): number {
    return i <= 0 ? this.toDoc(0) : this.toDoc(i - 1) + 1;
  }

  span(start: number, end: number): Span {
    return { start: this.toDoc(start), end: end > start ? this.toDocEnd(end) : this.toDoc(start) };
  }
}

export interface Instruction extends Span {
  /** Upper case, as BuildKit matches it. */
  readonly keyword: string;
  readonly keywordSpan: Span;
  /** First and last line of the instruction itself (heredoc bodies not included). */
  readonly startLine: number;
  readonly endLine: number;
  /** The last line, heredoc bodies and terminators included. */
  readonly lastLine: number;
  readonly logical: Logical;
  /** Logical index where the arguments (after flags) start and end (trimmed). */
  readonly argsAt: number;
  readonly argsEnd: number;
  /** The arguments in the document (after flags, trimmed), or null when there are none. */
  readonly args: Span | null;
  readonly flags: readonly Flag[];
  /** The arguments after the flags, split into words (quote-aware). */
  readonly words: readonly Word[];
  /** The arguments when they are a JSON array of strings (exec form). */
  readonly json: JsonArray | null;
  readonly heredocs: readonly Heredoc[];
  /** ENV, LABEL and ARG: the pairs. */
  readonly pairs: readonly Pair[];
  /** Blank lines inside the continuation. */
  readonly emptyContinuationLines: readonly number[];
  /** ONBUILD: the trigger instruction. */
  readonly trigger: Instruction | null;
}

export interface Problem extends Span {
  readonly code: string;
  readonly message: string;
}

export interface Syntax {
  readonly text: string;
  readonly lines: LineIndex;
  readonly escape: Escape;
  readonly directives: readonly Directive[];
  readonly comments: readonly Span[];
  readonly instructions: readonly Instruction[];
  readonly problems: readonly Problem[];
}

const DIRECTIVE_NAMES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);
const PAIR_INSTRUCTIONS = new Set(['ENV', 'LABEL', 'ARG']);

export function parse(text: string): Syntax {
  return new Parser(text).run();
}

class Parser {
  private readonly lines: LineIndex;
  private readonly directives: Directive[] = [];
  private readonly comments: Span[] = [];
  private readonly instructions: Instruction[] = [];
  private readonly problems: Problem[] = [];
  private escape: Escape = '\\';

  constructor(private readonly text: string) {
    this.lines = new LineIndex(text);
  }

  run(): Syntax {
    let line = this.readDirectives();
    const count = this.lines.lineCount;
    while (line < count) line = this.readLine(line);
    return {
      text: this.text,
      lines: this.lines,
      escape: this.escape,
      directives: this.directives,
      comments: this.comments,
      instructions: this.instructions,
      problems: this.problems,
    };
  }

  /** The content of a line: its start (past a BOM on the first) and end (before "\r\n"). */
  private bounds(line: number): [number, number] {
    let start = this.lines.starts[line];
    if (line === 0 && this.text.charCodeAt(0) === 0xfeff) start = 1;
    return [start, this.lines.lineEnd(line)];
  }

  private skipSpace(i: number, end: number): number {
    while (i < end && isSpace(this.text.charCodeAt(i))) i++;
    return i;
  }

  /** Parser directives: `# name=value` lines at the very top, until anything else. */
  private readDirectives(): number {
    const seen = new Set<string>();
    let line = 0;
    for (; line < this.lines.lineCount; line++) {
      const [start, end] = this.bounds(line);
      const m = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/.exec(this.text.slice(start, end));
      if (!m || !DIRECTIVE_NAMES.has(m[1].toLowerCase())) break;
      const name = m[1].toLowerCase();
      const nameStart = start + m[0].indexOf(m[1]);
      const valueStart = m[2] === '' ? end : start + m[0].indexOf(m[2], m[0].indexOf('=') + 1);
      const directive: Directive = {
        start,
        end,
        name,
        value: m[2],
        nameSpan: { start: nameStart, end: nameStart + m[1].length },
        valueSpan: { start: valueStart, end: valueStart + m[2].length },
        line,
      };
      if (seen.has(name)) {
        this.problem(directive, 'DuplicateDirective', `only one ${name} parser directive can be used`);
        continue;
      }
      seen.add(name);
      this.directives.push(directive);
      if (name === 'escape') {
        if (m[2] === '\\' || m[2] === '`') this.escape = m[2];
        else this.problem(directive.valueSpan, 'InvalidEscapeDirective', `invalid ESCAPE '${m[2]}'. Must be \` or \\`);
      }
    }
    return line;
  }

  private problem(span: Span, code: string, message: string): void {
    this.problems.push({ start: span.start, end: span.end, code, message });
  }

  /** Reads what starts at a line: nothing, a comment, or an instruction. Returns the next line. */
  private readLine(line: number): number {
    const [lineStart, end] = this.bounds(line);
    const start = this.skipSpace(lineStart, end);
    if (start === end) return line + 1;
    if (this.text.charCodeAt(start) === 35 /* # */) {
      this.comments.push({ start, end });
      return line + 1;
    }
    const { logical, lastLine, empty } = this.join(line, start, end);
    if (logical.text.trim() === '') return lastLine + 1;
    const instruction = this.instruction(logical, 0, line, lastLine, empty, true);
    this.instructions.push(instruction);
    return instruction.lastLine + 1;
  }

  /** Index of the escape character that continues a line, or -1. */
  private continuation(start: number, end: number): number {
    let i = end;
    while (i > start && (this.text.charCodeAt(i - 1) === 32 || this.text.charCodeAt(i - 1) === 9)) i--;
    return i > start && this.text[i - 1] === this.escape ? i - 1 : -1;
  }

  /** Joins a line and its continuation lines into one logical line. */
  private join(line: number, start: number, end: number): { logical: Logical; lastLine: number; empty: number[] } {
    const pieces: number[] = [];
    const parts: string[] = [];
    const empty: number[] = [];
    let length = 0;
    let cut = this.continuation(start, end);
    const add = (from: number, to: number) => {
      pieces.push(length, from);
      parts.push(this.text.slice(from, to));
      length += to - from;
    };
    add(start, cut === -1 ? end : cut);
    // The "line" after a final newline is no line (Go's line scanner never yields it).
    const lineCount = this.text.endsWith('\n') ? this.lines.lineCount - 1 : this.lines.lineCount;
    while (cut !== -1 && line + 1 < lineCount) {
      line++;
      const [s, e] = this.bounds(line);
      const first = this.skipSpace(s, e);
      if (first < e && this.text.charCodeAt(first) === 35) {
        this.comments.push({ start: first, end: e });
        continue;
      }
      if (first === e) {
        empty.push(line);
        continue;
      }
      cut = this.continuation(s, e);
      add(s, cut === -1 ? e : cut);
    }
    return { logical: new Logical(parts.length === 1 ? parts[0] : parts.join(''), pieces), lastLine: line, empty };
  }

  /**
   * Parses the instruction that starts at logical index `at` (0, or past ONBUILD for a
   * trigger). Heredoc bodies are read from the lines after `lastLine`.
   */
  private instruction(
    logical: Logical,
    at: number,
    startLine: number,
    lastLine: number,
    empty: number[],
    topLevel: boolean,
  ): Instruction {
    const t = logical.text;
    let i = at;
    while (i < t.length && isSpace(t.charCodeAt(i))) i++;
    const kStart = i;
    while (i < t.length && !isSpace(t.charCodeAt(i))) i++;
    const keyword = t.slice(kStart, i).toUpperCase();
    let restEnd = t.length;
    while (restEnd > i && isSpace(t.charCodeAt(restEnd - 1))) restEnd--;
    const flagResult = readFlags(t, i, restEnd, logical);
    const argsAt = flagResult.next;
    const argsEnd = Math.max(argsAt, restEnd);
    let trigger: Instruction | null = null;
    if (keyword === 'ONBUILD' && argsEnd > argsAt) {
      trigger = this.instruction(logical, argsAt, startLine, lastLine, [], false);
    }

    const endLine = lastLine;
    let heredocs: Heredoc[] = [];
    if (topLevel && HEREDOC_INSTRUCTIONS.has(keyword) && t.includes('<<', argsAt)) {
      heredocs = this.readHeredocs(splitWords(t, argsAt, argsEnd, this.escape, logical), logical, lastLine);
      if (heredocs.length) {
        const last = heredocs[heredocs.length - 1];
        lastLine = this.lines.lineAt(last.terminator ? last.terminator.start : last.body.end);
      }
    }

    const start = logical.toDoc(kStart);
    const lastHeredoc = heredocs[heredocs.length - 1];
    const end = lastHeredoc
      ? (lastHeredoc.terminator ?? lastHeredoc.body).end
      : Math.max(logical.toDocEnd(restEnd), logical.toDocEnd(i));
    return new Node(
      {
        start,
        end,
        keyword,
        keywordSpan: logical.span(kStart, i),
        startLine,
        endLine,
        lastLine,
        logical,
        argsAt,
        argsEnd,
        args: argsEnd > argsAt ? logical.span(argsAt, argsEnd) : null,
        flags: flagResult.flags,
        heredocs,
        emptyContinuationLines: empty,
        trigger,
      },
      this.escape,
    );
  }

  /** Finds `<<EOF` words and reads each body from the following lines, in order. */
  private readHeredocs(words: readonly Word[], logical: Logical, lastLine: number): Heredoc[] {
    const found: Heredoc[] = [];
    let line = lastLine + 1;
    for (const word of words) {
      const m = /^(\d*)<<(-?)([^<]*)$/.exec(word.text);
      if (!m || m[3] === '') continue;
      const quoted = /['"]/.test(m[3]);
      const name = m[3].replace(/['"]/g, '');
      if (name === '') continue;
      const nameAt = word.at + m[1].length + 2 + m[2].length;
      const chomp = m[2] === '-';
      const bodyStart = this.lines.lineStart(line);
      let terminator: Span | null = null;
      let bodyEnd = this.text.length;
      for (; line < this.lines.lineCount; line++) {
        const [s, e] = this.bounds(line);
        let p = s;
        if (chomp) while (p < e && this.text.charCodeAt(p) === 9) p++;
        if (e - p === name.length && this.text.startsWith(name, p)) {
          terminator = { start: s, end: e };
          bodyEnd = s;
          line++;
          break;
        }
      }
      const heredoc: Heredoc = {
        name,
        marker: { start: word.start, end: word.end },
        nameSpan: logical.span(nameAt, word.at + word.text.length),
        chomp,
        expand: !quoted,
        body: { start: Math.min(bodyStart, bodyEnd), end: bodyEnd },
        terminator,
      };
      found.push(heredoc);
      if (!terminator) {
        this.problem(heredoc.marker, 'UnterminatedHeredoc', `unterminated heredoc: no line "${name}" ends it`);
        break;
      }
    }
    return found;
  }
}

type Eager = Omit<Instruction, 'words' | 'json' | 'pairs'>;

/** An instruction whose words, JSON form and pairs are worked out when first asked for. */
class Node implements Instruction {
  readonly start: number;
  readonly end: number;
  readonly keyword: string;
  readonly keywordSpan: Span;
  readonly startLine: number;
  readonly endLine: number;
  readonly lastLine: number;
  readonly logical: Logical;
  readonly argsAt: number;
  readonly argsEnd: number;
  readonly args: Span | null;
  readonly flags: readonly Flag[];
  readonly heredocs: readonly Heredoc[];
  readonly emptyContinuationLines: readonly number[];
  readonly trigger: Instruction | null;
  private cachedWords: Word[] | undefined;
  private cachedJson: JsonArray | null | undefined;
  private cachedPairs: Pair[] | undefined;

  constructor(
    fields: Eager,
    private readonly escape: Escape,
  ) {
    this.start = fields.start;
    this.end = fields.end;
    this.keyword = fields.keyword;
    this.keywordSpan = fields.keywordSpan;
    this.startLine = fields.startLine;
    this.endLine = fields.endLine;
    this.lastLine = fields.lastLine;
    this.logical = fields.logical;
    this.argsAt = fields.argsAt;
    this.argsEnd = fields.argsEnd;
    this.args = fields.args;
    this.flags = fields.flags;
    this.heredocs = fields.heredocs;
    this.emptyContinuationLines = fields.emptyContinuationLines;
    this.trigger = fields.trigger;
  }

  get words(): readonly Word[] {
    return (this.cachedWords ??= splitWords(this.logical.text, this.argsAt, this.argsEnd, this.escape, this.logical));
  }

  get json(): JsonArray | null {
    if (this.cachedJson === undefined) {
      const t = this.logical.text;
      this.cachedJson = t.charCodeAt(this.argsAt) === 91 /* [ */ ? readJsonArray(t, this.argsAt, this.argsEnd, this.logical) : null;
    }
    return this.cachedJson;
  }

  get pairs(): readonly Pair[] {
    return (this.cachedPairs ??= PAIR_INSTRUCTIONS.has(this.keyword)
      ? readPairs(this.keyword, this.words, this.logical.text, this.argsEnd, this.logical)
      : []);
  }
}

/**
 * Flags at the start of the arguments: `--name[=value]` words until the first word that does
 * not start with `--` (or a bare `--`). Quotes and backslashes in flags work as BuildKit's
 * extractBuilderFlags handles them, whatever the escape directive says.
 */
function readFlags(t: string, from: number, end: number, logical: Logical): { flags: Flag[]; next: number } {
  const flags: Flag[] = [];
  let i = from;
  for (;;) {
    while (i < end && isSpace(t.charCodeAt(i))) i++;
    if (i + 1 >= end || t.charCodeAt(i) !== 45 || t.charCodeAt(i + 1) !== 45) return { flags, next: i };
    const wordStart = i;
    while (i < end && !isSpace(t.charCodeAt(i))) i++;
    const word = t.slice(wordStart, i);
    if (!/['"\\]/.test(word)) {
      // No quotes or backslashes (nearly every flag): the word says it all.
      if (word.length === 2) return { flags, next: i };
      const eq = word.indexOf('=');
      flags.push({
        ...logical.span(wordStart, i),
        name: eq === -1 ? word.slice(2) : word.slice(2, eq),
        nameSpan: logical.span(wordStart + 2, eq === -1 ? i : wordStart + eq),
        value: eq === -1 ? null : word.slice(eq + 1),
        valueSpan: eq === -1 ? null : logical.span(wordStart + eq + 1, i),
      });
      continue;
    }
    i = wordStart;
    let value = '';
    let quote = 0;
    let eq = -1;
    let name = '';
    while (i < end) {
      const c = t.charCodeAt(i);
      if (quote === 0 && isSpace(c)) break;
      if (quote !== 0 && c === quote) quote = 0;
      else if (quote === 0 && (c === 39 || c === 34)) quote = c;
      else if (c === 92 /* \ */ && i + 1 < end) value += t[++i];
      else if (eq === -1 && c === 61 /* = */) {
        eq = i;
        name = value.slice(2);
        value = '';
      } else value += t[i];
      i++;
    }
    if (i - wordStart === 2) return { flags, next: i }; // a bare `--` ends the flags
    if (eq === -1) name = value.slice(2);
    flags.push({
      ...logical.span(wordStart, i),
      name,
      nameSpan: logical.span(wordStart + 2, eq === -1 ? i : eq),
      value: eq === -1 ? null : value,
      valueSpan: eq === -1 ? null : logical.span(eq + 1, i),
    });
  }
}

/**
 * Splits arguments into words as BuildKit's parseWords does: whitespace outside quotes
 * separates; the escape character keeps the next character in the word; quotes are kept.
 */
export function splitWords(t: string, from: number, end: number, escape: Escape, logical: Logical): Word[] {
  const words: Word[] = [];
  const esc = escape.charCodeAt(0);
  let i = from;
  while (i < end) {
    while (i < end && isSpace(t.charCodeAt(i))) i++;
    if (i >= end) break;
    const start = i;
    let quote = 0;
    while (i < end) {
      const c = t.charCodeAt(i);
      if (quote === 0) {
        if (isSpace(c)) break;
        if (c === 39 || c === 34) quote = c;
        else if (c === esc) i++;
      } else if (c === quote) quote = 0;
      else if (c === esc && quote !== 39) i++;
      i++;
    }
    if (i > end) i = end;
    words.push({ start: logical.toDoc(start), end: logical.toDocEnd(i), text: t.slice(start, i), at: start });
  }
  return words;
}

/** A JSON array of strings starting at `from`, or null (then it is shell form). */
function readJsonArray(t: string, from: number, end: number, logical: Logical): JsonArray | null {
  const items: JsonString[] = [];
  let i = from + 1;
  const ws = () => {
    while (i < end && (t[i] === ' ' || t[i] === '\t' || t[i] === '\n' || t[i] === '\r')) i++;
  };
  ws();
  if (t[i] === ']') {
    i++;
  } else {
    for (;;) {
      ws();
      if (t[i] !== '"') return null;
      const s = i++;
      let escaped = false;
      while (i < end && t[i] !== '"') {
        if (t[i] === '\\') {
          escaped = true;
          i++;
        }
        i++;
      }
      if (i >= end) return null;
      i++;
      let value: string;
      try {
        value = escaped ? (JSON.parse(t.slice(s, i)) as string) : t.slice(s + 1, i - 1);
      } catch {
        return null;
      }
      // JSON strings may not hold raw control characters.
      if (!escaped && /[\u0000-\u001f]/.test(value)) return null;
      items.push({ ...logical.span(s, i), value });
      ws();
      if (t[i] === ',') {
        i++;
        continue;
      }
      if (t[i] === ']') {
        i++;
        break;
      }
      return null;
    }
  }
  // Like Go's json.Decoder, BuildKit reads the first value and ignores what follows it.
  return { ...logical.span(from, i), items };
}

/**
 * ENV and LABEL pairs (`key=value ...`, or the legacy `key value` that takes the rest of the
 * line), and ARG's `name[=default]` words.
 */
function readPairs(keyword: string, words: readonly Word[], t: string, argsEnd: number, logical: Logical): Pair[] {
  const pairs: Pair[] = [];
  if (words.length === 0) return pairs;
  const legacy = keyword !== 'ARG' && !words[0].text.includes('=');
  if (legacy) {
    const key = words[0];
    const rest = words[1];
    pairs.push({
      key: key.text,
      keySpan: key,
      value: rest ? t.slice(rest.at, argsEnd) : null,
      valueSpan: rest ? logical.span(rest.at, argsEnd) : null,
      equals: false,
      word: key,
    });
    return pairs;
  }
  for (const word of words) {
    const eq = word.text.indexOf('=');
    if (eq === -1) {
      pairs.push({ key: word.text, keySpan: word, value: null, valueSpan: null, equals: false, word });
      continue;
    }
    pairs.push({
      key: word.text.slice(0, eq),
      keySpan: logical.span(word.at, word.at + eq),
      value: word.text.slice(eq + 1),
      valueSpan: logical.span(word.at + eq + 1, word.at + word.text.length),
      equals: true,
      word,
    });
  }
  return pairs;
}

/** The index of the first instruction whose last line is at or after a line (binary search). */
export function firstInstructionFrom(instructions: readonly Instruction[], line: number): number {
  let lo = 0;
  let hi = instructions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (instructions[mid].lastLine < line) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
