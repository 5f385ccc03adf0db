// Docker's word processing and variable expansion (server/src/dockerfile/expand.ts), checked
// against the rules of the Dockerfile reference ("Environment replacement") and the behaviour of
// BuildKit's shell lexer. Expected values are worked out from those rules.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExpandError,
  findVariableRefs,
  processWord,
  processWords,
  type EscapeChar,
  type ExpandOptions,
  type VariableRef,
} from '../../server/src/dockerfile/expand';

const ENV: Record<string, string> = {
  FOO: '/bar',
  PWD: '/home',
  NULL: '',
  str: 'foobarbaz',
  string: 'foobarbaz',
  space: 'abc  def',
  leading: '  ab c',
  KOREAN: '한국어',
  STAR: '*x',
  FILE: 'archive.tar.gz',
  PATHS: '/usr/local/bin:/usr/bin',
  LINES: 'a\nb',
  TARGETVARIANT: 'v7',
  NOVARIANT: '',
  NEEDLE: '\\*/',
  GLOBBY: '/foo*/*/*.txt',
  URL: 'http://example.com',
  TMPL: '<$0>',
};

function opts(extra: Partial<ExpandOptions> = {}): ExpandOptions {
  return { env: (name) => (Object.hasOwn(ENV, name) ? ENV[name] : undefined), ...extra };
}

/** [word, expected] */
type Case = readonly [string, string];

function table(name: string, cases: readonly Case[], extra: Partial<ExpandOptions> = {}): void {
  describe(name, () => {
    for (const [word, expected] of cases) {
      test(JSON.stringify(word), () => assert.equal(processWord(word, opts(extra)), expected));
    }
  });
}

table('the Dockerfile reference examples', [
  // ENV FOO=/bar; WORKDIR ${FOO}; ADD . $FOO; COPY \$FOO /quux
  ['${FOO}', '/bar'],
  ['$FOO', '/bar'],
  ['\\$FOO', '$FOO'],
  ['\\${FOO}', '${FOO}'],
  ['${FOO}_bar', '/bar_bar'],
  ['$FOO_bar', ''], // the name runs on: FOO_bar is unset
  // str=foobarbaz
  ['${str#f*b}', 'arbaz'],
  ['${str##f*b}', 'az'],
  ['${string%b*}', 'foobar'],
  ['${string%%b*}', 'foo'],
  ['${string/ba/fo}', 'fooforbaz'],
  ['${string//ba/fo}', 'fooforfoz'],
]);

table('modifiers on set, empty and unset variables', [
  ['${FOO:-word}', '/bar'],
  ['${NULL:-word}', 'word'],
  ['${UNSET:-word}', 'word'],
  ['${FOO-word}', '/bar'],
  ['${NULL-word}', ''],
  ['${UNSET-word}', 'word'],
  ['${FOO:+word}', 'word'],
  ['${NULL:+word}', ''],
  ['${UNSET:+word}', ''],
  ['${FOO+word}', 'word'],
  ['${NULL+word}', 'word'],
  ['${UNSET+word}', ''],
  ['${FOO:?message}', '/bar'],
  ['${FOO?message}', '/bar'],
  ['${NULL?message}', ''],
  ['${UNSET:-}', ''],
  ['${FOO:-}', '/bar'],
  ['x${UNSET}y', 'xy'],
  ['x$UNSET', 'x'],
  // the release-file idiom from BuildKit's own documentation
  ['app-${TARGETVARIANT:+-${TARGETVARIANT}}.tgz', 'app--v7.tgz'],
  ['app${NOVARIANT:+-${NOVARIANT}}.tgz', 'app.tgz'],
]);

table('the word of a modifier is processed too', [
  ['${UNSET:-$FOO}', '/bar'],
  ['${UNSET:-${PWD:-yyy}}', '/home'],
  ['${UNSET:-${ALSO_UNSET:-yyy}}', 'yyy'],
  ['${UNSET:-"a  b"}', 'a  b'],
  ["${UNSET:-'$FOO'}", '$FOO'],
  ['${UNSET:-"}"}', '}'],
  ['${UNSET:-\\}}', '}'],
  ['${FOO:+[$PWD]}', '[/home]'],
  ['${str#$UNSET}', 'foobarbaz'],
]);

table('patterns of #, ##, % and %%', [
  ['${FILE#*.}', 'tar.gz'],
  ['${FILE##*.}', 'gz'],
  ['${FILE%.*}', 'archive.tar'],
  ['${FILE%%.*}', 'archive'],
  ['${PATHS#*:}', '/usr/bin'],
  ['${PATHS%:*}', '/usr/local/bin'],
  ['${str#foo}', 'barbaz'],
  ['${str#bar}', 'foobarbaz'], // anchored at the start
  ['${str%baz}', 'foobar'],
  ['${str#?}', 'oobarbaz'],
  ['${str%??}', 'foobarb'],
  ['${str#*}', 'foobarbaz'], // the shortest match of * is empty
  ['${str##*}', ''],
  ['${str#}', 'foobarbaz'],
  ['${str%%}', 'foobarbaz'],
  ['${str#*o*a}', 'rbaz'],
  ['${KOREAN#?}', '국어'], // ? is one character, not one UTF-16 unit
  ['${KOREAN%?}', '한국'],
  ['${STAR#\\*}', 'x'], // \* is a literal star
  ['${STAR#"*"}', '*x'], // quotes are removed first: this * is a wildcard, shortest match empty
  ['${str#[f]}', 'foobarbaz'], // no bracket expressions: [ is literal
  ['${UNSET#*}', ''],
  ['${str#${UNSET:-f}}', 'oobarbaz'],
  ['${str#"#"}', 'foobarbaz'],
  // the doubled character is looked for after processing, so it may come from quotes
  ['${str#"#f"*b}', 'az'],
  // like Go's regexp `.`, the wildcards do not match a newline
  ['${LINES#*}', 'a\nb'],
  ['${LINES##*}', '\nb'],
  ['${LINES%%?*}', 'a\n'],
]);

table('replacement with / and //', [
  ['${str/a/_}', 'foob_rbaz'],
  ['${str//a/_}', 'foob_rb_z'],
  ['${str/b*/X}', 'fooX'], // * is greedy here
  ['${str/nothing/X}', 'foobarbaz'],
  ['${str/ba/}', 'foorbaz'],
  ['${FOO//\\//-}', '-bar'], // \/ is a slash in the pattern
  ['${URL/http:\\/\\//https:\\/\\/}', 'https:\\/\\/example.com'], // and stays escaped in the replacement
  ['${GLOBBY/$NEEDLE/.}', '/foo.*/*.txt'],
  ['${GLOBBY//$NEEDLE/.}', '/foo..*.txt'],
  ['${str//*/X}', 'X'], // Go does not replace the empty match right after a match
  ['${str///-}', '-f-o-o-b-a-r-b-a-z-'], // an empty pattern matches between every character
  ['${UNSET/x/y}', ''],
  // Go's ReplaceAllString reads $0 in the replacement as the match; a single replacement does not
  ['${str//ba/$TMPL}', 'foo<ba>r<ba>z'],
  ['${str/ba/$TMPL}', 'foo<$0>rbaz'],
]);

table('quotes and the default escape character', [
  ["'$FOO'", '$FOO'],
  ['"$FOO"', '/bar'],
  ['"${FOO}x"', '/barx'],
  ["he'll'o", 'hello'],
  ["he\\'llo", "he'llo"],
  ["\"hel'lo\"", "hel'lo"],
  ["'hello\\'", 'hello\\'], // no escapes inside single quotes
  ['"\\$FOO"', '$FOO'],
  ['"\\"quoted\\""', '"quoted"'],
  ['"a\\\\b"', 'a\\b'],
  ['"a\\b"', 'a\\b'], // other characters: the backslash stays
  ['"\\\\$FOO"', '\\/bar'],
  ['abc\\tdef', 'abctdef'], // outside quotes the escape character escapes anything
  ['hello\\ there', 'hello there'],
  ['hello\\', 'hello'], // a trailing escape character is dropped
  ['hello\\\\', 'hello\\'],
  ['\\\\$FOO', '\\/bar'],
  ["\"''\"", "''"],
  ['""', ''],
  ['a"  "b', 'a  b'],
  ['$KOREAN', '한국어'],
]);

table('positional and special parameters, and a lone $', [
  ['he$1x', 'hex'],
  ['$12x', 'x'],
  ['${1}', ''],
  ['$@', ''],
  ['$*', ''],
  ['$#', ''],
  ['$?', ''],
  ['$$', ''],
  ['$!', ''],
  ['$-', ''],
  ['$0', ''],
  ['a$', 'a$'],
  ['$', '$'],
  ['$.', '$.'],
  ['he$.x', 'he$.x'],
  ['$/x', '$/x'],
  ['"$"', '$'],
  ['$ x', '$ x'],
]);

table(
  'the backtick escape character (Windows paths)',
  [
    ['C:\\Users\\$FOO', 'C:\\Users\\/bar'], // the backslash is an ordinary character
    ['`$FOO', '$FOO'],
    ['`${FOO}', '${FOO}'],
    ['"a`"b"', 'a"b'],
    ['"C:\\path"', 'C:\\path'],
    ['"``"', '`'],
    ['"`$FOO"', '$FOO'],
    ['a` b', 'a b'],
    ['abc`', 'abc'],
    ['${STAR#\\*}', 'x'], // patterns always take \* (BuildKit's pattern reader)
    ['${FOO#\\/}', 'bar'],
  ],
  { escape: '`' },
);

table(
  'quotes left alone (heredoc bodies)',
  [
    ["'$FOO' \"$PWD\"", "'/bar' \"/home\""],
    ['"\\$FOO"', '"$FOO"'],
    ["${UNSET:-'a'}", "'a'"],
  ],
  { processQuotes: false },
);

describe('errors, with Docker messages', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['${}', 'failed to process "${}": syntax error: bad substitution'],
    ['${:a}', 'failed to process "${:a}": syntax error: bad substitution'],
    ['${{a}}', 'failed to process "${{a}}": syntax error: bad substitution'],
    ['he${', 'failed to process "he${": syntax error: missing \'}\''],
    ['${FOO:-x', 'failed to process "${FOO:-x": syntax error: missing \'}\''],
    ['${FOO#x', 'failed to process "${FOO#x": syntax error: missing \'}\''],
    ['${FOO/x/y', 'failed to process "${FOO/x/y": syntax error: missing \'}\''],
    ['${FOO/x}', 'failed to process "${FOO/x}": syntax error: missing \'/\' in ${}'],
    ['${FOO//}', 'failed to process "${FOO//}": syntax error: missing \'/\' in ${}'],
    // BuildKit reads the character after the name as the modifier, the end of input included
    ['${FOO', 'failed to process "${FOO": unsupported modifier (\uFFFD) in substitution'],
    ['${FOO=x}', 'failed to process "${FOO=x}": unsupported modifier (=) in substitution'],
    ['${FOO:=x}', 'failed to process "${FOO:=x}": unsupported modifier (:=) in substitution'],
    ['${FOO:x}', 'failed to process "${FOO:x}": unsupported modifier (:x) in substitution'],
    ['${FOO:#x}', 'failed to process "${FOO:#x}": unsupported modifier (:#) in substitution'],
    ['${FOO:%x}', 'failed to process "${FOO:%x}": unsupported modifier (:%) in substitution'],
    ['${FOO x}', 'failed to process "${FOO x}": unsupported modifier ( ) in substitution'],
    ['${.}', 'failed to process "${.}": unsupported modifier (.) in substitution'],
    ['${#FOO}', 'failed to process "${#FOO}": unsupported modifier (F) in substitution'],
    ["'abc", 'failed to process "\'abc": unexpected end of statement while looking for matching single-quote'],
    ['"abc', 'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote'],
    ['"abc\\"', 'failed to process "\\"abc\\\\\\"": unexpected end of statement while looking for matching double-quote'],
    ["'a\"b\tc", 'failed to process "\'a\\"b\\tc": unexpected end of statement while looking for matching single-quote'],
    ['${UNSET:?}', 'failed to process "${UNSET:?}": UNSET: is not allowed to be unset'],
    ['${UNSET?}', 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'],
    ['${NULL:?}', 'failed to process "${NULL:?}": NULL: is not allowed to be empty'],
    ['${UNSET:?set it, $PWD}', 'failed to process "${UNSET:?set it, $PWD}": UNSET: set it, /home'],
    ['${NULL:?"must not be empty"}', 'failed to process "${NULL:?\\"must not be empty\\"}": NULL: must not be empty'],
    ['${FOO:-${UNSET:?no}}', 'failed to process "${FOO:-${UNSET:?no}}": UNSET: no'],
    // a failure that reached the end of the word reads as the missing brace
    ['${FOO:-${UNSET:?no}', 'failed to process "${FOO:-${UNSET:?no}": syntax error: missing \'}\''],
    ['${FOO#\\x}', 'failed to process "${FOO#\\\\x}": invalid pattern (\\x) in substitution: invalid escape \'\\x\''],
    // % searches the reversed value with the reversed pattern, and reports that one
    ['${FOO%ab\\x}', 'failed to process "${FOO%ab\\\\x}": invalid pattern (\\xba) in substitution: invalid escape \'\\x\''],
    ['${FOO/\\x/y}', 'failed to process "${FOO/\\\\x/y}": invalid pattern (\\x) in substitution: invalid escape \'\\x\''],
  ];
  for (const [word, message] of cases) {
    test(JSON.stringify(word), () => {
      assert.throws(
        () => processWord(word, opts()),
        (err: unknown) => {
          assert.ok(err instanceof ExpandError);
          assert.equal(err.message, message);
          assert.equal(err.word, word);
          return true;
        },
      );
    });
  }

  test('processWords fails the same way', () => {
    assert.throws(() => processWords('a ${', opts()), {
      message: 'failed to process "a ${": syntax error: missing \'}\'',
    });
  });

  test('the backtick escape character escapes the double quote', () => {
    assert.throws(() => processWord('"a`"', opts({ escape: '`' })), {
      message: 'failed to process "\\"a`\\"": unexpected end of statement while looking for matching double-quote',
    });
  });
});

describe('processWords: splitting into words', () => {
  const cases: readonly (readonly [string, readonly string[]])[] = [
    ['hello', ['hello']],
    ['hello world', ['hello', 'world']],
    ['  hello   world  ', ['hello', 'world']],
    ['a\tb\nc', ['a', 'b', 'c']],
    ['a\u00a0b', ['a', 'b']], // Go's unicode.IsSpace
    ['"hello world" x', ['hello world', 'x']],
    ["'a b' \"c d\"", ['a b', 'c d']],
    ['he"llo wo"rld', ['hello world']],
    ['hello\\ world', ['hello world']],
    ['hello\\" there', ['hello"', 'there']],
    ['a\\\\ b', ['a\\', 'b']],
    ['hello" there  "', ['hello there  ']],
    ['"" x \'\'', ['x']], // a quoted empty string adds no word
    ['""', []],
    ['', []],
    ['   ', []],
    ['$FOO /dst', ['/bar', '/dst']],
    // the value of an unquoted expansion is split on its whitespace, as BuildKit does
    ['hello${space}bye', ['helloabc', 'defbye']],
    ['hello"${space}"bye', ['helloabc  defbye']],
    ['x${leading}y', ['x', 'ab', 'cy']],
    ['${UNSET:-"a b"}', ['a', 'b']],
    ['"${UNSET:-a b}"', ['a b']],
    ['${UNSET} x', ['x']],
    ['abc\\', ['abc']],
    ['8080/tcp 9090', ['8080/tcp', '9090']],
  ];
  for (const [text, words] of cases) {
    test(JSON.stringify(text), () => assert.deepEqual(processWords(text, opts()), words));
  }

  test('with the backtick escape character', () => {
    assert.deepEqual(processWords('C:\\a` b "C:\\x y"', opts({ escape: '`' })), ['C:\\a b', 'C:\\x y']);
  });

  test('without quote processing', () => {
    assert.deepEqual(processWords("'a b'", opts({ processQuotes: false })), ["'a", "b'"]);
  });
});

describe('onMissing', () => {
  test('reports each lookup of an unset variable, nested words included', () => {
    const missing: string[] = [];
    const result = processWord(
      '$A ${FOO} ${B:-${C}} ${NULL} $1 \'$D\' ${E:+x} ${FOO#$F}',
      opts({ onMissing: (name) => missing.push(name) }),
    );
    assert.equal(result, ' /bar    $D  /bar');
    assert.deepEqual(missing, ['A', 'C', 'B', '1', 'E', 'F']);
  });
});

// ---------------------------------------------------------------------------------------------

/** A compact view of a reference: its name and the text it spans. */
function view(text: string, r: VariableRef): string {
  let s = `${r.name}=${text.slice(r.start, r.end)}`;
  if (text.slice(r.nameStart, r.nameEnd) !== r.name) s += ` (name at ${r.nameStart}..${r.nameEnd})`;
  if (r.modifier !== undefined) s += ` mod ${r.modifier}`;
  if (r.word) s += ` word ${JSON.stringify(text.slice(r.word.start, r.word.end))}`;
  if (r.unterminated) s += ' unterminated';
  return s;
}

describe('findVariableRefs', () => {
  const cases: readonly (readonly [string, EscapeChar, readonly string[]])[] = [
    ['$a ${b}', '\\', ['a=$a', 'b=${b}']],
    ['${c:-$d}', '\\', ['c=${c:-$d} mod :- word "$d"', 'd=$d']],
    ['${a:-${b:+${c}}}x', '\\', ['a=${a:-${b:+${c}}} mod :- word "${b:+${c}}"', 'b=${b:+${c}} mod :+ word "${c}"', 'c=${c}']],
    ["'$a' \"$b\" \\$c", '\\', ['b=$b']],
    ["\"'$a'\"", '\\', ['a=$a']], // single quotes are literal inside double quotes
    ['"\\$a \\"$b"', '\\', ['b=$b']],
    ['\\\\$a', '\\', ['a=$a']],
    ["${a:-'$b'}", '\\', ["a=${a:-'$b'} mod :- word \"'$b'\""]],
    ['${a:-"}"} $b', '\\', ['a=${a:-"}"} mod :- word "\\"}\\""', 'b=$b']],
    ['${a:-\\}} $b', '\\', ['a=${a:-\\}} mod :- word "\\\\}"', 'b=$b']],
    ['${a-x}${a+x}${a?x}${a:?x}', '\\', ['a=${a-x} mod - word "x"', 'a=${a+x} mod + word "x"', 'a=${a?x} mod ? word "x"', 'a=${a:?x} mod :? word "x"']],
    ['${a#*/}${a##*/}${a%.*}${a%%.*}', '\\', ['a=${a#*/} mod # word "*/"', 'a=${a##*/} mod ## word "*/"', 'a=${a%.*} mod % word ".*"', 'a=${a%%.*} mod %% word ".*"']],
    ['${a/x/y} ${a//x/$y}', '\\', ['a=${a/x/y} mod / word "x/y"', 'a=${a//x/$y} mod // word "x/$y"', 'y=$y']],
    ['${a/${b}/c}', '\\', ['a=${a/${b}/c} mod / word "${b}/c"', 'b=${b}']],
    ['${a=x} ${a:x}', '\\', ['a=${a=x} mod = word "x"', 'a=${a:x} mod :x word ""']],
    ['$1 $12 $@ ${#} $$ $-', '\\', ['1=$1', '12=$12', '@=$@', '#=${#}', '$=$$', '-=$-']],
    ['$ $. ${} ${:x} a$', '\\', []],
    ['${a:-b', '\\', ['a=${a:-b mod :- word "b" unterminated']],
    ['${a', '\\', ['a=${a unterminated']],
    ['${a/x', '\\', ['a=${a/x mod / word "x" unterminated']],
    ["'$a", '\\', []],
    ['"$a', '\\', ['a=$a']],
    ['$한국어x y', '\\', ['한국어x=$한국어x']],
    ['$FOO_bar-1', '\\', ['FOO_bar=$FOO_bar']],
    ['"${a:-${b}}"', '\\', ['a=${a:-${b}} mod :- word "${b}"', 'b=${b}']],
    // the backtick escape character: the backslash is ordinary
    ['`$a \\$b "`$c" "\\$d"', '`', ['b=$b', 'd=$d']],
    ['C:\\dir\\$name', '`', ['name=$name']],
  ];
  for (const [text, escape, expected] of cases) {
    test(`${JSON.stringify(text)} (escape ${escape})`, () => {
      assert.deepEqual(
        findVariableRefs(text, escape).map((r) => view(text, r)),
        expected,
      );
    });
  }

  test('offsets are indices into the text', () => {
    assert.deepEqual(findVariableRefs('x ${ab:-c} $d', '\\'), [
      { name: 'ab', start: 2, end: 10, nameStart: 4, nameEnd: 6, braced: true, modifier: ':-', word: { start: 8, end: 9 } },
      { name: 'd', start: 11, end: 13, nameStart: 12, nameEnd: 13, braced: false },
    ]);
  });

  test('singleQuotesLiteral: false finds references in single quotes', () => {
    const text = "echo '$a' \"$b\"";
    assert.deepEqual(
      findVariableRefs(text, '\\', { singleQuotesLiteral: false }).map((r) => view(text, r)),
      ['a=$a', 'b=$b'],
    );
  });

  test('finds what processWord looks up', () => {
    const text = 'a${B:-${C}}"$D"\'$E\'\\$F${G#$H}${I//$J/$K}';
    const looked: string[] = [];
    processWord(text, { env: (name) => (looked.push(name), undefined) });
    const found = findVariableRefs(text, '\\').map((r) => r.name);
    assert.deepEqual([...found].sort(), [...looked].sort());
  });

  test('a 10,000-line file in one pass', () => {
    const line = 'COPY --chown=${UID:-1000} "$SRC/${NAME%.*}" \'$literal\' \\$not ${DEST}\n';
    const refs = findVariableRefs(line.repeat(10_000), '\\');
    assert.equal(refs.length, 40_000);
    assert.equal(refs[39_999]!.name, 'DEST');
  });
});
