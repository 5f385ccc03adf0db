// BuildKit's build checks (`docker build --check`), with BuildKit's rule names, messages and
// conditions (moby/buildkit frontend/dockerfile: linter/ruleset.go, dockerfile2llb), so that the
// editor warns about exactly what the build warns about. Where BuildKit reports a whole
// instruction, we point at the word at fault. Every finding offers "Skip <Code> in this file"
// (the `# check=skip=` directive); the obvious fixes come with the rule that finds the problem.
//
// InvalidBaseImagePlatform (needs the registry) and CopyIgnoredFile (needs the disk) are
// asynchronous rules of their own.

import { findVariableRefs, goQuote } from '../dockerfile/expand';
import { GLOBAL_PREDEFINED, type Model, type Reference, type Stage } from '../dockerfile/model';
import { parsePlatform } from '../dockerfile/platform';
import { parseReference } from '../../../runtime-agent/src/registry/reference';
import type { Flag, Instruction, Word } from '../dockerfile/syntax';
import { isSpace, type Span } from '../dockerfile/text';
import type { CodeSpec, Edit, Finding, Fix, Rule } from './rule';
import { editDistance } from './validator-values';

const DOCS = 'https://docs.docker.com/reference/build-checks/';

/** "JSONArgsRecommended" → "json-args-recommended", as the docs name their pages. */
function kebab(code: string): string {
  return code
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

function check(code: string, summary: string, tag?: CodeSpec['tag']): CodeSpec {
  return { code, source: 'buildkit', severity: 'warning', summary, url: `${DOCS}${kebab(code)}/`, ...(tag ? { tag } : {}) };
}

export const BUILDKIT_CODES: readonly CodeSpec[] = [
  check('StageNameCasing', 'Stage names should be lowercase.'),
  check('FromAsCasing', "The 'as' keyword should match the case of the 'from' keyword."),
  check('NoEmptyContinuation', 'Empty continuation lines will become errors in a future release.'),
  check('ConsistentInstructionCasing', 'All instructions should use the same casing (either upper or lower).'),
  check('DuplicateStageName', 'Stage names should be unique.'),
  check('ReservedStageName', 'Reserved words should not be used as stage names.'),
  check('JSONArgsRecommended', 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals.'),
  check('MaintainerDeprecated', 'The MAINTAINER instruction is deprecated, use a label instead to define an image author.', 'deprecated'),
  check('UndefinedArgInFrom', 'FROM command must use declared ARGs.'),
  check('WorkdirRelativePath', 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes.'),
  check('UndefinedVar', 'Variables should be defined before their use.'),
  check('MultipleInstructionsDisallowed', 'Multiple instructions of the same type should not be used in the same stage.', 'unnecessary'),
  check('LegacyKeyValueFormat', 'Legacy key/value format with whitespace separator should not be used.'),
  check('RedundantTargetPlatform', 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior.'),
  check('SecretsUsedInArgOrEnv', 'Sensitive data should not be used in the ARG or ENV commands.'),
  check('InvalidDefaultArgInFrom', 'Default value for global ARG results in an empty or invalid base image name.'),
  check('FromPlatformFlagConstDisallowed', 'FROM --platform flag should not use a constant value.'),
  check('ExposeProtoCasing', 'Protocol names in EXPOSE should be lowercase.'),
  check('ExposeInvalidFormat', 'EXPOSE should not define an IP address or host-port mapping.'),
];

type Report = (code: string, message: string, span: Span, fixes?: Fix[]) => void;

export const buildkitRule: Rule = {
  codes: BUILDKIT_CODES,
  check({ model, report }) {
    const skipFixes = new Map<string, Fix>();
    const emit: Report = (code, message, span, fixes = []) => {
      let skip = skipFixes.get(code);
      if (!skip) skipFixes.set(code, (skip = skipFix(model, code)));
      const finding: Finding = { code, message, span, fixes: [...fixes, skip] };
      report(finding);
    };
    const bk = new Checks(model, emit);
    bk.stageNames();
    bk.instructionCasing();
    bk.emptyContinuations();
    bk.fromInstructions();
    bk.stageContents();
    bk.undefinedVars();
  },
};

// ---------------------------------------------------------------------------------------------

/** Names the build treats as secrets, as underscore-separated words of an ARG/ENV name. */
const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const NOT_SECRET = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** Stage names BuildKit reserves. */
const RESERVED_STAGE_NAMES = new Set(['scratch', 'context']);

/** Instructions whose arguments BuildKit expands with the stage's variables (FROM aside). */
const EXPANDING = new Set(['ADD', 'COPY', 'ENV', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR', 'ARG']);

type Site = { order: number; span: Span; text: string };

class Checks {
  private readonly text: string;
  /** Where each name is used as a stage (FROM, COPY --from, RUN --mount=from=), made once. */
  private sites?: Map<string, Site[]>;
  /** Whether a stage is built on scratch, by stage. */
  private readonly scratch = new Map<Stage, boolean>();

  constructor(
    private readonly model: Model,
    private readonly report: Report,
  ) {
    this.text = model.syntax.text;
  }

  private raw(span: Span): string {
    return this.text.slice(span.start, span.end);
  }

  /** The keyword as written, whose casing BuildKit's messages keep. */
  private keyword(instruction: Instruction): string {
    return this.raw(instruction.keywordSpan);
  }

  // StageNameCasing, DuplicateStageName, ReservedStageName, FromAsCasing
  stageNames(): void {
    const seen = new Set<string>();
    for (const stage of this.model.stages) {
      const { name, as } = stage;
      if (as && name && stage.from.words.length === 3) this.fromAsCasing(stage.from, as);
      if (!name) continue;
      const lower = name.text.toLowerCase();
      if (name.text !== lower) {
        this.report('StageNameCasing', `Stage name '${name.text}' should be lowercase`, name, [
          { title: `Rename stage to '${lower}'`, edits: this.stageRenameEdits(stage, lower), preferred: true },
        ]);
      }
      if (RESERVED_STAGE_NAMES.has(lower)) {
        this.report('ReservedStageName', `Stage name should not use the same name as reserved stage ${goQuote(lower)}`, name);
      }
      if (seen.has(lower)) {
        this.report('DuplicateStageName', `Duplicate stage name ${goQuote(lower)}, stage names should be unique`, name);
      }
      seen.add(lower);
    }
  }

  private fromAsCasing(from: Instruction, as: Word): void {
    const keyword = this.keyword(from);
    const lower = keyword === keyword.toLowerCase();
    // A FROM of mixed casing is ConsistentInstructionCasing's business, not this rule's.
    if (!lower && keyword !== keyword.toUpperCase()) return;
    const wanted = lower ? as.text.toLowerCase() : as.text.toUpperCase();
    if (as.text === wanted) return;
    this.report('FromAsCasing', `'${as.text}' and '${keyword}' keywords' casing do not match`, as, [
      { title: `Change '${as.text}' to '${wanted}'`, edits: [{ span: as, text: wanted }], preferred: true },
    ]);
  }

  /** The stage's name and every later reference to it, lower-cased. */
  private stageRenameEdits(stage: Stage, lower: string): Edit[] {
    const after = this.model.scopeOf(stage.from).order;
    const edits: Edit[] = [{ span: stage.name!, text: lower }];
    for (const site of this.stageSites().get(lower) ?? []) {
      if (site.order > after && site.text !== lower) edits.push({ span: site.span, text: lower });
    }
    return edits;
  }

  private stageSites(): Map<string, Site[]> {
    if (this.sites) return this.sites;
    const sites = new Map<string, Site[]>();
    const add = (order: number, span: Span, text: string) => {
      const key = text.toLowerCase();
      const list = sites.get(key);
      if (list) list.push({ order, span, text });
      else sites.set(key, [{ order, span, text }]);
    };
    this.model.syntax.instructions.forEach((top, order) => {
      for (const ins of top.trigger ? [top, top.trigger] : [top]) {
        if (ins.keyword === 'FROM' && ins.words[0]) add(order, ins.words[0], ins.words[0].text);
        for (const flag of ins.flags) {
          if (!flag.valueSpan || flag.value === null) continue;
          const raw = this.raw(flag.valueSpan);
          if (flag.name === 'from' && ins.keyword === 'COPY') {
            const at = raw.indexOf(flag.value);
            if (at !== -1 && flag.value !== '') add(order, { start: flag.valueSpan.start + at, end: flag.valueSpan.start + at + flag.value.length }, flag.value);
          } else if (flag.name === 'mount' && ins.keyword === 'RUN' && raw === flag.value) {
            // Quoted mounts are left alone.
            let offset = 0;
            for (const part of raw.split(',')) {
              const eq = part.indexOf('=');
              if (eq !== -1 && part.slice(0, eq).trim().toLowerCase() === 'from') {
                const start = flag.valueSpan.start + offset + eq + 1;
                add(order, { start, end: start + part.length - eq - 1 }, part.slice(eq + 1));
              }
              offset += part.length + 1;
            }
          }
        }
      }
    });
    return (this.sites = sites);
  }

  // ConsistentInstructionCasing: BuildKit counts the instructions of its stages only, so the
  // ARGs before the first FROM neither vote nor get reported.
  instructionCasing(): void {
    let lowerCount = 0;
    let upperCount = 0;
    for (const stage of this.model.stages) {
      for (const ins of stage.instructions) {
        const keyword = this.keyword(ins);
        if (keyword === keyword.toLowerCase()) lowerCount++;
        else if (keyword === keyword.toUpperCase()) upperCount++;
      }
    }
    const majorityLower = lowerCount > upperCount;
    for (const stage of this.model.stages) {
      for (const ins of stage.instructions) {
        const keyword = this.keyword(ins);
        const wanted = majorityLower ? keyword.toLowerCase() : keyword.toUpperCase();
        if (keyword === wanted) continue;
        const casing = majorityLower ? 'lowercase' : 'uppercase';
        this.report('ConsistentInstructionCasing', `Command '${keyword}' should match the case of the command majority (${casing})`, ins.keywordSpan, [
          { title: `Change '${keyword}' to '${wanted}'`, edits: [{ span: ins.keywordSpan, text: wanted }], preferred: true },
        ]);
      }
    }
  }

  // NoEmptyContinuation: one finding per instruction, on its first empty line; the fix removes
  // them all.
  emptyContinuations(): void {
    const lines = this.model.syntax.lines;
    for (const ins of this.model.syntax.instructions) {
      const empty = ins.emptyContinuationLines;
      if (empty.length === 0) continue;
      const first = empty[0];
      const edits = empty.map((l) => ({
        span: l + 1 < lines.lineCount ? { start: lines.lineStart(l), end: lines.lineStart(l + 1) } : { start: lines.lineEnd(l - 1), end: lines.lineEnd(l) },
        text: '',
      }));
      this.report('NoEmptyContinuation', 'Empty continuation line', { start: lines.lineStart(first), end: lines.lineEnd(first) }, [
        { title: 'Remove empty continuation lines', edits, preferred: true },
      ]);
    }
  }

  // UndefinedArgInFrom, InvalidDefaultArgInFrom, RedundantTargetPlatform,
  // FromPlatformFlagConstDisallowed
  fromInstructions(): void {
    const model = this.model;
    const argNames = [...new Set([...model.globalArgs.map((d) => d.name), ...GLOBAL_PREDEFINED])];
    const refsByFrom = new Map<Instruction, Reference[]>();
    for (const ref of model.references) {
      if (ref.instruction.keyword !== 'FROM') continue;
      const list = refsByFrom.get(ref.instruction);
      if (list) list.push(ref);
      else refsByFrom.set(ref.instruction, [ref]);
    }
    for (const stage of model.stages) {
      const from = stage.from;
      const scope = model.scopeOf(from);
      const platform = from.flags.find((f) => f.name === 'platform');
      const inImageOrPlatform = (ref: Reference) =>
        (stage.image !== null && ref.start >= stage.image.start && ref.end <= stage.image.end) ||
        (platform !== undefined && ref.start >= platform.start && ref.end <= platform.end);

      const reported = new Set<string>();
      for (const ref of refsByFrom.get(from) ?? []) {
        if (ref.declaration || ref.predefined || !inImageOrPlatform(ref) || reported.has(ref.name)) continue;
        reported.add(ref.name);
        const suggestion = suggest(ref.name, argNames);
        const message = `FROM argument '${ref.name}' is not declared${suggestion ? ` (did you mean ${suggestion}?)` : ''}`;
        this.report('UndefinedArgInFrom', message, ref);
      }

      // Only images written with variables: a constant invalid name is a plain error, and
      // BuildKit's message speaks of an ARG.
      if (stage.image && stage.image.text.includes('$')) {
        const expanded = model.expand(stage.image.text, scope);
        if (expanded && !isValidReference(expanded.value)) {
          this.report('InvalidDefaultArgInFrom', `Default value for ARG ${stage.image.text} results in empty or invalid base image name`, stage.image);
        }
      }

      if (platform && platform.value !== null) this.platformFlag(stage, platform);
    }
  }

  private platformFlag(stage: Stage, flag: Flag): void {
    const value = flag.value!;
    const refs = findVariableRefs(value, this.model.syntax.escape);
    if (refs.length === 0) {
      const parsed = parsePlatform(value);
      if (!parsed) return; // the build fails on it anyway
      // A stage named after its platform ("build_amd64") is meant to be platform specific.
      const name = stage.name ? stage.name.text.toLowerCase() : '';
      if (name.includes(parsed.os) || name.includes(parsed.architecture)) return;
      this.report('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value ${goQuote(value)}`, flag);
      return;
    }
    // BuildKit: $TARGETPLATFORM alone, expanding to the target platform itself.
    if (refs.some((r) => r.name !== 'TARGETPLATFORM')) return;
    const scope = this.model.scopeOf(stage.from);
    const expanded = this.model.expand(value, scope);
    const target = this.model.expand('$TARGETPLATFORM', scope);
    if (!expanded || !target || expanded.missing.length > 0 || expanded.value !== target.value) return;
    let end = flag.end;
    while (end < this.text.length && (this.text[end] === ' ' || this.text[end] === '\t')) end++;
    this.report('RedundantTargetPlatform', `Setting platform to predefined ${value} in FROM is redundant as this is the default behavior`, flag, [
      { title: `Remove --platform=${value}`, edits: [{ span: { start: flag.start, end }, text: '' }], preferred: true },
    ]);
  }

  // JSONArgsRecommended, MaintainerDeprecated, WorkdirRelativePath,
  // MultipleInstructionsDisallowed, LegacyKeyValueFormat, SecretsUsedInArgOrEnv,
  // ExposeProtoCasing, ExposeInvalidFormat
  stageContents(): void {
    // Whether SHELL and WORKDIR were set by the end of each stage (parents come first).
    const shellAfter = new Map<Stage, boolean>();
    const workdirAfter = new Map<Stage, boolean>();
    for (const stage of this.model.stages) {
      // What the stage inherits from the stage it builds on.
      let shellSet = stage.parent ? shellAfter.get(stage.parent) === true : false;
      let workdirSet = stage.parent ? workdirAfter.get(stage.parent) === true : false;
      const last = new Map<string, Instruction>();
      for (const ins of stage.instructions) {
        switch (ins.keyword) {
          case 'SHELL':
            shellSet = true;
            break;
          case 'CMD':
          case 'ENTRYPOINT':
            if (!ins.json && ins.args && !shellSet) this.jsonArgs(ins);
            this.usedOnce(ins, last);
            break;
          case 'HEALTHCHECK':
            this.usedOnce(ins, last);
            break;
          case 'MAINTAINER':
            this.maintainer(ins);
            break;
          case 'WORKDIR':
            if (!workdirSet) this.workdir(ins, stage);
            workdirSet = true;
            break;
          case 'ENV':
          case 'LABEL':
            this.legacyKeyValue(ins);
            if (ins.keyword === 'ENV') this.secrets(ins);
            break;
          case 'ARG':
            this.secrets(ins);
            break;
          case 'EXPOSE':
            this.expose(ins);
            break;
        }
      }
      shellAfter.set(stage, shellSet);
      workdirAfter.set(stage, workdirSet);
    }
  }

  private jsonArgs(ins: Instruction): void {
    const keyword = this.keyword(ins);
    const command = ins.logical.text.slice(ins.argsAt, ins.argsEnd);
    // Words become the array as they are, unless the shell has something to do with them.
    const shellSyntax = /[|&;<>()$`"'\\*?~#{}[\]\n]|^\s*[A-Za-z_][A-Za-z0-9_]*=/.test(command);
    const items = shellSyntax ? ['/bin/sh', '-c', command] : ins.words.map((w) => w.text);
    const exec = `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
    this.report('JSONArgsRecommended', `JSON arguments recommended for ${keyword} to prevent unintended behavior related to OS signals`, ins.args!, [
      { title: `Use the exec form: ${keyword} ${exec}`, edits: [{ span: ins.args!, text: exec }], preferred: true },
    ]);
  }

  /** Only the last CMD, ENTRYPOINT and HEALTHCHECK of a stage count: the earlier ones are reported. */
  private usedOnce(ins: Instruction, last: Map<string, Instruction>): void {
    const previous = last.get(ins.keyword);
    if (previous) {
      this.report(
        'MultipleInstructionsDisallowed',
        `Multiple ${this.keyword(ins)} instructions should not be used in the same stage because only the last one will be used`,
        previous.keywordSpan,
      );
    }
    last.set(ins.keyword, ins);
  }

  private maintainer(ins: Instruction): void {
    const keyword = this.keyword(ins);
    const label = keyword === keyword.toLowerCase() ? 'label' : 'LABEL';
    const author = ins.logical.text.slice(ins.argsAt, ins.argsEnd);
    // A LABEL value is expanded: keep `$`, `"` and `\` literal inside double quotes.
    const value = /^".*"$/s.test(author) ? author : `"${author.replace(/[\\"$]/g, '\\$&')}"`;
    const replacement = `${label} org.opencontainers.image.authors=${value}`;
    this.report('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label', ins.keywordSpan, [
      { title: `Replace with ${replacement}`, edits: [{ span: ins, text: replacement }], preferred: true },
    ]);
  }

  private workdir(ins: Instruction, stage: Stage): void {
    if (ins.words.length !== 1) return;
    const word = ins.words[0];
    const expanded = this.model.expand(word.text, this.model.scopeOf(ins));
    // A name nothing declares may come from the base image's ENV, absolute for all we know.
    if (expanded && expanded.missing.length > 0 && !this.builtOnScratch(stage)) return;
    const path = expanded ? expanded.value : word.text;
    if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(path)) return;
    this.report('WorkdirRelativePath', `Relative workdir ${goQuote(path)} can have unexpected results if the base image changes`, word);
  }

  private legacyKeyValue(ins: Instruction): void {
    const pair = ins.pairs[0];
    if (ins.pairs.length !== 1 || pair.equals || pair.value === null || !pair.valueSpan) return;
    const keyword = this.keyword(ins);
    const value = legacyValue(pair.value, this.model.syntax.escape);
    const span = { start: pair.keySpan.start, end: pair.valueSpan.end };
    this.report('LegacyKeyValueFormat', `"${keyword} key=value" should be used instead of legacy "${keyword} key value" format`, span, [
      { title: `Change to ${pair.key}=${value}`, edits: [{ span, text: `${pair.key}=${value}` }], preferred: true },
    ]);
  }

  private secrets(ins: Instruction): void {
    for (const pair of ins.pairs) {
      if (SECRET.test(pair.key) && !NOT_SECRET.test(pair.key)) {
        this.report('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (${ins.keyword} ${goQuote(pair.key)})`, pair.keySpan);
      }
    }
  }

  private expose(ins: Instruction): void {
    const scope = this.model.scopeOf(ins);
    for (const word of ins.words) {
      const expanded = this.model.expand(word.text, scope);
      if (!expanded) continue;
      for (const port of expanded.value.split(/\s+/)) {
        if (port === '') continue;
        const parts = port.split(':');
        const n = parts.length;
        const ip = n >= 3 ? parts.slice(0, n - 2).join(':') : '';
        const host = n >= 2 ? parts[n - 2] : '';
        const container = parts[n - 1];
        const slash = container.indexOf('/');
        const number = slash === -1 ? container : container.slice(0, slash);
        const proto = slash === -1 ? '' : container.slice(slash + 1);
        // BuildKit refuses these before it checks anything.
        if (number === '' || !['', 'tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) continue;
        if (proto !== proto.toLowerCase()) {
          const fixes: Fix[] = [];
          if (word.text === port) {
            const fixed = port.slice(0, port.length - proto.length) + proto.toLowerCase();
            fixes.push({ title: `Change to ${fixed}`, edits: [{ span: word, text: fixed }], preferred: true });
          }
          this.report('ExposeProtoCasing', `Defined protocol '${port}' in EXPOSE instruction should be lowercase`, word, fixes);
        }
        if (ip !== '' || host !== '') {
          this.report('ExposeInvalidFormat', `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`, word);
        }
      }
    }
  }

  // UndefinedVar. BuildKit knows the variables of the base image (its ENV), which an editor
  // cannot without pulling it. So: in a stage built (directly or through earlier stages) on
  // `scratch`, every name nothing defines is reported, as BuildKit would. In a stage built on
  // an image from a registry, the image may define any name, so only likely typos (a name
  // within a small edit distance of one the stage declares) and the predefined platform args
  // (which a stage sees only through ARG) are reported. PATH is always defined.
  undefinedVars(): void {
    const model = this.model;
    for (const ref of model.references) {
      const ins = ref.instruction;
      const stage = ref.stage;
      if (!stage || ref.inHeredoc || ref.declaration || ref.predefined || ref.name === 'PATH') continue;
      if (model.stageOf(ins) !== stage) continue;
      // RUN expands its --mount options only.
      if (ins.keyword === 'RUN' ? !ins.flags.some((f) => f.name === 'mount' && ref.start >= f.start && ref.end <= f.end) : !EXPANDING.has(ins.keyword)) continue;
      const options = new Set(model.visible(model.scopeOf(ins)).keys());
      options.add('PATH');
      if (ins.keyword === 'ARG') {
        // Only defaults are expanded, each seeing the names declared before it.
        const index = ins.pairs.findIndex((p) => p.valueSpan !== null && ref.start >= p.valueSpan.start && ref.end <= p.valueSpan.end);
        if (index === -1) continue;
        const earlier = ins.pairs.slice(0, index).map((p) => p.key);
        if (earlier.includes(ref.name)) continue;
        for (const key of earlier) options.add(key);
      }
      if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && ins.flags.some((f) => f.name === 'from' && ref.start >= f.start && ref.end <= f.end)) continue;
      options.delete(ref.name);

      const suggestion = suggest(ref.name, [...options]);
      if (!this.builtOnScratch(stage) && !GLOBAL_PREDEFINED.has(ref.name) && !(suggestion && likelyTypo(ref.name, suggestion))) continue;
      const message = `Usage of undefined variable '$${ref.name}'${suggestion ? ` (did you mean $${suggestion}?)` : ''}`;
      this.report('UndefinedVar', message, ref);
    }
  }

  /** Whether a stage is built on `scratch` (directly or through earlier stages): then we know all its variables. */
  private builtOnScratch(stage: Stage): boolean {
    let known = this.scratch.get(stage);
    if (known === undefined) {
      if (stage.parent) known = this.builtOnScratch(stage.parent);
      else {
        const image = stage.image?.text ?? '';
        const expanded = image.includes('$') ? this.model.expand(image, this.model.scopeOf(stage.from))?.value : image;
        known = expanded?.toLowerCase() === 'scratch';
      }
      this.scratch.set(stage, known);
    }
    return known;
  }
}

/**
 * The value of a legacy `ENV key value` as a `key=value` value: the legacy form takes the rest
 * of the line as one word, so whitespace outside quotes must be quoted or escaped.
 */
export function legacyValue(raw: string, escape: string): string {
  if (!/\s/.test(raw)) return raw;
  if (!/["'\\`]/.test(raw) && !raw.includes(escape)) return `"${raw}"`;
  let out = '';
  let quote = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === escape && quote === '"' && i + 1 < raw.length) {
        out += c + raw[++i];
        continue;
      }
    } else if (c === '"' || c === "'") quote = c;
    else if (c === escape && i + 1 < raw.length) {
      out += c + raw[++i];
      continue;
    } else if (isSpace(c.charCodeAt(0))) out += escape;
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// "Skip <Code> in this file"

/** Adds a code to `# check=skip=…`, or writes that directive after the existing ones. */
export function skipFix(model: Model, code: string): Fix {
  const { syntax } = model;
  const title = `Skip ${code} in this file`;
  const directive = syntax.directives.find((d) => d.name === 'check');
  if (directive) {
    let offset = 0;
    for (const part of directive.value.split(';')) {
      const eq = part.indexOf('=');
      if (eq !== -1 && part.slice(0, eq).trim().toLowerCase() === 'skip') {
        const at = directive.valueSpan.start + offset + part.trimEnd().length;
        const text = part.slice(eq + 1).trim() === '' ? code : `,${code}`;
        return { title, edits: [{ span: { start: at, end: at }, text }] };
      }
      offset += part.length + 1;
    }
    const value = directive.value.trimEnd();
    const at = directive.valueSpan.start + value.length;
    const text = value === '' ? `skip=${code}` : `${value.endsWith(';') ? '' : ';'}skip=${code}`;
    return { title, edits: [{ span: { start: at, end: at }, text }] };
  }
  const eol = syntax.text.includes('\r\n') ? '\r\n' : '\n';
  const line = `# check=skip=${code}`;
  const last = syntax.directives[syntax.directives.length - 1];
  if (!last) {
    const at = syntax.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { title, edits: [{ span: { start: at, end: at }, text: line + eol }] };
  }
  if (last.line + 1 < syntax.lines.lineCount) {
    const at = syntax.lines.lineStart(last.line + 1);
    return { title, edits: [{ span: { start: at, end: at }, text: line + eol }] };
  }
  const at = syntax.text.length;
  return { title, edits: [{ span: { start: at, end: at }, text: eol + line }] };
}

// ---------------------------------------------------------------------------------------------
// Suggestions, as BuildKit makes them: the closest name within an edit distance of 2.

export function suggest(name: string, options: readonly string[]): string {
  let best = '';
  let bestDistance = 3;
  for (const option of options) {
    if (option === name) return '';
    // A difference in case only is the likeliest slip of all.
    const distance = option.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, option, bestDistance);
    if (distance < bestDistance) {
      best = option;
      bestDistance = distance;
    }
  }
  return best;
}

/** A suggestion close enough to call the name a typo, even where the base image may define it. */
function likelyTypo(name: string, suggestion: string): boolean {
  if (name.toLowerCase() === suggestion.toLowerCase()) return true;
  const distance = editDistance(name, suggestion, 3);
  return distance === 1 ? name.length >= 3 : distance === 2 && name.length >= 4;
}


// ---------------------------------------------------------------------------------------------
// Image references and platforms, as BuildKit parses them

/** Whether a string is an image reference Docker accepts (`name[:tag][@digest]`). */
export function isValidReference(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}
