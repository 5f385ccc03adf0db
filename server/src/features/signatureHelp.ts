// Signature help: the syntaxes (forms) of the instruction at the cursor, from the reference
// tables, with the active one chosen by what is written (exec or shell form, heredoc, FROM with
// a tag or a digest, HEALTHCHECK NONE, COPY --from, the legacy ENV form…) and the active
// parameter by where the cursor is: in the flags, or in the n-th argument (word, or JSON item).

import type { ParameterInformation, SignatureHelp, SignatureInformation } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Model } from '../dockerfile/model';
import { INSTRUCTION_BY_NAME } from '../dockerfile/instructions';
import type { FormSpec, InstructionSpec, ParameterSpec } from '../dockerfile/spec';
import type { Instruction } from '../dockerfile/syntax';
import type { Position } from '../dockerfile/text';
import { argumentIndex, keywordStart, locate, markup, wordAround } from './cursor';
import type { Feature } from './feature';

/** Where the cursor is among an instruction's arguments. */
export interface ArgumentPosition {
  /** In the flags (`--name=value`) before the arguments. */
  readonly inFlags: boolean;
  /** Index of the argument (word, or JSON array item) the cursor is in or about to type. */
  readonly n: number;
  /** How many arguments there are, counting the one being typed. */
  readonly total: number;
  /** The argument's text before the cursor (empty in JSON form). */
  readonly typed: string;
}

export function signatureHelp(doc: Document, position: Position, ctx: FeatureContext): SignatureHelp | null {
  const offset = doc.offsetAt(position);
  const at = locate(doc, offset);
  if (!at || at.heredoc) return null;
  const { top, index } = at;
  let inst = at.instruction;
  const t = top.logical.text;
  // On a keyword nothing is to be helped with yet; on ONBUILD's trigger keyword, ONBUILD's syntax.
  if (index <= wordAround(t, keywordStart(top, inst))[1]) {
    if (inst === top) return null;
    inst = top;
  }
  const spec = INSTRUCTION_BY_NAME.get(inst.keyword);
  if (!spec || spec.forms.length === 0) return null;
  const json = inst.argsAt < t.length && t[inst.argsAt] === '[';
  const place = argumentPosition(inst, index, offset, json);
  const active = chooseForm(spec, inst, doc.model, top, json, place);
  const signatures: SignatureInformation[] = spec.forms.map((form) => ({
    label: form.label,
    documentation: markup(form.doc, ctx),
    parameters: parameterLabels(form).map(
      (label, i): ParameterInformation => ({ label, documentation: markup(form.params[i].doc, ctx) }),
    ),
    activeParameter: activeParameter(form, place),
  }));
  return { signatures, activeSignature: active, activeParameter: signatures[active].activeParameter };
}

/** Where the cursor is among the flags and arguments of an instruction. */
export function argumentPosition(inst: Instruction, index: number, offset: number, json: boolean): ArgumentPosition {
  const t = inst.logical.text;
  const [ws] = wordAround(t, index);
  const onFlag = inst.flags.some((f) => offset >= f.start && offset <= f.end);
  if (onFlag || (ws <= inst.argsAt && t[ws] === '-' && index > ws)) return { inFlags: true, n: 0, total: 0, typed: '' };
  if (json && index > inst.argsAt) {
    // Count the commas outside strings before the cursor, and in the whole array.
    let before = 0;
    let all = 0;
    let quoted = false;
    for (let i = inst.argsAt + 1; i < t.length; i++) {
      const c = t[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === ']') break;
      else if (c === ',') {
        all++;
        if (i < index) before++;
      }
    }
    return { inFlags: false, n: before, total: all + 1, typed: '' };
  }
  const n = argumentIndex(inst, ws);
  return { inFlags: false, n, total: Math.max(inst.words.length, n + 1), typed: t.slice(ws, index) };
}

function chooseForm(spec: InstructionSpec, inst: Instruction, model: Model, top: Instruction, json: boolean, place: ArgumentPosition): number {
  const forms = spec.forms;
  const find = (test: (label: string) => boolean, fallback = -1): number => {
    const i = forms.findIndex((f) => test(f.label));
    return i === -1 ? fallback : i;
  };
  const words = inst.words;
  if (json) {
    // CMD in exec form after an ENTRYPOINT gives that ENTRYPOINT its default arguments.
    if (inst.keyword === 'CMD' && model.stageOf(top)?.instructions.some((i) => i.keyword === 'ENTRYPOINT' && i.start < top.start)) {
      return find((l) => l.includes('<param1>') && !l.includes('<executable>'), 0);
    }
    return find((l) => l.includes('["'), 0);
  }
  if (inst.heredocs.length > 0 || words.some((w) => /^\d*<<-?["']?[A-Za-z_]/.test(w.text))) return find((l) => l.includes('<<'), 0);
  // With nothing written yet the first (the preferred) form.
  if (words.length === 0 && inst.flags.length === 0) return 0;
  const plain = find((l) => !l.includes('["') && !l.includes('<<'), 0);
  switch (inst.keyword) {
    case 'FROM': {
      const image = words[0]?.text ?? '';
      const name = image.slice(image.lastIndexOf('/') + 1);
      if (image.includes('@')) return find((l) => l.includes('@<digest>'), plain);
      if (name.includes(':')) return find((l) => l.includes(':<tag>'), plain);
      return plain;
    }
    case 'COPY':
      return inst.flags.some((f) => f.name === 'from') ? find((l) => l.includes('--from'), plain) : plain;
    case 'USER':
      return /^\d/.test(words[0]?.text ?? '') ? find((l) => l.includes('<UID>'), plain) : plain;
    case 'ENV': {
      // `ENV key value`: the first word has no `=` and something follows it.
      const legacy = words.length > 0 && !words[0].text.includes('=') && (words.length > 1 || place.n > 0);
      return legacy ? find((l) => !l.includes('='), plain) : plain;
    }
    case 'HEALTHCHECK':
      return words[0]?.text.toUpperCase() === 'NONE' ? find((l) => l.endsWith(' NONE'), plain) : plain;
    default:
      return plain;
  }
}

const isOption = (p: ParameterSpec): boolean => p.label === '[OPTIONS]' || p.label.startsWith('[--');
/** `[:<tag>]`, `[@<digest>]`, `[/<protocol>]`, `[=<default value>]`: a part of the argument before it. */
const suffixSeparator = (p: ParameterSpec): string | null => (/^\[[:@/=]/.test(p.label) ? p.label[1] : null);

/** The parameter of a form the cursor is on. */
export function activeParameter(form: FormSpec, place: ArgumentPosition): number {
  const params = form.params;
  if (place.inFlags) return Math.max(0, params.findIndex(isOption));
  // Main parameters take whole arguments; suffix parameters a part of the argument before them.
  const mains: number[] = [];
  const suffixes = new Map<number, number[]>();
  params.forEach((p, i) => {
    if (isOption(p)) return;
    if (suffixSeparator(p) && mains.length > 0) suffixes.get(mains[mains.length - 1])!.push(i);
    else {
      mains.push(i);
      suffixes.set(i, []);
    }
  });
  if (mains.length === 0) return 0;
  // A repeated parameter followed by others (COPY's sources before the destination).
  const variadic = mains.findIndex((i, k) => k < mains.length - 1 && params[i].label.includes('...'));
  const { n, total } = place;
  let m: number;
  if (variadic === -1) m = Math.min(n, mains.length - 1);
  else {
    const firstAfter = Math.max(variadic + 1, total - (mains.length - 1 - variadic));
    if (n < variadic) m = n;
    else if (n >= firstAfter) m = Math.min(mains.length - 1, variadic + 1 + (n - firstAfter));
    else m = variadic;
  }
  const main = mains[m];
  let active = main;
  for (const i of suffixes.get(main)!) {
    const separator = suffixSeparator(params[i])!;
    // A tag's `:` comes after the last `/` (a registry port is not a tag).
    const typed = separator === ':' && params[main].label === '<image>' ? place.typed.slice(place.typed.lastIndexOf('/') + 1) : place.typed;
    if (typed.includes(separator)) active = i;
  }
  return active;
}

const labelCache = new WeakMap<FormSpec, [number, number][]>();

/** Each parameter's [start, end) in the form's label, found in order after the keyword. */
function parameterLabels(form: FormSpec): [number, number][] {
  let labels = labelCache.get(form);
  if (labels) return labels;
  labels = [];
  let from = form.label.indexOf(' ') + 1;
  for (const p of form.params) {
    let start = form.label.indexOf(p.label, from);
    if (start === -1) start = Math.max(0, form.label.indexOf(p.label));
    labels.push([start, start + p.label.length]);
    from = start + p.label.length;
  }
  labelCache.set(form, labels);
  return labels;
}

export const signatureHelpFeature: Feature = {
  capabilities: { signatureHelpProvider: { triggerCharacters: [' ', '-', '=', '[', ','] } },
  register(server) {
    server.connection.onSignatureHelp((params) =>
      server.run('signatureHelp', params.textDocument.uri, null, (doc, ctx) => signatureHelp(doc, params.position, ctx)),
    );
  },
};
