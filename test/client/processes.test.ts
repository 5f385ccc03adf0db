// The Containers view's process tree, from a real tugd's top of a container with a process
// tree inside it, and the cases a live process list brings (orphans, reused PIDs).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseTop, processTree, TOP_PS_ARGS, watchProcesses, type ProcessNode, type TopResult } from '../../client/src/processes';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine();

/** A tree as indented lines of commands, for comparing shapes. */
const outline = (nodes: ProcessNode[], depth = 0): string[] => nodes.flatMap((n) => [`${'  '.repeat(depth)}${n.command}`, ...outline(n.children, depth + 1)]);

test('a running container\'s processes, from the engine\'s top, as a tree by parent PID', async () => {
  const run = await t.engine.docker(['run', '-d', '-u', '1000', t.busybox, 'sh', '-c', 'sh -c "sleep 300; echo done" & sleep 301 & wait']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  try {
    const client = t.client;
    let rows: ReturnType<typeof parseTop> = [];
    for (let i = 0; i < 100 && rows.length < 4; i++) {
      rows = parseTop(await client.call<TopResult>('GET', `/containers/${id}/top?ps_args=${encodeURIComponent(TOP_PS_ARGS)}`));
      if (rows.length < 4) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(outline(processTree(rows)), ['sh -c sh -c "sleep 300; echo done" & sleep 301 & wait', '  sh -c sleep 300; echo done', '    sleep 300', '  sleep 301']);
    // Users as the host names them, as Docker's top (ps on the host) shows them.
    const host = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.split(':')[2] === '1000')?.split(':')[0] ?? '1000';
    for (const row of rows) {
      assert.equal(row.user, host);
      assert.ok(row.memoryKiB > 0, JSON.stringify(row));
      assert.match(row.cpu, /^\d+(\.\d+)?$/);
    }
  } finally {
    await t.engine.docker(['rm', '-f', id]);
  }
});

test('orphans are roots, a PID cycle is broken, columns are found by title, a list without PIDs is an error', () => {
  const top: TopResult = {
    Titles: ['UID', 'PID', 'PPID', 'C', 'CMD'],
    Processes: [
      ['root', '10', '0', '0', 'init'],
      ['root', '12', '10', '0', 'child'],
      ['root', '30', '99', '0', 'orphan'],
      ['root', '40', '41', '0', 'a'],
      ['root', '41', '40', '0', 'b'],
    ],
  };
  const rows = parseTop(top);
  assert.deepEqual(rows[1], { pid: 12, ppid: 10, user: 'root', cpu: '0', memoryKiB: 0, command: 'child' });
  const tree = processTree(rows);
  assert.deepEqual(outline(tree), ['init', '  child', 'orphan', 'b', '  a']);
  assert.throws(() => parseTop({ Titles: ['CMD'], Processes: [['x']] }), /no PID column/);
});

test('watching a container\'s processes tells each change, and ends with an empty tree when it stops', async () => {
  const run = await t.engine.docker(['run', '-d', t.busybox, 'sh', '-c', 'while true; do sleep 0.2; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const client = t.client;
  const trees: ProcessNode[][] = [];
  const controller = new AbortController();
  const watching = watchProcesses(client, id, 50, (tree) => {
    trees.push(tree);
    // A few changes seen (a new sleep each time), then the container is stopped under it.
    if (trees.length === 3) void t.engine.docker(['stop', '-t', '0', id]);
  }, controller.signal);
  const timeout = setTimeout(() => controller.abort(), 20_000);
  await watching;
  clearTimeout(timeout);
  assert.ok(!controller.signal.aborted, 'the watch ended by itself when the container stopped');
  assert.ok(trees.length >= 4, JSON.stringify(trees.length));
  // Each tree told differs from the one before: nothing is told twice.
  for (let i = 1; i < trees.length; i++) assert.notDeepEqual(trees[i], trees[i - 1]);
  assert.match(trees[0][0].command, /while true/);
  // From tugd, the PIDs the container sees: its shell is 1, under no parent, its sleeps below it.
  assert.equal(trees[0][0].pid, 1);
  assert.equal(trees[0][0].ppid, 0);
  assert.ok(trees.some((tree) => tree[0].children.some((c) => c.ppid === 1 && /sleep/.test(c.command))), 'a sleep under the shell');
  assert.deepEqual(trees.at(-1), []);
  await t.engine.docker(['rm', '-f', id]);
});
