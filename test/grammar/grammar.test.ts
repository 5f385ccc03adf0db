// Tokenizes Dockerfiles with VS Code's own TextMate engine (vscode-textmate on vscode-oniguruma)
// and checks the scopes our grammar gives to specific tokens.
//
// VS Code ships source.shell in a separate extension, so here loadGrammar returns null for it:
// the embedded regions are checked by their meta.embedded.shell scope and by the language id
// the extension manifest maps that scope to. One test loads a tiny stand-in shell grammar to
// prove the regions really hand their text to source.shell.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { INITIAL, Registry, type IGrammar, type IRawGrammar, type StateStack } from 'vscode-textmate';
import { loadWASM, OnigScanner, OnigString } from 'vscode-oniguruma';

const root = path.join(import.meta.dirname, '..', '..');
const grammarPath = path.join(root, 'syntaxes', 'dockerfile.tmLanguage.json');

interface Manifest {
  contributes: { grammars: { scopeName: string; path: string; embeddedLanguages?: Record<string, string> }[] };
}

// Language ids as VS Code would hand them out: 1 for the Dockerfile, 2 onwards for the
// languages the manifest embeds (only "shellscript" today).
const DOCKERFILE_ID = 1;
const languageIds = new Map<string, number>([['dockerfile', DOCKERFILE_ID]]);
const embeddedLanguages: Record<string, number> = {};
{
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
  const contribution = manifest.contributes.grammars.find((g) => g.scopeName === 'source.dockerfile');
  assert.ok(contribution, 'package.json contributes no source.dockerfile grammar');
  assert.equal(path.join(root, contribution.path), grammarPath);
  for (const [scope, language] of Object.entries(contribution.embeddedLanguages ?? {})) {
    if (!languageIds.has(language)) languageIds.set(language, languageIds.size + 1);
    embeddedLanguages[scope] = languageIds.get(language)!;
  }
}
const SHELL_ID = languageIds.get('shellscript');

const onigLib = loadWASM(readFileSync(path.join(root, 'node_modules/vscode-oniguruma/release/onig.wasm'))).then(() => ({
  createOnigScanner: (patterns: string[]) => new OnigScanner(patterns),
  createOnigString: (text: string) => new OnigString(text),
}));

/** Loads our grammar; `shell` stands in for VS Code's source.shell (null: not installed). */
async function loadDockerfileGrammar(shell: IRawGrammar | null): Promise<IGrammar> {
  const registry = new Registry({
    onigLib,
    loadGrammar: async (scopeName) => {
      if (scopeName === 'source.dockerfile') return JSON.parse(readFileSync(grammarPath, 'utf8')) as IRawGrammar;
      if (scopeName === 'source.shell') return shell;
      return null;
    },
  });
  const grammar = await registry.loadGrammarWithConfiguration('source.dockerfile', DOCKERFILE_ID, { embeddedLanguages });
  assert.ok(grammar, 'source.dockerfile did not load');
  return grammar;
}

// Loaded on first use, so a broken grammar fails the tests rather than the file's import.
let plain: Promise<IGrammar> | undefined;
const plainGrammar = (): Promise<IGrammar> => (plain ??= loadDockerfileGrammar(null));

interface Token {
  text: string;
  start: number;
  scopes: string[];
  language: number;
}

/** Tokenizes a document line by line, as the editor does, keeping each token's text, scopes and language id. */
async function tokenize(text: string, grammar: Promise<IGrammar> = plainGrammar()): Promise<Token[][]> {
  const g = await grammar;
  let scopesState: StateStack = INITIAL;
  let binaryState: StateStack = INITIAL;
  return text.split('\n').map((line) => {
    const scoped = g.tokenizeLine(line, scopesState);
    const binary = g.tokenizeLine2(line, binaryState);
    scopesState = scoped.ruleStack;
    binaryState = binary.ruleStack;
    return scoped.tokens.map((t) => {
      // Binary tokens are (start, metadata) pairs; bits 0-7 of the metadata are the language id.
      let language = 0;
      for (let i = 0; i < binary.tokens.length; i += 2) {
        if (binary.tokens[i] <= t.startIndex) language = binary.tokens[i + 1] & 0xff;
      }
      return { text: line.slice(t.startIndex, t.endIndex), start: t.startIndex, scopes: t.scopes, language };
    });
  });
}

/**
 * The token holding the first `needle` on line `row` (searching after `after`, if given). The
 * whole needle must lie in that one token, so the token's scopes are the needle's.
 */
function tokenAt(doc: Token[][], row: number, needle: string, after?: string): Token {
  const line = doc[row].map((t) => t.text).join('');
  let from = 0;
  if (after !== undefined) {
    assert.notEqual(line.indexOf(after), -1, `line ${row} ${JSON.stringify(line)} has no ${JSON.stringify(after)}`);
    from = line.indexOf(after) + after.length;
  }
  const start = line.indexOf(needle, from);
  assert.notEqual(start, -1, `line ${row} ${JSON.stringify(line)} has no ${JSON.stringify(needle)}`);
  const token = doc[row].find((t) => t.start <= start && start < t.start + t.text.length);
  assert.ok(token && token.start + token.text.length >= start + needle.length,
    `${JSON.stringify(needle)} on line ${row} spans several tokens: ${describe(doc[row])}`);
  return token;
}

function describe(tokens: Token[]): string {
  return tokens.map((t) => `${JSON.stringify(t.text)}=[${t.scopes.slice(1).join(' ')}]`).join(' ');
}

/** True if a scope equals `prefix` or extends it with more dot-separated parts. */
function has(token: Token, prefix: string): boolean {
  return token.scopes.some((s) => s === prefix || s.startsWith(prefix + '.'));
}

function assertScope(doc: Token[][], row: number, needle: string, scope: string, after?: string): Token {
  const token = tokenAt(doc, row, needle, after);
  assert.ok(has(token, scope), `${JSON.stringify(needle)} on line ${row} lacks ${scope}: ${token.scopes.join(' ')}`);
  return token;
}

function assertNoScope(doc: Token[][], row: number, needle: string, scope: string, after?: string): Token {
  const token = tokenAt(doc, row, needle, after);
  assert.ok(!has(token, scope), `${JSON.stringify(needle)} on line ${row} should not have ${scope}: ${token.scopes.join(' ')}`);
  return token;
}

/** Embedded shell: the scope VS Code keys on, and the language id the manifest maps it to. */
function assertShell(doc: Token[][], row: number, needle: string, after?: string): void {
  const token = assertScope(doc, row, needle, 'meta.embedded.shell', after);
  assert.equal(token.language, SHELL_ID, `${JSON.stringify(needle)} on line ${row} is not in the shellscript language`);
}

function assertNotShell(doc: Token[][], row: number, needle: string, after?: string): void {
  const token = assertNoScope(doc, row, needle, 'meta.embedded.shell', after);
  assert.equal(token.language, DOCKERFILE_ID, `${JSON.stringify(needle)} on line ${row} is not in the dockerfile language`);
}

const KEYWORD = 'keyword.control.instruction';

test('the manifest embeds shellscript for meta.embedded.shell', () => {
  assert.ok(SHELL_ID, 'package.json maps no scope to the shellscript language');
  assert.equal(embeddedLanguages['meta.embedded.shell'], SHELL_ID);
});

test('every instruction is a keyword, in any case, after optional indentation', async () => {
  const names = ['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
    'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'];
  const lines = names.flatMap((name) => [`${name} x`, `  ${name.toLowerCase()} x`, `\t${name[0]}${name.slice(1).toLowerCase()} x`]);
  const doc = await tokenize(lines.join('\n'));
  lines.forEach((line, row) => assertScope(doc, row, line.trim().split(' ')[0], KEYWORD));
  // A word that merely starts like an instruction is not one.
  const other = await tokenize('FROMAGE x\nRUNNER y');
  assertNoScope(other, 0, 'FROMAGE', 'keyword');
  assertNoScope(other, 1, 'RUNNER', 'keyword');
});

test('ONBUILD is followed by its trigger instruction', async () => {
  const doc = await tokenize([
    'ONBUILD RUN npm install',
    'onbuild copy . /app',
    'ONBUILD ENV A=$B',
  ].join('\n'));
  assertScope(doc, 0, 'ONBUILD', KEYWORD);
  assertScope(doc, 0, 'RUN', KEYWORD);
  assertShell(doc, 0, 'npm');
  assertScope(doc, 1, 'copy', KEYWORD);
  assertScope(doc, 2, 'ENV', KEYWORD);
  assertScope(doc, 2, 'A', 'variable.other.assignment');
  assertScope(doc, 2, 'B', 'variable.other', '$');
});

test('HEALTHCHECK takes flags, then CMD in shell or exec form, or NONE', async () => {
  const doc = await tokenize([
    'HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost/ || exit 1',
    'HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]',
    'HEALTHCHECK NONE',
  ].join('\n'));
  assertScope(doc, 0, '--interval', 'variable.parameter.flag');
  assertScope(doc, 0, '30s', 'string.unquoted.flag-value');
  assertScope(doc, 0, 'CMD', KEYWORD);
  assertNotShell(doc, 0, 'CMD');
  assertShell(doc, 0, 'curl');
  assertShell(doc, 0, ' -f http://localhost/ || exit 1');
  assertScope(doc, 1, 'CMD', KEYWORD);
  assertScope(doc, 1, 'curl', 'string.quoted.double');
  assertNotShell(doc, 1, 'curl');
  assertScope(doc, 2, 'NONE', 'constant.language.none');
});

test('flags: name, value, key=value pairs and variables in the value', async () => {
  const doc = await tokenize([
    'RUN --mount=type=cache,target=/root/.cache pip install --no-cache-dir -r requirements.txt',
    'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
    'COPY --from=build --link /out/app /usr/local/bin/',
  ].join('\n'));
  assertScope(doc, 0, '--mount', 'variable.parameter.flag');
  assertScope(doc, 0, '=', 'keyword.operator.assignment');
  assertScope(doc, 0, 'type', 'entity.other.attribute-name');
  assertScope(doc, 0, 'cache', 'string.unquoted.flag-value');
  assertScope(doc, 0, ',', 'punctuation.separator.comma');
  assertScope(doc, 0, 'target', 'entity.other.attribute-name');
  assertScope(doc, 0, '/root/.cache', 'string.unquoted.flag-value');
  assertNotShell(doc, 0, '--mount');
  assertShell(doc, 0, 'pip');
  // After the first argument, --words belong to the command, not to RUN.
  assertShell(doc, 0, '--no-cache-dir');
  assertNoScope(doc, 0, '--no-cache-dir', 'variable.parameter.flag');
  assertScope(doc, 1, '--platform', 'variable.parameter.flag');
  assertScope(doc, 1, 'BUILDPLATFORM', 'variable.other');
  assertScope(doc, 1, 'BUILDPLATFORM', 'string.unquoted.flag-value');
  assertScope(doc, 2, '--from', 'variable.parameter.flag');
  assertScope(doc, 2, 'build', 'string.unquoted.flag-value');
  assertScope(doc, 2, '--link', 'variable.parameter.flag');
});

test('variables: $name, ${name} and the modifiers', async () => {
  const doc = await tokenize([
    'ENV PATH="/opt/app/bin:$PATH"',
    'WORKDIR ${HOME}/src',
    'ARG TAG=${VERSION:-latest}',
    'LABEL a=${A:+set} b=${B#v} c=${C%%-*} d=${D/x/y} e=${E:?required}',
    "ENV LITERAL='$HOME' ESCAPED=\"\\$HOME\"",
  ].join('\n'));
  const pathVar = assertScope(doc, 0, 'PATH', 'variable.other', ':$');
  assert.ok(has(pathVar, 'string.quoted.double'), 'the variable is inside the string');
  assertScope(doc, 0, '$', 'punctuation.definition.variable');
  assertScope(doc, 1, 'HOME', 'variable.other');
  assertScope(doc, 1, '{', 'punctuation.definition.variable.begin');
  assertScope(doc, 1, '}', 'punctuation.definition.variable.end');
  assertNoScope(doc, 1, '/src', 'variable');
  assertScope(doc, 2, 'VERSION', 'variable.other');
  assertScope(doc, 2, ':-', 'keyword.operator.expansion');
  for (const op of [':+', '#', '%%', '/', ':?']) assertScope(doc, 3, op, 'keyword.operator.expansion');
  for (const name of ['A', 'B', 'C', 'D', 'E']) assertScope(doc, 3, name, 'variable.other', `${name.toLowerCase()}=\${`);
  // Docker expands nothing in single quotes, and \$ is a literal dollar.
  assertScope(doc, 4, '$HOME', 'string.quoted.single');
  assertNoScope(doc, 4, '$HOME', 'variable');
  assertScope(doc, 4, '\\$', 'constant.character.escape');
  assertNoScope(doc, 4, 'HOME', 'variable', '\\$');
});

test('parser directives at the top of the file are not comments; later look-alikes are', async () => {
  const doc = await tokenize([
    '# syntax=docker/dockerfile:1',
    '# escape=`',
    '# check=skip=JSONArgsRecommended',
    '# A plain comment',
    '# syntax=docker/dockerfile:1.7',
    'FROM alpine',
    '  # indented comment',
  ].join('\n'));
  for (const [row, name] of [[0, 'syntax'], [1, 'escape'], [2, 'check']] as const) {
    assertScope(doc, row, name, 'keyword.other.directive');
    assertScope(doc, row, '#', 'meta.directive');
    assertNoScope(doc, row, name, 'comment');
  }
  assertScope(doc, 0, 'docker/dockerfile:1', 'string.unquoted.directive-value');
  assertScope(doc, 1, '`', 'string.unquoted.directive-value');
  assertScope(doc, 3, '#', 'comment.line.number-sign');
  assertScope(doc, 3, ' A plain comment', 'comment.line.number-sign');
  assertScope(doc, 4, ' syntax=docker/dockerfile:1.7', 'comment.line.number-sign');
  assertNoScope(doc, 4, '#', 'meta.directive');
  assertScope(doc, 6, '#', 'comment.line.number-sign');

  // A directive after a blank line is a comment too.
  const late = await tokenize('\n# syntax=docker/dockerfile:1');
  assertScope(late, 1, '#', 'comment.line.number-sign');
});

test('single- and double-quoted strings, with escapes', async () => {
  const doc = await tokenize('LABEL description="say \\"hi\\"" maintainer=\'Jo <jo@example.com>\'');
  assertScope(doc, 0, 'description', 'entity.other.attribute-name');
  assertScope(doc, 0, '"', 'punctuation.definition.string.begin');
  assertScope(doc, 0, 'say ', 'string.quoted.double');
  assertScope(doc, 0, '\\"', 'constant.character.escape');
  assertScope(doc, 0, 'Jo <jo@example.com>', 'string.quoted.single');
});

test('exec form: a JSON array of strings, not shell', async () => {
  const doc = await tokenize([
    'CMD ["node", "app.js"]',
    'ENTRYPOINT ["/docker-entrypoint.sh", \\',
    '            "--verbose"]',
    'RUN [ -f /etc/os-release ] && cat /etc/os-release',
    'COPY ["$SRC", "/dst/"]',
    'CMD ["echo", "$HOME"]',
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
  ].join('\n'));
  assertScope(doc, 0, '[', 'punctuation.definition.array.begin');
  assertScope(doc, 0, 'node', 'string.quoted.double');
  assertScope(doc, 0, ',', 'punctuation.separator.array');
  assertScope(doc, 0, 'app.js', 'string.quoted.double');
  assertScope(doc, 0, ']', 'punctuation.definition.array.end');
  assertNotShell(doc, 0, 'node');
  // Continued over two lines, the array goes on.
  assertScope(doc, 1, '\\', 'constant.character.escape.line-continuation');
  assertScope(doc, 2, '--verbose', 'string.quoted.double');
  assertScope(doc, 2, ']', 'punctuation.definition.array.end');
  // '[' opening a shell test is shell form.
  assertShell(doc, 3, '[');
  assertNoScope(doc, 3, '[', 'punctuation.definition.array');
  // COPY expands variables in its JSON form; CMD runs without a shell, so nothing expands.
  assertScope(doc, 4, '[', 'punctuation.definition.array.begin');
  assertScope(doc, 4, ',', 'punctuation.separator.array');
  assertScope(doc, 4, 'SRC', 'variable.other');
  assertScope(doc, 5, '$HOME', 'string.quoted.double');
  assertNoScope(doc, 5, '$HOME', 'variable');
  assertScope(doc, 6, 'pipefail', 'string.quoted.double');
});

test('FROM: image, AS and the stage name', async () => {
  const doc = await tokenize('FROM node:20-alpine AS build\nfrom build as final\nFROM ${BASE}:${TAG}');
  assertScope(doc, 0, 'node:20-alpine', 'entity.name.type.image');
  assertScope(doc, 0, 'AS', 'keyword.other.as');
  assertScope(doc, 0, 'build', 'entity.name.function.stage');
  assertScope(doc, 1, 'as', 'keyword.other.as');
  assertScope(doc, 1, 'final', 'entity.name.function.stage');
  assertScope(doc, 2, 'BASE', 'variable.other');
  assertScope(doc, 2, 'TAG', 'variable.other');
});

test('EXPOSE ports are numbers, with ranges and protocols', async () => {
  const doc = await tokenize('EXPOSE 80 443/tcp 8000-8010/udp');
  assertScope(doc, 0, '80', 'constant.numeric');
  assertScope(doc, 0, '443', 'constant.numeric');
  assertScope(doc, 0, 'tcp', 'constant.language.protocol');
  assertScope(doc, 0, '8010', 'constant.numeric');
  assertScope(doc, 0, '-', 'punctuation.separator.range');
});

test('a backslash continues the instruction on the next line', async () => {
  const doc = await tokenize([
    'LABEL a=1 \\',
    '      b=2 \\  ',
    '      c=3',
    'd=4',
  ].join('\n'));
  assertScope(doc, 0, '\\', 'constant.character.escape.line-continuation');
  assertScope(doc, 1, 'b', 'entity.other.attribute-name');
  // Trailing blanks after the backslash still continue, as in BuildKit.
  assertScope(doc, 2, 'c', 'entity.other.attribute-name');
  // The instruction ended with line 2, so line 3 is not a label.
  assertNoScope(doc, 3, 'd=4', 'entity.other.attribute-name');
});

test('comment lines and blank lines inside a continuation do not end it', async () => {
  const doc = await tokenize([
    'RUN apt-get update && \\',
    '    # curl for the healthcheck',
    '',
    '    apt-get install -y curl',
    'COPY . /app',
  ].join('\n'));
  assertScope(doc, 1, '#', 'comment.line.number-sign');
  assertScope(doc, 1, ' curl for the healthcheck', 'comment.line.number-sign');
  assertShell(doc, 3, 'apt-get');
  assertScope(doc, 4, 'COPY', KEYWORD);
  assertNotShell(doc, 4, 'COPY');
});

test('shell-form RUN over three lines stays shell until the logical line ends', async () => {
  const doc = await tokenize([
    'RUN set -eux; \\',
    '    env CC=clang make all \\',
    '      && make install',
    'ENTRYPOINT ["app"]',
    'CMD exec app --serve',
  ].join('\n'));
  assertScope(doc, 0, 'RUN', KEYWORD);
  assertNotShell(doc, 0, 'RUN');
  assertShell(doc, 0, 'set');
  assertScope(doc, 0, 'set', 'entity.name.function.call');
  // `env` is a command here, not the ENV instruction.
  assertShell(doc, 1, 'env');
  assertNoScope(doc, 1, 'env', 'keyword');
  assertShell(doc, 2, '&& make install');
  assertScope(doc, 3, 'ENTRYPOINT', KEYWORD);
  assertNotShell(doc, 3, 'ENTRYPOINT');
  assertShell(doc, 4, 'exec');
});

test('RUN heredoc bodies are shell; COPY heredoc bodies are file content', async () => {
  const doc = await tokenize([
    'RUN <<EOF',
    'apt-get update',
    'FROM looks-like-an-instruction',
    'EOF',
    'COPY <<-"CONF" /etc/app.conf',
    'listen=$PORT',
    '\tCONF',
    'RUN python3 <<PY > /out.txt',
    'print("hi")',
    'PY',
    'USER app',
  ].join('\n'));
  assertScope(doc, 0, '<<', 'keyword.operator.heredoc');
  assertScope(doc, 0, 'EOF', 'keyword.control.heredoc-token');
  assertShell(doc, 1, 'apt-get update');
  assertScope(doc, 1, 'apt-get update', 'meta.heredoc');
  assertShell(doc, 2, 'FROM looks-like-an-instruction');
  assertNoScope(doc, 2, 'FROM looks-like-an-instruction', 'keyword');
  assertScope(doc, 3, 'EOF', 'keyword.control.heredoc-token');
  // The terminator ended the embedding: COPY is an instruction again.
  assertScope(doc, 4, 'COPY', KEYWORD);
  assertNotShell(doc, 4, 'COPY');
  assertScope(doc, 4, 'CONF', 'keyword.control.heredoc-token');
  assertScope(doc, 4, '"', 'punctuation.definition.heredoc-token');
  assertScope(doc, 5, 'listen=$PORT', 'string.unquoted.heredoc');
  assertNotShell(doc, 5, 'listen=$PORT');
  assertScope(doc, 6, 'CONF', 'keyword.control.heredoc-token');
  // A heredoc after a command: the body still ends at its terminator.
  assertShell(doc, 7, 'python3');
  assertScope(doc, 7, 'PY', 'keyword.control.heredoc-token');
  assertShell(doc, 8, 'print("hi")');
  assertScope(doc, 9, 'PY', 'keyword.control.heredoc-token');
  assertScope(doc, 10, 'USER', KEYWORD);
  assertNotShell(doc, 10, 'USER');
});

test('two heredocs in one instruction: the region runs to the last terminator', async () => {
  const doc = await tokenize([
    'COPY <<robots.txt <<humans.txt /usr/share/nginx/html/',
    'User-agent: *',
    'robots.txt',
    'ENV is a word here',
    'humans.txt',
    'EXPOSE 80',
  ].join('\n'));
  assertScope(doc, 0, 'robots.txt', 'keyword.control.heredoc-token');
  assertScope(doc, 0, 'humans.txt', 'keyword.control.heredoc-token');
  assertScope(doc, 1, 'User-agent: *', 'string.unquoted.heredoc');
  assertScope(doc, 3, 'ENV is a word here', 'string.unquoted.heredoc');
  assertNoScope(doc, 3, 'ENV', 'keyword');
  assertScope(doc, 4, 'humans.txt', 'keyword.control.heredoc-token');
  assertScope(doc, 5, 'EXPOSE', KEYWORD);
});

test('the shell regions hand their text to source.shell', async () => {
  // A stand-in for VS Code's shell grammar: it marks `echo` and shell comments.
  const stubShell = {
    scopeName: 'source.shell',
    patterns: [
      { match: '\\becho\\b', name: 'support.function.builtin.stub.shell' },
      { match: '#.*', name: 'comment.line.stub.shell' },
      // Like a real shell grammar, a quote left open runs on over the following lines.
      { begin: "'", end: "'", name: 'string.quoted.single.stub.shell' },
    ],
  } as unknown as IRawGrammar;
  const doc = await tokenize([
    'RUN true && echo one',
    'RUN <<EOF',
    'echo two',
    "echo don't",
    'EOF',
    'COPY <<EOF /three',
    'echo three',
    'EOF',
    'CMD cd / && echo four # a shell comment',
    'ENV X="echo five"',
  ].join('\n'), loadDockerfileGrammar(stubShell));
  assertScope(doc, 0, 'echo', 'support.function.builtin.stub');
  assertScope(doc, 2, 'echo', 'support.function.builtin.stub');
  // The quote left open in the body does not swallow the terminator or what follows.
  assertScope(doc, 3, 't', 'string.quoted.single.stub', "don'");
  assertScope(doc, 4, 'EOF', 'keyword.control.heredoc-token');
  assertNoScope(doc, 4, 'EOF', 'string');
  assertScope(doc, 5, 'COPY', KEYWORD);
  assertNoScope(doc, 6, 'echo three', 'support.function.builtin.stub');
  assertScope(doc, 8, 'echo', 'support.function.builtin.stub');
  assertScope(doc, 8, '# a shell comment', 'comment.line.stub');
  assertNoScope(doc, 9, 'echo five', 'support.function.builtin.stub');
});
