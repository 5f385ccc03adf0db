// Completion: instruction keywords (as snippets when the client takes them), parser directives
// and their values, flags and their values, `--mount` options, variables after `$`/`${`, stage
// names, `AS`, signals, and COPY/ADD sources from the build context on disk. Each request looks
// at the text before the cursor in one instruction, plus the model.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  CompletionItemKind,
  CompletionItemTag,
  InsertTextFormat,
  type Command,
  type CompletionItem,
  type CompletionList,
} from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import { DockerIgnore } from '../dockerfile/dockerignore';
import type { Document } from '../document';
import { BUILD_CHECKS, DIRECTIVES, INSTRUCTION_BY_NAME, INSTRUCTIONS, MOUNT_TYPES, PREDEFINED_ARGS, SIGNALS } from '../dockerfile/instructions';
import type { FlagSpec, InstructionSpec } from '../dockerfile/spec';
import type { Instruction } from '../dockerfile/syntax';
import type { Position, Range } from '../dockerfile/text';
import {
  argumentIndex,
  earlierStages,
  flagAt,
  keywordStart,
  locate,
  markup,
  mountParts,
  mountType,
  wordAround,
  type Located,
} from './cursor';
import type { Feature } from './feature';

/** Asks VS Code to open the suggestions again, for an item after which more can be completed. */
const SUGGEST_AGAIN: Command = { title: 'Suggest', command: 'editor.action.triggerSuggest' };

/** Directory listings are cut here: a completion list is no place for a huge folder. */
const MAX_ENTRIES = 1000;

const EMPTY: CompletionList = { isIncomplete: false, items: [] };

export function completion(doc: Document, position: Position, ctx: FeatureContext): CompletionList | Promise<CompletionList> {
  const items = new Completer(doc, ctx, doc.offsetAt(position)).items();
  if (Array.isArray(items)) return { isIncomplete: false, items };
  // The disk may fail (a folder removed meanwhile): answer nothing rather than an error.
  return items.then(
    (list) => ({ isIncomplete: false, items: list }),
    () => EMPTY,
  );
}

type Items = CompletionItem[] | Promise<CompletionItem[]>;

class Completer {
  private readonly line: number;
  private readonly lineStart: number;
  /** The line's text up to the cursor. */
  private readonly before: string;

  constructor(
    private readonly doc: Document,
    private readonly ctx: FeatureContext,
    private readonly offset: number,
  ) {
    this.line = doc.lines.lineAt(offset);
    this.lineStart = doc.lines.lineStart(this.line);
    this.before = doc.text.slice(this.lineStart, offset);
  }

  items(): Items {
    const at = locate(this.doc, this.offset);
    if (!at) {
      if (/^\s*#/.test(this.before)) return this.inDirectiveBlock() ? this.directives() : [];
      const m = /^\s*([A-Za-z]*)$/.exec(this.before);
      if (!m) return [];
      const start = this.offset - m[1].length;
      return this.keywords(INSTRUCTIONS, m[1], { start, end: this.wordEnd(this.offset, /[A-Za-z]/) }, false);
    }
    const variables = this.variables(at);
    if (variables) return variables;
    if (at.heredoc) return [];
    return this.inInstruction(at);
  }

  // ---------------------------------------------------------------------------------------------
  // Parser directives

  /** The cursor's comment line comes before anything but directives. */
  private inDirectiveBlock(): boolean {
    const first = this.doc.model.syntax.instructions[0];
    if (first && first.startLine < this.line) return false;
    for (let line = 0; line < this.line; line++) {
      if (!/^\uFEFF?#\s*[a-zA-Z][a-zA-Z0-9]*\s*=/.test(this.doc.lines.lineText(line))) return false;
    }
    return true;
  }

  private directives(): CompletionItem[] {
    const name = /^(\s*#\s*)([a-zA-Z]*)$/.exec(this.before);
    if (name) {
      const present = new Set(this.doc.model.syntax.directives.filter((d) => d.line !== this.line).map((d) => d.name));
      const start = this.offset - name[2].length;
      let end = this.wordEnd(this.offset, /[a-zA-Z]/);
      if (this.doc.text[end] === '=') end++;
      return DIRECTIVES.filter((d) => !present.has(d.name)).map((d) => ({
        label: d.name,
        kind: CompletionItemKind.Property,
        detail: d.summary,
        documentation: markup(d.doc, this.ctx),
        textEdit: { range: this.range(start, end), newText: `${d.name}=` },
        command: SUGGEST_AGAIN,
      }));
    }
    const value = /^\s*#\s*([a-zA-Z]+)\s*=\s*/.exec(this.before);
    const spec = value && DIRECTIVES.find((d) => d.name === value[1].toLowerCase());
    if (!value || !spec) return [];
    const valueAt = this.lineStart + value[0].length;
    const lineEnd = this.doc.lines.lineEnd(this.line);
    let end = lineEnd;
    while (end > this.offset && /\s/.test(this.doc.text[end - 1])) end--;
    if (spec.name === 'check') return this.checkValues(valueAt, end);
    return spec.values.map((v) => this.valueItem(v, valueAt, end, CompletionItemKind.Value));
  }

  /** `# check=`: whole values, then the keys of each `;` part, then check names after `skip=`. */
  private checkValues(valueAt: number, end: number): CompletionItem[] {
    const typed = this.doc.text.slice(valueAt, this.offset);
    const semi = typed.lastIndexOf(';');
    const part = typed.slice(semi + 1);
    const partAt = valueAt + semi + 1;
    const partEnd = this.until(this.offset, end, ';');
    const skip = /^\s*skip\s*=/i.exec(part);
    if (skip) {
      const comma = part.lastIndexOf(',');
      const nameAt = comma === -1 ? partAt + skip[0].length : partAt + comma + 1;
      const listed = new Set(part.slice(skip[0].length).split(',').map((s) => s.trim()));
      return ['all', ...BUILD_CHECKS]
        .filter((c) => !listed.has(c) || c === part.slice(comma + 1).trim())
        .map((c) => this.valueItem(c, nameAt, this.until(this.offset, partEnd, ','), CompletionItemKind.EnumMember));
    }
    const error = /^\s*error\s*=/i.exec(part);
    if (error) return ['true', 'false'].map((v) => this.valueItem(v, partAt + error[0].length, partEnd, CompletionItemKind.Value));
    if (part.includes('=')) return [];
    if (semi === -1) return DIRECTIVES.find((d) => d.name === 'check')!.values.map((v) => this.valueItem(v, valueAt, end, CompletionItemKind.Value));
    return ['skip=', 'error='].map((k) => ({ ...this.valueItem(k, partAt, partEnd, CompletionItemKind.Property), command: SUGGEST_AGAIN }));
  }

  // ---------------------------------------------------------------------------------------------
  // Instructions

  private keywords(specs: readonly InstructionSpec[], typed: string, span: { start: number; end: number }, hasArgs: boolean): CompletionItem[] {
    // Lower case when the user types in lower case; upper case otherwise (the convention).
    const lower = typed !== '' && typed === typed.toLowerCase() && typed !== typed.toUpperCase();
    const snippets = this.ctx.client.snippets && !hasArgs;
    return specs.map((spec) => {
      const name = lower ? spec.name.toLowerCase() : spec.name;
      const item: CompletionItem = {
        label: name,
        kind: CompletionItemKind.Keyword,
        detail: spec.summary,
        documentation: markup(spec.doc, this.ctx),
        textEdit: { range: this.range(span.start, span.end), newText: snippets ? `${name} ${spec.snippet}` : name },
        insertTextFormat: snippets ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
      };
      if (spec.deprecated) {
        item.tags = [CompletionItemTag.Deprecated];
        item.deprecated = true;
      }
      return item;
    });
  }

  private inInstruction(at: Located): Items {
    const { top, index } = at;
    const t = top.logical.text;
    const [ws, we] = wordAround(t, index);
    const typed = t.slice(ws, index);
    const keywordEnd = wordAround(t, 0)[1];
    if (index <= keywordEnd) {
      return this.keywords(INSTRUCTIONS, typed, top.logical.span(0, keywordEnd), top.args !== null);
    }
    if (top.keyword === 'ONBUILD' && t.slice(keywordEnd, ws).trim() === '') {
      const trigger = top.trigger;
      const specs = INSTRUCTIONS.filter((s) => s.onbuild);
      return this.keywords(specs, typed, top.logical.span(ws, we), trigger !== null && trigger.args !== null);
    }
    const inst = at.instruction;
    const spec = INSTRUCTION_BY_NAME.get(inst.keyword);
    if (!spec || ws <= keywordStart(top, inst)) return [];

    // Flags come first: a word starting with `-` before the first argument.
    if (ws <= inst.argsAt && typed.startsWith('-')) {
      const eq = typed.indexOf('=');
      if (eq === -1) return this.flags(spec, inst, ws, this.nameEnd(t, index, we));
      const flag = spec.flags.find((f) => f.name === typed.slice(2, eq));
      return flag ? this.flagValues(at, flag, ws + eq + 1, we) : [];
    }
    if (ws < inst.argsAt) return [];

    const n = argumentIndex(inst, ws);
    switch (inst.keyword) {
      case 'FROM':
        if (n === 0) return this.stages(at, ws, we);
        if (n === 1 && inst.words.length > 0) {
          const lower = /^[a-z]+$/.test(this.doc.text.slice(inst.keywordSpan.start, inst.keywordSpan.end));
          const label = lower ? 'as' : 'AS';
          return [{ label, kind: CompletionItemKind.Keyword, detail: 'Name this build stage', textEdit: { range: this.span(top, ws, we), newText: label } }];
        }
        return [];
      case 'STOPSIGNAL':
        if (n !== 0) return [];
        return SIGNALS.map((s) => ({ label: s, kind: CompletionItemKind.EnumMember, textEdit: { range: this.span(top, ws, we), newText: s } }));
      case 'HEALTHCHECK':
        if (n !== 0) return [];
        return [
          ...['CMD', 'NONE'].map((k) => {
            const form = spec.forms.find((f) => f.label.includes(` ${k}`));
            return { ...this.logicalItem(at, k, ws, we, CompletionItemKind.Keyword), detail: form?.doc };
          }),
          ...this.flags(spec, inst, ws, we),
        ];
      case 'COPY':
      case 'ADD':
        return this.paths(inst, typed, ws, index, we);
      default:
        return [];
    }
  }

  private flags(spec: InstructionSpec, inst: Instruction, start: number, end: number): CompletionItem[] {
    const current = flagAt(inst, this.offset);
    const given = new Set(inst.flags.filter((f) => f !== current).map((f) => f.name));
    const range = this.span(inst, start, end);
    return spec.flags
      .filter((f) => f.repeatable || !given.has(f.name))
      .map((f) => {
        // A switch goes in as is; a flag that needs a value gets its `=` and the value list.
        const valued = f.value !== 'none' && f.value !== 'boolean';
        const item: CompletionItem = {
          label: `--${f.name}`,
          kind: CompletionItemKind.Property,
          detail: f.summary,
          documentation: markup(f.doc, this.ctx),
          textEdit: { range, newText: valued ? `--${f.name}=` : `--${f.name}` },
        };
        if (valued && (f.values || f.value === 'keyValues' || f.name === 'from')) item.command = SUGGEST_AGAIN;
        return item;
      });
  }

  private flagValues(at: Located, flag: FlagSpec, valueAt: number, end: number): CompletionItem[] {
    if (flag.name === 'mount') return this.mount(at, valueAt, end);
    if (flag.name === 'from') return this.stages(at, valueAt, end);
    const values = flag.values ?? (flag.value === 'boolean' ? ['true', 'false'] : []);
    return values.map((v) => this.logicalItem(at, v, valueAt, end, CompletionItemKind.EnumMember));
  }

  /** `--mount=`: `type=` first, the types after it, then the options of that type and their values. */
  private mount(at: Located, valueAt: number, end: number): CompletionItem[] {
    const t = at.top.logical.text;
    const index = at.index;
    const parts = mountParts(t, valueAt, end);
    const current = parts.find((p) => index >= p.start && index <= p.end);
    if (!current) return [];
    const type = mountType(parts);
    const spec = MOUNT_TYPES.find((m) => m.type === type);
    if (current.valueAt !== -1 && index >= current.valueAt) {
      if (current.key === 'type') {
        return MOUNT_TYPES.map((m) => ({
          ...this.logicalItem(at, m.type, current.valueAt, current.end, CompletionItemKind.EnumMember),
          documentation: markup(m.doc, this.ctx),
        }));
      }
      if (current.key === 'from') return this.stages(at, current.valueAt, current.end);
      const option = spec?.options.find((o) => o.names.includes(current.key));
      return (option?.values ?? []).map((v) => this.logicalItem(at, v, current.valueAt, current.end, CompletionItemKind.EnumMember));
    }
    const keyEnd = current.valueAt === -1 ? current.end : current.valueAt;
    const typeItem = {
      ...this.logicalItem(at, 'type=', current.start, keyEnd, CompletionItemKind.Property),
      label: 'type',
      detail: 'bind (default), cache, tmpfs, secret or ssh',
      sortText: '0',
      command: SUGGEST_AGAIN,
    };
    const hasType = parts.some((p) => p !== current && p.key === 'type');
    if (!hasType && parts[0] === current) return [typeItem];
    const given = new Set(parts.filter((p) => p !== current).map((p) => p.key));
    const options = (spec?.options ?? [])
      .filter((o) => !o.names.some((name) => given.has(name)))
      .map((o) => ({
        ...this.logicalItem(at, o.bare ? o.names[0] : `${o.names[0]}=`, current.start, keyEnd, CompletionItemKind.Property),
        label: o.names[0],
        detail: o.names.length > 1 ? `also ${o.names.slice(1).join(', ')}` : undefined,
        documentation: markup(o.doc, this.ctx),
        command: o.values && !o.bare ? SUGGEST_AGAIN : undefined,
      }));
    return hasType ? options : [typeItem, ...options];
  }

  /** Named stages before this instruction (not its own). */
  private stages(at: Located, start: number, end: number): CompletionItem[] {
    const range = this.span(at.top, start, end);
    return earlierStages(this.doc.model, at.top).map((s) => ({
      label: s.name!.text,
      kind: CompletionItemKind.Reference,
      detail: `stage ${s.index}${s.image ? `: FROM ${s.image.text}` : ''}`,
      textEdit: { range, newText: s.name!.text },
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Variables

  /** After `$` or `${` (not escaped): the ARG/ENV names visible here and the usable predefined args. */
  private variables(at: Located): CompletionItem[] | null {
    const m = /\$(\{?)([A-Za-z_][A-Za-z0-9_]*)?$/.exec(this.before);
    if (!m) return null;
    const dollar = this.offset - m[0].length;
    if (dollar > this.lineStart && this.doc.text[dollar - 1] === this.doc.model.syntax.escape) return null;
    const model = this.doc.model;
    const start = this.offset - (m[2]?.length ?? 0);
    const end = this.wordEnd(this.offset, /[A-Za-z0-9_]/);
    // `${` gets its `}` unless one is already there.
    const close = m[1] === '{' && this.doc.text[end] !== '}' ? '}' : '';
    const range = this.range(start, end);
    const scope = model.scopeOf(at.top);
    const visible = model.visible(scope);
    const items: CompletionItem[] = [];
    for (const [name, d] of visible) {
      const line = this.doc.lines.lineAt(d.pair.keySpan.start) + 1;
      items.push({
        label: name,
        kind: CompletionItemKind.Variable,
        detail: d.value ?? `${d.kind} without a value`,
        documentation: markup(`${d.kind} on line ${line}`, this.ctx),
        textEdit: { range, newText: name + close },
      });
    }
    for (const arg of PREDEFINED_ARGS) {
      if (visible.has(arg.name) || !model.predefined(scope, arg.name)) continue;
      items.push({
        label: arg.name,
        kind: CompletionItemKind.Constant,
        detail: 'predefined build arg',
        documentation: markup(arg.doc, this.ctx),
        textEdit: { range, newText: arg.name + close },
      });
    }
    return items;
  }

  // ---------------------------------------------------------------------------------------------
  // COPY / ADD sources

  /** Entries of the context directory being typed; only for `file:` documents and plain paths. */
  private paths(inst: Instruction, typed: string, ws: number, index: number, we: number): Items {
    const folder = this.doc.folder;
    if (!folder || inst.json || inst.logical.text[inst.argsAt] === '[' || inst.flags.some((f) => f.name === 'from')) return [];
    // Variables, wildcards, quotes, URLs and heredocs are not paths to list.
    if (/[$*?[\]"'<:\\]/.test(typed)) return [];
    const slash = typed.lastIndexOf('/');
    const dir = path.resolve(folder, typed.slice(0, slash + 1).replace(/^\/+/, ''));
    // Sources cannot leave the context; neither does the listing.
    if (dir !== folder && !dir.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep)) return [];
    const range = this.span(inst, ws + slash + 1, Math.max(index, this.nameEnd(inst.logical.text, index, we)));
    return list(folder, dir).then((entries) =>
      entries.map(({ name, directory }) => ({
        label: directory ? `${name}/` : name,
        kind: directory ? CompletionItemKind.Folder : CompletionItemKind.File,
        sortText: `${directory ? 0 : 1}${name}`,
        textEdit: { range, newText: directory ? `${name}/` : name },
        command: directory ? SUGGEST_AGAIN : undefined,
      })),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** The document range of logical indices [start, end) of an instruction. */
  private span(inst: Instruction, start: number, end: number): Range {
    return this.doc.range(inst.logical.span(start, end));
  }

  private range(start: number, end: number): Range {
    return this.doc.range({ start, end });
  }

  /** A value item replacing document offsets [start, end). */
  private valueItem(value: string, start: number, end: number, kind: CompletionItemKind): CompletionItem {
    return { label: value, kind, textEdit: { range: this.range(start, end), newText: value } };
  }

  /** A value item replacing logical indices [start, end) of the instruction at the cursor. */
  private logicalItem(at: Located, value: string, start: number, end: number, kind: CompletionItemKind): CompletionItem {
    return { label: value, kind, textEdit: { range: this.span(at.top, start, end), newText: value } };
  }

  /** The end of a run of characters matching `char` from a document offset. */
  private wordEnd(offset: number, char: RegExp): number {
    let end = offset;
    while (end < this.doc.text.length && char.test(this.doc.text[end])) end++;
    return end;
  }

  /** From `from`, the first `stop` character or `end`. */
  private until(from: number, end: number, stop: string): number {
    const i = this.doc.text.indexOf(stop, from);
    return i === -1 || i > end ? end : i;
  }

  /** The end of a name being typed in logical text: up to `=`, `/` or the word's end. */
  private nameEnd(t: string, index: number, we: number): number {
    let end = index;
    while (end < we && t[end] !== '=' && t[end] !== '/') end++;
    return end;
  }
}

/**
 * A context directory's entries, directories marked (symbolic links followed), without what
 * `.dockerignore` leaves out of the build context.
 */
async function list(context: string, dir: string): Promise<{ name: string; directory: boolean }[]> {
  const [entries, ignore] = await Promise.all([fs.readdir(dir, { withFileTypes: true }), readIgnore(context)]);
  const rel = path.relative(context, dir).split(path.sep).join('/');
  const found = await Promise.all(
    entries.slice(0, MAX_ENTRIES).map(async (e) => {
      let directory = e.isDirectory();
      if (e.isSymbolicLink()) directory = await fs.stat(path.join(dir, e.name)).then((s) => s.isDirectory(), () => false);
      return { name: e.name, directory };
    }),
  );
  if (!ignore) return found;
  return found.filter(({ name, directory }) => {
    const entry = rel ? `${rel}/${name}` : name;
    // An ignored directory stays when an exception (`!dir/keep`) may bring back something below.
    return !ignore.matches(entry) || (directory && ignore.mayIncludeBelow(entry));
  });
}

/** The context's `.dockerignore`, or null when there is none or Docker would refuse it. */
async function readIgnore(context: string): Promise<DockerIgnore | null> {
  try {
    return DockerIgnore.parse(await fs.readFile(path.join(context, '.dockerignore'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Documentation travels on `completionItem/resolve`, for the item the user looks at, rather than
 * with every item of every list: the list stays small and quick to send.
 */
class Documentation {
  private docs: CompletionItem['documentation'][] = [];

  /** Moves each item's documentation here, leaving its index in `data`. */
  defer(list: CompletionList): CompletionList {
    this.docs = [];
    for (const item of list.items) {
      if (item.documentation === undefined) continue;
      item.data = this.docs.push(item.documentation) - 1;
      item.documentation = undefined;
    }
    return list;
  }

  resolve(item: CompletionItem): CompletionItem {
    if (typeof item.data === 'number' && this.docs[item.data] !== undefined) item.documentation = this.docs[item.data];
    return item;
  }
}

export const completionFeature: Feature = {
  capabilities: {
    completionProvider: { triggerCharacters: ['-', '=', '$', '{', ',', ' ', '/'], resolveProvider: true },
  },
  register(server) {
    const docs = new Documentation();
    server.connection.onCompletion(async (params) =>
      docs.defer(await server.run('completion', params.textDocument.uri, EMPTY, (doc, ctx) => completion(doc, params.position, ctx))),
    );
    server.connection.onCompletionResolve((item) => docs.resolve(item));
  },
};
