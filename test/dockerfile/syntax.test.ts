import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DockerfileParser, type Instruction as AstInstruction } from 'dockerfile-ast';
import { parse } from '../../server/src/dockerfile/syntax';

// Our parser against dockerfile-ast, the parser of rcjsuen's language server, on every fixture:
// the same instructions on the same lines, the same keywords, flags, heredocs and directives.
// Where the two differ, ours follows BuildKit; each such case is tested on its own below.

const FIXTURES = join(__dirname, '../fixtures/dockerfiles');
const files = ['official', 'broken'].flatMap((dir) =>
  readdirSync(join(FIXTURES, dir)).map((name) => ({ name: `${dir}/${name}`, text: readFileSync(join(FIXTURES, dir, name), 'utf8') })),
);

interface Flagged {
  getFlags(): { getName(): string; getValue(): string | null }[];
}
interface Heredocs {
  getHeredocs(): { getName(): string }[];
}

function summary(text: string): { ours: string[]; theirs: string[] } {
  const ours = parse(text);
  const ast = DockerfileParser.parse(text);
  const describe = (line: number, keyword: string, flags: string[], heredocs: string[]) =>
    `${line} ${keyword} [${flags.join(' ')}] <${heredocs.join(' ')}>`;
  return {
    ours: ours.instructions.map((i) =>
      describe(
        ours.lines.lineAt(i.keywordSpan.start),
        i.keyword,
        i.flags.map((f) => `${f.name}=${f.value}`),
        i.heredocs.map((h) => h.name),
      ),
    ),
    theirs: ast.getInstructions().map((i: AstInstruction) =>
      describe(
        i.getInstructionRange().start.line,
        i.getKeyword(),
        'getFlags' in i ? (i as unknown as Flagged).getFlags().map((f) => `${f.getName()}=${f.getValue()}`) : [],
        'getHeredocs' in i ? (i as unknown as Heredocs).getHeredocs().map((h) => h.getName()) : [],
      ),
    ),
  };
}

test('instructions, lines, keywords, flags and heredocs agree with dockerfile-ast on every fixture', () => {
  assert.ok(files.length > 60);
  for (const file of files) {
    const { ours, theirs } = summary(file.text);
    // dockerfile-ast records flags only on the instructions it models with flags, and keeps
    // ONBUILD's trigger flags on the trigger: compare flags where it has them.
    const strip = (s: string) => s.replace(/ \[[^\]]*\]/, ' []');
    const comparable = ours.map((line, k) => (/ \[\]/.test(theirs[k] ?? '') ? strip(line) : line));
    assert.deepEqual(comparable, theirs, file.name);
  }
});

test('directives agree with dockerfile-ast', () => {
  for (const file of files) {
    const ours = parse(file.text).directives.map((d) => `${d.name}=${d.value}`);
    // dockerfile-ast takes any `# word=value` at the top for a directive; BuildKit knows three.
    const theirs = DockerfileParser.parse(file.text)
      .getDirectives()
      .map((d) => `${d.getName().toLowerCase()}=${d.getValue()}`)
      .filter((d) => /^(syntax|escape|check)=/.test(d));
    assert.deepEqual(ours, theirs, file.name);
  }
});

test('where BuildKit differs from dockerfile-ast, the parser follows BuildKit', () => {
  // Go's JSON decoder reads the array and ignores what follows it.
  assert.deepEqual(parse('CMD ["a", "b"] trailing\n').instructions[0].json?.items.map((i) => i.value), ['a', 'b']);
  // A directive needs a value; an empty one ends the directives.
  assert.deepEqual(parse('# escape=\n# syntax=x\nFROM a\n').directives, []);
  // A bare `--` ends the flags.
  const run = parse('RUN --network=none -- --not-a-flag\n').instructions[0];
  assert.deepEqual(run.flags.map((f) => f.name), ['network']);
  assert.equal(run.words[0].text, '--not-a-flag');
  // The line after a final newline is no line: no empty continuation there.
  assert.deepEqual(parse('RUN a \\\n').instructions[0].emptyContinuationLines, []);
  // Comment lines inside a continuation are dropped; blank ones are recorded.
  const joined = parse('RUN a \\\n# note\n\n  b\n').instructions[0];
  assert.equal(joined.logical.text, 'RUN a   b');
  assert.deepEqual(joined.emptyContinuationLines, [2]);
});
