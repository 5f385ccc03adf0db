// The symbols of a Dockerfile that navigation works on — build stages, ARG/ENV variables and
// heredoc delimiters — with every place each one is written. Definition, references, document
// highlight and rename all read this one index, built once per document version.

import type { Document } from '../document';
import { findVariableRefs } from '../dockerfile/expand';
import type { Declaration, Model, Reference, Stage } from '../dockerfile/model';
import { PREDEFINED_ARGS } from '../dockerfile/instructions';
import type { Flag, Instruction } from '../dockerfile/syntax';
import type { Span } from '../dockerfile/text';

export type SymbolKind = 'stage' | 'variable' | 'heredoc';

export interface DocSymbol {
  readonly kind: SymbolKind;
  /** The name as declared (variables and heredocs: exact; stages: as written after AS). */
  readonly name: string;
  /** Every occurrence, in document order. */
  readonly occurrences: Occurrence[];
  /** Stages: the stage. */
  readonly stage?: Stage;
  /** Heredocs: the body, which a new delimiter must not appear in as a line. */
  readonly body?: { readonly span: Span; readonly chomp: boolean };
}

export interface Occurrence {
  readonly symbol: DocSymbol;
  /** The name itself: what rename replaces. */
  readonly span: Span;
  /** Where a position finds it: the name, and for a reference its `$` or `${` too. */
  readonly hit: Span;
  /** A declaration: an ARG/ENV key, the stage name after AS, the heredoc's `<<NAME`. */
  readonly declaration: boolean;
  /** Variables: the ARG/ENV this occurrence is (a declaration) or reads (a reference). */
  readonly variable?: Declaration | null;
}

export interface SymbolIndex {
  readonly symbols: readonly DocSymbol[];
  /** The occurrence at an offset (its end included), or null. */
  at(offset: number): Occurrence | null;
  /** Where the symbol of an occurrence is defined, as spans of the document. */
  definitions(occurrence: Occurrence): Span[];
}

const PREDEFINED = new Set(PREDEFINED_ARGS.map((a) => a.name));

/** Whether a name is one of the build args BuildKit defines itself (never renamed). */
export function isPredefinedArg(name: string): boolean {
  return PREDEFINED.has(name);
}

const cache = new WeakMap<Document, SymbolIndex>();

/** The symbol index of a document version, built on first use. */
export function symbolsOf(doc: Document): SymbolIndex {
  let index = cache.get(doc);
  if (!index) {
    index = buildIndex(doc.model);
    cache.set(doc, index);
  }
  return index;
}

/** The stage each name means in `COPY --from` and `--mount=from=`: BuildKit keeps the last one. */
export function stagesByName(model: Model): Map<string, Stage> {
  const map = new Map<string, Stage>();
  for (const stage of model.stages) if (stage.name) map.set(stage.name.text.toLowerCase(), stage);
  return map;
}

/** A `--from` (COPY) or `from=` (RUN --mount) value as written: its text without quotes and span. */
export interface FromValue {
  readonly value: string;
  readonly span: Span;
}

/** The `--from=` values of a COPY and the `from=` options of a RUN's `--mount` flags. */
export function fromValues(text: string, instruction: Instruction): FromValue[] {
  const found: FromValue[] = [];
  // Most instructions have neither flag: skip them before their flags are parsed.
  const flag = instruction.keyword === 'COPY' ? '--from' : instruction.keyword === 'RUN' ? '--mount' : null;
  if (!flag || !instruction.logical.text.includes(flag)) return found;
  for (const flag of instruction.flags) {
    if (instruction.keyword === 'COPY' && flag.name === 'from') {
      const value = flagValue(text, flag);
      if (value) found.push(value);
    } else if (instruction.keyword === 'RUN' && flag.name === 'mount') {
      const value = mountFrom(text, flag);
      if (value) found.push(value);
    }
  }
  return found;
}

/** A flag's value where it is written on one line, quotes around it left out. */
function flagValue(text: string, flag: Flag): FromValue | null {
  if (!flag.valueSpan || flag.value === null) return null;
  const span = unquote(text, flag.valueSpan);
  const value = text.slice(span.start, span.end);
  // Escapes, inner quotes or a continuation inside the value: not a plain name to edit.
  return value === flag.value ? { value, span } : null;
}

/** The `from=` option of a `--mount` value (comma-separated key=value fields). */
function mountFrom(text: string, flag: Flag): FromValue | null {
  if (!flag.valueSpan) return null;
  const outer = unquote(text, flag.valueSpan);
  const raw = text.slice(outer.start, outer.end);
  if (raw.includes('\n')) return null;
  let fieldStart = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && raw[i] !== ',') continue;
    const field = unquote(text, { start: outer.start + fieldStart, end: outer.start + i });
    const fieldText = text.slice(field.start, field.end);
    const eq = fieldText.indexOf('=');
    if (eq > 0 && fieldText.slice(0, eq).trim().toLowerCase() === 'from') {
      const span = unquote(text, { start: field.start + eq + 1, end: field.end });
      return { value: text.slice(span.start, span.end), span };
    }
    fieldStart = i + 1;
  }
  return null;
}

/** A span without the matching quotes around it, if there are. */
function unquote(text: string, span: Span): Span {
  const first = text[span.start];
  if (span.end - span.start >= 2 && (first === '"' || first === "'") && text[span.end - 1] === first) {
    return { start: span.start + 1, end: span.end - 1 };
  }
  return span;
}

function buildIndex(model: Model): SymbolIndex {
  const text = model.syntax.text;
  const symbols: DocSymbol[] = [];
  const unsorted: Occurrence[] = [];
  const push = (symbol: DocSymbol, o: Omit<Occurrence, 'symbol'>) => {
    unsorted.push({ symbol, span: o.span, hit: o.hit, declaration: o.declaration, variable: o.variable });
  };

  addVariables(model, symbols, push);

  // Stages: the name after AS, `FROM name` in later stages, `COPY --from=name`, `from=name`.
  const stageSymbols = new Map<Stage, DocSymbol>();
  for (const stage of model.stages) {
    if (!stage.name) continue;
    const symbol: DocSymbol = { kind: 'stage', name: stage.name.text, occurrences: [], stage };
    symbols.push(symbol);
    stageSymbols.set(stage, symbol);
    push(symbol, { span: stage.name, hit: stage.name, declaration: true });
  }
  const byName = stagesByName(model);
  for (const stage of model.stages) {
    const base = stage.parent && stageSymbols.get(stage.parent);
    if (base && stage.image) push(base, { span: stage.image, hit: stage.image, declaration: false });
  }
  for (const instruction of model.syntax.instructions) {
    for (const from of fromValues(text, instruction)) {
      const stage = byName.get(from.value.toLowerCase());
      const symbol = stage && stageSymbols.get(stage);
      if (symbol) push(symbol, { span: from.span, hit: from.span, declaration: false });
    }
  }

  // Heredocs: the name in `<<NAME` and the terminator line.
  for (const instruction of model.syntax.instructions) {
    for (const heredoc of instruction.heredocs) {
      const marker = unquote(text, heredoc.nameSpan);
      if (text.slice(marker.start, marker.end) !== heredoc.name) continue; // oddly quoted: leave it
      const symbol: DocSymbol = {
        kind: 'heredoc',
        name: heredoc.name,
        occurrences: [],
        body: { span: heredoc.body, chomp: heredoc.chomp },
      };
      symbols.push(symbol);
      push(symbol, { span: marker, hit: marker, declaration: true });
      if (heredoc.terminator) {
        const end = heredoc.terminator.end;
        const span = { start: end - heredoc.name.length, end };
        push(symbol, { span, hit: span, declaration: false });
      }
    }
  }

  // Document order, for the lookup by offset and for each symbol's list.
  const all = sortByStart(unsorted);
  for (const o of all) o.symbol.occurrences.push(o);

  return {
    symbols,
    at(offset) {
      // The last occurrence starting at or before the offset; occurrences never overlap.
      let lo = 0;
      let hi = all.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (all[mid].hit.start <= offset) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found >= 0 && offset <= all[found].hit.end ? all[found] : null;
    },
    definitions(occurrence) {
      const { symbol } = occurrence;
      if (symbol.kind !== 'variable') {
        const declaration = symbol.occurrences.find((o) => o.declaration);
        return declaration ? [declaration.span] : [];
      }
      const declaration = occurrence.variable;
      if (!declaration) return [];
      const spans: Span[] = [declaration.pair.keySpan];
      // `ARG name` without a value in a stage takes the global ARG's value: both define it.
      const global = redeclaredGlobal(model, declaration);
      if (global) spans.push(global.pair.keySpan);
      return spans;
    },
  };
}

/**
 * Occurrences by where they start. Sorting numbers natively is many times faster than sorting
 * objects with a comparator: each key is the offset and the index together.
 */
function sortByStart(list: Occurrence[]): Occurrence[] {
  const scale = 2 ** 22;
  if (list.length >= scale) return list.sort((a, b) => a.hit.start - b.hit.start);
  const keys = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) keys[i] = list[i].hit.start * scale + i;
  keys.sort();
  const sorted: Occurrence[] = new Array(list.length);
  for (let i = 0; i < keys.length; i++) sorted[i] = list[keys[i] % scale];
  return sorted;
}

/** The global ARG that a value-less `ARG name` in a stage redeclares, if any. */
function redeclaredGlobal(model: Model, declaration: Declaration): Declaration | undefined {
  if (declaration.kind !== 'ARG' || !declaration.stage || declaration.pair.value !== null) return undefined;
  let found: Declaration | undefined;
  for (const global of model.globalArgs) if (global.name === declaration.name) found = global;
  return found;
}

/** What the references of a union-find node read. */
const enum Reads {
  Declared = 0,
  Nothing = 1,
  Predefined = 2,
}

/**
 * Variables. One symbol is one name in one stage (or among the global ARGs), every ARG and ENV
 * of it there and every reference that reads one of them; it joins the global ARG that a
 * value-less stage ARG redeclares, and the ENV of a stage that the stage builds on. References
 * that read nothing declared stay apart (per stage and name), as do predefined args.
 */
function addVariables(
  model: Model,
  symbols: DocSymbol[],
  push: (symbol: DocSymbol, occurrence: Omit<Occurrence, 'symbol'>) => void,
): void {
  // Union-find over numbered nodes; a node is (place, name, what it reads).
  const parent: number[] = [];
  const nodes: Map<string, number>[] = [];
  const node = (stage: Stage | null, name: string, reads: Reads = Reads.Declared): number => {
    const slot = (stage ? stage.index + 1 : 0) * 3 + reads;
    const names = (nodes[slot] ??= new Map());
    let id = names.get(name);
    if (id === undefined) {
      id = parent.length;
      parent.push(id);
      names.set(name, id);
    }
    return id;
  };
  const find = (id: number): number => {
    while (parent[id] !== id) id = parent[id] = parent[parent[id]];
    return id;
  };
  const union = (a: number, b: number) => {
    parent[find(b)] = find(a);
  };

  // The names each stage's ENV instructions set, to join a stage to the stages it builds on.
  const envNames = new Map<Stage, Set<string>>();
  for (const d of model.declarations) {
    if (d.kind !== 'ENV' || !d.stage) continue;
    let names = envNames.get(d.stage);
    if (!names) envNames.set(d.stage, (names = new Set()));
    names.add(d.name);
  }

  const entries: { node: number; name: string; occurrence: Omit<Occurrence, 'symbol'> }[] = [];
  for (const d of model.declarations) {
    const id = node(d.stage, d.name);
    entries.push({ node: id, name: d.name, occurrence: { span: d.pair.keySpan, hit: d.pair.keySpan, declaration: true, variable: d } });
    if (redeclaredGlobal(model, d)) union(id, node(null, d.name));
    for (let s = d.stage?.parent ?? null; s; s = s.parent) {
      if (envNames.get(s)?.has(d.name)) {
        union(id, node(s, d.name));
        break;
      }
    }
  }

  const include = referenceFilter(model);
  for (const ref of model.references) {
    if (!include(ref)) continue;
    let id: number;
    if (ref.declaration) {
      id = node(ref.stage, ref.name);
      union(id, node(ref.declaration.stage, ref.name));
    } else {
      id = node(ref.stage, ref.name, ref.predefined ? Reads.Predefined : Reads.Nothing);
    }
    const hit = { start: ref.start, end: ref.nameSpan.end };
    entries.push({ node: id, name: ref.name, occurrence: { span: ref.nameSpan, hit, declaration: false, variable: ref.declaration } });
  }

  const byRoot: (DocSymbol | undefined)[] = [];
  for (const entry of entries) {
    const root = find(entry.node);
    let symbol = byRoot[root];
    if (!symbol) {
      symbol = byRoot[root] = { kind: 'variable', name: entry.name, occurrences: [] };
      symbols.push(symbol);
    }
    push(symbol, entry.occurrence);
  }
}

/**
 * Which of the model's references are names to navigate and rename. The model lists an
 * ONBUILD's references twice (from the ONBUILD line and from its trigger): keep the trigger's,
 * and each name only once. A RUN heredoc's body is a script for the shell, where single quotes
 * keep `$name` literal: a reference there is not the variable.
 */
function referenceFilter(model: Model): (ref: Reference) => boolean {
  const seen = new Set<number>();
  const shellRefs = new Set<number>();
  for (const instruction of model.syntax.instructions) {
    if (instruction.keyword !== 'RUN') continue;
    for (const heredoc of instruction.heredocs) {
      if (!heredoc.expand) continue;
      const base = heredoc.body.start;
      const body = model.syntax.text.slice(base, heredoc.body.end);
      for (const ref of findVariableRefs(body, model.syntax.escape, { singleQuotesLiteral: true })) shellRefs.add(base + ref.nameStart);
    }
  }
  return (ref) => {
    if (ref.instruction.trigger || seen.has(ref.nameSpan.start)) return false;
    if (ref.inHeredoc && ref.instruction.keyword === 'RUN' && !shellRefs.has(ref.nameSpan.start)) return false;
    seen.add(ref.nameSpan.start);
    return true;
  };
}
