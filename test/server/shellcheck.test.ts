import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import { LspClient } from '../lsp-client';

// Needs Debian's shellcheck (installed by .ci/run): the findings come from the real program.

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
});
after(async () => {
  await client.stop();
});

/** Waits until the published diagnostics for a URI satisfy a predicate. */
async function diagnosticsWhere(uri: string, ok: (d: Diagnostic[]) => boolean, timeoutMs = 10_000): Promise<Diagnostic[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = client.lastDiagnostics(uri);
    if (last && ok(last.diagnostics)) return last.diagnostics;
    if (Date.now() > deadline) throw new Error(`no matching diagnostics for ${uri}: ${JSON.stringify(last?.diagnostics)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const shellcheck = (list: Diagnostic[]) => list.filter((d) => d.source === 'shellcheck');

test('shellcheck findings on a continued RUN land on the right line and column', async () => {
  const uri = 'file:///tmp/tug-test/shellcheck/Dockerfile';
  const text = [
    'FROM debian:12',
    'ARG version=1',
    'RUN --mount=type=cache,target=/var/cache/apt apt-get update \\',
    '    # a comment Docker drops',
    '\t&& echo $version $undefined_thing \\',
    '    && cd /tmp',
    'CMD ["sh"]',
  ].join('\n');
  await client.open(uri, text);
  const found = shellcheck(await diagnosticsWhere(uri, (d) => shellcheck(d).length > 0));
  const at = (code: string) => found.filter((d) => d.code === code).map((d) => [d.range.start.line, d.range.start.character, d.range.end.character]);
  // $undefined_thing on line 4 (0-based), after "\t&& echo $version ".
  assert.deepEqual(at('SC2154'), [[4, 18, 34]]);
  // Both unquoted expansions; $version is declared by ARG, so only SC2086 for it.
  assert.deepEqual(at('SC2086'), [[4, 9, 17], [4, 18, 34]]);
  assert.deepEqual(at('SC2164'), [[5, 7, 14]]);
  const sc2154 = found.find((d) => d.code === 'SC2154')!;
  assert.equal(sc2154.severity, 2);
  assert.equal(sc2154.codeDescription?.href, 'https://www.shellcheck.net/wiki/SC2154');
});

test('a heredoc RUN is checked as its own script; exec form and non-POSIX shells are not', async () => {
  const uri = 'file:///tmp/tug-test/shellcheck/heredoc.Dockerfile';
  const text = [
    '# syntax=docker/dockerfile:1',
    'FROM debian:12',
    'RUN <<EOF',
    '#!/bin/bash',
    'echo $missing_var',
    'EOF',
    'RUN ["sh", "-c", "echo $nope"]',
    'SHELL ["pwsh", "-Command"]',
    'RUN echo $also_missing',
  ].join('\n');
  await client.open(uri, text);
  const found = shellcheck(await diagnosticsWhere(uri, (d) => shellcheck(d).length > 0));
  assert.deepEqual(
    found.filter((d) => d.code === 'SC2154').map((d) => [d.range.start.line, d.range.start.character]),
    [[4, 5]],
  );
  assert.ok(found.every((d) => d.range.start.line === 4), JSON.stringify(found));
});

test('shellcheck fixes are offered as quick fixes', async () => {
  const uri = 'file:///tmp/tug-test/shellcheck/fix.Dockerfile';
  const text = 'FROM debian:12\nRUN cd /tmp\n';
  await client.open(uri, text);
  await diagnosticsWhere(uri, (d) => shellcheck(d).length > 0);
  const actions = await client.request<{ title: string; edit: { changes: Record<string, { newText: string; range: unknown }[]> } }[]>(
    'textDocument/codeAction',
    { textDocument: { uri }, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 11 } }, context: { diagnostics: [] } },
  );
  const fix = actions.find((a) => a.title === "Apply shellcheck's fix for SC2164");
  assert.ok(fix, JSON.stringify(actions.map((a) => a.title)));
  assert.deepEqual(fix.edit.changes[uri], [{ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 11 } }, newText: ' || exit' }]);
});

test('the setting turns shellcheck off', async () => {
  const off = await LspClient.start('node', ['dist/server.js', '--stdio'], {
    initializationOptions: { diagnostics: { shellcheck: false } },
    settings: { tug: { diagnostics: { shellcheck: false } } },
  });
  try {
    const uri = 'file:///tmp/tug-test/shellcheck/off.Dockerfile';
    await off.open(uri, 'FROM debian:12\nRUN cd /tmp\n');
    await off.waitForDiagnostics(uri);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(shellcheck(off.lastDiagnostics(uri)!.diagnostics), []);
  } finally {
    await off.stop();
  }
});

test('while shellcheck reruns after an edit, its findings stay, moved with the text', async () => {
  const uri = 'file:///tmp/tug-test/shellcheck/carry.Dockerfile';
  const text = 'FROM debian:12\nRUN cd /tmp\n';
  await client.open(uri, text);
  await diagnosticsWhere(uri, (d) => shellcheck(d).length > 0);
  const version = await client.change(uri, `# a comment\n${text}`);
  // The first publish for the new version comes from the synchronous rules alone.
  const first = await client.waitForDiagnostics(uri, version);
  assert.deepEqual(
    shellcheck(first.diagnostics).map((d) => [d.code, d.range.start.line, d.range.start.character]),
    [['SC2164', 2, 4]],
  );
});

test('a server ended by a signal leaves no scripts behind in the temp folder; the folder of one killed outright goes with the next', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'tug-shellcheck-test-'));
  try {
    // A server killed by SIGKILL left its folder; a running one's stays.
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    await mkdir(join(tmp, `tug-shellcheck-${gone.pid}-abcdef`, 'run-x'), { recursive: true });
    await mkdir(join(tmp, `tug-shellcheck-${process.pid}-ghijkl`));
    const server = await LspClient.start('node', ['dist/server.js', '--stdio'], { env: { ...process.env, TMPDIR: tmp } });
    const uri = 'file:///tmp/tug-test/shellcheck-signal/Dockerfile';
    await server.open(uri, 'FROM debian:12\nRUN echo $undefined_thing\n');
    for (let i = 0; !(server.lastDiagnostics(uri)?.diagnostics ?? []).some((d) => d.source === 'shellcheck'); i++) {
      if (i > 500) throw new Error('shellcheck never ran');
      await new Promise((r) => setTimeout(r, 20));
    }
    const made = (await readdir(tmp)).filter((n) => n.startsWith('tug-shellcheck-') && !n.endsWith('-ghijkl'));
    assert.equal(made.length, 1, `the scripts' folder is made in TMPDIR, the dead server's removed: ${made}`);
    assert.match(made[0], /^tug-shellcheck-\d+-/);
    await server.kill('SIGTERM');
    assert.deepEqual(await readdir(tmp), [`tug-shellcheck-${process.pid}-ghijkl`]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
