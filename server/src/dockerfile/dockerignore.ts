// Docker's .dockerignore: reading the file as moby/patternmatcher's ignorefile.ReadAll does, and
// matching paths as BuildKit's context transfer does (tonistiigi/fsutil walking the context with
// moby/patternmatcher), so that the editor and our builder leave out exactly what `docker build`
// leaves out.
//
// Usage:
//   const ignore = DockerIgnore.parse(text);      // throws DockerIgnoreError where Docker would
//   ignore.matches('src/app.ts');                 // true: left out of the build context
//   ignore.mayIncludeBelow('node_modules');       // false: a walker can skip the directory
//   // Walkers can pass each directory's state down instead of re-judging its ancestors:
//   const dir = ignore.check('src');  const file = ignore.check('src/app.ts', dir);
//
// The rules, from the Dockerfile reference and patternmatcher:
// - a line starting with `#` (in column 1) is a comment; whitespace around a pattern is trimmed;
//   empty lines are ignored; patterns are cleaned like Go's filepath.Clean and a leading `/` is
//   dropped (the context root is both the working and the root directory);
// - `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a class
//   (`[^...]` negated, `\` escapes), `\x` the character x; `**` any number of directories,
//   zero included;
// - a pattern matching a directory excludes everything below it;
// - `!pattern` is an exception that re-includes; the last pattern that matches decides.
//
// Details that follow patternmatcher rather than intuition:
// - a pattern without wildcards matches exactly that path (and, through it, what is below);
// - a pattern ending in `**` (`dir/**`, `a**`) is a plain prefix test: `a**` matches `abc`;
// - a pattern starting with `**` and otherwise literal is a suffix test: `**foo` matches `barfoo`;
// - outside a class, `^` in a pattern that has wildcards anchors like in a regular expression;
// - as in BuildKit's walk, a pattern is tried on a path only while it could change the verdict,
//   and a directory's matches carry over to what is below it. With ["d/f", "!d"] the file `d/f`
//   stays excluded: `!d` was not tried on `d` (nothing had excluded it yet).
// Known differences, for patterns nobody writes: `*` and `?` inside `[...]` are literal here,
// and `\d`, `\w` and the like are the letters d and w (patternmatcher hands them to Go's regexp).
//
// Not handled here: the classic builder always sends the Dockerfile and .dockerignore, whatever
// the patterns say; BuildKit sends the Dockerfile separately. That is the caller's business.

/** One pattern of the file, cleaned as Docker cleans it. */
export interface IgnorePattern {
  /** The cleaned pattern, without the `!` of an exception. */
  readonly pattern: string;
  /** `!pattern`: re-includes what earlier patterns excluded. */
  readonly exception: boolean;
  /** The 1-based line in the .dockerignore file; 0 for patterns given as a list. */
  readonly line: number;
}

/** A pattern Docker refuses: the build fails with this message. */
export class DockerIgnoreError extends Error {
  constructor(
    message: string,
    readonly pattern: string,
    readonly line: number,
  ) {
    super(line > 0 ? `.dockerignore line ${line}: ${message}` : message);
    this.name = 'DockerIgnoreError';
  }
}

/**
 * What a walker passes from a directory to its entries (BuildKit's MatchInfo): whether the path
 * is excluded, and which patterns matched it.
 */
export interface IgnoreState {
  readonly excluded: boolean;
  readonly hits: Uint8Array;
}

/**
 * Reads a .dockerignore file as Docker does (ignorefile.ReadAll): the patterns in order, each as
 * Docker passes it on (an exception keeps its `!`), with its line number.
 */
export function readDockerIgnore(text: string): { pattern: string; line: number }[] {
  const out: { pattern: string; line: number }[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the newline ending the last line
  lines.forEach((raw, index) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) return;
    let pattern = trimSpace(line);
    if (pattern === '') return;
    const exception = pattern.startsWith('!');
    if (exception) pattern = trimSpace(pattern.slice(1));
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: exception ? '!' + pattern : pattern, line: index + 1 });
  });
  return out;
}

export class DockerIgnore {
  readonly patterns: readonly IgnorePattern[];
  /** Whether any pattern is an exception (`!`). */
  readonly hasExceptions: boolean;
  private readonly compiled: readonly Compiled[];
  /** BuildKit skips an excluded directory only when every exception is a plain path. */
  private readonly onlyPlainExceptions: boolean;
  /** Each exception without a trailing `/*` or `/**`, plus `/`. */
  private readonly exceptionPrefixes: readonly string[];
  /** Judged directories, so that a large context judges each directory once. */
  private readonly dirs = new Map<string, DirState>();

  private constructor(list: readonly { pattern: string; line: number }[]) {
    const patterns: IgnorePattern[] = [];
    const compiled: Compiled[] = [];
    for (const { pattern: raw, line } of list) {
      // patternmatcher.New: trims and cleans again, then takes the `!`.
      let p = trimSpace(raw);
      if (p === '') continue;
      p = cleanPath(p);
      const exception = p.startsWith('!');
      if (exception) {
        if (p.length === 1) {
          throw new DockerIgnoreError('illegal exclusion pattern: "!"', raw, line);
        }
        p = p.slice(1);
      }
      if (!isValidGlob(p)) throw new DockerIgnoreError('syntax error in pattern', raw, line);
      patterns.push({ pattern: p, exception, line });
      compiled.push(compile(p, exception, raw, line));
    }
    this.patterns = patterns;
    this.compiled = compiled;
    this.hasExceptions = patterns.some((p) => p.exception);
    const exceptions = patterns
      .filter((p) => p.exception)
      .map((p) => withoutTrailingGlob(p.pattern));
    this.onlyPlainExceptions = !exceptions.some((p) => /[*[\]?^\\]/.test(p));
    this.exceptionPrefixes = exceptions.map((p) => p + '/');
  }

  /** Parses the text of a .dockerignore file; throws DockerIgnoreError where Docker would fail. */
  static parse(text: string): DockerIgnore {
    return new DockerIgnore(readDockerIgnore(text));
  }

  /**
   * From a list of patterns as patternmatcher takes them (`!` for exceptions), such as the
   * output of readDockerIgnore or COPY --exclude. They are trimmed and cleaned, but a leading `/`
   * is kept (only the file reader drops it), so `/foo` matches nothing.
   */
  static fromPatterns(patterns: readonly string[]): DockerIgnore {
    return new DockerIgnore(patterns.map((pattern) => ({ pattern, line: 0 })));
  }

  /**
   * Whether a path (relative to the context root, `/`-separated) is left out of the context.
   * The root itself and paths outside the context are never excluded.
   */
  matches(relPath: string): boolean {
    const path = normalize(relPath);
    if (path === undefined) return false;
    const slash = path.lastIndexOf('/');
    if (slash < 0) return this.check(path).excluded;
    const parent = this.dir(path.slice(0, slash));
    return !parent.walked || this.check(path, parent.state).excluded;
  }

  /**
   * Whether anything below a directory can be in the context. False where BuildKit does not walk
   * into it: it is excluded (or lies in such a directory) and no exception could re-include
   * anything inside.
   */
  mayIncludeBelow(relDir: string): boolean {
    const path = normalize(relDir);
    return path === undefined || this.dir(path).walked;
  }

  /**
   * Judges one path given its parent directory's state (undefined for an entry of the root), as
   * BuildKit's walk does (patternmatcher's MatchesUsingParentResults). Without a parent state a
   * nested path is judged together with its ancestors' paths, as patternmatcher does then.
   */
  check(relPath: string, parent?: IgnoreState): IgnoreState {
    const hits = new Uint8Array(this.compiled.length);
    const path = normalize(relPath);
    if (path === undefined) return { excluded: false, hits };
    let excluded = false;
    this.compiled.forEach((p, i) => {
      let hit = parent !== undefined && parent.hits[i] === 1;
      if (!hit) {
        // A pattern that cannot change the verdict is not tried (and not recorded).
        if (p.exception !== excluded) return;
        hit = p.test(path);
        if (!hit && parent === undefined) hit = ancestors(path).some((a) => p.test(a));
      }
      hits[i] = hit ? 1 : 0;
      if (hit) excluded = !p.exception;
    });
    return { excluded, hits };
  }

  /** A directory's state, judged down from the root, and whether BuildKit walks its contents. */
  private dir(path: string): DirState {
    const known = this.dirs.get(path);
    if (known) return known;
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? undefined : this.dir(path.slice(0, slash));
    const state = this.check(path, parent?.state);
    const visited = parent === undefined || parent.walked;
    const result = { state, walked: visited && !(state.excluded && !this.walksInto(path)) };
    this.dirs.set(path, result);
    return result;
  }

  /**
   * Whether BuildKit walks into an excluded directory (fsutil's filter): always when some
   * exception has wildcards; otherwise only when an exception names a path inside it. For
   * BuildKit this only saves work: what it skips, the patterns would exclude anyway.
   */
  private walksInto(dir: string): boolean {
    if (!this.hasExceptions) return false;
    if (!this.onlyPlainExceptions) return true;
    const dirSlash = dir + '/';
    return this.exceptionPrefixes.some((p) => p.startsWith(dirSlash));
  }
}

interface DirState {
  readonly state: IgnoreState;
  /** BuildKit walks into the directory: it is visited and not skipped. */
  readonly walked: boolean;
}

// ---------------------------------------------------------------------------------------------
// Compiling a pattern (patternmatcher's Pattern.compile)

interface Compiled {
  readonly exception: boolean;
  readonly test: (path: string) => boolean;
}

/**
 * patternmatcher sorts patterns into four kinds and only uses a regular expression for the last:
 * exact (no wildcard), prefix (literal then a final `**`), suffix (a leading `**` then literal),
 * and regexp. The kind decides matching, so it is reproduced as is.
 */
function compile(pattern: string, exception: boolean, raw: string, line: number): Compiled {
  type Kind = 'exact' | 'prefix' | 'suffix' | 'regexp';
  let kind: Kind = 'exact';
  let re = '^';
  const cps = Array.from(pattern);
  for (let i = 0, token = 0; i < cps.length; token++) {
    const ch = cps[i++]!;
    if (ch === '*') {
      if (cps[i] === '*') {
        i++;
        if (cps[i] === '/') i++; // `**/` is `**`
        if (i >= cps.length) {
          // A final `**` accepts everything, as in .gitignore.
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '[^\\n]*';
            kind = 'regexp';
          }
        } else {
          re += '(?:[^\\n]*/)?'; // any number of directories, zero included
          kind = 'regexp';
        }
        if (token === 0) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      re += literal(cps[i++]!); // validated: never the last character
      kind = 'regexp';
    } else if (ch === '[') {
      const cls = readClass(cps, i);
      if (cls === undefined) {
        // Go's regexp refuses a reversed range such as [z-a], and the build fails.
        throw new DockerIgnoreError('syntax error in pattern', raw, line);
      }
      re += cls.source;
      i = cls.end;
      kind = 'regexp';
    } else if (ch === ']') {
      re += '\\]';
      kind = 'regexp';
    } else if (ch === '^') {
      re += '^'; // left unescaped by patternmatcher: an anchor in its regular expression
    } else {
      re += literal(ch);
    }
  }

  switch (kind) {
    case 'exact':
      return { exception, test: (path) => path === pattern };
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return { exception, test: (path) => path.startsWith(prefix) };
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      const bare = suffix.startsWith('/') ? suffix.slice(1) : undefined; // `**/foo` matches `foo`
      return { exception, test: (path) => path.endsWith(suffix) || path === bare };
    }
    case 'regexp': {
      // Go's `.` does not match a newline; `[^/]` does. The `u` flag makes `?` one character.
      const regexp = new RegExp(re + '$', 'u');
      return { exception, test: (path) => regexp.test(path) };
    }
  }
}

function literal(ch: string): string {
  return '^$\\.*+?()[]{}|/'.includes(ch) ? '\\' + ch : ch;
}

/** A bracket expression from after its `[`, as a JS class; undefined for a reversed range. */
function readClass(cps: string[], start: number): { source: string; end: number } | undefined {
  let i = start;
  let source = '[';
  if (cps[i] === '^') {
    source += '^';
    i++;
  }
  const item = (): string => {
    if (cps[i] === '\\') i++;
    return cps[i++]!;
  };
  const esc = (ch: string): string => ('\\]^-['.includes(ch) ? '\\' + ch : ch);
  for (let n = 0; !(cps[i] === ']' && n > 0); n++) {
    const lo = item();
    if (cps[i] === '-') {
      i++;
      const hi = item();
      if (lo.codePointAt(0)! > hi.codePointAt(0)!) return undefined;
      source += esc(lo) + '-' + esc(hi);
    } else {
      source += esc(lo);
    }
  }
  return { source: source + ']', end: i + 1 };
}

/**
 * Go's filepath.Match syntax check, which patternmatcher runs on every pattern: a `\` must escape
 * something; a class must be closed, not empty, and its ranges complete (`-` and `]` cannot start
 * an item unless escaped).
 */
function isValidGlob(p: string): boolean {
  const cps = Array.from(p);
  let i = 0;
  // One class item: an optionally escaped character, which must not end the pattern.
  const item = (): boolean => {
    const c = cps[i];
    if (c === undefined || c === '-' || c === ']') return false;
    if (c === '\\') {
      i++;
      if (i >= cps.length) return false;
    }
    i++;
    return i < cps.length;
  };
  while (i < cps.length) {
    const c = cps[i++];
    if (c === '\\') {
      if (i >= cps.length) return false;
      i++;
    } else if (c === '[') {
      if (cps[i] === '^') i++;
      for (let n = 0; !(cps[i] === ']' && n > 0); n++) {
        if (!item()) return false;
        if (cps[i] === '-') {
          i++;
          if (!item()) return false;
        }
      }
      i++; // ]
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Paths

/** Go's filepath.Clean for `/`-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..'); // `..` above the root is the root
    } else {
      out.push(seg);
    }
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** An empty, `.` or `..` segment, or a leading or trailing slash. */
const NEEDS_CLEANING = /(?:^|\/)\.{0,2}(?:\/|$)|^\//;

/** A path relative to the context root, cleaned; undefined for the root or outside it. */
function normalize(relPath: string): string | undefined {
  if (relPath !== '' && !NEEDS_CLEANING.test(relPath)) return relPath; // the common case
  let start = 0;
  while (relPath.charCodeAt(start) === 0x2f) start++;
  const path = cleanPath(relPath.slice(start));
  if (path === '.' || path === '..' || path.startsWith('../')) return undefined;
  return path;
}

/** `a/b/c` → `a`, `a/b`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** fsutil's patternWithoutTrailingGlob. */
function withoutTrailingGlob(p: string): string {
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

/** Go's strings.TrimSpace (Unicode White_Space; unlike String.trim, not U+FEFF). */
function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

const WHITE_SPACE = /\p{White_Space}/u;

function isSpace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return WHITE_SPACE.test(String.fromCharCode(c));
}
