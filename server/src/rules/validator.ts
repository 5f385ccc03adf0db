// The validator rules: every problem rcjsuen's dockerfile-utils validator reports (its
// ValidationCode list), checked over our parse and model, with Docker's own wording. Where
// dockerfile-utils is behind today's BuildKit, BuildKit decides (and a comment says so): ARG takes
// several names, COPY/ADD/RUN have flags it does not know, HEALTHCHECK takes --start-interval and
// `--retries=0`, durations of 0 are allowed, signal names are case-insensitive.
//
// Every instruction is checked on its own, so that all problems are reported at once; nothing
// here throws on half-typed input (a check that cannot decide stays silent).

import { findVariableRefs, goQuote, processWord } from '../dockerfile/expand';
import { INSTRUCTION_BY_NAME, INSTRUCTIONS } from '../dockerfile/instructions';
import type { Model } from '../dockerfile/model';
import type { Instruction, Logical, Word } from '../dockerfile/syntax';
import { isSpace, type Span } from '../dockerfile/text';
import type { CodeSpec, Finding, Fix, Rule } from './rule';
import { checkFlags, type Reporter } from './validator-flags';
import { DIGEST, TAG } from '../../../runtime-agent/src/registry/reference';
import { checkPortSpec, isSignal, nearest, referenceParts, unclosedQuote } from './validator-values';

const error = (code: string, summary: string): CodeSpec => ({ code, source: 'dockerfile', severity: 'error', summary });
const warning = (code: string, summary: string): CodeSpec => ({ code, source: 'dockerfile', severity: 'warning', summary });

const CODES: readonly CodeSpec[] = [
  warning('InstructionCasing', 'An instruction is not written in upper case.'),
  warning('DirectiveCasing', 'A parser directive is not written in lower case.'),
  error('UnknownInstruction', 'The instruction does not exist.'),
  error('NoSourceImage', 'The file has no FROM instruction.'),
  error('NoBuildStage', 'An instruction other than ARG comes before the first FROM.'),
  error('MissingArgument', 'An instruction has no arguments.'),
  error('ExtraArgument', 'STOPSIGNAL has more than one argument.'),
  error('RequiresOneArgument', 'USER has more than one argument.'),
  error('RequiresAtLeastOneArgument', 'HEALTHCHECK has no arguments.'),
  error('RequiresTwoArguments', 'ENV or LABEL in the `key value` form has no value.'),
  error('RequiresAtLeastTwoArguments', 'COPY or ADD has no destination.'),
  error('FromArgumentCount', 'FROM has neither one nor three arguments.'),
  error('UnnecessaryArgument', 'HEALTHCHECK NONE has arguments.'),
  error('InvalidStageName', 'A stage name starts with something other than a letter or contains symbols.'),
  error('InvalidAs', 'The second argument of FROM is not AS.'),
  error('InvalidReferenceFormat', 'The tag or digest of a base image is malformed.'),
  error('BaseNameEmpty', 'The base image is a variable that is not declared.'),
  error('UnknownFlag', 'An instruction has a flag it does not know.'),
  error('DuplicateFlag', 'A flag that can be given once is given twice.'),
  error('FlagMissingValue', 'A flag needs a value and has none.'),
  error('ExpectedBoolean', 'A boolean flag has a value other than true or false.'),
  error('InvalidFlagValue', 'A flag value is not one the flag accepts (RUN --network, --security, --mount).'),
  error('InvalidFromFlag', 'The --from value of COPY is not a stage, image or context name.'),
  error('InvalidDuration', 'A HEALTHCHECK duration is malformed.'),
  error('DurationMissingUnit', 'A HEALTHCHECK duration has no unit.'),
  error('DurationUnknownUnit', 'A HEALTHCHECK duration has an unknown unit.'),
  error('DurationTooShort', 'A HEALTHCHECK duration is below 1ms.'),
  error('FlagAtLeastOne', 'HEALTHCHECK --retries is negative.'),
  error('InvalidSyntax', 'HEALTHCHECK --retries is not an integer.'),
  error('UnknownHealthcheckType', 'HEALTHCHECK is followed by neither CMD nor NONE.'),
  error('HealthcheckMissingCommand', 'HEALTHCHECK CMD has no command.'),
  error('InvalidDestination', 'COPY or ADD with several sources has a destination that is not a directory.'),
  error('InvalidPort', 'An EXPOSE port is malformed.'),
  error('InvalidProtocol', 'An EXPOSE protocol is neither tcp, udp nor sctp.'),
  error('InvalidSignal', 'STOPSIGNAL names no signal.'),
  error('OnbuildChaining', 'ONBUILD is followed by ONBUILD.'),
  error('OnbuildTriggerDisallowed', 'ONBUILD is followed by FROM or MAINTAINER.'),
  error('ShellJsonForm', 'SHELL is not written as a JSON array.'),
  error('ShellRequiresArgument', 'SHELL is an empty JSON array.'),
  error('MissingEquals', 'A key of ENV or LABEL has no `=value`.'),
  error('MissingName', 'A key of ENV, LABEL or ARG is empty.'),
  error('UnterminatedSingleQuote', 'A single quote is never closed.'),
  error('UnterminatedDoubleQuote', 'A double quote is never closed.'),
  error('UnsupportedModifier', 'A ${variable} modifier Docker does not know.'),
  warning('JsonInSingleQuotes', 'An exec-form JSON array is written with single quotes.'),
];

export const validatorRule: Rule = {
  codes: CODES,
  check({ model, report }) {
    new Validator(model, report).run();
  },
};

const ERRORS = new Set(CODES.filter((c) => c.severity === 'error').map((c) => c.code));

/** What Docker refuses to build in a Dockerfile (the builder checks before it starts). */
export function buildErrors(model: Model): Finding[] {
  const found: Finding[] = model.syntax.problems.map((p) => ({ code: p.code, message: p.message, span: p }));
  new Validator(model, (finding) => {
    if (ERRORS.has(finding.code)) found.push(finding);
  }).run();
  return found.sort((a, b) => a.span.start - b.span.start);
}

const INSTRUCTION_NAMES = INSTRUCTIONS.map((i) => i.name);
/** The `${name<modifier>word}` forms BuildKit knows. */
const MODIFIERS = new Set([':-', '-', ':+', '+', ':?', '?', '#', '##', '%', '%%', '/', '//']);
const EXACTLY_ONE = new Set(['USER', 'WORKDIR', 'STOPSIGNAL', 'MAINTAINER']);
/**
 * Not MissingArgument: RUN, CMD and ENTRYPOINT may be empty (an empty ENTRYPOINT resets it,
 * which dockerfile-utils refuses but BuildKit allows); the others have codes of their own.
 */
const OWN_ARGUMENT_COUNT = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK', 'ADD', 'COPY']);
/** Checked word by word (BuildKit reads RUN, CMD and ENTRYPOINT as one command line). */
const SPLIT_AT_WHITESPACE = new Set(['FROM', 'EXPOSE', 'ADD', 'COPY', 'VOLUME', 'USER', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK']);
/**
 * Checked for quotes left open word by word, or as one string where BuildKit reads the rest of
 * the line as one argument (ENV, LABEL and ARG are checked pair by pair, FROM's image alone).
 */
const WORD_EXPANDED = new Set(['ADD', 'COPY', 'EXPOSE', 'VOLUME']);
const LINE_EXPANDED = new Set(['USER', 'WORKDIR', 'STOPSIGNAL']);

class Validator implements Reporter {
  readonly text: string;
  readonly stageNames: ReadonlySet<string>;
  private readonly escape: string;
  /** Checking an ONBUILD trigger, whose variables take their values in a later build. */
  private inTrigger = false;

  constructor(
    private readonly model: Model,
    private readonly sink: (finding: Finding) => void,
  ) {
    this.text = model.syntax.text;
    this.escape = model.syntax.escape;
    this.stageNames = new Set(model.stages.flatMap((s) => (s.name ? [s.name.text.toLowerCase()] : [])));
  }

  report(code: string, message: string, span: Span, fixes?: Fix[]): void {
    const finding: Finding = { code, message, span: { start: span.start, end: span.end } };
    this.sink(fixes && fixes.length ? { ...finding, fixes } : finding);
  }

  run(): void {
    const { syntax } = this.model;
    for (const d of syntax.directives) {
      const name = this.text.slice(d.nameSpan.start, d.nameSpan.end);
      if (name === name.toLowerCase()) continue;
      const fix = { title: `Change to ${name.toLowerCase()}`, edits: [{ span: d.nameSpan, text: name.toLowerCase() }], preferred: true };
      this.report('DirectiveCasing', 'Parser directives should be written in lowercase letters', d.nameSpan, [fix]);
    }
    const instructions = syntax.instructions;
    if (instructions.length === 0) this.report('NoSourceImage', 'file with no instructions', { start: 0, end: 0 });
    else if (instructions.every((i) => i.keyword === 'ARG')) {
      this.report('NoSourceImage', 'dockerfile contains no stages to build', { start: 0, end: 0 });
    }
    let inStage = false;
    for (const ins of instructions) {
      if (ins.keyword === 'FROM') inStage = true;
      else if (!inStage && ins.keyword !== 'ARG') this.report('NoBuildStage', 'no build stage in current context', ins.keywordSpan);
      this.instruction(ins);
    }
  }

  private instruction(ins: Instruction): void {
    const spec = INSTRUCTION_BY_NAME.get(ins.keyword);
    const written = this.text.slice(ins.keywordSpan.start, ins.keywordSpan.end);
    if (!spec) {
      const [best] = nearest(ins.keyword, INSTRUCTION_NAMES);
      const fixes = best && !written.includes('\n') ? [{ title: `Change to ${best}`, edits: [{ span: ins.keywordSpan, text: best }], preferred: true }] : [];
      this.report('UnknownInstruction', `unknown instruction: ${written}${best ? ` (did you mean ${best}?)` : ''}`, ins.keywordSpan, fixes);
      return;
    }
    if (written !== ins.keyword && !written.includes('\n')) {
      const fix = { title: `Change to ${ins.keyword}`, edits: [{ span: ins.keywordSpan, text: ins.keyword }], preferred: true };
      this.report('InstructionCasing', 'Instructions should be written in uppercase letters', ins.keywordSpan, [fix]);
    }
    const words = SPLIT_AT_WHITESPACE.has(ins.keyword) ? fields(ins) : [];
    // BuildKit reads no flags after HEALTHCHECK NONE.
    if (!(ins.keyword === 'HEALTHCHECK' && words[0]?.text.toUpperCase() === 'NONE')) checkFlags(ins, spec, this);
    if (spec.expands) this.modifiers(ins);
    if (WORD_EXPANDED.has(ins.keyword) && !ins.json) for (const word of words) this.quotes(word.text, word);
    if (LINE_EXPANDED.has(ins.keyword) && ins.args) this.quotes(ins.logical.text.slice(ins.argsAt, ins.argsEnd), ins.args);
    if (ins.args === null && !OWN_ARGUMENT_COUNT.has(ins.keyword)) {
      const count = ins.keyword === 'FROM' ? 'either one or three arguments' : EXACTLY_ONE.has(ins.keyword) ? 'exactly one argument' : 'at least one argument';
      this.report('MissingArgument', `${ins.keyword} requires ${count}`, ins.keywordSpan);
    }
    switch (ins.keyword) {
      case 'FROM':
        this.from(ins, words);
        break;
      case 'RUN':
      case 'CMD':
      case 'ENTRYPOINT':
      case 'VOLUME':
        this.singleQuotedJson(ins);
        break;
      case 'ADD':
      case 'COPY':
        this.copy(ins, words);
        this.singleQuotedJson(ins);
        break;
      case 'ENV':
      case 'LABEL':
      case 'ARG':
        this.pairs(ins);
        break;
      case 'EXPOSE':
        for (const word of words) this.port(ins, word);
        break;
      case 'STOPSIGNAL':
        this.stopSignal(ins, words);
        break;
      case 'USER':
        if (words.length > 1) {
          const last = words[words.length - 1];
          this.report('RequiresOneArgument', 'USER requires exactly one argument', { start: words[1].start, end: last.end });
        }
        break;
      case 'SHELL':
        if (ins.args && !ins.json) this.report('ShellJsonForm', 'SHELL requires the arguments to be in JSON form', ins.args);
        else if (ins.args && ins.json?.items.length === 0) this.report('ShellRequiresArgument', 'SHELL requires at least one argument', ins.args);
        break;
      case 'HEALTHCHECK':
        this.healthcheck(ins, words);
        break;
      case 'ONBUILD':
        this.onbuild(ins);
        break;
    }
  }

  private onbuild(ins: Instruction): void {
    const trigger = ins.trigger;
    if (!trigger) return;
    if (trigger.keyword === 'ONBUILD') {
      this.report('OnbuildChaining', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', trigger.keywordSpan);
    } else if (trigger.keyword === 'FROM' || trigger.keyword === 'MAINTAINER') {
      this.report('OnbuildTriggerDisallowed', `${trigger.keyword} isn't allowed as an ONBUILD trigger`, trigger.keywordSpan);
    }
    const outer = this.inTrigger;
    this.inTrigger = true;
    this.instruction(trigger);
    this.inTrigger = outer;
  }

  private from(ins: Instruction, words: Word[]): void {
    if (words.length === 2 || words.length > 3) {
      this.report('FromArgumentCount', 'FROM requires either one or three arguments', words[words.length - 1]);
      return;
    }
    if (words.length === 0) return;
    this.quotes(words[0].text, words[0]);
    this.baseImage(ins, words[0]);
    if (words.length !== 3) return;
    if (words[1].text.toUpperCase() !== 'AS') {
      const fix = { title: 'Change to AS', edits: [{ span: words[1], text: 'AS' }], preferred: true };
      this.report('InvalidAs', 'Second argument should be AS', words[1], [fix]);
    }
    // BuildKit takes stage names without case, then requires a letter followed by [a-z0-9-_.].
    const name = words[2].text;
    if (!/^[a-z][a-z0-9-_.]*$/.test(name.toLowerCase())) {
      this.report('InvalidStageName', `invalid name for build stage: ${goQuote(name)}, name can't start with a number or contain symbols`, words[2]);
    }
  }

  private baseImage(ins: Instruction, word: Word): void {
    const text = word.text;
    if (text.includes('$')) {
      if (this.inTrigger) return;
      // A base image that is one variable, never declared: BuildKit expands it to nothing.
      const refs = findVariableRefs(text, this.model.syntax.escape);
      const ref = refs.length === 1 && refs[0].start === 0 && refs[0].end === text.length ? refs[0] : null;
      if (!ref || ref.unterminated) return;
      const scope = this.model.scopeOf(ins);
      if (this.model.lookup(scope, ref.name) || this.model.predefined(scope, ref.name)) return;
      const hasDefault = (ref.modifier === '-' || ref.modifier === ':-') && ref.word !== undefined && ref.word.end > ref.word.start;
      if (!hasDefault) this.report('BaseNameEmpty', `base name (${text}) should not be blank`, word);
      return;
    }
    // Quotes and escapes are removed by the build; the parts of such a word are not where they
    // are written.
    if (/['"]/.test(text) || text.includes(this.escape)) return;
    const { tag, digest } = referenceParts(text);
    const sub = (part: { start: number; end: number }) => ins.logical.span(word.at + part.start, word.at + part.end);
    const message = 'invalid reference format';
    if ((tag && tag.start === tag.end) || (digest && digest.start === digest.end)) {
      this.report('InvalidReferenceFormat', message, word);
      return;
    }
    if (tag && !TAG.test(text.slice(tag.start, tag.end))) this.report('InvalidReferenceFormat', message, sub(tag));
    if (digest && !DIGEST.test(text.slice(digest.start, digest.end))) this.report('InvalidReferenceFormat', message, sub(digest));
  }

  private copy(ins: Instruction, words: Word[]): void {
    const kw = ins.keyword;
    const tooFew = `${kw} requires at least two arguments, but only one was provided. Destination could not be determined.`;
    const notDirectory = `When using ${kw} with more than one source file, the destination must be a directory and end with a /`;
    if (ins.json) {
      const items = ins.json.items;
      if (items.length < 2) this.report('RequiresAtLeastTwoArguments', tooFew, items[0] ?? ins.args!);
      const dest = items[items.length - 1];
      if (items.length > 2 && !/[/\\]$/.test(dest.value) && !this.endsWithVariable(this.text.slice(dest.start, dest.end - 1))) {
        this.report('InvalidDestination', notDirectory, dest);
      }
      return;
    }
    // A lone heredoc marker is shown on the keyword: the marker itself is fine.
    const lone = words.length === 1 && !words[0].text.startsWith('<<') ? words[0] : ins.keywordSpan;
    if (words.length < 2) this.report('RequiresAtLeastTwoArguments', tooFew, lone);
    // With heredocs the sources are files written inline; the destination may be anything.
    if (words.length <= 2 || words.some((w) => w.text.startsWith('<<'))) return;
    const dest = words[words.length - 1];
    if (!/[/\\]$/.test(dest.text) && !this.endsWithVariable(dest.text)) this.report('InvalidDestination', notDirectory, dest);
  }

  /** A value ending with a variable may end with a slash once expanded. */
  private endsWithVariable(text: string): boolean {
    const refs = findVariableRefs(text, this.model.syntax.escape);
    const last = refs[refs.length - 1];
    return last !== undefined && (last.end === text.length || (last.end === text.length - 1 && /['"]$/.test(text)));
  }

  /** ENV, LABEL and ARG pairs, as BuildKit's parseNameVal and parseArg read them. */
  private pairs(ins: Instruction): void {
    const kw = ins.keyword;
    // ENV and LABEL in the legacy `key value` form have one pair; ARG takes several names.
    const legacy = kw !== 'ARG' && ins.pairs.length === 1 && !ins.pairs[0].equals;
    for (const pair of ins.pairs) {
      if (pair.equals && pair.key === '') {
        this.report('MissingName', `${kw} names can not be blank`, pair.word);
      }
      if (!pair.equals && kw !== 'ARG') {
        if (!legacy) {
          this.report('MissingEquals', `Syntax error - can't find = in ${goQuote(pair.word.text)}. Must be of the form: name=value`, pair.keySpan);
        } else if (pair.value === null) {
          this.report('RequiresTwoArguments', `${kw} must have two arguments`, pair.keySpan);
        }
      }
      this.quotes(pair.key, pair.keySpan);
      if (pair.value !== null && pair.valueSpan) this.quotes(pair.value, pair.valueSpan);
    }
  }

  /** A quote left open fails the build when Docker processes the word. */
  private quotes(text: string, span: Span): void {
    const open = unclosedQuote(text, this.escape);
    if (!open) return;
    const code = open === 'single' ? 'UnterminatedSingleQuote' : 'UnterminatedDoubleQuote';
    this.report(code, `failed to process ${goQuote(text)}: unexpected end of statement while looking for matching ${open}-quote`, span);
  }

  /** `${name<modifier>word}` with a modifier BuildKit does not know. */
  private modifiers(ins: Instruction): void {
    const { logical } = ins;
    for (const ref of findVariableRefs(logical.text, this.model.syntax.escape)) {
      const mod = ref.modifier;
      if (mod === undefined || MODIFIERS.has(mod)) continue;
      // `${x:}`: BuildKit takes the `}` as the modifier; show the whole reference.
      const span = mod === ':}'
        ? logical.span(ref.start, ref.nameEnd + 2)
        : logical.span(ref.nameEnd + (mod[0] === ':' ? 1 : 0), ref.nameEnd + mod.length);
      const written = logical.text.slice(ref.start, mod === ':}' ? ref.nameEnd + 2 : ref.end);
      this.report('UnsupportedModifier', `failed to process ${goQuote(written)}: unsupported modifier (${mod}) in substitution`, span);
    }
  }

  /**
   * A word as the build would see it: quotes removed and variables expanded; null when a
   * variable's value is unknown here (a build arg without default, or a name this file does not
   * declare, which the base image's ENV may define).
   */
  private expand(ins: Instruction, text: string): string | null {
    if (this.inTrigger && text.includes('$')) return null;
    const scope = this.model.scopeOf(ins);
    let unknown = false;
    try {
      const value = processWord(text, {
        escape: this.model.syntax.escape,
        env: (name) => {
          const declared = this.model.lookup(scope, name)?.value;
          if (declared === undefined) unknown = true;
          return declared;
        },
      });
      return unknown ? null : value;
    } catch {
      return null;
    }
  }

  private port(ins: Instruction, word: Word): void {
    if (unclosedQuote(word.text, this.escape)) return;
    const value = this.expand(ins, word.text);
    if (value === null) return;
    const problem = checkPortSpec(value);
    if (!problem) return;
    if (problem.kind === 'port') {
      this.report('InvalidPort', problem.message, word);
      return;
    }
    // Written as it reads: the protocol can be shown (to the end of the word) and replaced.
    const exact = value === word.text;
    const span = exact ? ins.logical.span(word.at + problem.at, word.at + word.text.length) : word;
    const protocol = ins.logical.span(word.at + problem.at, word.at + problem.at + problem.protocol.length);
    const fixes = exact ? ['tcp', 'udp'].map((p) => ({ title: `Change to ${p}`, edits: [{ span: protocol, text: p }] })) : [];
    this.report('InvalidProtocol', `invalid proto: ${problem.protocol}`, span, fixes);
  }

  private stopSignal(ins: Instruction, words: Word[]): void {
    // BuildKit reads the rest of the line as one signal; more than one word cannot be a signal.
    for (const extra of words.slice(1)) this.report('ExtraArgument', 'STOPSIGNAL requires exactly one argument', extra);
    if (words.length !== 1) return;
    const value = this.expand(ins, words[0].text);
    if (value !== null && !isSignal(value)) this.report('InvalidSignal', `Invalid signal: ${value}`, words[0]);
  }

  private healthcheck(ins: Instruction, words: Word[]): void {
    if (words.length === 0) {
      this.report('RequiresAtLeastOneArgument', 'HEALTHCHECK requires at least one argument', ins.keywordSpan);
      return;
    }
    const type = words[0].text.toUpperCase();
    const rest = words.length > 1 ? { start: words[1].start, end: words[words.length - 1].end } : null;
    if (type === 'NONE') {
      if (rest) this.report('UnnecessaryArgument', 'HEALTHCHECK NONE takes no arguments', rest);
    } else if (type === 'CMD') {
      const command = ins.logical.text.slice(words[0].at + words[0].text.length, ins.argsEnd);
      if (!rest) this.report('HealthcheckMissingCommand', 'Missing command after HEALTHCHECK CMD', words[0]);
      else if (/^\s*\[\s*\]\s*$/.test(command)) this.report('HealthcheckMissingCommand', 'Missing command after HEALTHCHECK CMD', rest);
    } else {
      this.report('UnknownHealthcheckType', `Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`, words[0]);
    }
  }

  /**
   * `['a', 'b']`: meant as the exec form, but JSON needs double quotes, so Docker runs it as a
   * shell command. Reads the arguments as dockerfile-utils does: `[`, single-quoted strings and
   * commas, up to `]`.
   */
  private singleQuotedJson(ins: Instruction): void {
    if (!ins.args) return;
    const array = singleQuotedArray(ins.logical.text.slice(ins.argsAt, ins.argsEnd));
    if (!array) return;
    const json = `[${array.items.map((item) => JSON.stringify(item)).join(', ')}]`;
    const fix = { title: `Change to ${json}`, edits: [{ span: ins.logical.span(ins.argsAt, ins.argsAt + array.end), text: json }], preferred: true };
    this.report('JsonInSingleQuotes', 'Instruction written as a JSON array but is using single quotes instead of double quotes', ins.args, [fix]);
  }
}

/**
 * The arguments split at whitespace only, as BuildKit's parseStringsWhitespaceDelimited splits
 * those of FROM, EXPOSE, ADD, COPY and VOLUME (quotes do not group words there; they are removed
 * later, word by word).
 */
function fields(ins: Instruction): Word[] {
  const t = ins.logical.text;
  const out: Word[] = [];
  let i = ins.argsAt;
  while (i < ins.argsEnd) {
    while (i < ins.argsEnd && isSpace(t.charCodeAt(i))) i++;
    if (i >= ins.argsEnd) break;
    const start = i;
    while (i < ins.argsEnd && !isSpace(t.charCodeAt(i))) i++;
    out.push(new Field(ins.logical, t.slice(start, i), start));
  }
  return out;
}

/** A word whose place in the document is worked out only when it is shown. */
class Field implements Word {
  constructor(
    private readonly logical: Logical,
    readonly text: string,
    readonly at: number,
  ) {}

  get start(): number {
    return this.logical.toDoc(this.at);
  }

  get end(): number {
    return this.logical.toDocEnd(this.at + this.text.length);
  }
}

/**
 * A `[ '…', '…' ]` array at the start of the text: its items and where it ends (after `]`).
 * Read as dockerfile-utils reads it: `[`, single-quoted strings and commas, up to `]`.
 */
function singleQuotedArray(t: string): { items: string[]; end: number } | null {
  const items: string[] = [];
  let last = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === ' ' || c === '\t') continue;
    if (c === '[') {
      if (last === '') last = '[';
    } else if (c === "'" && (last === '[' || last === ',')) {
      const close = t.indexOf("'", i + 1);
      if (close === -1) return null;
      items.push(t.slice(i + 1, close));
      i = close;
      last = "'";
    } else if (c === ',' && last === "'") last = ',';
    else if (c === ']' && (last === "'" || last === ',')) return { items, end: i + 1 };
    else return null;
  }
  return null;
}
