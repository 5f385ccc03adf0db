// The shapes of the Dockerfile reference tables (instructions.ts): what each instruction,
// flag, parser directive and mount option is, in one place for the language server and the
// builder alike.

/** What a flag's value is, which decides how it is completed and validated. */
export type FlagValueKind =
  | 'none' // a switch with no value: --link
  | 'boolean' // --link=true|false, or bare --link
  | 'string' // free text: --chown=1000:1000
  | 'duration' // Go durations: --interval=30s
  | 'integer' // --retries=3
  | 'keyValues'; // comma-separated key=value options: --mount=type=cache,target=/x

export interface FlagSpec {
  /** Without the leading dashes: "platform". */
  readonly name: string;
  /** One sentence for completion details. */
  readonly summary: string;
  /** Markdown for hover: what it does, its syntax and a short example. */
  readonly doc: string;
  readonly value: FlagValueKind;
  /** The closed set of values, where there is one (--network, --security). */
  readonly values?: readonly string[];
  /** May appear more than once (--mount, --exclude). */
  readonly repeatable?: boolean;
  /** The Dockerfile frontend that introduced it, where it needs a recent one ("1.7-labs"). */
  readonly since?: string;
}

/** One `type=` of RUN --mount, and the options that type accepts. */
export interface MountTypeSpec {
  readonly type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  readonly doc: string;
  readonly options: readonly MountOptionSpec[];
}

export interface MountOptionSpec {
  /** The key, and any aliases BuildKit accepts for it (target, dst, destination). */
  readonly names: readonly string[];
  readonly doc: string;
  readonly values?: readonly string[];
  /** Written without a value (readonly, rw). */
  readonly bare?: boolean;
}

/** A parameter of a signature: `label` is a substring of the form's label. */
export interface ParameterSpec {
  readonly label: string;
  readonly doc: string;
}

/** One syntax of an instruction, as signature help shows it. */
export interface FormSpec {
  /** "COPY [--from=<stage>] <src>... <dest>" */
  readonly label: string;
  readonly doc: string;
  readonly params: readonly ParameterSpec[];
}

export interface InstructionSpec {
  /** Upper case: "HEALTHCHECK". */
  readonly name: string;
  /** One sentence for completion details. */
  readonly summary: string;
  /** Markdown for hover: what it does, its forms, an example. */
  readonly doc: string;
  /** The instruction's syntaxes; signature help picks among them. */
  readonly forms: readonly FormSpec[];
  readonly flags: readonly FlagSpec[];
  /** The completion snippet that follows the keyword, in LSP snippet syntax: "${1:image}". */
  readonly snippet: string;
  /** BuildKit expands ARG/ENV variables in its arguments (not RUN, CMD, ENTRYPOINT, SHELL). */
  readonly expands: boolean;
  /** Allowed after ONBUILD. */
  readonly onbuild: boolean;
  /** May carry heredocs (RUN, COPY, ADD). */
  readonly heredoc: boolean;
  /** Deprecated (MAINTAINER). */
  readonly deprecated?: boolean;
  /** The reference page: https://docs.docker.com/reference/dockerfile/#... */
  readonly link: string;
}

export interface DirectiveSpec {
  /** Lower case: "syntax", "escape", "check". */
  readonly name: string;
  readonly summary: string;
  readonly doc: string;
  /** Values to offer in completion. */
  readonly values: readonly string[];
  readonly link: string;
}
