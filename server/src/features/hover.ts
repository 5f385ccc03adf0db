// Hover: the documentation of what is under the pointer — an instruction keyword, a parser
// directive, a flag, a `--mount` type or option, a variable (its declaration and the value it
// resolves to there), an ARG/ENV name, a stage name, STOPSIGNAL's signal — with the range of
// the hovered word. Markdown, or plain text for clients that do not render it.

import type { Hover } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Declaration, Stage } from '../dockerfile/model';
import { DIRECTIVES, INSTRUCTION_BY_NAME, MOUNT_TYPES, PREDEFINED_ARGS, SIGNALS } from '../dockerfile/instructions';
import type { Flag, Instruction } from '../dockerfile/syntax';
import type { Position, Span } from '../dockerfile/text';
import {
  contains,
  declarationOf,
  flagValueRange,
  inlineCode,
  locate,
  markup,
  mountParts,
  mountType,
  referenceAt,
  stageNamed,
  type Located,
} from './cursor';
import type { Feature } from './feature';

export function hover(doc: Document, position: Position, ctx: FeatureContext): Hover | null {
  const offset = doc.offsetAt(position);
  const found = directiveHover(doc, offset) ?? instructionHover(doc, offset);
  if (!found) return null;
  return { contents: markup(found.markdown, ctx), range: doc.range(found.span) };
}

interface Found {
  readonly markdown: string;
  readonly span: Span;
}

function directiveHover(doc: Document, offset: number): Found | null {
  for (const d of doc.model.syntax.directives) {
    const onName = contains(d.nameSpan, offset);
    if (!onName && !contains(d.valueSpan, offset)) continue;
    const spec = DIRECTIVES.find((s) => s.name === d.name);
    if (!spec) return null;
    return { markdown: `**${d.name}** = ${inlineCode(d.value)}\n\n${spec.doc}`, span: onName ? d.nameSpan : d.valueSpan };
  }
  return null;
}

function instructionHover(doc: Document, offset: number): Found | null {
  const at = locate(doc, offset);
  if (!at) return null;
  const model = doc.model;
  const ref = referenceAt(model, at.top, offset);
  if (ref) {
    const markdown = ref.declaration
      ? declarationText(doc, ref.declaration)
      : ref.predefined
        ? PREDEFINED_ARGS.find((a) => a.name === ref.name)?.doc
        : undefined;
    return markdown ? { markdown, span: ref } : null;
  }
  if (at.heredoc) return null;
  for (const inst of [at.top, at.top.trigger]) {
    if (inst && contains(inst.keywordSpan, offset)) {
      const spec = INSTRUCTION_BY_NAME.get(inst.keyword);
      return spec ? { markdown: spec.doc, span: inst.keywordSpan } : null;
    }
  }
  const inst = at.instruction;
  const flag = inst.flags.find((f) => offset >= f.start && offset < f.end);
  if (flag) return flagHover(doc, at, flag, offset);
  return argumentHover(doc, at, inst, offset);
}

function flagHover(doc: Document, at: Located, flag: Flag, offset: number): Found | null {
  const inst = at.instruction;
  const spec = INSTRUCTION_BY_NAME.get(inst.keyword)?.flags.find((f) => f.name === flag.name);
  if (!spec) return null;
  if (!flag.valueSpan || offset < flag.valueSpan.start) {
    return { markdown: spec.doc, span: { start: flag.start, end: flag.nameSpan.end } };
  }
  const value = { markdown: spec.doc, span: flag.valueSpan };
  if (flag.name === 'from' && flag.value) {
    const stage = stageNamed(doc.model, flag.value, at.top);
    return stage ? { markdown: stageText(doc, stage), span: flag.valueSpan } : value;
  }
  const range = flagValueRange(inst, flag);
  if (flag.name !== 'mount' || !range) return value;
  const { logical } = at.top;
  const parts = mountParts(logical.text, range[0], range[1]);
  const part = parts.find((p) => at.index >= p.start && at.index < p.end);
  if (!part) return null;
  const span = logical.span(part.start, part.end);
  const type = MOUNT_TYPES.find((m) => m.type === mountType(parts));
  if (part.key === 'type') return type ? { markdown: `**--mount type=${type.type}**\n\n${type.doc}`, span } : null;
  if (part.key === 'from' && part.value && at.index >= part.valueAt) {
    const stage = stageNamed(doc.model, part.value, at.top);
    if (stage) return { markdown: stageText(doc, stage), span: logical.span(part.valueAt, part.end) };
  }
  const option = type?.options.find((o) => o.names.includes(part.key));
  if (!type || !option) return null;
  const aliases = option.names.length > 1 ? ` (also ${option.names.slice(1).map((n) => `\`${n}\``).join(', ')})` : '';
  return { markdown: `**${option.names[0]}**${aliases}: option of \`--mount=type=${type.type}\`\n\n${option.doc}`, span };
}

function argumentHover(doc: Document, at: Located, inst: Instruction, offset: number): Found | null {
  const model = doc.model;
  if (inst.keyword === 'ARG' || inst.keyword === 'ENV') {
    const pair = inst.pairs.find((p) => contains(p.keySpan, offset));
    const declaration = pair && declarationOf(model, pair);
    return declaration ? { markdown: declarationText(doc, declaration), span: pair.keySpan } : null;
  }
  const word = inst.words.find((w) => contains(w, offset));
  if (!word) return null;
  if (inst.keyword === 'FROM') {
    const stage = model.stageOf(at.top);
    if (stage && word === stage.name) return { markdown: stageText(doc, stage), span: word };
    if (stage && word === stage.image && stage.parent) return { markdown: stageText(doc, stage.parent), span: word };
    return null;
  }
  if (inst.keyword === 'STOPSIGNAL' && word === inst.words[0]) {
    const markdown = signalText(word.text);
    return markdown ? { markdown, span: word } : null;
  }
  if (inst.keyword === 'HEALTHCHECK' && word === inst.words[0]) {
    const keyword = word.text.toUpperCase();
    const form = INSTRUCTION_BY_NAME.get('HEALTHCHECK')!.forms.find((f) => f.label.includes(` ${keyword}`));
    if (form && (keyword === 'CMD' || keyword === 'NONE')) return { markdown: `**HEALTHCHECK ${keyword}**\n\n${form.doc}`, span: word };
  }
  return null;
}

/** "`VERSION` = `1.2.3` (ARG, line 3)", with what is worth knowing about where it comes from. */
function declarationText(doc: Document, d: Declaration): string {
  const line = doc.lines.lineAt(d.pair.keySpan.start) + 1;
  const where = `${d.kind}, line ${line}`;
  const lines: string[] = [];
  if (d.value === undefined) lines.push(`${inlineCode(d.name)} (${where}): no default value; set it with \`--build-arg ${d.name}=…\``);
  else if (d.value === '') lines.push(`${inlineCode(d.name)} = "" (${where})`);
  else lines.push(`${inlineCode(d.name)} = ${inlineCode(d.value)} (${where})`);
  if (d.kind === 'ARG' && d.stage && d.pair.value === null && d.value !== undefined) {
    lines.push('The value is the default of the global `ARG` of the same name.');
  }
  const predefined = PREDEFINED_ARGS.find((a) => a.name === d.name);
  if (predefined) lines.push(predefined.doc);
  return lines.join('\n\n');
}

function stageText(doc: Document, stage: Stage): string {
  const line = doc.lines.lineAt(stage.from.start) + 1;
  const name = stage.name ? ` ${inlineCode(stage.name.text)}` : '';
  const image = stage.image ? `\n\nBased on ${inlineCode(stage.image.text)}.` : '';
  return `**Build stage**${name} (stage ${stage.index}, line ${line})${image}`;
}

// Linux signal numbers, and a word on the signals images commonly stop with.
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16,
  SIGCHLD: 17, SIGCLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23,
  SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPOLL: 29, SIGPWR: 30,
  SIGSYS: 31, SIGRTMIN: 34, SIGRTMAX: 64,
};

const SIGNAL_NOTES: Record<string, string> = {
  SIGTERM: 'The default stop signal: asks the process to terminate.',
  SIGKILL: 'Cannot be caught: the process is killed at once, with no chance to clean up.',
  SIGSTOP: 'Cannot be caught: the process is suspended, not stopped.',
  SIGINT: 'Interrupt, as Ctrl+C sends it.',
  SIGQUIT: 'Quit; some servers (nginx, for one) shut down gracefully on it.',
  SIGHUP: 'Hang-up; many daemons reload their configuration on it rather than exit.',
  SIGWINCH: 'Window size change; Apache httpd stops gracefully on it.',
  SIGUSR1: 'User-defined; its meaning depends on the program.',
  SIGUSR2: 'User-defined; its meaning depends on the program.',
};

/** A STOPSIGNAL value: a name (the `SIG` prefix optional, any case), `SIGRTMIN+n`/`SIGRTMAX-n`, or a number. */
function signalText(text: string): string | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    const name = Object.keys(SIGNAL_NUMBERS).find((s) => SIGNAL_NUMBERS[s] === n);
    return `Signal ${n}${name ? ` (${inlineCode(name)})` : ''}${name && SIGNAL_NOTES[name] ? `\n\n${SIGNAL_NOTES[name]}` : ''}`;
  }
  const m = /^(?:SIG)?([A-Z0-9]+)(?:([+-])(\d+))?$/i.exec(text);
  if (!m) return null;
  const name = `SIG${m[1].toUpperCase()}`;
  if (!SIGNALS.includes(name)) return null;
  let number = SIGNAL_NUMBERS[name];
  let label = name;
  if (m[2]) {
    const real = (name === 'SIGRTMIN' && m[2] === '+') || (name === 'SIGRTMAX' && m[2] === '-');
    if (!real) return null;
    number += (m[2] === '+' ? 1 : -1) * Number(m[3]);
    label = `${name}${m[2]}${m[3]}`;
  }
  const note = SIGNAL_NOTES[name] ?? (m[2] || name === 'SIGRTMIN' || name === 'SIGRTMAX' ? 'Real-time signal.' : '');
  return `${inlineCode(label)} (signal ${number})${note ? `\n\n${note}` : ''}`;
}

export const hoverFeature: Feature = {
  capabilities: { hoverProvider: true },
  register(server) {
    server.connection.onHover((params) =>
      server.run('hover', params.textDocument.uri, null, (doc, ctx) => hover(doc, params.position, ctx)),
    );
  },
};
