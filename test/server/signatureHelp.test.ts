import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MarkupContent, SignatureHelp } from 'vscode-languageserver-protocol';
import { INSTRUCTION_BY_NAME, INSTRUCTIONS } from '../../server/src/dockerfile/instructions';
import { LspClient } from '../lsp-client';

// Signature help over the real server: every instruction's forms from the tables, the active
// form chosen by what is written, the active parameter by where the cursor is. `§` marks the
// cursor.

let client: LspClient;
let count = 0;

before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
});

after(async () => {
  await client.stop();
});

async function help(source: string): Promise<SignatureHelp | null> {
  const offset = source.indexOf('§');
  assert.ok(offset >= 0, 'the source marks the cursor with §');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  const uri = `file:///tmp/tug-test/signature/${++count}/Dockerfile`;
  await client.open(uri, text);
  const before = text.slice(0, offset).split('\n');
  const position = { line: before.length - 1, character: before[before.length - 1].length };
  const result = await client.request<SignatureHelp | null>('textDocument/signatureHelp', { textDocument: { uri }, position });
  await client.close(uri);
  return result;
}

/** The active form's label and the active parameter's text in it. */
async function active(source: string): Promise<[string, string]> {
  const h = await help(source);
  assert.ok(h, `signature help for ${JSON.stringify(source)}`);
  const signature = h.signatures[h.activeSignature ?? 0];
  const parameter = signature.parameters![h.activeParameter ?? 0];
  const label = parameter.label as [number, number];
  assert.equal(signature.activeParameter, h.activeParameter);
  return [signature.label, signature.label.slice(label[0], label[1])];
}

test('every instruction shows its forms, with parameters located in the labels', async () => {
  for (const spec of INSTRUCTIONS) {
    const h = await help(`FROM alpine\n${spec.name} §`);
    assert.ok(h, spec.name);
    assert.deepEqual(h.signatures.map((s) => s.label), spec.forms.map((f) => f.label), spec.name);
    h.signatures.forEach((signature, i) => {
      const form = spec.forms[i];
      assert.equal((signature.documentation as MarkupContent).value, form.doc);
      assert.deepEqual(
        signature.parameters!.map((p) => signature.label.slice(...(p.label as [number, number]))),
        form.params.map((p) => p.label),
        `${spec.name} form ${i}`,
      );
      assert.deepEqual(signature.parameters!.map((p) => (p.documentation as MarkupContent).value), form.params.map((p) => p.doc));
    });
  }
});

test('nothing on a keyword being typed, in a comment, in a heredoc body or outside instructions', async () => {
  assert.equal(await help('FRO§'), null);
  assert.equal(await help('FROM alpine\n# RUN §'), null);
  assert.equal(await help('FROM alpine\nRUN <<EOF\necho §\nEOF'), null);
  assert.equal(await help('FROM alpine\n\n§'), null);
  assert.equal(await help('FROM alpine\nNOPE §'), null);
});

describe('the active form follows what is written', () => {
  test('exec form or shell form', async () => {
    assert.deepEqual(await active('FROM alpine\nRUN ["sh", §'), ['RUN [OPTIONS] ["<executable>", "<param1>", ...]', '"<param1>", ...']);
    assert.deepEqual(await active('FROM alpine\nRUN apt-get §'), ['RUN [OPTIONS] <command> ...', '<command> ...']);
    assert.deepEqual(await active('FROM alpine\nRUN <<EOF §\nEOF'), ['RUN [OPTIONS] <<EOF [<command>]', '[<command>]']);
    assert.deepEqual(await active('FROM alpine\nENTRYPOINT ["/app", "-v"§]'), ['ENTRYPOINT ["<executable>", "<param1>", "<param2>"]', '"<param1>"']);
    assert.deepEqual(await active('FROM alpine\nENTRYPOINT /app §'), ['ENTRYPOINT <command> <param1> <param2>', '<param1>']);
    assert.deepEqual(await active('FROM alpine\nCMD ["nginx", "-g", §'), ['CMD ["<executable>", "<param1>", "<param2>"]', '"<param2>"']);
    assert.deepEqual(await active('FROM alpine\nCMD nginx §'), ['CMD <command> <param1> <param2>', '<param1>']);
    assert.deepEqual(await active('FROM alpine\nVOLUME ["/a", §'), ['VOLUME ["<path>", ...]', '...']);
    assert.deepEqual(await active('FROM alpine\nVOLUME /a §'), ['VOLUME <path> [<path>...]', '[<path>...]']);
  });

  test('CMD after an exec-form ENTRYPOINT gives default parameters', async () => {
    assert.deepEqual(await active('FROM alpine\nENTRYPOINT ["nginx"]\nCMD ["-g", §'), ['CMD ["<param1>", "<param2>"]', '"<param2>"']);
  });

  test('HEALTHCHECK NONE or CMD', async () => {
    assert.deepEqual(await active('FROM alpine\nHEALTHCHECK NONE§'), ['HEALTHCHECK NONE', 'NONE']);
    assert.deepEqual(await active('FROM alpine\nHEALTHCHECK --interval=5s CMD§'), ['HEALTHCHECK [OPTIONS] CMD command', 'CMD']);
    assert.deepEqual(await active('FROM alpine\nHEALTHCHECK CMD curl §'), ['HEALTHCHECK [OPTIONS] CMD command', 'command']);
    assert.deepEqual(await active('FROM alpine\nHEALTHCHECK --inter§'), ['HEALTHCHECK [OPTIONS] CMD command', '[OPTIONS]']);
  });

  test('FROM: image, tag, digest, with and without AS', async () => {
    assert.deepEqual(await active('FROM §'), ['FROM [--platform=<platform>] <image> [AS <name>]', '<image>']);
    assert.deepEqual(await active('FROM alpine§'), ['FROM [--platform=<platform>] <image> [AS <name>]', '<image>']);
    assert.deepEqual(await active('FROM alpine §'), ['FROM [--platform=<platform>] <image> [AS <name>]', '[AS <name>]']);
    assert.deepEqual(await active('FROM alpine AS §'), ['FROM [--platform=<platform>] <image> [AS <name>]', '[AS <name>]']);
    assert.deepEqual(await active('FROM alpine:3.2§'), ['FROM [--platform=<platform>] <image>[:<tag>] [AS <name>]', '[:<tag>]']);
    assert.deepEqual(await active('FROM alpine:3.20 AS b§'), ['FROM [--platform=<platform>] <image>[:<tag>] [AS <name>]', '[AS <name>]']);
    assert.deepEqual(await active('FROM localhost:5000/app§'), ['FROM [--platform=<platform>] <image> [AS <name>]', '<image>']);
    assert.deepEqual(await active('FROM alpine@sha256:ab§'), ['FROM [--platform=<platform>] <image>[@<digest>] [AS <name>]', '[@<digest>]']);
    assert.deepEqual(await active('FROM --platform=§'), ['FROM [--platform=<platform>] <image> [AS <name>]', '[--platform=<platform>]']);
  });

  test('COPY: sources then destination, --from, JSON and heredoc forms', async () => {
    const copy = 'COPY [OPTIONS] <src> ... <dest>';
    assert.deepEqual(await active('FROM alpine\nCOPY a§'), [copy, '<src> ...']);
    assert.deepEqual(await active('FROM alpine\nCOPY a §'), [copy, '<dest>']);
    assert.deepEqual(await active('FROM alpine\nCOPY a b§ c/'), [copy, '<src> ...']);
    assert.deepEqual(await active('FROM alpine\nCOPY a b c/§'), [copy, '<dest>']);
    assert.deepEqual(await active('FROM alpine\nCOPY --chown=1:1§ a b'), [copy, '[OPTIONS]']);
    assert.deepEqual(await active('FROM alpine AS x\nFROM alpine\nCOPY --from=x /a §'), ['COPY [--from=<image|stage|context>] <src> ... <dest>', '<dest>']);
    assert.deepEqual(await active('FROM alpine\nCOPY ["a b", §'), ['COPY [OPTIONS] ["<src>", ... "<dest>"]', '"<dest>"']);
    assert.deepEqual(await active('FROM alpine\nCOPY <<EOF §\nEOF'), ['COPY [OPTIONS] <<EOF <dest>', '<dest>']);
    assert.deepEqual(await active('FROM alpine\nADD https://x/y.tgz §'), ['ADD [OPTIONS] <src> ... <dest>', '<dest>']);
  });

  test('ENV pairs or the legacy form; ARG defaults; EXPOSE protocols; USER ids', async () => {
    assert.deepEqual(await active('FROM alpine\nENV A=1 §'), ['ENV <key>=<value> [<key>=<value>...]', '[<key>=<value>...]']);
    assert.deepEqual(await active('FROM alpine\nENV PATH §'), ['ENV <key> <value>', '<value>']);
    assert.deepEqual(await active('FROM alpine\nARG NAME§'), ['ARG <name>[=<default value>] [<name>[=<default value>]...]', '<name>']);
    assert.deepEqual(await active('FROM alpine\nARG NAME=§'), ['ARG <name>[=<default value>] [<name>[=<default value>]...]', '[=<default value>]']);
    assert.deepEqual(await active('FROM alpine\nEXPOSE 80/§'), ['EXPOSE <port>[/<protocol>] [<port>[/<protocol>]...]', '[/<protocol>]']);
    assert.deepEqual(await active('FROM alpine\nUSER 1000:§'), ['USER <UID>[:<GID>]', '[:<GID>]']);
    assert.deepEqual(await active('FROM alpine\nUSER app§'), ['USER <user>[:<group>]', '<user>']);
  });

  test("ONBUILD: its own signature on the trigger's keyword, the trigger's after it", async () => {
    assert.deepEqual(await active('FROM alpine\nONBUILD §'), ['ONBUILD <INSTRUCTION>', '<INSTRUCTION>']);
    assert.deepEqual(await active('FROM alpine\nONBUILD CO§'), ['ONBUILD <INSTRUCTION>', '<INSTRUCTION>']);
    assert.deepEqual(await active('FROM alpine\nONBUILD COPY . §'), ['COPY [OPTIONS] <src> ... <dest>', '<dest>']);
  });

  test('the active parameter across continuation lines', async () => {
    assert.deepEqual(await active('FROM alpine\nRUN --mount=type=cache,target=/c \\\n    --net§ \\\n    make'), ['RUN [OPTIONS] <command> ...', '[OPTIONS]']);
    assert.deepEqual(await active('FROM alpine\nCOPY a \\\n  b \\\n  §'), ['COPY [OPTIONS] <src> ... <dest>', '<dest>']);
  });
});

test('a 10,000-line Dockerfile answers', async () => {
  const lines: string[] = [];
  for (let i = 0; lines.length < 10_000; i++) lines.push(`FROM alpine AS s${i}`, 'RUN echo a \\', '    b', 'COPY --from=s0 /a /b');
  lines[7001] = 'COPY --from=s0 /a §/b';
  assert.deepEqual(await active(lines.join('\n')), ['COPY [--from=<image|stage|context>] <src> ... <dest>', '<dest>']);
  assert.equal(INSTRUCTION_BY_NAME.get('COPY')!.forms[2].label, 'COPY [--from=<image|stage|context>] <src> ... <dest>');
});
