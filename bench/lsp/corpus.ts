// The bench's Dockerfiles: the official-style fixtures, deterministic variants of them (so the
// bench sees a spread of sizes and shapes, not the same few dozen files over and over), and one
// 10,000-line Dockerfile made of many realistic stages. Every variant stays a valid Dockerfile:
// the transformations only rename, duplicate or reorder what cannot change meaning.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32, type Rand } from '../../test/helpers/random';

export interface CorpusFile {
  /** A file name, unique in the corpus: "python-uv.Dockerfile", "python-uv.v3.Dockerfile". */
  name: string;
  text: string;
}

// Relative to the repository root, where npm scripts and the test runner start.
export const officialFixturesDir = path.resolve('test/fixtures/dockerfiles/official');

/** The official-style fixtures as they are on disk, sorted by name. */
export function officialFixtures(dir = officialFixturesDir): CorpusFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.Dockerfile'))
    .sort()
    .map((name) => ({ name, text: readFileSync(path.join(dir, name), 'utf8') }));
}

/** The fixtures plus seeded variants of them, `count` files in all. */
export function buildCorpus(count = 400, seed = 20240701, fixtures = officialFixtures()): CorpusFile[] {
  const rand = mulberry32(seed);
  const corpus = fixtures.slice(0, count);
  for (let i = 0; corpus.length < count; i++) {
    const source = fixtures[i % fixtures.length]!;
    const variant = Math.floor(i / fixtures.length) + 1;
    corpus.push({ name: source.name.replace(/\.Dockerfile$/, `.v${variant}.Dockerfile`), text: makeVariant(source.text, rand) });
  }
  return corpus;
}

/**
 * One Dockerfile of exactly `lineCount` lines: the stages of many fixtures one after another,
 * each fixture's stage names and global ARGs suffixed so that they cannot collide.
 */
export function buildHugeDockerfile(lineCount = 10_000, seed = 424242, fixtures = officialFixtures()): CorpusFile {
  const rand = mulberry32(seed);
  // Backtick-escaped (Windows) fixtures cannot share a file with backslash-escaped ones.
  const usable = fixtures.map((f) => parse(f.text)).filter((p) => p.escape === '\\' && p.stages.length > 0);
  const globals: string[] = [];
  const globalNames = new Map<string, string>(); // name → declaration, to spot collisions
  const body: string[] = [];
  const header = ['# syntax=docker/dockerfile:1', '', '# Generated for the LSP bench: many unrelated builds in one file.', ''];
  const total = () => header.length + globals.length + 1 + body.length;

  // Fixtures are drawn at random until none fits in the lines left (a few misses in a row).
  for (let group = 1, misses = 0; misses < 50; group++) {
    const doc = usable[Math.floor(rand() * usable.length)]!;
    const suffix = `g${group}`;
    // Global ARGs that would collide with an earlier group's get this group's suffix.
    const renames = new Map<string, string>();
    const declared = new Map<string, string>();
    const groupGlobals: string[] = [];
    for (const block of doc.globals) {
      const name = block.keyword === 'ARG' ? argName(block.lines[0]!) : undefined;
      if (!name) continue;
      const declaration = block.lines.join('\n');
      if (globalNames.get(name) === declaration) continue;
      const newName = globalNames.has(name) ? `${name}_${suffix.toUpperCase()}` : name;
      if (newName !== name) renames.set(name, newName);
      declared.set(newName, declaration);
      groupGlobals.push(...block.lines);
    }
    let stageText = doc.stages.map((s) => renderBlocks(s)).join('\n');
    let globalText = groupGlobals.join('\n');
    for (const [from, to] of renames) {
      stageText = renameVariable(stageText, from, to);
      globalText = renameVariable(globalText, from, to);
    }
    // Every stage gets a unique name; references inside the group follow.
    const names = doc.stages.map((s) => stageName(s.blocks[0]!.lines[0]!));
    const lines = stageText.split('\n');
    const uniqueNames = names.map((n, i) => `${n ?? `stage${i}`}-${suffix}`);
    for (let i = 0; i < names.length; i++) if (names[i]) renameStageInLines(lines, names[i]!, uniqueNames[i]!);
    nameUnnamedStages(lines, uniqueNames, names);
    const chunk = ['', `# ---- build ${group}: ${uniqueNames.join(', ')}`, ...lines];
    const globalLines = globalText ? globalText.split('\n') : [];
    if (total() + chunk.length + globalLines.length > lineCount - 12) {
      misses++;
      continue;
    }
    misses = 0;
    for (const [name, declaration] of declared) globalNames.set(name, declaration);
    globals.push(...globalLines);
    body.push(...chunk);
  }

  // A final small stage pads the file to exactly lineCount lines.
  const tail = ['', '# ---- padding stage', 'FROM alpine:3.20 AS padding', 'WORKDIR /srv/padding'];
  const padCommands = ['mkdir -p /srv/padding/cache', 'touch /srv/padding/.keep', 'chmod 0755 /srv/padding', 'ls -la /srv/padding'];
  const target = lineCount - total() - tail.length - 1; // the final CMD line
  const text = () => [...header, ...globals, '', ...body, ...tail].join('\n');
  if (target > 0) {
    tail.push(`RUN set -eux; \\`);
    for (let i = 0; i < target - 2; i++) tail.push(`\t${padCommands[i % padCommands.length]}; \\`);
    tail.push('\ttrue');
  }
  tail.push('CMD ["sh"]');
  return { name: `huge-${lineCount}.Dockerfile`, text: text() + '\n' };
}

// ---------------------------------------------------------------------------------------------
// A tolerant split of a Dockerfile into instruction blocks, enough to move whole instructions.

interface Block {
  /** Comment and blank lines that precede the instruction. */
  leading: string[];
  /** The instruction's own lines: continuations, comments inside them, heredoc bodies. */
  lines: string[];
  keyword: string;
  /** Carries a heredoc: its body must never be edited. */
  heredoc: boolean;
}

interface Stage {
  blocks: Block[]; // blocks[0] is the FROM
}

interface ParsedDockerfile {
  eol: string;
  escape: '\\' | '`';
  directives: string[];
  globals: Block[];
  stages: Stage[];
  trailing: string[];
}

const directiveRe = /^#\s*(syntax|escape|check)\s*=/i;
const heredocRe = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

function parse(text: string): ParsedDockerfile {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 0;
  const directives: string[] = [];
  let escape: '\\' | '`' = '\\';
  while (i < lines.length && directiveRe.test(lines[i]!)) {
    if (/^#\s*escape\s*=\s*`/i.test(lines[i]!)) escape = '`';
    directives.push(lines[i++]!);
  }
  const blocks: Block[] = [];
  let leading: string[] = [];
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      leading.push(line);
      i++;
      continue;
    }
    const own: string[] = [line];
    let logical = line;
    i++;
    // Continuation: comment lines inside it do not end it.
    let last = line;
    while (endsWithEscape(last, escape) && i < lines.length) {
      const next = lines[i++]!;
      own.push(next);
      if (!next.trimStart().startsWith('#')) {
        logical += ' ' + next;
        last = next;
      }
    }
    const keyword = line.trim().split(/\s+/)[0]!.toUpperCase();
    let heredoc = false;
    if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const m of logical.matchAll(heredocRe)) {
        heredoc = true;
        const [, dash, , word] = m;
        while (i < lines.length) {
          const body = lines[i++]!;
          own.push(body);
          if ((dash ? body.replace(/^\t+/, '') : body) === word) break;
        }
      }
    }
    blocks.push({ leading, lines: own, keyword, heredoc });
    leading = [];
  }
  const globals: Block[] = [];
  const stages: Stage[] = [];
  for (const block of blocks) {
    if (block.keyword === 'FROM') stages.push({ blocks: [block] });
    else if (stages.length === 0) globals.push(block);
    else stages[stages.length - 1]!.blocks.push(block);
  }
  return { eol, escape, directives, globals, stages, trailing: leading };
}

function endsWithEscape(line: string, escape: string): boolean {
  return line.trimEnd().endsWith(escape) && !line.trimStart().startsWith('#');
}

function renderBlocks(stage: Stage): string {
  return stage.blocks.flatMap((b) => [...b.leading, ...b.lines]).join('\n');
}

function render(doc: ParsedDockerfile): string {
  const all = [
    ...doc.directives,
    ...doc.globals.flatMap((b) => [...b.leading, ...b.lines]),
    ...doc.stages.flatMap((s) => s.blocks.flatMap((b) => [...b.leading, ...b.lines])),
    ...doc.trailing,
  ];
  return all.join(doc.eol) + doc.eol;
}

// ---------------------------------------------------------------------------------------------
// Names of stages and variables.

function stageName(fromLine: string): string | undefined {
  const m = /\sAS\s+([a-z0-9][a-z0-9._-]*)\s*$/i.exec(fromLine);
  return m?.[1];
}

function argName(line: string): string | undefined {
  return /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(line)?.[1];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Renames a stage: its AS clause, FROM <name>, --from=<name> and mount from=<name>. */
function renameStageInLines(lines: string[], from: string, to: string): void {
  const n = escapeRe(from);
  const asRe = new RegExp(`(\\sAS\\s+)${n}(\\s*)$`, 'i');
  const fromRe = new RegExp(`^(\\s*FROM\\s+(?:--\\S+\\s+)*)${n}(?=\\s|$)`, 'i');
  const flagRe = new RegExp(`((?:--from=|[,=\\s]from=))${n}(?=[\\s,]|$)`, 'g');
  for (let i = 0; i < lines.length; i++) {
    lines[i] = lines[i]!.replace(asRe, `$1${to}$2`).replace(fromRe, `$1${to}`).replace(flagRe, `$1${to}`);
  }
}

/** Adds `AS <name>` to the FROM lines of stages that had no name. */
function nameUnnamedStages(lines: string[], uniqueNames: string[], names: (string | undefined)[]): void {
  let stage = -1;
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*FROM\s/i.test(lines[i]!)) continue;
    stage++;
    if (names[stage] === undefined) lines[i] = `${lines[i]!.trimEnd()} AS ${uniqueNames[stage]}`;
  }
}

/** Renames an ARG everywhere in a text: declarations, $NAME and ${NAME...}. */
function renameVariable(text: string, from: string, to: string): string {
  const n = escapeRe(from);
  return text
    .replace(new RegExp(`(\\bARG\\s+)${n}(?=[=\\s]|$)`, 'gm'), `$1${to}`)
    .replace(new RegExp(`\\$\\{${n}(?=[}:])`, 'g'), `\${${to}`)
    .replace(new RegExp(`\\$${n}(?![A-Za-z0-9_])`, 'g'), `$${to}`);
}

// ---------------------------------------------------------------------------------------------
// Variants.


function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

const transforms: ((doc: ParsedDockerfile, rand: Rand) => void)[] = [
  duplicateStage,
  renameStage,
  reorderMetadata,
  lengthenRun,
  extraArgEnv,
  addComments,
];

function makeVariant(text: string, rand: Rand): string {
  const doc = parse(text);
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) pick(rand, transforms)(doc, rand);
  return render(doc);
}

/** Copies a stage under a new name, just before the last stage so that the target stays the same. */
function duplicateStage(doc: ParsedDockerfile, rand: Rand): void {
  const index = Math.floor(rand() * doc.stages.length);
  const original = doc.stages[index]!;
  const name = `${stageName(original.blocks[0]!.lines[0]!) ?? 'stage'}-copy${doc.stages.length}`;
  const copy: Stage = { blocks: original.blocks.map((b) => ({ ...b, leading: [...b.leading], lines: [...b.lines] })) };
  const from = copy.blocks[0]!;
  const old = stageName(from.lines[0]!);
  from.lines[0] = old ? from.lines[0]!.replace(new RegExp(`(\\sAS\\s+)${escapeRe(old)}\\s*$`, 'i'), `$1${name}`) : `${from.lines[0]!.trimEnd()} AS ${name}`;
  if (from.leading.length === 0 || from.leading[0] !== '') from.leading.unshift('');
  // After the original (so names it uses exist), before the last stage (so the target stays).
  const at = Math.min(index + 1, doc.stages.length - 1);
  doc.stages.splice(at, 0, copy);
}

/** Renames a named stage and every reference to it. */
function renameStage(doc: ParsedDockerfile, rand: Rand): void {
  const named = doc.stages.map((s) => stageName(s.blocks[0]!.lines[0]!)).filter((n): n is string => n !== undefined);
  if (named.length === 0) return;
  const old = pick(rand, named);
  const to = `${pick(rand, ['stage', 'step', 'phase', 'layer'])}-${old}-${Math.floor(rand() * 1000)}`;
  for (const stage of doc.stages) for (const block of stage.blocks) if (!block.heredoc) renameStageInLines(block.lines, old, to);
}

// Instructions that only set image metadata: their order among themselves does not matter.
const metadata = new Set(['LABEL', 'EXPOSE', 'STOPSIGNAL', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT']);

/** Shuffles each run of consecutive metadata instructions within a stage. */
function reorderMetadata(doc: ParsedDockerfile, rand: Rand): void {
  for (const stage of doc.stages) {
    let start = 1;
    while (start < stage.blocks.length) {
      let end = start;
      while (end < stage.blocks.length && metadata.has(stage.blocks[end]!.keyword)) end++;
      if (end - start > 1) {
        const run = stage.blocks.slice(start, end);
        for (let i = run.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [run[i], run[j]] = [run[j]!, run[i]!];
        }
        stage.blocks.splice(start, run.length, ...run);
      }
      start = end + 1;
    }
  }
}

const shellSteps = [
  'mkdir -p /var/cache/app /var/log/app',
  'chmod 0755 /var/cache/app',
  'echo "build step done" > /dev/null',
  'test -d /tmp',
  'ln -sf /proc/self/fd/1 /var/log/app/stdout.log',
  'find /tmp -mindepth 1 -maxdepth 1 -exec rm -rf {} +',
  'command -v sh',
  'env | sort > /dev/null',
];
const powershellSteps = [
  "New-Item -ItemType Directory -Force -Path 'C:\\cache' | Out-Null",
  "Write-Host 'build step done'",
  "Get-ChildItem -Path 'C:\\' | Out-Null",
];

/** Appends a few continued commands to one shell-form RUN. */
function lengthenRun(doc: ParsedDockerfile, rand: Rand): void {
  const candidates: { block: Block; powershell: boolean }[] = [];
  for (const stage of doc.stages) {
    let powershell = false;
    for (const block of stage.blocks) {
      if (block.keyword === 'SHELL') powershell = /powershell|pwsh/i.test(block.lines.join(' '));
      if (block.keyword !== 'RUN' || block.heredoc) continue;
      const args = block.lines[0]!.trim().slice(3).replace(/^(\s+--\S+)+/, '').trim();
      if (!args.startsWith('[')) candidates.push({ block, powershell });
    }
  }
  if (candidates.length === 0) return;
  const { block, powershell } = pick(rand, candidates);
  const esc = doc.escape;
  const steps = powershell ? powershellSteps : shellSteps;
  const joiner = powershell ? ';' : '&&';
  const indent = block.lines.length > 1 ? (/^\s*/.exec(block.lines[1]!)![0] || '    ') : '    ';
  const count = 1 + Math.floor(rand() * 6);
  const last = block.lines.length - 1;
  block.lines[last] = `${block.lines[last]!.trimEnd()} ${esc}`;
  for (let k = 0; k < count; k++) {
    const more = k < count - 1 ? ` ${esc}` : '';
    block.lines.push(`${indent}${joiner} ${pick(rand, steps)}${more}`);
  }
}

const extraVars: [string, string][] = [
  ['BUILD_DATE', '2024-07-01T00:00:00Z'],
  ['VCS_REF', '0000000'],
  ['APP_ENV', 'production'],
  ['LOG_LEVEL', 'info'],
  ['HTTP_TIMEOUT_SECONDS', '30'],
  ['FEATURE_FLAGS', 'search,exports'],
  ['TZ', 'UTC'],
  ['RELEASE_CHANNEL', 'stable'],
];

/** Declares an ARG or ENV after a stage's FROM, sometimes with a LABEL that uses it. */
function extraArgEnv(doc: ParsedDockerfile, rand: Rand): void {
  const stage = pick(rand, doc.stages);
  const [name, value] = pick(rand, extraVars);
  const kind = rand() < 0.5 ? 'ARG' : 'ENV';
  const added: Block[] = [{ leading: [], lines: [`${kind} ${name}=${value}`], keyword: kind, heredoc: false }];
  if (rand() < 0.5) {
    const label = `org.example.${name.toLowerCase().replace(/_/g, '-')}`;
    added.push({ leading: [], lines: [`LABEL ${label}="\${${name}}"`], keyword: 'LABEL', heredoc: false });
  }
  stage.blocks.splice(1, 0, ...added);
}

const comments = [
  '# Keep this step before the COPY of the sources so its layer stays cached.',
  '# Reviewed during the quarterly base-image refresh.',
  '# See docs/docker.md for how this image is built and published.',
  '# NOTE: keep in sync with the CI pipeline definition.',
  '# Pinned for reproducible builds; the dependency bot updates it.',
];

/** Puts a comment line before a few instructions (never before the parser directives). */
function addComments(doc: ParsedDockerfile, rand: Rand): void {
  const blocks = [...doc.globals, ...doc.stages.flatMap((s) => s.blocks)];
  const count = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < count; k++) pick(rand, blocks).leading.push(pick(rand, comments));
}

