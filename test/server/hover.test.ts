import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientCapabilities, Hover, MarkupContent, Range } from 'vscode-languageserver-protocol';
import { DIRECTIVES, INSTRUCTION_BY_NAME, MOUNT_TYPES, PREDEFINED_ARGS } from '../../server/src/dockerfile/instructions';
import { LspClient, vscodeLikeCapabilities } from '../lsp-client';

// Hover over the real server: keywords, directives, flags, --mount types and options,
// variables with their resolved values, ARG/ENV names, stage names and signals.

const SERVER: [string, string[]] = ['node', ['dist/server.js', '--stdio']];
const uri = 'file:///tmp/tug-test/hover/Dockerfile';
const lines = [
  /*  0 */ '# syntax=docker/dockerfile:1',
  /*  1 */ '# check=skip=JSONArgsRecommended',
  /*  2 */ 'ARG VERSION=1.2.3',
  /*  3 */ 'ARG EMPTY=',
  /*  4 */ 'FROM --platform=$BUILDPLATFORM golang:${VERSION} AS build',
  /*  5 */ 'ARG VERSION',
  /*  6 */ 'ARG NODEFAULT',
  /*  7 */ 'ENV APP=/srv/$VERSION',
  /*  8 */ 'RUN --mount=type=cache,target=/root/.cache,sharing=locked \\',
  /*  9 */ '    --network=none go build -o $APP/bin ./... # $NODEFAULT',
  /* 10 */ 'FROM build AS test',
  /* 11 */ 'RUN --mount=type=bind,from=build,source=/srv,target=/x ls $HTTP_PROXY',
  /* 12 */ 'FROM alpine',
  /* 13 */ 'COPY --from=build --chmod=755 /srv/app /usr/local/bin/app',
  /* 14 */ 'COPY --from=nginx:latest /etc/nginx /etc/nginx',
  /* 15 */ 'STOPSIGNAL SIGQUIT',
  /* 16 */ 'HEALTHCHECK NONE',
  /* 17 */ 'ONBUILD RUN echo $EMPTY',
  /* 18 */ 'MAINTAINER someone',
  /* 19 */ 'STOPSIGNAL 9',
  /* 20 */ 'ENV LATE=late',
  /* 21 */ 'RUN <<EOF',
  /* 22 */ 'echo $LATE $APP',
  /* 23 */ 'EOF',
];

let client: LspClient;
let plain: LspClient;

before(async () => {
  const capabilities: ClientCapabilities = structuredClone(vscodeLikeCapabilities);
  capabilities.textDocument!.hover!.contentFormat = ['plaintext'];
  [client, plain] = await Promise.all([LspClient.start(...SERVER), LspClient.start(...SERVER, { capabilities })]);
  await Promise.all([client.open(uri, lines.join('\n')), plain.open(uri, lines.join('\n'))]);
});

after(async () => {
  await Promise.all([client.stop(), plain.stop()]);
});

/** The range of the nth `needle` on a line. */
function word(line: number, needle: string, nth = 0): Range {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = lines[line].indexOf(needle, at + 1);
    assert.ok(at >= 0, `no ${needle} #${nth} on line ${line}`);
  }
  return { start: { line, character: at }, end: { line, character: at + needle.length } };
}

/** Hovers one character into the nth `needle` on a line. */
async function hover(line: number, needle: string, nth = 0, c = client): Promise<Hover | null> {
  const { start } = word(line, needle, nth);
  return c.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: { line, character: start.character + 1 } });
}

function markdown(h: Hover | null): string {
  assert.ok(h, 'a hover');
  const contents = h.contents as MarkupContent;
  assert.equal(contents.kind, 'markdown');
  return contents.value;
}

describe('keywords, directives and flags', () => {
  test('an instruction keyword shows its documentation', async () => {
    const h = await hover(4, 'FROM');
    assert.equal(markdown(h), INSTRUCTION_BY_NAME.get('FROM')!.doc);
    assert.deepEqual(h!.range, word(4, 'FROM'));
    assert.equal(markdown(await hover(18, 'MAINTAINER')), INSTRUCTION_BY_NAME.get('MAINTAINER')!.doc);
  });

  test("ONBUILD and its trigger's keyword", async () => {
    assert.equal(markdown(await hover(17, 'ONBUILD')), INSTRUCTION_BY_NAME.get('ONBUILD')!.doc);
    const h = await hover(17, 'RUN');
    assert.equal(markdown(h), INSTRUCTION_BY_NAME.get('RUN')!.doc);
    assert.deepEqual(h!.range, word(17, 'RUN'));
  });

  test('a parser directive: its name and value, on the name or on the value', async () => {
    const syntax = DIRECTIVES.find((d) => d.name === 'syntax')!;
    const onName = await hover(0, 'syntax');
    assert.equal(markdown(onName), `**syntax** = \`docker/dockerfile:1\`\n\n${syntax.doc}`);
    assert.deepEqual(onName!.range, word(0, 'syntax'));
    const onValue = await hover(0, 'docker/dockerfile:1');
    assert.equal(markdown(onValue), markdown(onName));
    assert.deepEqual(onValue!.range, word(0, 'docker/dockerfile:1'));
    assert.match(markdown(await hover(1, 'check')), /^\*\*check\*\* = `skip=JSONArgsRecommended`\n\nControls the build checks/);
  });

  test('a flag shows its documentation over --name', async () => {
    const h = await hover(9, '--network');
    const network = INSTRUCTION_BY_NAME.get('RUN')!.flags.find((f) => f.name === 'network')!;
    assert.equal(markdown(h), network.doc);
    assert.deepEqual(h!.range, word(9, '--network'));
    const chmod = await hover(13, '--chmod');
    assert.equal(markdown(chmod), INSTRUCTION_BY_NAME.get('COPY')!.flags.find((f) => f.name === 'chmod')!.doc);
    assert.deepEqual(chmod!.range, word(13, '--chmod'));
    const platform = await hover(4, '--platform');
    assert.deepEqual(platform!.range, word(4, '--platform'));
  });

  test('--mount: the type and each option, on its own range', async () => {
    const cache = MOUNT_TYPES.find((m) => m.type === 'cache')!;
    const type = await hover(8, 'type=cache');
    assert.equal(markdown(type), `**--mount type=cache**\n\n${cache.doc}`);
    assert.deepEqual(type!.range, word(8, 'type=cache'));
    const target = await hover(8, 'target=');
    assert.equal(markdown(target), `**target** (also \`dst\`, \`destination\`): option of \`--mount=type=cache\`\n\nMount point in the container (required).`);
    assert.deepEqual(target!.range, word(8, 'target=/root/.cache'));
    assert.match(markdown(await hover(8, 'sharing')), /^\*\*sharing\*\*: option of `--mount=type=cache`\n\nConcurrent use/);
    assert.match(markdown(await hover(11, 'source')), /^\*\*source\*\* \(also `src`\): option of `--mount=type=bind`/);
  });
});

describe('variables', () => {
  test('a reference shows its declaration and the value it resolves to there', async () => {
    const h = await hover(4, '${VERSION}');
    assert.equal(markdown(h), '`VERSION` = `1.2.3` (ARG, line 3)');
    assert.deepEqual(h!.range, word(4, '${VERSION}'));
    const app = await hover(9, '$APP');
    assert.equal(markdown(app), '`APP` = `/srv/1.2.3` (ENV, line 8)');
    assert.deepEqual(app!.range, word(9, '$APP'));
    // Inside the stage, VERSION reads the redeclaring ARG on line 6, which takes the global default.
    assert.equal(markdown(await hover(7, '$VERSION')), '`VERSION` = `1.2.3` (ARG, line 6)\n\nThe value is the default of the global `ARG` of the same name.');
    const heredoc = await hover(22, '$LATE');
    assert.equal(markdown(heredoc), '`LATE` = `late` (ENV, line 21)', 'in a heredoc body');
    assert.deepEqual(heredoc!.range, word(22, '$LATE'));
    // APP belongs to the first stages, not to this one.
    assert.equal(await hover(22, '$APP'), null);
  });

  test('an ARG without a value, an empty value, a predefined arg', async () => {
    assert.equal(markdown(await hover(9, '$NODEFAULT')), '`NODEFAULT` (ARG, line 7): no default value; set it with `--build-arg NODEFAULT=…`');
    const platform = await hover(4, '$BUILDPLATFORM');
    assert.equal(markdown(platform), PREDEFINED_ARGS.find((a) => a.name === 'BUILDPLATFORM')!.doc);
    assert.deepEqual(platform!.range, word(4, '$BUILDPLATFORM'));
    assert.equal(markdown(await hover(11, '$HTTP_PROXY')), PREDEFINED_ARGS.find((a) => a.name === 'HTTP_PROXY')!.doc);
    // The global EMPTY is not declared in the last stage: nothing is known about it there.
    assert.equal(await hover(17, '$EMPTY'), null);
  });

  test('an ARG or ENV name where it is declared', async () => {
    const arg = await hover(2, 'VERSION');
    assert.equal(markdown(arg), '`VERSION` = `1.2.3` (ARG, line 3)');
    assert.deepEqual(arg!.range, word(2, 'VERSION'));
    assert.equal(markdown(await hover(3, 'EMPTY')), '`EMPTY` = "" (ARG, line 4)');
    const env = await hover(7, 'APP');
    assert.equal(markdown(env), '`APP` = `/srv/1.2.3` (ENV, line 8)');
    assert.deepEqual(env!.range, word(7, 'APP'));
  });
});

describe('stages, signals and the rest', () => {
  const build = '**Build stage** `build` (stage 0, line 5)\n\nBased on `golang:${VERSION}`.';

  test('a stage name where it is defined and where it is used', async () => {
    const defined = await hover(4, 'build');
    assert.equal(markdown(defined), build);
    assert.deepEqual(defined!.range, word(4, 'build'));
    const base = await hover(10, 'build');
    assert.equal(markdown(base), build);
    assert.deepEqual(base!.range, word(10, 'build'));
    const from = await hover(13, 'build');
    assert.equal(markdown(from), build);
    assert.deepEqual(from!.range, word(13, 'build'));
    const mount = await hover(11, 'build');
    assert.equal(markdown(mount), build);
    assert.deepEqual(mount!.range, word(11, 'build'));
    assert.equal(markdown(await hover(10, 'test')), '**Build stage** `test` (stage 1, line 11)\n\nBased on `build`.');
  });

  test('COPY --from an image shows the flag', async () => {
    const h = await hover(14, 'nginx:latest');
    assert.equal(markdown(h), INSTRUCTION_BY_NAME.get('COPY')!.flags.find((f) => f.name === 'from')!.doc);
    assert.deepEqual(h!.range, word(14, 'nginx:latest'));
  });

  test("STOPSIGNAL's signal, by name or number", async () => {
    const h = await hover(15, 'SIGQUIT');
    assert.equal(markdown(h), '`SIGQUIT` (signal 3)\n\nQuit; some servers (nginx, for one) shut down gracefully on it.');
    assert.deepEqual(h!.range, word(15, 'SIGQUIT'));
    const byNumber = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 19, character: 11 } });
    assert.equal(markdown(byNumber), 'Signal 9 (`SIGKILL`)\n\nCannot be caught: the process is killed at once, with no chance to clean up.');
  });

  test('HEALTHCHECK NONE', async () => {
    assert.equal(markdown(await hover(16, 'NONE')), '**HEALTHCHECK NONE**\n\nDisable any health check inherited from the base image.');
  });

  test('nothing on plain arguments, spaces, comments or past the end', async () => {
    assert.equal(await hover(13, '/usr/local/bin/app'), null);
    assert.equal(await hover(4, ' AS'), null);
    assert.equal(await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 40, character: 0 } }), null);
  });

  test('plain text for a client without Markdown', async () => {
    const h = await hover(4, '${VERSION}', 0, plain);
    assert.deepEqual(h!.contents, { kind: 'plaintext', value: 'VERSION = 1.2.3 (ARG, line 3)' });
    const keyword = await hover(15, 'STOPSIGNAL', 0, plain);
    const text = (keyword!.contents as MarkupContent).value;
    assert.equal((keyword!.contents as MarkupContent).kind, 'plaintext');
    assert.doesNotMatch(text, /`|\*\*|\]\(/);
    assert.match(text, /^Sets the signal sent to the container's main process/);
  });
});
