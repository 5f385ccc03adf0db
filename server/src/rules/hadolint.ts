// hadolint's most useful rules (https://github.com/hadolint/hadolint), with hadolint's codes,
// messages and default severities: untagged and `latest` base images, apt-get habits, `cd` in
// RUN, ADD for local files, pipes without pipefail, and root as the final user. `# hadolint
// ignore=DL3006,…` on the line before an instruction, and `# hadolint global ignore=…`, are
// honoured as hadolint honours them.
//
// RUN commands are read by a small shell splitter (below): commands separated by `&&`, `||`,
// `;`, `|`, `&`, newlines and parentheses, words with quotes removed. It is no shell parser, but
// it is what these rules need, it never throws, and it reads each script once.

import type { Model, Stage } from '../dockerfile/model';
import type { Instruction } from '../dockerfile/syntax';
import type { Span } from '../dockerfile/text';
import type { Severity } from '../settings';
import type { CodeSpec, Finding, Fix, Rule } from './rule';

function code(id: string, severity: Severity, summary: string): CodeSpec {
  return { code: id, source: 'hadolint', severity, summary, url: `https://github.com/hadolint/hadolint/wiki/${id}` };
}

const MESSAGES = {
  DL3002: 'Last USER should not be root',
  DL3003: 'Use WORKDIR to switch to a directory',
  DL3006: 'Always tag the version of an image explicitly',
  DL3007: 'Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag',
  DL3009: 'Delete the apt-get lists after installing something',
  DL3014: 'Use the `-y` switch to avoid manual input `apt-get -y install <package>`',
  DL3015: 'Avoid additional packages by specifying `--no-install-recommends`',
  DL3020: 'Use COPY instead of ADD for files and folders',
  DL4006:
    'Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your ' +
    'shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check',
} as const;

type Code = keyof typeof MESSAGES;

export const HADOLINT_CODES: readonly CodeSpec[] = [
  code('DL3002', 'warning', MESSAGES.DL3002 + '.'),
  code('DL3003', 'warning', MESSAGES.DL3003 + '.'),
  code('DL3006', 'warning', MESSAGES.DL3006 + '.'),
  code('DL3007', 'warning', 'Using latest is prone to errors if the image will ever update.'),
  code('DL3009', 'information', MESSAGES.DL3009 + '.'),
  code('DL3014', 'warning', 'Use the -y switch with apt-get install.'),
  code('DL3015', 'information', 'Avoid additional packages by specifying --no-install-recommends.'),
  code('DL3020', 'error', MESSAGES.DL3020 + '.'),
  code('DL4006', 'warning', 'Set the SHELL option -o pipefail before RUN with a pipe in it.'),
];

export const hadolintRule: Rule = {
  codes: HADOLINT_CODES,
  check({ model, report }) {
    const ignored = ignores(model);
    const emit = (ins: Instruction, id: Code, span: Span, fixes?: Fix[]) => {
      if (ignored.global.has(id) || ignored.at.get(ins)?.has(id)) return;
      const finding: Finding = { code: id, message: MESSAGES[id], span, ...(fixes ? { fixes } : {}) };
      report(finding);
    };
    baseImages(model, emit);
    runCommands(model, emit);
    addInstructions(model, emit);
    finalUser(model, emit);
  },
};

type Emit = (ins: Instruction, id: Code, span: Span, fixes?: Fix[]) => void;

/** `# hadolint ignore=…` applies to the next instruction; `# hadolint global ignore=…` to all. */
function ignores(model: Model): { global: Set<string>; at: Map<Instruction, Set<string>> } {
  const global = new Set<string>();
  const at = new Map<Instruction, Set<string>>();
  const { text, instructions, comments } = model.syntax;
  let next = 0;
  for (const comment of comments) {
    const m = /^#\s*hadolint\s+(global\s+)?ignore\s*=\s*([\w,\s]+?)\s*$/i.exec(text.slice(comment.start, comment.end));
    if (!m) continue;
    const codes = m[2].split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase());
    if (m[1]) {
      for (const c of codes) global.add(c);
      continue;
    }
    while (next < instructions.length && instructions[next].start < comment.end) next++;
    const ins = instructions[next];
    if (!ins) break;
    const set = at.get(ins) ?? new Set<string>();
    for (const c of codes) set.add(c);
    at.set(ins, set);
  }
  return { global, at };
}

// ---------------------------------------------------------------------------------------------
// DL3006, DL3007: base images

function baseImages(model: Model, emit: Emit): void {
  const stageNames = new Set<string>();
  for (const stage of model.stages) {
    baseImage(model, stage, stageNames, emit);
    if (stage.name) stageNames.add(stage.name.text.toLowerCase());
  }
}

function baseImage(model: Model, stage: Stage, stageNames: ReadonlySet<string>, emit: Emit): void {
  const word = stage.image;
  if (!word) return;
  let image = word.text;
  if (image.includes('$')) {
    // `FROM ${BASE}`: judge what it resolves to, or nothing when it cannot be resolved.
    const expanded = model.expand(image, model.scopeOf(stage.from));
    if (!expanded || expanded.missing.length > 0) return;
    image = expanded.value;
  }
  const lower = image.toLowerCase();
  if (lower === 'scratch' || image.includes('@') || stageNames.has(lower)) return;
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.indexOf(':');
  if (colon === -1) emit(stage.from, 'DL3006', word);
  else if (lastPart.slice(colon + 1) === 'latest') emit(stage.from, 'DL3007', word);
}

// ---------------------------------------------------------------------------------------------
// DL3003, DL3009, DL3014, DL3015, DL4006: RUN commands

const POSIX_SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh']);
const NON_POSIX_SHELLS = new Set(['pwsh', 'powershell', 'cmd']);
const WINDOWS_IMAGE = /(?:^|[/:-])(?:windows|nanoserver|servercore)/i;

function runCommands(model: Model, emit: Emit): void {
  // Stages whose apt lists end up in the image: the last one and any a later stage builds on.
  const shipped = new Set<Stage>(model.stages.slice(-1));
  for (const stage of model.stages) if (stage.parent) shipped.add(stage.parent);
  // Whether a stage's SHELL has pipefail (or is no POSIX shell), after its last instruction.
  const pipefailAfter = new Map<Stage, boolean>();

  for (const stage of model.stages) {
    // Windows images run RUN with cmd, no POSIX shell.
    let pipefail = stage.parent ? (pipefailAfter.get(stage.parent) ?? false) : WINDOWS_IMAGE.test(stage.image?.text ?? '');
    for (const top of stage.instructions) {
      if (top.keyword === 'SHELL') pipefail = shellHasPipefail(top);
      const ins = top.keyword === 'ONBUILD' && top.trigger?.keyword === 'RUN' ? top.trigger : top;
      if (ins.keyword !== 'RUN') continue;
      const scripts = runScripts(model, ins);
      const commands = scripts.flatMap((s) => s.commands);
      checkCommands(top, commands, emit);
      if (ins !== top) continue; // the rest looks at this image, not at images built on it

      if (!pipefail && !commands.some(setsPipefail)) {
        const pipe = scripts.find((s) => s.pipes.length > 0);
        if (pipe) emit(top, 'DL4006', pipe.span(pipe.pipes[0], pipe.pipes[0] + 1));
      }
      if (shipped.has(stage)) checkAptLists(top, scripts, emit);
    }
    pipefailAfter.set(stage, pipefail);
  }
}

function checkCommands(top: Instruction, commands: readonly Command[], emit: Emit): void {
  for (const cmd of commands) {
    if (cmd.name.text === 'cd') emit(top, 'DL3003', cmd.span(cmd.name.start, cmd.name.end));
    if (cmd.name.text !== 'apt-get') continue;
    const install = cmd.args.find((a) => a.text === 'install');
    if (!install) continue;
    const span = cmd.span(cmd.name.start, install.end);
    const after = { start: span.end, end: span.end };
    if (!assumesYes(cmd)) {
      emit(top, 'DL3014', span, [{ title: 'Add -y', edits: [{ span: after, text: ' -y' }], preferred: true }]);
    }
    if (!cmd.args.some((a) => a.text === '--no-install-recommends' || a.text === 'APT::Install-Recommends=false')) {
      emit(top, 'DL3015', span, [
        { title: 'Add --no-install-recommends', edits: [{ span: after, text: ' --no-install-recommends' }], preferred: true },
      ]);
    }
  }
}

/** `-y`, `--yes`, `--assume-yes`, or quiet level 2 (`-qq`, `-q -q`), which implies `-y`. */
function assumesYes(cmd: Command): boolean {
  let quiet = 0;
  for (const { text } of cmd.args) {
    if (text === '--yes' || text === '--assume-yes' || text === '--quiet=2' || text === '-q=2') return true;
    if (/^-[a-zA-Z]+$/.test(text)) {
      if (text.includes('y')) return true;
      quiet += text.split('q').length - 1;
    }
  }
  return quiet >= 2;
}

/** `set -o pipefail` (or `set -euo pipefail` and the like) in the same RUN. */
function setsPipefail(cmd: Command): boolean {
  return cmd.name.text === 'set' && cmd.args.some((a) => a.text === 'pipefail') && cmd.args.some((a) => /^-[a-zA-Z]*o[a-zA-Z]*$/.test(a.text));
}

function shellHasPipefail(shell: Instruction): boolean {
  const items = shell.json?.items.map((i) => i.value) ?? [];
  if (items.length === 0) return false;
  const name = basename(items[0]).toLowerCase().replace(/\.exe$/, '');
  if (NON_POSIX_SHELLS.has(name)) return true; // not hadolint's business
  return POSIX_SHELLS.has(name) && items.includes('pipefail') && items.some((i) => /^-[a-zA-Z]*o[a-zA-Z]*$/.test(i));
}

/** DL3009: `apt-get update`/`install` without `rm -rf /var/lib/apt/lists/*` in the same RUN. */
function checkAptLists(ins: Instruction, scripts: readonly Script[], emit: Emit): void {
  // A cache mount keeps the lists out of the image.
  const cached = ins.flags.some((f) => f.name === 'mount' && /(?:^|,)type=cache(?:,|$)/.test(f.value ?? '') && /(?:^|,)(?:target|dst|destination)=\/var\/lib\/apt(?:\/|,|$)/.test(f.value ?? ''));
  if (cached) return;
  let apt: Command | undefined;
  for (const script of scripts) {
    for (const cmd of script.commands) {
      if (cmd.name.text === 'apt-get' && !apt && cmd.args.some((a) => a.text === 'update' || a.text === 'install')) apt = cmd;
      if (cmd.name.text === 'rm' && cmd.args.some((a) => a.text.startsWith('/var/lib/apt/lists'))) return;
    }
  }
  if (apt) emit(ins, 'DL3009', apt.span(apt.name.start, apt.name.end));
}

function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

// ---------------------------------------------------------------------------------------------
// DL3020: ADD of local files

const ARCHIVES = ['.tar', '.Z', '.bz2', '.gz', '.lz', '.lzma', '.tZ', '.tb2', '.tbz', '.tbz2', '.tgz', '.tlz', '.tpz', '.txz', '.xz'];
/** Flags COPY has too: with any other (--checksum, --keep-git-dir, --unpack) ADD stays. */
const COPY_FLAGS = new Set(['chown', 'chmod', 'link', 'exclude']);

function addInstructions(model: Model, emit: Emit): void {
  for (const ins of model.syntax.instructions) {
    if (ins.keyword !== 'ADD' || ins.words.length < 2) continue;
    const sources = ins.words.slice(0, -1).map((w) => w.text.replace(/^["']|["']$/g, '')).filter((s) => !s.startsWith('<<'));
    const local = sources.some((s) => !/^https?:\/\//.test(s) && !/^git@/.test(s) && !ARCHIVES.some((ext) => s.endsWith(ext)));
    if (!local) continue;
    const fixes: Fix[] = [];
    if (ins.flags.every((f) => COPY_FLAGS.has(f.name))) {
      const keyword = model.syntax.text.slice(ins.keywordSpan.start, ins.keywordSpan.end);
      const copy = keyword === keyword.toLowerCase() ? 'copy' : 'COPY';
      fixes.push({ title: `Use ${copy}`, edits: [{ span: ins.keywordSpan, text: copy }], preferred: true });
    }
    emit(ins, 'DL3020', ins.keywordSpan, fixes);
  }
}

// ---------------------------------------------------------------------------------------------
// DL3002: the final user

function finalUser(model: Model, emit: Emit): void {
  const last = model.stages[model.stages.length - 1];
  const seen = new Set<Stage>();
  for (let stage: Stage | null = last ?? null; stage && !seen.has(stage); stage = stage.parent) {
    seen.add(stage);
    let user: Instruction | undefined;
    for (const ins of stage.instructions) if (ins.keyword === 'USER' && ins.words.length > 0) user = ins;
    if (!user) continue;
    const word = user.words[0];
    const expanded = word.text.includes('$') ? model.expand(word.text, model.scopeOf(user))?.value : word.text;
    if (expanded === undefined) return;
    if (expanded === 'root' || expanded === '0' || expanded.startsWith('root:') || expanded.startsWith('0:')) emit(user, 'DL3002', word);
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// The shell splitter

export interface ShellWord {
  /** With quotes and escapes removed. */
  readonly text: string;
  /** Where it is written in the script's text. */
  readonly start: number;
  readonly end: number;
}

export interface Command {
  /** The program (past variable assignments, `sudo`, `env`, `if`/`then`…), by its base name. */
  readonly name: ShellWord;
  readonly args: readonly ShellWord[];
  /** Maps offsets of the script's text to the document (made only for what is reported). */
  span(start: number, end: number): Span;
}

interface Script {
  readonly commands: readonly Command[];
  /** Offsets of `|` operators (in the script's own text). */
  readonly pipes: readonly number[];
  /** Maps offsets of the script's text to the document. */
  span(start: number, end: number): Span;
}

/** The shell scripts a RUN executes: its shell-form command line, and heredoc bodies run as scripts. */
function runScripts(model: Model, ins: Instruction): Script[] {
  if (ins.json) return [];
  const { logical } = ins;
  const line = logical.text.slice(ins.argsAt, ins.argsEnd);
  const main = splitShell(line, (s, e) => logical.span(ins.argsAt + s, ins.argsAt + e));
  const scripts = [main];
  // `RUN <<EOF` (or `RUN bash <<EOF`) runs the body; `RUN python3 <<EOF` feeds it to python.
  const runner = main.commands[0]?.name.text;
  if (ins.heredocs.length > 0 && (runner === undefined || POSIX_SHELLS.has(runner))) {
    const text = model.syntax.text;
    for (const heredoc of ins.heredocs) {
      const body = text.slice(heredoc.body.start, heredoc.body.end);
      const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(body);
      if (shebang && !POSIX_SHELLS.has(basename(shebang[1] === '/usr/bin/env' ? (shebang[2] ?? '') : shebang[1]))) continue;
      const base = heredoc.body.start;
      scripts.push(splitShell(body, (s, e) => ({ start: base + s, end: base + e })));
    }
  }
  return scripts;
}

/** Characters the splitter must look at; any other is part of a word. */
const SPECIAL = new Set([...' \t\r\n;()`&|#<>$\'"\\']);

/** Words that may precede the program of a command. */
const PREFIXES = new Set(['sudo', 'env', 'exec', 'command', 'nohup', 'time', 'if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', '}']);

export function splitShell(src: string, toDoc: (start: number, end: number) => Span): Script {
  const commands: Command[] = [];
  const pipes: number[] = [];
  let words: ShellWord[] = [];
  let text = '';
  let start = -1;
  let dropNext = false; // the next word is a redirection's target
  // `case x in a | b) …;; esac`: a `|` between patterns is no pipe, and patterns are no commands.
  let caseDepth = 0;
  let inPatterns = false;
  const n = src.length;
  let i = 0;

  const endWord = () => {
    if (start === -1) return;
    const word = { text, start, end: Math.min(i, n) };
    text = '';
    start = -1;
    if (dropNext) dropNext = false;
    else if (inPatterns) {
      if (word.text === 'esac') {
        caseDepth--;
        inPatterns = false;
      }
    } else if (words.length === 2 && words[0].text === 'case' && word.text === 'in') {
      caseDepth++;
      inPatterns = true;
      words = [];
    } else if (words.length === 0 && word.text === 'esac' && caseDepth > 0) caseDepth--;
    else words.push(word);
  };
  const endCommand = () => {
    endWord();
    const command = toCommand(words, toDoc);
    if (command) commands.push(command);
    words = [];
  };
  /** Skips to after the bracket closing the one before `from`, quotes aside. */
  const skipBalanced = (from: number, open: string, close: string): number => {
    let depth = 1;
    let k = from;
    while (k < n && depth > 0) {
      if (src[k] === open) depth++;
      else if (src[k] === close) depth--;
      k++;
    }
    return k;
  };

  while (i < n) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
      i++;
    } else if (c === ';') {
      endCommand();
      const double = src[i + 1] === ';' || src[i + 1] === '&';
      if (double && caseDepth > 0) inPatterns = true;
      i += double ? 2 : 1;
    } else if (c === ')' && inPatterns) {
      endWord();
      inPatterns = false;
      i++;
    } else if (c === '\n' || c === '(' || c === ')' || c === '`') {
      if (!inPatterns) endCommand();
      i++;
    } else if (c === '&') {
      endCommand();
      i += src[i + 1] === '&' ? 2 : 1;
    } else if (c === '|') {
      if (inPatterns) endWord();
      else {
        endCommand();
        if (src[i + 1] !== '|') pipes.push(i);
      }
      i += src[i + 1] === '|' || src[i + 1] === '&' ? 2 : 1;
    } else if (c === '#' && start === -1) {
      while (i < n && src[i] !== '\n') i++;
    } else if (c === '>' || c === '<') {
      if (start !== -1 && /^\d+$/.test(text)) {
        start = -1; // a file descriptor: `2>&1`
        text = '';
      } else endWord();
      while (i < n && '<>&|-'.includes(src[i])) i++;
      dropNext = true;
    } else if (c === '$' && src[i + 1] === '(' && src[i + 2] === '(') {
      if (start === -1) start = i; // arithmetic: no commands, its `|` is no pipe
      let end = skipBalanced(i + 2, '(', ')');
      if (src[end] === ')') end++;
      text += src.slice(i, end);
      i = end;
    } else if (c === '$' && src[i + 1] === '(') {
      endCommand(); // a command substitution holds commands of its own
      i += 2;
    } else {
      if (start === -1) start = i;
      if (c === "'") {
        const close = src.indexOf("'", i + 1);
        const end = close === -1 ? n : close;
        text += src.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        i++;
        while (i < n && src[i] !== '"') {
          if (src[i] === '\\' && i + 1 < n && '"\\$`\n'.includes(src[i + 1])) i++;
          text += src[i++];
        }
        i++;
      } else if (c === '\\') {
        if (i + 1 < n && src[i + 1] !== '\n') text += src[i + 1];
        i += 2;
      } else if (c === '$' && src[i + 1] === '{') {
        const end = skipBalanced(i + 2, '{', '}');
        text += src.slice(i, end);
        i = end;
      } else {
        // A run of ordinary characters at once.
        let end = i + 1;
        while (end < n && !SPECIAL.has(src[end])) end++;
        text += src.slice(i, end);
        i = end;
      }
    }
  }
  endCommand();
  return { commands, pipes, span: toDoc };
}

function toCommand(words: readonly ShellWord[], span: (start: number, end: number) => Span): Command | null {
  let k = 0;
  while (k < words.length) {
    const w = words[k].text;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || PREFIXES.has(w)) k++;
    else if (k > 0 && w.startsWith('-') && ['sudo', 'env'].includes(words[k - 1].text)) k++;
    else break;
  }
  if (k >= words.length) return null;
  const name = words[k];
  return { name: { ...name, text: basename(name.text) }, args: words.slice(k + 1), span };
}
