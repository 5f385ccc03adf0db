// Semantic tokens: what the TextMate grammar cannot know, or gets wrong, told from the model.
//
//   instruction keywords, `AS`, HEALTHCHECK's CMD/NONE   keyword (MAINTAINER: + deprecated)
//   `--flag`                                            parameter
//   flag values        string; number (integer, duration, `--from=0`); enumMember (closed sets,
//                      booleans); class (`--from=<stage>`); `--mount` keys property
//   `$VAR`, `${VAR…}`  variable (+ defaultLibrary when it reads a predefined build arg)
//   ARG / ENV names    variable + declaration
//   LABEL keys         property
//   pair values, quoted words, JSON strings, heredoc delimiters and terminators   string
//   `=` of pairs and flags, `<<` of heredocs, the escape character that continues a line  operator
//   EXPOSE port numbers, numeric STOPSIGNAL   number
//   stage names        class (+ declaration after AS; FROM and --from references without)
//   comments           comment
//   parser directives  macro for the name, string for the value
//
// `readonly` is not used: both ARG and ENV can be declared again later in a stage, so neither
// is read-only; what tells them apart (a declaration, a predefined arg) has its own modifier.
// Heredoc bodies get no tokens: the grammar colours them as the shell or file they are.
//
// How: each instruction (from its keyword to the end of its last continuation line) is painted
// into a small buffer, one cell per character, in order of precedence (strings, then variables
// over them, then line-continuing escapes and comments over everything), and the buffer is then
// read once, left to right, into tokens split at line ends. Instructions come in document
// order, so the tokens are sorted and never overlap, and a request costs one pass over the
// instructions' text. Results are cached per document version, and the last full result per
// document is kept for delta requests.

import type { SemanticTokens, SemanticTokensDelta, SemanticTokensEdit, SemanticTokensLegend } from 'vscode-languageserver';
import type { Document } from '../document';
import { INSTRUCTION_BY_NAME } from '../dockerfile/instructions';
import type { Model, Reference, Stage } from '../dockerfile/model';
import { firstInstructionFrom, type Instruction, type Logical, type Word } from '../dockerfile/syntax';
import { isSpace, type Range, type Span } from '../dockerfile/text';
import type { Feature } from './feature';

export const TOKEN_TYPES = [
  'keyword',
  'comment',
  'string',
  'number',
  'operator',
  'parameter',
  'variable',
  'property',
  'class',
  'macro',
  'enumMember',
] as const;
export const TOKEN_MODIFIERS = ['declaration', 'deprecated', 'defaultLibrary'] as const;

export type TokenType = (typeof TOKEN_TYPES)[number];
export type TokenModifier = (typeof TOKEN_MODIFIERS)[number];

export const LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

const T = Object.fromEntries(TOKEN_TYPES.map((t, i) => [t, i])) as Record<TokenType, number>;
const DECLARATION = 1;
const DEPRECATED = 2;
const DEFAULT_LIBRARY = 4;

// A painted cell: type + 1 in bits 0-4 (0: no token), modifiers in bits 5-14, and bit 15 set
// where a token starts, so that two adjacent tokens of the same kind stay two.
const START = 0x8000;
const TYPE_MASK = 31;

function cell(type: number, mods: number): number {
  return (type + 1) | (mods << 5);
}

/** Relative encoding, straight into the array the protocol sends. */
class Encoder {
  readonly data: number[] = [];
  private line = 0;
  private char = 0;

  push(line: number, char: number, length: number, type: number, mods: number): void {
    if (length <= 0) return;
    const deltaLine = line - this.line;
    this.data.push(deltaLine, deltaLine === 0 ? char - this.char : char, length, type, mods);
    this.line = line;
    this.char = char;
  }
}

/** Which references each instruction holds (ONBUILD's trigger's under the ONBUILD). */
const referencesCache = new WeakMap<Model, Map<Instruction, Reference[]>>();

function referencesOf(model: Model): Map<Instruction, Reference[]> {
  let map = referencesCache.get(model);
  if (!map) {
    map = new Map();
    const owner = new Map<Instruction, Instruction>();
    for (const ins of model.syntax.instructions) if (ins.trigger) owner.set(ins.trigger, ins);
    for (const ref of model.references) {
      if (ref.inHeredoc) continue;
      const ins = owner.get(ref.instruction) ?? ref.instruction;
      const list = map.get(ins);
      if (list) list.push(ref);
      else map.set(ins, [ref]);
    }
    referencesCache.set(model, map);
  }
  return map;
}

class Tokenizer {
  private readonly text: string;
  private readonly escape: string;
  private readonly refs: Map<Instruction, Reference[]>;
  private readonly stageNames = new Map<string, Stage>();
  readonly out = new Encoder();
  private buf = new Uint16Array(1024);
  /** The painted window: [base, base + size). */
  private base = 0;
  private size = 0;

  constructor(private readonly model: Model) {
    this.text = model.syntax.text;
    this.escape = model.syntax.escape;
    this.refs = referencesOf(model);
    for (const stage of model.stages) {
      const name = stage.name?.text.toLowerCase();
      if (name && !this.stageNames.has(name)) this.stageNames.set(name, stage);
    }
  }

  /** Tokens of every line from..to; the caller makes sure no instruction is cut. */
  run(from: number, to: number): number[] {
    const { syntax } = this.model;
    const lines = syntax.lines;
    for (const d of syntax.directives) {
      if (d.line < from || d.line > to) continue;
      this.direct(d.nameSpan, T.macro, 0);
      this.direct(d.valueSpan, T.string, 0);
    }
    const comments = syntax.comments;
    const instructions = syntax.instructions;
    const windowStart = lines.lineStart(from);
    const windowEnd = lines.lineEnd(to);
    let c = firstAtOrAfter(comments, windowStart);
    for (let k = firstInstructionFrom(instructions, from); k < instructions.length; k++) {
      const ins = instructions[k];
      if (ins.startLine > to) break;
      while (c < comments.length && comments[c].start < ins.start) this.direct(comments[c++], T.comment, 0);
      c = this.instruction(ins, c);
    }
    while (c < comments.length && comments[c].start <= windowEnd) this.direct(comments[c++], T.comment, 0);
    return this.out.data;
  }

  /** A token on one line, emitted as it is. */
  private direct(span: Span, type: number, mods: number): void {
    if (span.end <= span.start) return;
    const p = this.model.syntax.lines.positionAt(span.start);
    this.out.push(p.line, p.character, span.end - span.start, type, mods);
  }

  /** Paints and emits one instruction; returns the index of the first comment after it. */
  private instruction(ins: Instruction, c: number): number {
    const { syntax } = this.model;
    const lines = syntax.lines;
    const base = ins.start;
    const end = Math.max(lines.lineEnd(ins.endLine), ins.keywordSpan.end);
    this.open(base, end);

    const top = ins.trigger ?? ins;
    if (ins.trigger) this.keyword(ins);
    this.keyword(top);
    this.flags(top);
    this.args(top);
    for (const heredoc of ins.heredocs) {
      this.paint(heredoc.marker.start, heredoc.nameSpan.start, T.operator, 0);
      this.paint(heredoc.nameSpan.start, heredoc.nameSpan.end, T.string, 0);
    }
    for (const ref of this.refs.get(ins) ?? []) {
      this.paint(ref.start, ref.end, T.variable, ref.predefined ? DEFAULT_LIBRARY : 0);
    }
    this.escapes(ins);
    const comments = syntax.comments;
    while (c < comments.length && comments[c].start < end) {
      this.paint(comments[c].start, comments[c].end, T.comment, 0);
      c++;
    }
    this.emit();

    for (const heredoc of ins.heredocs) {
      const t = heredoc.terminator;
      if (!t) continue;
      let s = t.start;
      while (s < t.end && this.text.charCodeAt(s) === 9) s++;
      this.direct({ start: s, end: t.end }, T.string, 0);
    }
    return c;
  }

  private keyword(ins: Instruction): void {
    const spec = INSTRUCTION_BY_NAME.get(ins.keyword);
    if (spec) this.paint(ins.keywordSpan.start, ins.keywordSpan.end, T.keyword, spec.deprecated ? DEPRECATED : 0);
  }

  private flags(ins: Instruction): void {
    const spec = INSTRUCTION_BY_NAME.get(ins.keyword);
    for (const flag of ins.flags) {
      this.paint(flag.start, flag.nameSpan.end, T.parameter, 0);
      const value = flag.valueSpan;
      if (!value) continue;
      this.paint(flag.nameSpan.end, value.start, T.operator, 0);
      const flagSpec = spec?.flags.find((f) => f.name === flag.name);
      const v = flag.value ?? '';
      if (flag.name === 'from' && (ins.keyword === 'COPY' || ins.keyword === 'ADD')) {
        const stage = this.stageNames.get(v.toLowerCase());
        const type = stage && stage.from.start < ins.start ? T.class : /^\d+$/.test(v) ? T.number : T.string;
        this.paint(value.start, value.end, type, 0);
      } else if (flagSpec?.value === 'keyValues') {
        this.keyValues(value);
      } else if (flagSpec?.value === 'integer' || flagSpec?.value === 'duration') {
        this.paint(value.start, value.end, T.number, 0);
      } else if (flagSpec?.values || flagSpec?.value === 'boolean' || flagSpec?.value === 'none') {
        this.paint(value.start, value.end, T.enumMember, 0);
      } else {
        this.paint(value.start, value.end, T.string, 0);
      }
    }
  }

  /** `type=cache,target=/x`: keys as properties, values as strings. */
  private keyValues(value: Span): void {
    const t = this.text;
    // Written over several lines or quoted: too rare to take apart, one string.
    const raw = t.slice(value.start, value.end);
    if (/[\n"']/.test(raw)) {
      this.paint(value.start, value.end, T.string, 0);
      return;
    }
    let at = value.start;
    for (const part of raw.split(',')) {
      const eq = part.indexOf('=');
      const keyEnd = at + (eq === -1 ? part.length : eq);
      this.paint(at, keyEnd, T.property, 0);
      if (eq !== -1) this.paint(keyEnd + 1, at + part.length, T.string, 0);
      at += part.length + 1;
    }
  }

  private args(ins: Instruction): void {
    if (ins.json) {
      for (const item of ins.json.items) this.paint(item.start, item.end, T.string, 0);
      return;
    }
    const words = ins.words;
    switch (ins.keyword) {
      case 'FROM': {
        const stage = this.model.stageOf(ins);
        if (words[0] && stage?.parent) this.paint(words[0].start, words[0].end, T.class, 0);
        else if (words[0]) this.quotes(words[0], ins.logical);
        if (words[1] && words[1].text.toUpperCase() === 'AS') {
          this.paint(words[1].start, words[1].end, T.keyword, 0);
          if (words[2]) this.paint(words[2].start, words[2].end, T.class, DECLARATION);
        }
        return;
      }
      case 'ARG':
      case 'ENV':
      case 'LABEL': {
        const label = ins.keyword === 'LABEL';
        for (const pair of ins.pairs) {
          this.paint(pair.keySpan.start, pair.keySpan.end, label ? T.property : T.variable, label ? 0 : DECLARATION);
          if (pair.equals) {
            const eq = ins.logical.toDoc(pair.word.at + pair.key.length);
            this.paint(eq, eq + 1, T.operator, 0);
          }
          if (pair.valueSpan) this.paint(pair.valueSpan.start, pair.valueSpan.end, T.string, 0);
        }
        return;
      }
      case 'EXPOSE':
        for (const word of words) this.numbers(word);
        return;
      case 'STOPSIGNAL':
        if (words[0] && /^\d+$/.test(words[0].text)) this.paint(words[0].start, words[0].end, T.number, 0);
        return;
      case 'HEALTHCHECK':
        if (words[0] && /^(cmd|none)$/i.test(words[0].text)) {
          this.paint(words[0].start, words[0].end, T.keyword, 0);
          for (let i = 1; i < words.length; i++) this.quotes(words[i], ins.logical);
          return;
        }
        break;
    }
    for (const word of words) this.quotes(word, ins.logical);
  }

  /** The runs of digits of a word written on one line. */
  private numbers(word: Word): void {
    const t = word.text;
    if (word.end - word.start !== t.length) return;
    for (let i = 0; i < t.length; ) {
      if (t.charCodeAt(i) < 48 || t.charCodeAt(i) > 57) {
        i++;
        continue;
      }
      const s = i;
      while (i < t.length && t.charCodeAt(i) >= 48 && t.charCodeAt(i) <= 57) i++;
      this.paint(word.start + s, word.start + i, T.number, 0);
    }
  }

  /** The quoted parts of a word, as the parser splits words (escape character active in "…"). */
  private quotes(word: Word, logical: Logical): void {
    const t = word.text;
    const esc = this.escape;
    if (!t.includes('"') && !t.includes("'")) return;
    for (let i = 0; i < t.length; ) {
      const ch = t[i];
      if (ch === esc) {
        i += 2;
        continue;
      }
      if (ch !== '"' && ch !== "'") {
        i++;
        continue;
      }
      const s = i++;
      while (i < t.length && t[i] !== ch) i += ch === '"' && t[i] === esc ? 2 : 1;
      i = Math.min(i + 1, t.length);
      const span = logical.span(word.at + s, word.at + i);
      this.paint(span.start, span.end, T.string, 0);
    }
  }

  /** The escape character that ends each continued line, and the spaces after it (no token). */
  private escapes(ins: Instruction): void {
    const lines = this.model.syntax.lines;
    const t = this.text;
    for (let line = ins.startLine; line <= ins.endLine; line++) {
      const s = lines.lineStart(line);
      const e = lines.lineEnd(line);
      let last = e;
      while (last > s && (t.charCodeAt(last - 1) === 32 || t.charCodeAt(last - 1) === 9)) last--;
      if (last === s || t[last - 1] !== this.escape) continue;
      let first = s;
      while (first < e && isSpace(t.charCodeAt(first))) first++;
      if (line > ins.startLine && t.charCodeAt(first) === 35 /* # */) continue;
      this.paint(last - 1, last, T.operator, 0);
      this.clear(last, e);
    }
  }

  private open(base: number, end: number): void {
    this.base = base;
    this.size = Math.max(0, end - base);
    if (this.buf.length < this.size) this.buf = new Uint16Array(Math.max(this.size, this.buf.length * 2));
    else this.buf.fill(0, 0, this.size);
  }

  private paint(start: number, end: number, type: number, mods: number): void {
    const s = Math.max(start, this.base) - this.base;
    const e = Math.min(end, this.base + this.size) - this.base;
    if (e <= s) return;
    const v = cell(type, mods);
    this.buf.fill(v, s, e);
    this.buf[s] = v | START;
    // What was painted before and goes on after this token starts a token of its own.
    if (e < this.size && this.buf[e] !== 0) this.buf[e] |= START;
  }

  private clear(start: number, end: number): void {
    const s = Math.max(start, this.base) - this.base;
    const e = Math.min(end, this.base + this.size) - this.base;
    if (e > s) this.buf.fill(0, s, e);
  }

  /** Reads the painted window into tokens, splitting at line ends. */
  private emit(): void {
    const { buf, base, size, text } = this;
    const starts = this.model.syntax.lines.starts;
    let line = this.model.syntax.lines.lineAt(base);
    let lineStart = starts[line];
    // Where the current line's "\n" is, relative to the window (or the window's end).
    let eol = line + 1 < starts.length ? Math.min(size, starts[line + 1] - 1 - base) : size;
    // Unpainted cells cost one read each.
    for (let i = 0; i < size; ) {
      if (i === eol) {
        line++;
        lineStart = starts[line];
        eol = line + 1 < starts.length ? Math.min(size, starts[line + 1] - 1 - base) : size;
        i++;
        continue;
      }
      const v = buf[i] & ~START;
      if (v === 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < eol && buf[j] === v) j++;
      // The "\r" of a "\r\n" belongs to no token.
      const end = j === eol && text.charCodeAt(base + j - 1) === 13 ? j - 1 : j;
      if (end > i) this.out.push(line, base + i - lineStart, end - i, (v & TYPE_MASK) - 1, v >> 5);
      i = j;
    }
  }
}

function firstAtOrAfter(spans: readonly Span[], offset: number): number {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}


const fullCache = new WeakMap<Document, number[]>();

/** The tokens of the whole document. */
export function fullTokens(doc: Document): number[] {
  let data = fullCache.get(doc);
  if (!data) {
    data = new Tokenizer(doc.model).run(0, doc.lines.lineCount - 1);
    fullCache.set(doc, data);
  }
  return data;
}

/** The tokens of the instructions (and comments) on the range's lines, whole instructions. */
export function rangeTokens(doc: Document, range: Range): number[] {
  const instructions = doc.model.syntax.instructions;
  const last = doc.lines.lineCount - 1;
  let from = Math.max(0, Math.min(range.start.line, last));
  let to = Math.max(from, Math.min(range.end.line, last));
  const first = instructions[firstInstructionFrom(instructions, from)];
  if (first && first.startLine < from) from = first.startLine;
  const lastIns = instructions[firstInstructionFrom(instructions, to)];
  if (lastIns && lastIns.startLine <= to) to = Math.max(to, lastIns.lastLine);
  return new Tokenizer(doc.model).run(from, to);
}

/** One edit turning `prev` into `next`, aligned to whole tokens; none when they are equal. */
export function diffTokens(prev: readonly number[], next: readonly number[]): SemanticTokensEdit[] {
  const min = Math.min(prev.length, next.length);
  let start = 0;
  while (start < min && prev[start] === next[start]) start++;
  start -= start % 5;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  const align = (5 - (endPrev % 5)) % 5;
  endPrev += align;
  endNext += align;
  if (endPrev === start && endNext === start) return [];
  return [{ start, deleteCount: endPrev - start, data: next.slice(start, endNext) }];
}

/** The last full result sent for each open document, for delta requests. */
class ResultStore {
  private readonly last = new Map<string, { resultId: string; data: number[] }>();
  private counter = 0;

  remember(uri: string, data: number[], isOpen: (uri: string) => boolean): string {
    const resultId = String(++this.counter);
    for (const key of this.last.keys()) if (key !== uri && !isOpen(key)) this.last.delete(key);
    this.last.set(uri, { resultId, data });
    return resultId;
  }

  previous(uri: string, resultId: string): number[] | undefined {
    const entry = this.last.get(uri);
    return entry && entry.resultId === resultId ? entry.data : undefined;
  }
}

export function createSemanticTokensHandlers(isOpen: (uri: string) => boolean) {
  const store = new ResultStore();
  return {
    full(doc: Document): SemanticTokens {
      const data = fullTokens(doc);
      return { resultId: store.remember(doc.uri, data, isOpen), data };
    },
    delta(doc: Document, previousResultId: string): SemanticTokens | SemanticTokensDelta {
      const data = fullTokens(doc);
      const prev = store.previous(doc.uri, previousResultId);
      const resultId = store.remember(doc.uri, data, isOpen);
      return prev ? { resultId, edits: diffTokens(prev, data) } : { resultId, data };
    },
    range(doc: Document, range: Range): SemanticTokens {
      return { data: rangeTokens(doc, range) };
    },
  };
}

export const semanticTokensFeature: Feature = {
  capabilities: { semanticTokensProvider: { legend: LEGEND, full: { delta: true }, range: true } },
  register(server) {
    const handlers = createSemanticTokensHandlers((uri) => server.document(uri) !== undefined);
    const tokens = server.connection.languages.semanticTokens;
    const empty: SemanticTokens = { data: [] };
    tokens.on((params) => server.run('semanticTokens', params.textDocument.uri, empty, (doc) => handlers.full(doc)));
    tokens.onDelta((params) =>
      server.run<SemanticTokens | SemanticTokensDelta>('semanticTokensDelta', params.textDocument.uri, empty, (doc) =>
        handlers.delta(doc, params.previousResultId),
      ),
    );
    tokens.onRange((params) => server.run('semanticTokensRange', params.textDocument.uri, empty, (doc) => handlers.range(doc, params.range)));
  },
};
