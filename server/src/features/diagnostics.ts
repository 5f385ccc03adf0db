// Diagnostics: every rule's findings, with each code's severity decided by the settings and
// by BuildKit's `# check=` directive, published as soon as the synchronous rules are done and
// again when the asynchronous ones (disk, shellcheck, registries) have answered.

import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Model } from '../dockerfile/model';
import { ASYNC_RULES, CODES, RULES } from '../rules';
import type { Finding, RuleContext } from '../rules/rule';
import type { Severity } from '../settings';

/** What `# check=skip=…;error=true` asks for. */
export interface CheckDirective {
  skipAll: boolean;
  skip: ReadonlySet<string>;
  error: boolean;
}

export function checkDirective(model: Model): CheckDirective {
  const directive = model.syntax.directives.find((d) => d.name === 'check');
  const skip = new Set<string>();
  let skipAll = false;
  let error = false;
  for (const part of directive ? directive.value.split(';') : []) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === 'skip') {
      for (const name of value.split(',')) {
        const code = name.trim();
        if (code.toLowerCase() === 'all') skipAll = true;
        else if (code) skip.add(code);
      }
    } else if (key === 'error') error = value.toLowerCase() === 'true';
  }
  return { skipAll, skip, error };
}

const findingsCache = new WeakMap<Document, Finding[]>();
const asyncCache = new WeakMap<Document, Finding[]>();

/** What the asynchronous rules found for a version, once they have answered. */
export function asyncFindings(doc: Document): readonly Finding[] {
  return asyncCache.get(doc) ?? [];
}

/** The synchronous rules' findings for one document version (made once). */
export function lint(doc: Document, ctx: FeatureContext): Finding[] {
  let findings = findingsCache.get(doc);
  if (findings) return findings;
  findings = [];
  const out = findings;
  const context: RuleContext = { doc, model: doc.model, ctx, report: (finding) => out.push(finding) };
  for (const rule of RULES) {
    try {
      rule.check(context);
    } catch (error) {
      console.error(`rule ${rule.codes[0]?.code ?? '?'} failed on ${doc.uri}: ${(error as Error).stack ?? error}`);
    }
  }
  findingsCache.set(doc, findings);
  return findings;
}

/** The asynchronous rules' findings; an aborted run resolves with what it has. */
export async function lintAsync(doc: Document, ctx: FeatureContext, signal: AbortSignal): Promise<Finding[]> {
  const findings: Finding[] = [];
  const context: RuleContext = { doc, model: doc.model, ctx, report: (finding) => findings.push(finding) };
  await Promise.all(
    ASYNC_RULES.map((rule) =>
      rule.check(context, signal).catch((error: unknown) => {
        if (!signal.aborted) console.error(`rule ${rule.codes[0]?.code ?? '?'} failed on ${doc.uri}: ${(error as Error).stack ?? error}`);
      }),
    ),
  );
  if (!signal.aborted) asyncCache.set(doc, findings);
  return findings;
}

const MAX_PAUSE_MS = 500;
const ASYNC_PAUSE_MS = 300;

const LSP_SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** The severity a code has in this document, or null when it is turned off. */
export function severityOf(code: string, check: CheckDirective, ctx: FeatureContext, fallback?: Severity): Severity | null {
  const spec = CODES.get(code);
  const buildkit = spec?.source === 'buildkit';
  if (check.skip.has(code) || (buildkit && check.skipAll)) return null;
  const setting = ctx.settings.diagnostics.severity[code];
  if (setting === 'off') return null;
  if (setting) return setting;
  if (buildkit && check.error) return 'error';
  return spec?.severity ?? fallback ?? 'error';
}

export function toDiagnostics(doc: Document, findings: readonly Finding[], ctx: FeatureContext): Diagnostic[] {
  const check = checkDirective(doc.model);
  const diagnostics: Diagnostic[] = [];
  for (const finding of findings) {
    const severity = severityOf(finding.code, check, ctx, finding.severity);
    if (!severity) continue;
    const spec = CODES.get(finding.code);
    const diagnostic: Diagnostic = {
      range: doc.range(finding.span),
      severity: LSP_SEVERITY[severity],
      code: finding.code,
      source: spec?.source ?? finding.source ?? 'dockerfile',
      message: finding.message,
    };
    const url = spec?.url ?? finding.url;
    if (url) diagnostic.codeDescription = { href: url };
    if (spec?.tag) diagnostic.tags = [spec.tag === 'deprecated' ? DiagnosticTag.Deprecated : DiagnosticTag.Unnecessary];
    diagnostics.push(diagnostic);
  }
  return diagnostics;
}

/**
 * Moves findings of an older text onto a newer one, assuming one contiguous edit between them
 * (what typing makes): findings before the edit keep their place, findings after it shift, and
 * findings the edit touches are dropped.
 */
export function carryOver(before: string, after: string, findings: readonly Finding[]): Finding[] {
  const max = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  const editEnd = before.length - suffix;
  const shift = after.length - before.length;
  const carried: Finding[] = [];
  for (const f of findings) {
    if (f.span.end <= prefix) carried.push({ ...f, fixes: undefined });
    else if (f.span.start >= editEnd) carried.push({ ...f, span: { start: f.span.start + shift, end: f.span.end + shift }, fixes: undefined });
  }
  return carried;
}

/**
 * Runs diagnostics for changed documents, always on their latest version. The debounce is the
 * document's own cost: after a run that took d ms, the next waits until d ms have passed (at
 * most MAX_PAUSE_MS), so a small file is checked as you type and a huge one leaves at least half
 * the time to requests. The asynchronous rules (a process, the disk, the network) wait until the
 * document has been quiet for ASYNC_PAUSE_MS; meanwhile their last findings are carried over.
 */
export class DiagnosticsScheduler {
  private readonly timers = new Map<string, { cancel(): void }>();
  private readonly lastRun = new Map<string, { end: number; duration: number }>();
  private readonly asyncTimers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, AbortController>();
  /** The last asynchronous findings of each document, with the text they belong to. */
  private readonly lastAsync = new Map<string, { text: string; findings: readonly Finding[] }>();

  constructor(
    private readonly get: (uri: string) => Document | undefined,
    private readonly ctx: () => FeatureContext,
    private readonly publish: (doc: Document, diagnostics: Diagnostic[]) => void,
  ) {}

  schedule(uri: string): void {
    if (this.timers.has(uri)) return;
    const last = this.lastRun.get(uri);
    const delay = last ? Math.max(0, last.end + Math.min(last.duration, MAX_PAUSE_MS) - performance.now()) : 0;
    const run = () => {
      this.timers.delete(uri);
      const start = performance.now();
      this.runNow(uri);
      const end = performance.now();
      this.lastRun.set(uri, { end, duration: end - start });
    };
    // setTimeout(0) waits a millisecond at least; setImmediate runs right after pending I/O.
    if (delay < 1) {
      const immediate = setImmediate(run);
      this.timers.set(uri, { cancel: () => clearImmediate(immediate) });
    } else {
      const timeout = setTimeout(run, delay);
      this.timers.set(uri, { cancel: () => clearTimeout(timeout) });
    }
  }

  private runNow(uri: string): void {
    const doc = this.get(uri);
    if (!doc) return;
    const ctx = this.ctx();
    const findings = lint(doc, ctx);
    const previous = this.lastAsync.get(uri);
    const carried = previous ? carryOver(previous.text, doc.text, previous.findings) : [];
    this.lastAsync.set(uri, { text: doc.text, findings: carried });
    this.publish(doc, toDiagnostics(doc, [...findings, ...carried], ctx));
    if (ASYNC_RULES.length === 0) return;
    this.pending.get(uri)?.abort();
    clearTimeout(this.asyncTimers.get(uri));
    this.asyncTimers.set(
      uri,
      setTimeout(() => {
        this.asyncTimers.delete(uri);
        if (this.get(uri) !== doc) return;
        const controller = new AbortController();
        this.pending.set(uri, controller);
        void lintAsync(doc, ctx, controller.signal).then((more) => {
          if (controller.signal.aborted || this.get(uri) !== doc) return;
          this.pending.delete(uri);
          this.lastAsync.set(uri, { text: doc.text, findings: more });
          if (more.length || carried.length) this.publish(doc, toDiagnostics(doc, [...findings, ...more], ctx));
        });
      }, ASYNC_PAUSE_MS),
    );
  }

  /** Rechecks every open document (after a settings change). */
  scheduleAll(uris: Iterable<string>): void {
    for (const uri of uris) this.schedule(uri);
  }

  forget(uri: string): void {
    this.timers.get(uri)?.cancel();
    clearTimeout(this.asyncTimers.get(uri));
    this.timers.delete(uri);
    this.asyncTimers.delete(uri);
    this.lastRun.delete(uri);
    this.lastAsync.delete(uri);
    this.pending.get(uri)?.abort();
    this.pending.delete(uri);
  }

  dispose(): void {
    for (const uri of [...this.timers.keys(), ...this.asyncTimers.keys(), ...this.pending.keys()]) this.forget(uri);
  }
}
