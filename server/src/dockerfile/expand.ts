// Docker's word processing and variable expansion, as BuildKit's Dockerfile shell lexer
// (frontend/dockerfile/shell) does it: quotes, the escape character, `$name`, `${name}` and the
// `${name<modifier>word}` forms. Shared by the language server and the builder so that what the
// editor shows and what the build does cannot drift apart.
//
// The lexer is reproduced rule for rule, quirks included, because a build must fail (or not) and
// produce the same bytes as `docker build` would:
// - an unquoted expansion result is split into words by processWords (BuildKit's ProcessWords);
// - a quoted empty string ("" or '') adds no word;
// - glob patterns in `#`, `%` and `/` know `*`, `?` and the escapes `\*`, `\?`, `\\` only
//   (BuildKit has no bracket expressions: `[` is literal);
// - `?` and `*` in those patterns do not match a newline (Go's regexp `.`);
// - `${name//pattern/replacement}` expands `$0` in the replacement to the match (Go's
//   Regexp.ReplaceAllString), while `${name/pattern/replacement}` inserts it as written.
//
// Which environment an instruction sees (one environment per instruction, ARG/ENV scoping) is the
// caller's job: `env` is only a function.

export type EscapeChar = '\\' | '`';

export interface ExpandOptions {
  /** The escape character of the Dockerfile (`# escape=` directive); a backslash by default. */
  escape?: EscapeChar;
  /** The value of a variable: undefined when unset, '' when set but empty. */
  env: (name: string) => string | undefined;
  /** Called for each lookup of an unset variable (BuildKit's "unmatched" names, used by lint). */
  onMissing?: (name: string) => void;
  /**
   * false: quotes are ordinary characters. BuildKit expands heredoc bodies this way
   * (SkipProcessQuotes), because their quotes belong to the script. Default true.
   */
  processQuotes?: boolean;
}

/** A word Docker refuses; the message is Docker's: `failed to process "<word>": <reason>`. */
export class ExpandError extends Error {
  constructor(
    readonly word: string,
    readonly reason: string,
  ) {
    super(`failed to process ${goQuote(word)}: ${reason}`);
    this.name = 'ExpandError';
  }
}

/** Processes one word: quotes removed, escapes processed, variables expanded. */
export function processWord(word: string, opts: ExpandOptions): string {
  return new Lexer(word, opts).run(null);
}

/**
 * Processes a text and splits it into words as BuildKit's ProcessWords does: whitespace outside
 * quotes separates words, and so does whitespace in the value of an unquoted expansion.
 *
 * Not how Docker reads the arguments of EXPOSE, VOLUME, or COPY/ADD in shell form: its parser
 * splits those on whitespace first, quotes or not, and passes each piece to processWord.
 */
export function processWords(text: string, opts: ExpandOptions): string[] {
  const words = new Words();
  new Lexer(text, opts).run(words);
  return words.finish();
}

// ---------------------------------------------------------------------------------------------
// The lexer

const EOF = -1;
const DOLLAR = 0x24; // $
const SQUOTE = 0x27; // '
const DQUOTE = 0x22; // "
const LBRACE = 0x7b; // {
const RBRACE = 0x7d; // }
const COLON = 0x3a; // :
const SLASH = 0x2f; // /
const HASH = 0x23; // #
const PERCENT = 0x25; // %
const PLUS = 0x2b; // +
const MINUS = 0x2d; // -
const QUESTION = 0x3f; // ?
const BACKSLASH = 0x5c; // \
const STAR = 0x2a; // *
const UNDERSCORE = 0x5f; // _

/** A reason the lexer stops; wrapped into an ExpandError (with the whole word) at the top. */
class Failure extends Error {}

/** Go renders rune -1 (end of input) as U+FFFD, and Docker's messages show it that way. */
function chr(c: number): string {
  return c === EOF ? '\uFFFD' : String.fromCodePoint(c);
}

class Lexer {
  private pos = 0;
  private readonly esc: number;
  private readonly quotes: boolean;
  /** Keep escape characters in the result: set while reading a pattern (`#`, `%`, `/`). */
  private rawEscapes = false;

  constructor(
    private readonly src: string,
    private readonly opts: ExpandOptions,
  ) {
    this.esc = (opts.escape ?? '\\').charCodeAt(0);
    this.quotes = opts.processQuotes ?? true;
  }

  run(words: Words | null): string {
    try {
      return this.processStopOn(EOF, false, words);
    } catch (err) {
      if (err instanceof Failure) throw new ExpandError(this.src, err.message);
      throw err;
    }
  }

  private peek(): number {
    return this.pos < this.src.length ? this.src.codePointAt(this.pos)! : EOF;
  }

  private next(): number {
    const c = this.peek();
    if (c !== EOF) this.pos += c > 0xffff ? 2 : 1;
    return c;
  }

  private lookup(name: string): string | undefined {
    const value = this.opts.env(name);
    if (value === undefined) this.opts.onMissing?.(name);
    return value;
  }

  /** Reads up to `stop` (consumed) or the end; `words` collects words at the top level only. */
  private processStopOn(stop: number, rawEscapes: boolean, words: Words | null = null): string {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      while (this.pos < this.src.length) {
        let ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return result;
        }
        if (ch === DOLLAR) {
          const value = this.processDollar();
          result += value;
          words?.addExpansion(value);
        } else if (this.quotes && (ch === SQUOTE || ch === DQUOTE)) {
          const value = ch === SQUOTE ? this.processSingleQuote() : this.processDoubleQuote();
          result += value;
          words?.addRaw(value);
        } else {
          ch = this.next();
          if (ch === this.esc) {
            if (this.rawEscapes) {
              words?.addRaw(chr(ch));
              result += chr(ch);
            }
            ch = this.next();
            if (ch === EOF) break; // a trailing escape character is dropped
            words?.addRaw(chr(ch));
          } else {
            words?.addChar(ch);
          }
          result += chr(ch);
        }
      }
      if (stop !== EOF) {
        throw new Failure(`unexpected end of statement while looking for matching ${chr(stop)}`);
      }
      return result;
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next single quote is literal; a single quote cannot be escaped.
    const start = this.pos + 1;
    const end = this.src.indexOf("'", start);
    if (end < 0) {
      this.pos = this.src.length;
      throw new Failure('unexpected end of statement while looking for matching single-quote');
    }
    this.pos = end + 1;
    return this.src.slice(start, end);
  }

  private processDoubleQuote(): string {
    // Literal except `$`, and the escape character before `"`, `$` or itself.
    this.next();
    let result = '';
    for (;;) {
      const c = this.peek();
      if (c === EOF) {
        throw new Failure('unexpected end of statement while looking for matching double-quote');
      }
      if (c === DQUOTE) {
        this.next();
        return result;
      }
      if (c === DOLLAR) {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.esc) {
        if (this.rawEscapes) result += chr(ch);
        const after = this.peek();
        if (after === EOF) continue; // reported as the missing double quote
        if (after === DQUOTE || after === DOLLAR || after === this.esc) ch = this.next();
        // Otherwise the escape character stays, as itself (twice in a raw pattern, like BuildKit).
      }
      result += chr(ch);
    }
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== LBRACE) {
      const name = this.processName();
      if (name === '') return '$'; // a `$` before no name is literal
      return this.lookup(name) ?? '';
    }
    this.next(); // {
    const first = this.peek();
    if (first === EOF) throw new Failure("syntax error: missing '}'");
    if (first === LBRACE || first === RBRACE || first === COLON) {
      throw new Failure('syntax error: bad substitution');
    }
    const name = this.processName();
    let ch = this.next();
    let modifier = chr(ch);
    if (ch === RBRACE) return this.lookup(name) ?? '';
    if (ch === SLASH) return this.processReplace(name);

    // `:` makes an empty value count as unset; BuildKit then reads the modifier that follows,
    // whatever it is, and only rejects it once its word is read.
    const nullIsUnset = ch === COLON;
    if (nullIsUnset) {
      ch = this.next();
      modifier += chr(ch);
    } else if (ch !== PLUS && ch !== MINUS && ch !== QUESTION && ch !== HASH && ch !== PERCENT) {
      throw new Failure(`unsupported modifier (${modifier}) in substitution`);
    }
    const isPattern = ch === HASH || ch === PERCENT;
    if (nullIsUnset && isPattern) {
      throw new Failure(`unsupported modifier (${modifier}) in substitution`);
    }
    let word = this.readUntil(RBRACE, isPattern, "syntax error: missing '}'");

    const value = this.lookup(name);
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case MINUS:
        return unset ? word : value!;
      case PLUS:
        return unset ? '' : word;
      case QUESTION:
        if (value === undefined) {
          throw new Failure(`${name}: ${word || 'is not allowed to be unset'}`);
        }
        if (nullIsUnset && value === '') {
          throw new Failure(`${name}: ${word || 'is not allowed to be empty'}`);
        }
        return value;
      case HASH:
      case PERCENT: {
        // `#`/`%` remove the shortest match, `##`/`%%` the longest. BuildKit looks at the word
        // after processing, so a doubled character may come from a variable or quotes too.
        const greedy = word.length > 0 && word.charCodeAt(0) === ch;
        if (greedy) word = word.slice(1);
        return ch === PERCENT
          ? trimSuffix(word, value ?? '', greedy)
          : trimPrefix(word, value ?? '', greedy);
      }
      default:
        throw new Failure(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`. */
  private processReplace(name: string): string {
    const all = this.peek() === SLASH;
    if (all) this.next();
    const pattern = this.readUntil(SLASH, true, "syntax error: missing '/' in ${}");
    const replacement = this.readUntil(RBRACE, true, "syntax error: missing '}'");
    const value = this.lookup(name) ?? '';
    const re = shellPatternToRegExp(pattern, true, false, pattern);
    if (all) return goReplaceAll(re, value, replacement);
    const m = re.exec(value);
    if (!m) return value;
    return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
  }

  /** A modifier's word; any failure that reached the end of input becomes `atEnd`. */
  private readUntil(stop: number, rawEscapes: boolean, atEnd: string): string {
    try {
      return this.processStopOn(stop, rawEscapes);
    } catch (err) {
      if (err instanceof Failure && this.peek() === EOF) throw new Failure(atEnd);
      throw err;
    }
  }

  /** A name: letters, digits and `_`; or a run of digits; or one special parameter. */
  private processName(): string {
    const c = this.peek();
    if (c === EOF) return '';
    if (isDigit(c)) {
      const start = this.pos;
      while (isDigit(this.peek())) this.next();
      return this.src.slice(start, this.pos);
    }
    if (isSpecialParam(c)) {
      this.next();
      return chr(c);
    }
    const start = this.pos;
    for (let d = this.peek(); d !== EOF && isNameChar(d); d = this.peek()) this.next();
    return this.src.slice(start, this.pos);
  }
}

/** BuildKit's word collection for ProcessWords. */
class Words {
  private readonly words: string[] = [];
  private buf = '';

  /** A character outside quotes: whitespace ends the current word. */
  addChar(c: number): void {
    if (isSpace(c)) {
      if (this.buf !== '') {
        this.words.push(this.buf);
        this.buf = '';
      }
    } else {
      this.buf += chr(c);
    }
  }

  /** Quoted or escaped text: never splits. */
  addRaw(s: string): void {
    this.buf += s;
  }

  /** An expansion's value is split on its whitespace, character by character. */
  addExpansion(s: string): void {
    for (const ch of s) this.addChar(ch.codePointAt(0)!);
  }

  finish(): string[] {
    if (this.buf !== '') this.words.push(this.buf);
    this.buf = '';
    return this.words;
  }
}

// ---------------------------------------------------------------------------------------------
// Patterns of `#`, `%` and `/`

/**
 * BuildKit's glob: `*` any run of characters, `?` one character, `\*`, `\?`, `\\` literal, `\}` and
 * `\/` stand for `}` and `/`; every other character is literal, `[` included. Like Go's `.`, the
 * wildcards do not match a newline. Always a backslash: BuildKit's pattern reader knows no other
 * escape, whatever the Dockerfile's escape character.
 */
function shellPatternToRegExp(
  pattern: string,
  greedy: boolean,
  anchored: boolean,
  shown: string,
): RegExp {
  const cps = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < cps.length; i++) {
    const tok = cps[i]!;
    if (tok === '*') {
      out += greedy ? '[^\\n]*' : '[^\\n]*?';
    } else if (tok === '?') {
      out += '[^\\n]';
    } else if (tok === '\\') {
      const nextTok = cps[i + 1];
      if (nextTok === '}' || nextTok === '/') continue; // the escape only served the ${} syntax
      i++;
      if (nextTok !== '*' && nextTok !== '?' && nextTok !== '\\') {
        throw new Failure(
          `invalid pattern (${shown}) in substitution: invalid escape '\\${nextTok ?? '\uFFFD'}'`,
        );
      }
      out += '\\' + nextTok;
    } else {
      out += regExpLiteral(tok);
    }
  }
  return new RegExp(out, 'gu');
}

function regExpLiteral(ch: string): string {
  return '^$\\.*+?()[]{}|/'.includes(ch) ? '\\' + ch : ch;
}

function trimPrefix(pattern: string, value: string, greedy: boolean, shown = pattern): string {
  const re = shellPatternToRegExp(pattern, greedy, true, shown);
  const m = re.exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** The shortest (or longest) suffix, found as a prefix of the reversed value and pattern. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reversed = reversePattern(pattern);
  // BuildKit reports an invalid pattern in its reversed form; so do we.
  return reverseString(trimPrefix(reversed, reverseString(value), greedy, reversed));
}

/** Reverses by character, keeping each `\x` pair in order: `a\*c` becomes `c\*a`. */
function reversePattern(pattern: string): string {
  const cps = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < cps.length; ) {
    if (cps[i] === '\\' && i !== cps.length - 1) {
      out.push(cps[i + 1]!, '\\');
      i += 2;
    } else {
      out.push(cps[i]!);
      i++;
    }
  }
  return out.reverse().join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

/** Go's Regexp.ReplaceAllString: an empty match right after a match is not replaced. */
function goReplaceAll(re: RegExp, src: string, template: string): string {
  let out = '';
  let lastEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastEnd, start);
    if (end > lastEnd || start === 0) out += goExpand(template, m[0]);
    lastEnd = end;
    const width = searchPos < src.length ? (src.codePointAt(searchPos)! > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastEnd);
}

/**
 * Go's Regexp.Expand for a pattern without groups: `$$` is `$`, `$0` and `${0}` the match, any
 * other `$name`/`${name}` empty, and a `$` that starts no name stays.
 */
function goExpand(template: string, match: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const j = template.indexOf('$', i);
    if (j < 0) break;
    out += template.slice(i, j);
    i = j + 1;
    if (template.charCodeAt(i) === DOLLAR) {
      out += '$';
      i++;
      continue;
    }
    const braced = template.charCodeAt(i) === LBRACE;
    let k = braced ? i + 1 : i;
    const nameStart = k;
    while (k < template.length) {
      const c = template.codePointAt(k)!;
      if (!isNameChar(c)) break;
      k += c > 0xffff ? 2 : 1;
    }
    const name = template.slice(nameStart, k);
    if (name === '' || (braced && template.charCodeAt(k) !== RBRACE)) {
      out += '$';
      continue;
    }
    i = braced ? k + 1 : k;
    if (name === '0') out += match;
  }
  return out + template.slice(i);
}

// ---------------------------------------------------------------------------------------------
// Finding references (for the language server)

export interface VariableRef {
  /** As Docker looks it up: `FOO`, or a positional/special parameter such as `1` or `@`. */
  name: string;
  /** Offset of the `$`. */
  start: number;
  /** Offset after the reference: after `}` for the braced form. */
  end: number;
  nameStart: number;
  nameEnd: number;
  braced: boolean;
  /**
   * The modifier as written: `:-`, `-`, `:+`, `+`, `:?`, `?`, `#`, `##`, `%`, `%%`, `/`, `//`;
   * anything else is one Docker rejects (`=`, `:x`).
   */
  modifier?: string;
  /** The modifier's word, between the modifier and `}` (for `/`: pattern, `/` and replacement). */
  word?: { start: number; end: number };
  /** A `${` whose `}` never comes; `end` is then the end of the text. */
  unterminated?: boolean;
}

/**
 * Lists the variable references in a text, in order of their `$`, with references nested in a
 * modifier's word listed after the one containing them. Single quotes and the escape character
 * hide references as they do from Docker. `singleQuotesLiteral: false` treats quotes as ordinary
 * characters, as BuildKit does for heredoc bodies. One pass over the text, no regular expressions.
 */
export function findVariableRefs(
  text: string,
  escape: EscapeChar,
  opts: { singleQuotesLiteral?: boolean } = {},
): VariableRef[] {
  const esc = escape.charCodeAt(0);
  const quotes = opts.singleQuotesLiteral ?? true;
  const n = text.length;
  const refs: VariableRef[] = [];
  let i = 0;

  const readName = (): void => {
    if (i >= n) return;
    const c = text.codePointAt(i)!;
    if (isDigit(c)) {
      for (let d = c; i < n && isDigit(d); d = text.codePointAt(i) ?? EOF) i += d > 0xffff ? 2 : 1;
    } else if (isSpecialParam(c)) {
      i++;
    } else {
      while (i < n) {
        const d = text.codePointAt(i)!;
        if (!isNameChar(d)) break;
        i += d > 0xffff ? 2 : 1;
      }
    }
  };

  // Scans up to `stop` (consumed); returns whether it was found.
  const scan = (stop: number): boolean => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === stop) {
        i++;
        return true;
      }
      if (c === DOLLAR) {
        dollar();
      } else if (quotes && c === SQUOTE) {
        const close = text.indexOf("'", i + 1);
        i = close < 0 ? n : close + 1;
      } else if (quotes && c === DQUOTE) {
        doubleQuoted();
      } else {
        i += c === esc ? 2 : 1;
      }
    }
    i = n;
    return false;
  };

  const doubleQuoted = (): void => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === DQUOTE) {
        i++;
        return;
      }
      if (c === DOLLAR) {
        dollar();
        continue;
      }
      i++;
      if (c === esc && i < n) {
        const d = text.charCodeAt(i);
        if (d === DQUOTE || d === DOLLAR || d === esc) i++;
      }
    }
  };

  const dollar = (): void => {
    const start = i++;
    if (i >= n || text.charCodeAt(i) !== LBRACE) {
      const nameStart = i;
      readName();
      if (i > nameStart) {
        refs.push({
          name: text.slice(nameStart, i),
          start,
          end: i,
          nameStart,
          nameEnd: i,
          braced: false,
        });
      }
      return;
    }
    i++; // {
    if (i >= n) return;
    const first = text.charCodeAt(i);
    if (first === LBRACE || first === RBRACE || first === COLON) return; // bad substitution
    const nameStart = i;
    readName();
    const ref: VariableRef = {
      name: text.slice(nameStart, i),
      start,
      end: n,
      nameStart,
      nameEnd: i,
      braced: true,
    };
    refs.push(ref);
    if (i >= n) {
      ref.unterminated = true;
      return;
    }
    const c = text.codePointAt(i)!;
    i += c > 0xffff ? 2 : 1;
    if (c === RBRACE) {
      ref.end = i;
      return;
    }
    let modifier = chr(c);
    if (c === COLON && i < n) {
      const d = text.codePointAt(i)!;
      modifier += chr(d);
      i += d > 0xffff ? 2 : 1;
    } else if ((c === HASH || c === PERCENT || c === SLASH) && text.charCodeAt(i) === c) {
      modifier += chr(c);
      i++;
    }
    const wordStart = i;
    const found = c === SLASH ? scan(SLASH) && scan(RBRACE) : scan(RBRACE);
    ref.modifier = modifier;
    ref.word = { start: wordStart, end: found ? i - 1 : n };
    if (found) ref.end = i;
    else ref.unterminated = true;
  };

  scan(EOF);
  return refs;
}

// ---------------------------------------------------------------------------------------------
// Characters, as Go's unicode package classifies them

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;
const WHITE_SPACE = /\p{White_Space}/u;

function isDigit(c: number): boolean {
  if (c < 0x80) return c >= 0x30 && c <= 0x39;
  return c !== EOF && DIGIT.test(String.fromCodePoint(c));
}

function isNameChar(c: number): boolean {
  if (c < 0x80) {
    return (
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === UNDERSCORE
    );
  }
  const s = String.fromCodePoint(c);
  return LETTER.test(s) || DIGIT.test(s);
}

/** POSIX special parameters, which Docker reads as one-character names. */
function isSpecialParam(c: number): boolean {
  return (
    c === 0x40 || c === STAR || c === HASH || c === QUESTION || c === MINUS || c === DOLLAR ||
    c === 0x21 || c === 0x30
  );
}

/** Go's unicode.IsSpace. */
function isSpace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return WHITE_SPACE.test(String.fromCodePoint(c));
}

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;

/** Go's %q (strconv.Quote), which Docker uses to show the word in its messages. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === DQUOTE || c === BACKSLASH) out += '\\' + ch;
    else if (c === 0x20 || (c >= 0x21 && c < 0x7f)) out += ch;
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0b) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // a lone surrogate: not UTF-8
    else if (PRINTABLE.test(ch)) out += ch;
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}
