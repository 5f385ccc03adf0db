// COPY and ADD sources checked against the build context on disk: a source that matches
// nothing (SourceNotFound), and BuildKit's CopyIgnoredFile for a source that .dockerignore
// leaves out. The build context is the Dockerfile's folder.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { DockerIgnore } from '../dockerfile/dockerignore';
import type { Model } from '../dockerfile/model';
import type { Instruction } from '../dockerfile/syntax';
import type { Span } from '../dockerfile/text';
import type { AsyncRule } from './rule';

interface Source {
  readonly span: Span;
  /** Relative to the context root, cleaned; may hold glob characters. */
  readonly path: string;
  readonly written: string;
}

/** The local sources of a COPY/ADD (not --from, not URLs or git, not heredocs), expanded. */
export function localSources(model: Model, instruction: Instruction): Source[] {
  if (instruction.flags.some((f) => f.name === 'from')) return [];
  const items: { text: string; span: Span }[] = instruction.json
    ? instruction.json.items.map((i) => ({ text: i.value, span: i }))
    : instruction.words.filter((w) => !/^\d*<<-?/.test(w.text)).map((w) => ({ text: w.text, span: w }));
  const scope = model.scopeOf(instruction);
  const out: Source[] = [];
  // The last item is the destination.
  for (const { text, span } of items.slice(0, -1)) {
    const expanded = instruction.json ? { value: text, missing: [] } : model.expand(text, scope);
    if (!expanded || expanded.missing.length || expanded.value === '') continue;
    const value = expanded.value;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^git@/.test(value)) continue;
    // BuildKit resolves sources inside the context: "/x" and "../x" both mean x at its root.
    const path = posix.normalize('/' + value).slice(1).replace(/\/$/, '');
    out.push({ span, path, written: text });
  }
  return out;
}

/** Go's filepath.Match for one path segment: `*`, `?`, `[...]`, `\` escapes. */
function segmentMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) return false;
      let cls = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(name);
  } catch {
    return false;
  }
}

/** Every path in the context a source names (a glob may name several). */
async function resolve(root: string, path: string): Promise<string[]> {
  if (path === '') return [''];
  if (!/[*?[]/.test(path)) {
    try {
      await stat(join(root, path));
      return [path];
    } catch {
      return [];
    }
  }
  let found = [''];
  for (const segment of path.split('/')) {
    const next: string[] = [];
    for (const dir of found) {
      if (!/[*?[\\]/.test(segment)) {
        const candidate = dir ? `${dir}/${segment}` : segment;
        if (await stat(join(root, candidate)).then(() => true, () => false)) next.push(candidate);
        continue;
      }
      const entries = await readdir(join(root, dir)).catch(() => [] as string[]);
      for (const entry of entries) if (segmentMatch(segment, entry)) next.push(dir ? `${dir}/${entry}` : entry);
    }
    found = next;
    if (found.length === 0) break;
  }
  return found;
}

/** The .dockerignore BuildKit uses: `<Dockerfile>.dockerignore` beside it, else the context's. */
async function dockerIgnore(root: string, dockerfile: string): Promise<DockerIgnore | null> {
  for (const file of [join(root, `${basename(dockerfile)}.dockerignore`), join(root, '.dockerignore')]) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    try {
      return DockerIgnore.parse(text);
    } catch {
      return null; // The build reports the broken pattern itself.
    }
  }
  return null;
}

export const contextRule: AsyncRule = {
  codes: [
    { code: 'SourceNotFound', source: 'dockerfile', severity: 'warning', summary: 'A COPY/ADD source is not in the build context.' },
    {
      code: 'CopyIgnoredFile',
      source: 'buildkit',
      severity: 'warning',
      summary: 'A COPY/ADD source is excluded by .dockerignore.',
      url: 'https://docs.docker.com/reference/build-checks/copy-ignored-file/',
    },
  ],
  async check({ doc, model, ctx, report }, signal) {
    const root = doc.folder;
    if (!ctx.settings.diagnostics.buildContext || !root) return;
    const copies = model.syntax.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    if (copies.length === 0) return;
    const file = decodeURIComponent(doc.uri.replace(/^file:\/\//, ''));
    const ignore = await dockerIgnore(root, file);
    for (const instruction of copies) {
      for (const source of localSources(model, instruction)) {
        if (signal.aborted) return;
        const paths = await resolve(root, source.path);
        if (paths.length === 0) {
          report({
            code: 'SourceNotFound',
            message: `${instruction.keyword} source "${source.written}" not found in the build context (${root})`,
            span: source.span,
          });
        } else if (ignore && paths.every((p) => p !== '' && ignore.matches(p))) {
          const verb = instruction.keyword === 'ADD' ? 'Add' : 'Copy';
          report({
            code: 'CopyIgnoredFile',
            message: `Attempting to ${verb} file "${source.written}" that is excluded by .dockerignore`,
            span: source.span,
          });
        }
      }
    }
  },
};
