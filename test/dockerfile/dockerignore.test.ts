// Docker's .dockerignore semantics (server/src/dockerfile/dockerignore.ts), checked against the
// rules of Docker's documentation (".dockerignore files") and the behaviour of moby/patternmatcher
// and BuildKit's context walk. Expected values are worked out from those rules.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DockerIgnore,
  DockerIgnoreError,
  cleanPath,
  readDockerIgnore,
  type IgnoreState,
} from '../../server/src/dockerfile/dockerignore';

describe('reading the file', () => {
  test('comments, blank lines, whitespace, cleaning, a leading slash, exceptions', () => {
    const text = [
      'test1',
      '/test2',
      '/a/file/here',
      '',
      '   ',
      'lastfile',
      '# this is a comment',
      '  # only column 1 starts a comment',
      '! /inverted/abs/path',
      '\tdocs/  ',
      './a/../b/./c//d/',
      '/',
      '//x',
      '../up',
      '!',
      '! ',
    ].join('\n');
    assert.deepEqual(readDockerIgnore(text), [
      { pattern: 'test1', line: 1 },
      { pattern: 'test2', line: 2 },
      { pattern: 'a/file/here', line: 3 },
      { pattern: 'lastfile', line: 6 },
      { pattern: '# only column 1 starts a comment', line: 8 },
      { pattern: '!inverted/abs/path', line: 9 },
      { pattern: 'docs', line: 10 },
      { pattern: 'b/c/d', line: 11 },
      { pattern: '/', line: 12 },
      { pattern: 'x', line: 13 },
      { pattern: '../up', line: 14 },
      { pattern: '!', line: 15 },
      { pattern: '!', line: 16 },
    ]);
  });

  test('CRLF line ends and a byte order mark', () => {
    assert.deepEqual(readDockerIgnore('\uFEFF# comment\r\nnode_modules\r\n*.log\r\n'), [
      { pattern: 'node_modules', line: 2 },
      { pattern: '*.log', line: 3 },
    ]);
    // A byte order mark is only dropped at the start of the file.
    assert.deepEqual(readDockerIgnore('a\n\uFEFFb'), [
      { pattern: 'a', line: 1 },
      { pattern: '\uFEFFb', line: 2 },
    ]);
  });

  test('an empty file', () => {
    assert.deepEqual(readDockerIgnore(''), []);
    assert.equal(DockerIgnore.parse('').matches('anything'), false);
  });

  test('the parsed patterns', () => {
    const ignore = DockerIgnore.parse('*.md\n\n!README.md\n');
    assert.deepEqual(ignore.patterns, [
      { pattern: '*.md', exception: false, line: 1 },
      { pattern: 'README.md', exception: true, line: 3 },
    ]);
    assert.equal(ignore.hasExceptions, true);
    assert.equal(DockerIgnore.parse('*.md').hasExceptions, false);
  });

  test('filepath.Clean', () => {
    const cases: readonly (readonly [string, string])[] = [
      ['', '.'],
      ['.', '.'],
      ['a/', 'a'],
      ['a//b', 'a/b'],
      ['./a/./b', 'a/b'],
      ['a/b/../c', 'a/c'],
      ['a/../..', '..'],
      ['../../a', '../../a'],
      ['/', '/'],
      ['/../a', '/a'],
      ['/a/', '/a'],
    ];
    for (const [input, expected] of cases) assert.equal(cleanPath(input), expected, input);
  });
});

describe('errors', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['!', 'illegal exclusion pattern: "!"'],
    ['[', 'syntax error in pattern'],
    ['a[', 'syntax error in pattern'],
    ['[^', 'syntax error in pattern'],
    ['[^bc', 'syntax error in pattern'],
    ['[]a]', 'syntax error in pattern'],
    ['[-]', 'syntax error in pattern'],
    ['[x-]', 'syntax error in pattern'],
    ['[-x]', 'syntax error in pattern'],
    ['[a-b-c]', 'syntax error in pattern'],
    ['\\', 'syntax error in pattern'],
    ['a/b\\', 'syntax error in pattern'],
    ['[z-a]', 'syntax error in pattern'], // Go's regexp refuses the reversed range
  ];
  for (const [pattern, message] of cases) {
    test(JSON.stringify(pattern), () => {
      assert.throws(
        () => DockerIgnore.fromPatterns(['ok', pattern]),
        (err: unknown) => {
          assert.ok(err instanceof DockerIgnoreError);
          assert.equal(err.message, message);
          assert.equal(err.line, 0);
          return true;
        },
      );
    });
  }

  test('parse reports the line', () => {
    assert.throws(() => DockerIgnore.parse('# c\nok\n  [abc\n'), {
      name: 'DockerIgnoreError',
      message: '.dockerignore line 3: syntax error in pattern',
    });
    assert.throws(() => DockerIgnore.parse('a\n! \n'), {
      message: '.dockerignore line 2: illegal exclusion pattern: "!"',
    });
  });

  test('fromPatterns takes patterns as read: a leading slash is the file reader\'s to drop', () => {
    assert.equal(DockerIgnore.fromPatterns(['/foo/bar']).matches('foo/bar'), false);
    assert.equal(DockerIgnore.fromPatterns(['foo/bar/']).matches('foo/bar'), true);
    assert.equal(DockerIgnore.parse('/foo/bar').matches('foo/bar'), true);
  });

  test('valid brackets and escapes', () => {
    for (const p of ['[\\]a]', '[\\-]', '[x\\-]', '[\\-x]', '[*]', '[[]', 'a]', 'a\\*b', '[^a-z]x']) {
      assert.doesNotThrow(() => DockerIgnore.fromPatterns([p]), p);
    }
  });
});

/** [patterns, path, excluded] */
type Case = readonly [readonly string[], string, boolean];

function table(name: string, cases: readonly Case[]): void {
  describe(name, () => {
    for (const [patterns, path, excluded] of cases) {
      test(`${JSON.stringify(patterns)} ${JSON.stringify(path)} → ${excluded ? 'excluded' : 'included'}`, () => {
        const ignore = DockerIgnore.parse(patterns.join('\n'));
        assert.equal(ignore.matches(path), excluded);
        // A walker passing states down from the root reaches the same verdict.
        assert.equal(walk(ignore, path), excluded);
      });
    }
  });
}

/** Judges a path the way a context walk does: each ancestor first, its state passed down. */
function walk(ignore: DockerIgnore, path: string): boolean {
  const clean = cleanPath(path.replace(/^\/+/, ''));
  if (clean === '.' || clean === '..' || clean.startsWith('../')) return false;
  let state: IgnoreState | undefined;
  const parts = clean.split('/');
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    if (i > 0 && !ignore.mayIncludeBelow(parts.slice(0, i).join('/'))) return true;
    state = ignore.check(prefix, state);
  }
  return state?.excluded ?? false;
}

table('the documentation examples', [
  // # comment / */temp* / */*/temp* / temp?
  [['*/temp*'], 'somedir/temporary.txt', true],
  [['*/temp*'], 'somedir/temp', true],
  [['*/temp*'], 'somedir/temp/inside.txt', true], // a matching directory takes its contents
  [['*/temp*'], 'temporary.txt', false],
  [['*/temp*'], 'a/b/temporary.txt', false],
  [['*/*/temp*'], 'somedir/subdir/temporary.txt', true],
  [['*/*/temp*'], 'somedir/temporary.txt', false],
  [['temp?'], 'tempa', true],
  [['temp?'], 'tempb', true],
  [['temp?'], 'temp', false],
  [['temp?'], 'tempab', false],
  [['temp?'], 'dir/tempa', false],
  // /foo/bar and foo/bar both exclude bar in foo, and nothing else
  [['/foo/bar'], 'foo/bar', true],
  [['foo/bar'], 'foo/bar', true],
  [['foo/bar'], 'foo/bar/baz', true],
  [['foo/bar'], 'x/foo/bar', false],
  [['foo/bar'], 'foo', false],
  // **/*.go: all .go files, the root included
  [['**/*.go'], 'main.go', true],
  [['**/*.go'], 'a/b/c.go', true],
  [['**/*.go'], 'a/b/c.gox', false],
  // *.md / !README.md
  [['*.md', '!README.md'], 'CHANGES.md', true],
  [['*.md', '!README.md'], 'README.md', false],
  [['*.md', '!README.md'], 'docs/guide.md', false], // *.md is for the root only
  // the last matching line decides
  [['*.md', '!README*.md', 'README-secret.md'], 'README-secret.md', true],
  [['*.md', '!README*.md', 'README-secret.md'], 'README.md', false],
  [['*.md', '!README*.md', 'README-secret.md'], 'CHANGES.md', true],
  [['*.md', 'README-secret.md', '!README*.md'], 'README-secret.md', false],
  // * first, then the exceptions to keep
  [['*', '!src', '!package.json'], 'src/a/b.ts', false],
  [['*', '!src', '!package.json'], 'package.json', false],
  [['*', '!src', '!package.json'], 'README.md', true],
  [['*', '!src', '!package.json'], 'docs/a.md', true],
]);

table('wildcards (Go filepath.Match rules)', [
  [['abc'], 'abc', true],
  [['*'], 'abc', true],
  [['*'], 'a/b', true], // through its parent a
  [['*c'], 'abc', true],
  [['a*'], 'a', true],
  [['a*'], 'ab/c', true],
  [['a*/b'], 'abc/b', true],
  [['a*/b'], 'a/c/b', false],
  [['a*b*c*d*e*/f'], 'axbxcxdxe/f', true],
  [['a*b*c*d*e*/f'], 'axbxcxdxexxx/f', true],
  [['a*b*c*d*e*/f'], 'axbxcxdxe/xxx/f', false],
  [['a*b?c*x'], 'abxbbxdbxebxczzx', true],
  [['a*b?c*x'], 'abxbbxdbxebxczzy', false],
  [['a?b'], 'a☺b', true], // ? is one character
  [['a???b'], 'a☺b', false],
  [['a?b'], 'a/b', false], // ? and * never match /
  [['a*b'], 'a/b', false],
  [['*x'], 'xxx', true],
  [['.*'], '.foo', true],
  [['.*'], 'foo', false],
]);

table('character classes and escapes', [
  [['ab[c]'], 'abc', true],
  [['ab[b-d]'], 'abc', true],
  [['ab[e-g]'], 'abc', false],
  [['ab[^c]'], 'abc', false],
  [['ab[^b-d]'], 'abc', false],
  [['ab[^e-g]'], 'abc', true],
  [['a[^a]b'], 'a☺b', true],
  [['[a-ζ]*'], 'α', true],
  [['*[a-ζ]'], 'A', false],
  [['[\\]a]'], ']', true],
  [['[\\-]'], '-', true],
  [['[x\\-]'], 'x', true],
  [['[x\\-]'], '-', true],
  [['[x\\-]'], 'z', false],
  [['[\\-x]'], 'a', false],
  [['a[b-d]e'], 'ace', true],
  [['a[b-d]e'], 'ae', false],
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'axb', false],
  [['a\\\\'], 'a\\', true],
  [['a\\?b'], 'a?b', true],
]);

table('** and what patternmatcher makes of it', [
  [['**'], 'file', true],
  [['**'], 'dir/deep/file', true],
  [['**/'], 'file', true],
  [['**/**'], 'dir/file', true],
  [['dir/**'], 'dir', false],
  [['dir/**'], 'dir/file', true],
  [['dir/**'], 'dir/dir2/file', true],
  [['**/dir'], 'dir', true],
  [['**/dir'], 'a/b/dir', true],
  [['**/dir'], 'a/dir/file', true],
  [['**/dir2/*'], 'dir/dir2/file', true],
  [['**/dir2/**'], 'dir/dir2/dir3/file', true],
  [['**/file*.txt'], 'dir/dir/file.txt', true],
  [['**/**/*.txt'], 'file.txt', true],
  [['**/**/*.txt2'], 'dir/dir/file.txt', false],
  [['a**/*.txt'], 'a/dir/dir/file.txt', true],
  [['a/*.txt**'], 'a/file.txt', true],
  [['**/foo/bar'], 'foo/bar', true],
  [['**/foo/bar'], 'dir/dir2/foo/bar', true],
  [['**/.foo'], '.foo', true],
  [['**/.foo'], 'bar.foo', false],
  // a leading ** with a literal rest is a suffix test, a final ** a prefix test
  [['**file'], 'dir/myfile', true],
  [['a**'], 'abc', true],
  [['a**'], 'a/b', true],
  [['a**'], 'ba', false],
]);

table('characters special to regular expressions are literal', [
  [['a(b)c/def'], 'a(b)c/def', true],
  [['a(b)c/def'], 'a(b)c/xyz', false],
  [['abc.def'], 'abcZdef', false],
  [['abc.def'], 'abc.def', true],
  [['a.|)$(}+{bc'], 'a.|)$(}+{bc', true],
  [['dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  [['a+*'], 'a+b', true],
  [['a+*'], 'aab', false],
  // patternmatcher leaves ^ to its regular expression: an anchor where the pattern has wildcards
  [['^foo'], '^foo', true],
  [['^foo*'], 'foobar', true],
  [['^foo*'], '^foobar', false],
]);

table('exceptions, parents and the walk', [
  [['docs'], 'docs/README.md', true],
  [['docs/'], 'docs/README.md', true],
  [['docs', '!docs/README.md'], 'docs/README.md', false],
  [['docs', '!docs/README.md'], 'docs/other.md', true],
  [['docs/*', '!docs/README.md'], 'docs/README.md', false],
  [['!fileutils.go', '*.go'], 'fileutils.go', true],
  [['*.go', '!fileutils.go'], 'fileutils.go', false],
  [['**', '!util/docker/web'], 'util/docker/web/foo', false],
  [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
  [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
  [['a', '!*/keep'], 'a/keep', false], // a wildcard exception: BuildKit walks into a
  [['a', '!*/keep'], 'a/other', true],
  [['a', '!a/b/**', 'a/b/c'], 'a/b/c/d', true],
  [['a', '!a/b/**', 'a/b/c'], 'a/b/x', false],
  // `!d` is not tried on d, since nothing had excluded d: d/f stays excluded
  [['d/f', '!d'], 'd/f', true],
  [['node_modules', '!node_modules/keep'], 'node_modules/keep/index.js', false],
  [['node_modules', '!node_modules/keep'], 'node_modules/other/index.js', true],
]);

table('paths are cleaned; the root and the outside are never excluded', [
  [['a'], './a', true],
  [['a'], '/a', true],
  [['a'], 'a/', true],
  [['a/b'], 'a//b', true],
  [['a/b'], 'a/x/../b', true],
  [['*'], '.', false],
  [['*'], '', false],
  [['**'], '../outside', false],
]);

describe('mayIncludeBelow', () => {
  const cases: readonly (readonly [readonly string[], string, boolean])[] = [
    [['node_modules'], 'node_modules', false],
    [['node_modules'], 'node_modules/pkg', false],
    [['node_modules'], 'src', true],
    [['node_modules'], '', true],
    [['docs', '!docs/README.md'], 'docs', true], // an exception names a path inside
    [['docs', '!docs/README.md'], 'docs/sub', false],
    [['a', '!*/keep'], 'a', true], // a wildcard exception could match anything
    [['a', '!a/b/**'], 'a', true],
    [['a', '!a/b/**'], 'a/b', true],
    [['a', '!a/b/**'], 'a/c', false],
    [['*', '!src'], 'src', true],
    [['*', '!src'], 'docs', false],
  ];
  for (const [patterns, dir, expected] of cases) {
    test(`${JSON.stringify(patterns)} ${JSON.stringify(dir)} → ${expected}`, () => {
      assert.equal(DockerIgnore.fromPatterns(patterns).mayIncludeBelow(dir), expected);
    });
  }
});

describe('check, the walker form', () => {
  test('without a parent state, a nested path is judged with its ancestors', () => {
    const ignore = DockerIgnore.fromPatterns(['docs']);
    assert.equal(ignore.check('docs/a/b.md').excluded, true);
    assert.equal(ignore.check('src/a.ts').excluded, false);
  });

  test('a walk over a tree agrees with matches', () => {
    const ignore = DockerIgnore.parse(
      ['# build context', '**/*.log', 'node_modules', '!node_modules/keep', 'build/*', '!build/out.txt', 'tmp?'].join('\n'),
    );
    const tree = [
      'a.log',
      'src/app.ts',
      'src/debug.log',
      'node_modules/keep/index.js',
      'node_modules/other/index.js',
      'build/out.txt',
      'build/other.txt',
      'build/sub/file',
      'tmp1/x',
      'tmp/x',
    ];
    const verdicts = tree.map((p) => [p, walk(ignore, p)] as const);
    assert.deepEqual(verdicts, [
      ['a.log', true],
      ['src/app.ts', false],
      ['src/debug.log', true],
      ['node_modules/keep/index.js', false],
      ['node_modules/other/index.js', true],
      ['build/out.txt', false],
      ['build/other.txt', true],
      ['build/sub/file', true],
      ['tmp1/x', true],
      ['tmp/x', false],
    ]);
    for (const [p, excluded] of verdicts) assert.equal(ignore.matches(p), excluded, p);
  });

  test('a large context, judged once per directory', () => {
    const ignore = DockerIgnore.parse('**/*.tmp\nvendor\n!vendor/keep\n');
    let excluded = 0;
    for (let d = 0; d < 200; d++) {
      for (let f = 0; f < 100; f++) {
        const dir = d % 10 === 0 ? `vendor/p${d}` : `src/p${d}`;
        if (ignore.matches(`${dir}/f${f}${f % 4 === 0 ? '.tmp' : '.ts'}`)) excluded++;
      }
    }
    // vendor: 20 directories × 100 files; src: 180 directories × 25 .tmp files
    assert.equal(excluded, 20 * 100 + 180 * 25);
  });
});
