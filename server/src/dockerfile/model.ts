// The meaning of a parsed Dockerfile: its build stages, the ARG and ENV variables each
// instruction sees (BuildKit's scoping rules), and every variable reference resolved to the
// declaration it reads. Built once per document version; every language feature reads it.

import { findVariableRefs, processWord } from './expand';
import { PREDEFINED_ARGS } from './instructions';
import { formatPlatform, hostPlatform } from './platform';
import { parse, type Instruction, type Pair, type Syntax, type Word } from './syntax';
import type { Span } from './text';

export interface Stage extends Span {
  readonly index: number;
  readonly from: Instruction;
  /** The base image word as written, or null for `FROM` without arguments. */
  readonly image: Word | null;
  /** The `AS` word and the stage name after it. */
  readonly as: Word | null;
  readonly name: Word | null;
  /** The instructions of the stage, its FROM first. */
  readonly instructions: Instruction[];
  /** The earlier stage this one builds on (`FROM build`), if any. */
  parent: Stage | null;
}

export type DeclarationKind = 'ARG' | 'ENV';

export interface Declaration {
  readonly name: string;
  /** The declaring instruction's index in the file. */
  readonly order: number;
  readonly kind: DeclarationKind;
  readonly instruction: Instruction;
  readonly pair: Pair;
  /** null: declared before the first FROM (a global ARG). */
  readonly stage: Stage | null;
  /**
   * The value with variables expanded, as the build would see it without --build-arg;
   * undefined for an ARG with no default.
   */
  readonly value: string | undefined;
}

export interface Reference extends Span {
  readonly name: string;
  /** The name within `$name` / `${name...}`. */
  readonly nameSpan: Span;
  readonly instruction: Instruction;
  readonly stage: Stage | null;
  /** What it reads: a declaration, a predefined build arg, or nothing known. */
  readonly declaration: Declaration | null;
  readonly predefined: boolean;
  /** Written inside a modifier's word or a heredoc body. */
  readonly inHeredoc: boolean;
}

/**
 * The point at which an instruction is evaluated: its stage (null before the first FROM) and
 * its place in the file. Only declarations before it are visible; ENV shadows ARG.
 */
export interface Scope {
  readonly stage: Stage | null;
  readonly order: number;
  /** FROM instructions see only the global ARGs. */
  readonly global: boolean;
}

export interface Model {
  readonly syntax: Syntax;
  readonly stages: readonly Stage[];
  /** ARGs before the first FROM. */
  readonly globalArgs: readonly Declaration[];
  readonly declarations: readonly Declaration[];
  readonly references: readonly Reference[];
  /** The scope each instruction is evaluated in (before its own declarations take effect). */
  scopeOf(instruction: Instruction): Scope;
  /** The declaration a name reads in a scope. */
  lookup(scope: Scope, name: string): Declaration | undefined;
  /** Every name visible in a scope, with what it reads. */
  visible(scope: Scope): Map<string, Declaration>;
  /** Whether a predefined build arg is usable without declaration in a scope. */
  predefined(scope: Scope, name: string): boolean;
  /**
   * A text expanded as the build would in a scope (without --build-arg), with the names it
   * found unset; null when Docker would refuse the text.
   */
  expand(text: string, scope: Scope): { value: string; missing: string[] } | null;
  /** The instruction at an offset (its keyword line through its heredoc terminator). */
  instructionAt(offset: number): Instruction | null;
  stageOf(instruction: Instruction): Stage | null;
}

/** Build args BuildKit defines in the global scope, usable in FROM without an ARG. */
export const GLOBAL_PREDEFINED = new Set(PREDEFINED_ARGS.filter((a) => a.global).map((a) => a.name));
/** Build args every RUN sees without a declaration (the proxy variables). */
export const ALWAYS_PREDEFINED = new Set(
  PREDEFINED_ARGS.filter((a) => /_proxy$/i.test(a.name)).map((a) => a.name),
);

export function analyze(textOrSyntax: string | Syntax): Model {
  const syntax = typeof textOrSyntax === 'string' ? parse(textOrSyntax) : textOrSyntax;
  return new Analyzer(syntax).run();
}

/** Declarations of one name in one place, in file order. */
type Index = Map<string, Declaration[]>;

class Analyzer {
  private readonly stages: Stage[] = [];
  private readonly globalArgs: Declaration[] = [];
  private readonly declarations: Declaration[] = [];
  private readonly references: Reference[] = [];
  private readonly order = new Map<Instruction, number>();
  private readonly stageByInstruction = new Map<Instruction, Stage>();
  private readonly globals: Index = new Map();
  private readonly envs = new Map<Stage, Index>();
  private readonly args = new Map<Stage, Index>();
  private readonly stagesByName = new Map<string, Stage>();

  constructor(private readonly syntax: Syntax) {}

  run(): Model {
    let stage: Stage | null = null;
    this.syntax.instructions.forEach((instruction, order) => {
      this.order.set(instruction, order);
      if (instruction.keyword === 'FROM') {
        stage = this.startStage(instruction);
        this.collectReferences(instruction, { stage: null, order, global: true });
        return;
      }
      if (stage) {
        stage.instructions.push(instruction);
        this.stageByInstruction.set(instruction, stage);
      }
      const scope: Scope = { stage, order, global: stage === null };
      this.collectReferences(instruction, scope);
      if (instruction.keyword === 'ARG') {
        for (const pair of instruction.pairs) {
          // `ARG name` inside a stage takes the global ARG's value.
          const inherited =
            stage && pair.value === null ? (this.find(this.globals, pair.key, Infinity)?.value ?? predefinedValue(pair.key)) : undefined;
          const declaration = this.declare('ARG', instruction, pair, stage, scope, inherited);
          add(stage ? this.args.get(stage)! : this.globals, declaration);
          if (!stage) this.globalArgs.push(declaration);
        }
      } else if (instruction.keyword === 'ENV' && stage) {
        for (const pair of instruction.pairs) add(this.envs.get(stage)!, this.declare('ENV', instruction, pair, stage, scope));
      }
    });
    return this.model();
  }

  /** The last declaration of a name before a point. */
  private find(index: Index | undefined, name: string, before: number): Declaration | undefined {
    const list = index?.get(name);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    let found: Declaration | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].order < before) {
        found = list[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private lookup(scope: Scope, name: string): Declaration | undefined {
    if (scope.global || !scope.stage) return this.find(this.globals, name, scope.order);
    // ENV is inherited from the stage a stage builds on; ARG is not.
    for (let s: Stage | null = scope.stage, before = scope.order; s; before = Infinity, s = s.parent) {
      const env = this.find(this.envs.get(s), name, before);
      if (env) return env;
    }
    return this.find(this.args.get(scope.stage), name, scope.order);
  }

  private visible(scope: Scope): Map<string, Declaration> {
    const names = new Set<string>();
    if (scope.global || !scope.stage) for (const name of this.globals.keys()) names.add(name);
    else {
      for (let s: Stage | null = scope.stage; s; s = s.parent) for (const name of this.envs.get(s)!.keys()) names.add(name);
      for (const name of this.args.get(scope.stage)!.keys()) names.add(name);
    }
    const result = new Map<string, Declaration>();
    for (const name of names) {
      const declaration = this.lookup(scope, name);
      if (declaration) result.set(name, declaration);
    }
    return result;
  }

  private startStage(from: Instruction): Stage {
    const words = from.words;
    const image = words[0] ?? null;
    const hasAs = words.length >= 2 && words[1].text.toUpperCase() === 'AS';
    const imageName = image ? image.text.toLowerCase() : '';
    const stage: Stage = {
      index: this.stages.length,
      start: from.start,
      end: from.end,
      from,
      image,
      as: hasAs ? words[1] : null,
      name: hasAs && words[2] ? words[2] : null,
      instructions: [from],
      parent: this.stagesByName.get(imageName) ?? null,
    };
    if (stage.name) this.stagesByName.set(stage.name.text.toLowerCase(), stage);
    this.stages.push(stage);
    this.stageByInstruction.set(from, stage);
    this.envs.set(stage, new Map());
    this.args.set(stage, new Map());
    return stage;
  }

  private declare(
    kind: DeclarationKind,
    instruction: Instruction,
    pair: Pair,
    stage: Stage | null,
    scope: Scope,
    inherited?: string,
  ): Declaration {
    let value: string | undefined = inherited;
    if (pair.value !== null) value = this.expand(pair.value, scope);
    const declaration: Declaration = { name: pair.key, order: scope.order, kind, instruction, pair, stage, value };
    this.declarations.push(declaration);
    return declaration;
  }

  /** A value as the build would compute it; the raw text where it cannot be processed. */
  private expand(text: string, scope: Scope): string {
    return this.expandChecked(text, scope)?.value ?? text;
  }

  private expandChecked(text: string, scope: Scope): { value: string; missing: string[] } | null {
    const missing: string[] = [];
    try {
      const value = processWord(text, {
        escape: this.syntax.escape,
        env: (name) => {
          const declared = this.lookup(scope, name);
          if (declared) return declared.value;
          return this.predefined(scope, name) ? predefinedValue(name) : undefined;
        },
        onMissing: (name) => missing.push(name),
      });
      return { value, missing };
    } catch {
      return null;
    }
  }

  private predefined(scope: Scope, name: string): boolean {
    return (scope.global ? GLOBAL_PREDEFINED : ALWAYS_PREDEFINED).has(name);
  }

  private collectReferences(instruction: Instruction, scope: Scope): void {
    // ONBUILD's own text holds its trigger's: scan the trigger alone.
    if (instruction.trigger) return this.collectReferences(instruction.trigger, scope);
    const { logical } = instruction;
    for (const ref of findVariableRefs(logical.text, this.syntax.escape)) {
      if (!NAME.test(ref.name)) continue;
      this.reference(ref.name, logical.span(ref.start, ref.end), logical.span(ref.nameStart, ref.nameEnd), instruction, scope, false);
    }
    // BuildKit expands COPY/ADD heredoc bodies with quotes as ordinary characters; a RUN body
    // is the shell's, where single quotes keep `$` literal.
    const singleQuotesLiteral = instruction.keyword === 'RUN';
    for (const heredoc of instruction.heredocs) {
      if (!heredoc.expand) continue;
      const base = heredoc.body.start;
      const body = this.syntax.text.slice(base, heredoc.body.end);
      for (const ref of findVariableRefs(body, this.syntax.escape, { singleQuotesLiteral })) {
        if (!NAME.test(ref.name)) continue;
        const span = { start: base + ref.start, end: base + ref.end };
        this.reference(ref.name, span, { start: base + ref.nameStart, end: base + ref.nameEnd }, instruction, scope, true);
      }
    }
  }

  private reference(name: string, span: Span, nameSpan: Span, instruction: Instruction, scope: Scope, inHeredoc: boolean): void {
    const declaration = this.lookup(scope, name) ?? null;
    this.references.push({
      start: span.start,
      end: span.end,
      name,
      nameSpan,
      instruction,
      stage: scope.stage,
      declaration,
      predefined: !declaration && this.predefined(scope, name),
      inHeredoc,
    });
  }

  private model(): Model {
    const { syntax, stageByInstruction, order } = this;
    const instructions = syntax.instructions;
    for (const stage of this.stages) (stage as { end: number }).end = stage.instructions[stage.instructions.length - 1].end;
    return {
      syntax,
      stages: this.stages,
      globalArgs: this.globalArgs,
      declarations: this.declarations,
      references: this.references,
      scopeOf: (instruction) => {
        const at = order.get(instruction) ?? instructions.length;
        const stage = stageByInstruction.get(instruction) ?? null;
        return { stage, order: at, global: instruction.keyword === 'FROM' || stage === null };
      },
      lookup: (scope, name) => this.lookup(scope, name),
      visible: (scope) => this.visible(scope),
      predefined: (scope, name) => this.predefined(scope, name),
      expand: (text, scope) => this.expandChecked(text, scope),
      stageOf: (instruction) => stageByInstruction.get(instruction) ?? null,
      instructionAt(offset) {
        let lo = 0;
        let hi = instructions.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const i = instructions[mid];
          if (offset < i.start) hi = mid - 1;
          else if (offset > i.end) lo = mid + 1;
          else return i;
        }
        return null;
      },
    };
  }
}

/** The value BuildKit gives a predefined platform arg when building for this machine. */
export function predefinedValue(name: string): string | undefined {
  const host = hostPlatform();
  switch (name) {
    case 'TARGETPLATFORM':
    case 'BUILDPLATFORM':
      return formatPlatform(host);
    case 'TARGETOS':
    case 'BUILDOS':
      return host.os;
    case 'TARGETARCH':
    case 'BUILDARCH':
      return host.architecture;
    case 'TARGETVARIANT':
    case 'BUILDVARIANT':
      return host.variant ?? '';
    default:
      return undefined;
  }
}

/** Positional and special parameters ($1, $@) are no build variables. */
const NAME = /^[A-Za-z_]/;

function add(index: Index, declaration: Declaration): void {
  const list = index.get(declaration.name);
  if (list) list.push(declaration);
  else index.set(declaration.name, [declaration]);
}
