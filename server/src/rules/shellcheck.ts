// shellcheck's findings on the shell in RUN instructions, where shellcheck is installed.
// Each RUN becomes a script whose lines are the document's own lines (the keyword and flags
// blanked out, comment lines inside a continuation turned into bare continuations, as Docker
// drops them), so every finding maps straight back to its line and column. Scripts are checked
// by one shellcheck process per document version, and results are cached by script text.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model, Stage } from '../dockerfile/model';
import type { Instruction } from '../dockerfile/syntax';
import type { LineIndex } from '../dockerfile/text';
import type { Severity } from '../settings';
import type { AsyncRule, Finding, Fix } from './rule';

interface Comment {
  line: number;
  endLine: number;
  column: number;
  endColumn: number;
  level: 'error' | 'warning' | 'info' | 'style';
  code: number;
  message: string;
  fix: { replacements: { line: number; endLine: number; column: number; endColumn: number; replacement: string }[] } | null;
}

/** A RUN's shell as a script: its first document line, the dialect, the text. */
export interface Script {
  readonly firstLine: number;
  readonly shell: string;
  readonly text: string;
}

/** Lines before the RUN's own: one `export` line declaring the variables the RUN can see. */
const HEADER_LINES = 1;

const SEVERITY: Record<Comment['level'], Severity> = { error: 'error', warning: 'warning', info: 'information', style: 'hint' };

/** shellcheck's dialect for a shell executable, or null for shells it does not know. */
function dialect(executable: string): string | null {
  const name = executable.slice(executable.lastIndexOf('/') + 1);
  if (name === 'sh' || name === 'ash') return 'sh';
  if (name === 'bash' || name === 'dash' || name === 'ksh') return name;
  if (name === 'mksh') return 'ksh';
  return null;
}

/** The scripts of a document's RUN instructions (shell form, or a heredoc run as a script). */
export function scripts(model: Model): Script[] {
  const { syntax } = model;
  const lines = syntax.lines;
  const out: Script[] = [];
  // The names each RUN reads that the Dockerfile declares: declared to shellcheck, so that it
  // does not call them unassigned.
  const declared = new Map<Instruction, Set<string>>();
  for (const ref of model.references) {
    if (!ref.declaration && !ref.predefined) continue;
    const names = declared.get(ref.instruction) ?? new Set<string>();
    names.add(ref.name);
    declared.set(ref.instruction, names);
  }
  // The shell each stage's RUNs use: the last SHELL so far, inherited from the stage built on.
  const finalShell = new Map<Stage, string | null>();
  for (const stage of model.stages) {
    let current: string | null = stage.parent ? finalShell.get(stage.parent)! : syntax.escape === '`' ? null : 'sh';
    for (const run of stage.instructions) {
      if (run.keyword === 'SHELL') current = run.json?.items[0] ? dialect(run.json.items[0].value) : null;
      if (run.keyword !== 'RUN' || run.json || !run.args || !current) continue;
      let shell: string | null = current;
      const variables = [...(declared.get(run) ?? [])];
      const header = variables.length ? `export ${variables.join(' ')}` : ':';
      const body: string[] = [];
      let firstLine = run.startLine;
      const heredoc = run.heredocs[0];
      if (heredoc && run.words.length === 1) {
        // `RUN <<EOF`: the body is the script; a shebang picks its interpreter.
        firstLine = lines.lineAt(heredoc.body.start);
        const text = syntax.text.slice(heredoc.body.start, heredoc.body.end);
        const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
        if (shebang) {
          shell = dialect(shebang[1].endsWith('/env') && shebang[2] ? shebang[2] : shebang[1]);
          if (!shell) continue;
        }
        body.push(...text.replace(/\n$/, '').split('\n'));
        if (shebang) body[0] = '';
      } else {
        for (let line = run.startLine; line <= run.lastLine; line++) body.push(scriptLine(run, lines, line));
      }
      out.push({ firstLine, shell, text: [header, ...body].join('\n') + '\n' });
    }
    finalShell.set(stage, current);
  }
  return out;
}

/** One document line of a RUN as shell: keyword and flags blanked, dropped lines continued. */
function scriptLine(run: Instruction, lines: LineIndex, line: number): string {
  const start = lines.lineStart(line);
  const content = lines.lineText(line);
  if (line === run.startLine) {
    const args = run.args!.start - start;
    return ' '.repeat(args) + content.slice(args);
  }
  // Heredoc bodies (after endLine) are shell as they stand.
  if (line <= run.endLine && (content.trim() === '' || content.trimStart().startsWith('#'))) return '\\';
  return content;
}

const cache = new Map<string, Comment[]>();
const CACHE_LIMIT = 500;
let missing: string | null = null;

function runShellcheck(executable: string, shell: string, files: string[], signal: AbortSignal): Promise<Map<string, Comment[]>> {
  return new Promise((resolve, reject) => {
    execFile(
      executable,
      ['--format=json1', `--shell=${shell}`, '--exclude=SC1091', ...files],
      { signal, timeout: 20_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        // shellcheck exits 1 when it has findings; only a missing or crashed program is an error.
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return reject(error);
        try {
          const parsed = JSON.parse(stdout) as { comments: (Comment & { file: string })[] };
          const byFile = new Map<string, Comment[]>(files.map((f) => [f, []]));
          for (const c of parsed.comments) byFile.get(c.file)?.push(c);
          resolve(byFile);
        } catch {
          reject(error ?? new Error(`shellcheck gave no JSON: ${stdout.slice(0, 200)}`));
        }
      },
    );
  });
}

let scratchDir: string | null = null;

/** Whether a process runs (EPERM: it does, as another user's). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One folder per server process for the scripts (named with its pid), gone with the process
 * even mid-check; those of servers killed outright are removed by the next one.
 */
function scratch(): string {
  if (!scratchDir) {
    for (const name of readdirSync(tmpdir())) {
      const owner = /^tug-shellcheck-(\d+)-/.exec(name)?.[1];
      if (owner && !running(Number(owner))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
    const dir = mkdtempSync(join(tmpdir(), `tug-shellcheck-${process.pid}-`));
    scratchDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // A signal ends Node without 'exit' unless something handles it: end by exit(), so the folder goes.
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(128 + constants.signals[signal]));
    }
  }
  return scratchDir;
}

/** Checks scripts not seen before, grouped by dialect, one process per dialect. */
async function check(executable: string, list: Script[], signal: AbortSignal): Promise<void> {
  const todo = list.filter((s) => !cache.has(s.shell + '\0' + s.text));
  if (todo.length === 0) return;
  const dir = await mkdtemp(join(scratch(), 'run-'));
  try {
    const byShell = new Map<string, string[]>();
    await Promise.all(
      todo.map(async (script, k) => {
        const file = join(dir, `run${k}.sh`);
        await writeFile(file, script.text);
        const files = byShell.get(script.shell) ?? [];
        files.push(file);
        byShell.set(script.shell, files);
      }),
    );
    for (const [shell, files] of byShell) {
      const results = await runShellcheck(executable, shell, files, signal);
      for (const [file, comments] of results) {
        const script = todo[Number(/run(\d+)\.sh$/.exec(file)![1])];
        if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
        cache.set(script.shell + '\0' + script.text, comments);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const shellcheckRule: AsyncRule = {
  codes: [],
  async check({ doc, model, ctx, report }, signal) {
    const settings = ctx.settings.diagnostics;
    if (!settings.shellcheck || missing === settings.shellcheckPath) return;
    const list = scripts(model);
    if (list.length === 0) return;
    try {
      await check(settings.shellcheckPath, list, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        missing = settings.shellcheckPath;
        return;
      }
      throw error;
    }
    const lines = doc.lines;
    const at = (script: Script, line: number, column: number) =>
      lines.offsetAt({ line: script.firstLine + line - 1 - HEADER_LINES, character: column - 1 });
    for (const script of list) {
      for (const c of cache.get(script.shell + '\0' + script.text) ?? []) {
        if (c.line <= HEADER_LINES) continue;
        const fixes: Fix[] = c.fix
          ? [
              {
                title: `Apply shellcheck's fix for SC${c.code}`,
                edits: c.fix.replacements.map((r) => ({
                  span: { start: at(script, r.line, r.column), end: at(script, r.endLine, r.endColumn) },
                  text: r.replacement,
                })),
              },
            ]
          : [];
        const finding: Finding = {
          code: `SC${c.code}`,
          message: c.message,
          span: { start: at(script, c.line, c.column), end: at(script, c.endLine, c.endColumn) },
          source: 'shellcheck',
          severity: SEVERITY[c.level],
          url: `https://www.shellcheck.net/wiki/SC${c.code}`,
          fixes,
        };
        report(finding);
      }
    }
  },
};
