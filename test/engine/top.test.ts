// `docker top` from /proc (runtime-agent/src/runtime/top.ts), on a real process tree: a shell
// with two sleeps, and a zombie. Expected values come from what the test itself knows (pids,
// parents, commands, the start time it observed) and, where procps's `ps` is installed, from
// running it on the same processes and splitting its output the way Docker does.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { top } from '../../runtime-agent/src/runtime/top';
import { until } from '../helpers/wait';

const SCRIPT = 'sleep 30 & sleep 30 & wait';
let shell: ChildProcess & { pid: number };
let sleeps: number[] = [];
const started: string[] = []; // the start time as STIME shows it, just before and just after spawning
const children: ChildProcess[] = [];

const two = (n: number) => String(n).padStart(2, '0');
const hhmm = (d: Date) => `${two(d.getHours())}:${two(d.getMinutes())}`;

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(' ').filter(Boolean).map(Number).sort((a, b) => a - b);
}

const comm = (pid: number) => readFile(`/proc/${pid}/comm`, 'utf8').then((s) => s.trim(), () => '');

before(async () => {
  // A second either side: ps works the start time out from the boot time, which /proc/stat
  // gives in whole seconds.
  started.push(hhmm(new Date(Date.now() - 1000)));
  // Its own session (detached), so that it is a session leader: STAT shows 's'.
  shell = spawn('sh', ['-c', SCRIPT], { stdio: 'ignore', detached: true }) as ChildProcess & { pid: number };
  children.push(shell);
  started.push(hhmm(new Date(Date.now() + 1000)));
  await until('two sleeps', async () => {
    sleeps = await childrenOf(shell.pid);
    return sleeps.length === 2 && (await Promise.all(sleeps.map(comm))).every((c) => c === 'sleep');
  });
});

after(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // the session's process group: the shell and its sleeps
    } catch {
      child.kill('SIGKILL');
    }
  }
});

const me = userInfo().username;
const pids = () => [shell.pid, ...sleeps];
/** The rows for shell, sleep, sleep, with `row(pid, ppid, command)` filling in the columns. */
const tree = (row: (pid: number, ppid: number, command: string) => string[]) => [
  row(shell.pid, process.pid, `sh -c ${SCRIPT}`),
  row(sleeps[0], shell.pid, 'sleep 30'),
  row(sleeps[1], shell.pid, 'sleep 30'),
];

/**
 * STIME is the minute the test saw the shell start in (either side of spawning it). The CPU
 * share (`cpu`) is cputime over elapsed time, which on a loaded machine is not 0 for a process
 * only milliseconds old: it is checked for its shape here and for its value against ps below.
 */
function withStime(result: { Processes: string[][] }, column: number, cpu: { column: number; shape: RegExp }): string[][] {
  return result.Processes.map((row) => {
    assert.ok(started.includes(row[column]), `start ${row[column]} is not one of ${started}`);
    assert.match(row[cpu.column], cpu.shape);
    return row.map((value, i) => (i === column ? 'STIME' : i === cpu.column ? 'CPU' : value));
  });
}

/** `ps ARGS` on the host, its rows for our pids split as Docker splits them (the last column takes the rest). */
async function hostPs(args: string[]): Promise<{ Titles: string[]; Processes: string[][] } | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('ps', args));
  } catch {
    return undefined; // procps is not installed
  }
  const [header, ...lines] = stdout.trimEnd().split('\n');
  const Titles = header.trim().split(/\s+/);
  const pidColumn = Titles.indexOf('PID');
  const Processes = lines
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return [...fields.slice(0, Titles.length - 1), fields.slice(Titles.length - 1).join(' ')];
    })
    .filter((row) => pids().includes(Number(row[pidColumn])));
  return { Titles, Processes };
}

test('default (ps -ef): UID PID PPID C STIME TTY TIME CMD', async () => {
  for (const result of [await top(pids()), await top(pids(), '-ef'), await top(pids(), '  -e  -f ')]) {
    assert.deepEqual(result.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.deepEqual(
      withStime(result, 4, { column: 3, shape: /^\d+$/ }),
      tree((pid, ppid, command) => [me, String(pid), String(ppid), 'CPU', 'STIME', '?', '00:00:00', command]),
    );
  }
  assert.deepEqual((await top(pids(), '-f')).Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
});

/**
 * Whether a comparison of our reading with ps's holds; false (to read again) while `attempt` is
 * under 5. The CPU share, cputime over elapsed time, can tick down between the two readings.
 */
async function agrees(attempt: number, compare: () => void): Promise<boolean> {
  try {
    compare();
    return true;
  } catch (error) {
    if (attempt >= 5) throw error;
    await new Promise((r) => setTimeout(r, 50));
    return false;
  }
}

test('the same answer as Docker gets from the host\'s ps -ef and ps aux', async (t) => {
  for (let attempt = 1; ; attempt++) {
    const ef = await hostPs(['-ef']);
    if (!ef) return t.skip('procps ps is not installed');
    const ours = await top(pids(), '-ef');
    if (await agrees(attempt, () => assert.deepEqual(ours, ef))) break;
  }
  for (let attempt = 1; ; attempt++) {
    const aux = await hostPs(['aux']);
    const ours = await top(pids(), 'aux');
    const trimmed = { Titles: ours.Titles.slice(0, -1), Processes: ours.Processes.map((row) => row.slice(0, -1)) };
    if (await agrees(attempt, () => assert.deepEqual(trimmed, aux))) break;
  }
});

test('aux: USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND, and PPID appended', async () => {
  const result = await top(pids(), 'aux');
  assert.deepEqual(result.Titles, ['USER', 'PID', '%CPU', '%MEM', 'VSZ', 'RSS', 'TTY', 'STAT', 'START', 'TIME', 'COMMAND', 'PPID']);
  const rows = withStime(result, 8, { column: 2, shape: /^\d+\.\d$/ });
  // VSZ and RSS are the kernel's VmSize and VmRSS.
  for (const row of rows) {
    const status = await readFile(`/proc/${row[1]}/status`, 'utf8');
    assert.equal(row[4], /^VmSize:\s+(\d+) kB$/m.exec(status)?.[1]);
    assert.equal(row[5], /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
    assert.match(row[3], /^\d+\.\d$/);
  }
  assert.deepEqual(
    rows.map((row) => [...row.slice(0, 3), ...row.slice(6)]),
    tree((pid, ppid, command) => [me, String(pid), 'CPU', '?', pid === shell.pid ? 'Ss' : 'S', 'STIME', '0:00', command, String(ppid)]),
  );
});

test('-o pid,comm: the columns asked for, PPID appended; -e: PID TTY TIME CMD', async () => {
  const o = await top(pids(), '-o pid,comm');
  assert.deepEqual(o, {
    Titles: ['PID', 'COMMAND', 'PPID'],
    Processes: tree((pid, ppid, command) => [String(pid), command.split(' ')[0], String(ppid)]),
  });
  assert.deepEqual(await top(pids(), '-eo pid,ppid,args,user'), {
    Titles: ['PID', 'PPID', 'COMMAND', 'USER'],
    Processes: tree((pid, ppid, command) => [String(pid), String(ppid), command, me]),
  });
  assert.deepEqual(await top(pids(), 'axo user,args --format=stat'), {
    Titles: ['USER', 'COMMAND', 'STAT', 'PID', 'PPID'],
    Processes: tree((pid, ppid, command) => [me, command, pid === shell.pid ? 'Ss' : 'S', String(pid), String(ppid)]),
  });
  assert.deepEqual(await top(pids(), '-e'), {
    Titles: ['PID', 'TTY', 'TIME', 'CMD', 'PPID'],
    Processes: tree((pid, ppid, command) => [String(pid), '?', '00:00:00', command.split(' ')[0], String(ppid)]),
  });
  // A header of one's own ('pid=ID') is kept, and the tree still gets a PID column.
  assert.deepEqual((await top(pids(), '-o pid=ID')).Titles, ['ID', 'PID', 'PPID']);
});

test('a vanished pid is skipped; a zombie shows as <defunct>', async () => {
  const gone = spawn('true');
  await new Promise((resolve) => gone.once('exit', resolve));
  // /bin/true exits and the shell, now sleep, never reaps it.
  const parent = spawn('sh', ['-c', '/bin/true & exec sleep 30'], { stdio: 'ignore', detached: true });
  children.push(parent);
  let zombie = 0;
  // Under load the shell may still be exec'ing sleep when true is already a zombie.
  await until('a zombie under sleep', async () => {
    [zombie] = await childrenOf(parent.pid!);
    return (
      zombie !== undefined &&
      (await readFile(`/proc/${zombie}/stat`, 'utf8').catch(() => '')).includes(') Z ') &&
      (await comm(parent.pid!)) === 'sleep'
    );
  });
  assert.deepEqual(await top([gone.pid!, zombie, parent.pid!], '-o pid,ppid,stat,comm,args'), {
    Titles: ['PID', 'PPID', 'STAT', 'COMMAND', 'COMMAND'],
    Processes: [
      [String(parent.pid), String(process.pid), 'Ss', 'sleep', 'sleep 30'],
      [String(zombie), String(parent.pid), 'Z', 'true <defunct>', '[true] <defunct>'],
    ].sort((a, b) => Number(a[0]) - Number(b[0])),
  });
});

/** All descendants of `pid`, depth first. */
async function descendants(pid: number): Promise<number[]> {
  const result: number[] = [];
  for (const child of await childrenOf(pid)) result.push(child, ...(await descendants(child)));
  return result;
}

test('user names as ps shows them (cut at 8 with +, numeric without an entry) and terminals as pts/N', async (t) => {
  const long = (await readFile('/etc/passwd', 'utf8')).split('\n').map((l) => l.split(':')).find((f) => f.length >= 7 && f[0].length > 8);
  const others: ChildProcess[] = [];
  if (long) others.push(spawn('sleep', ['30'], { uid: Number(long[2]), gid: Number(long[3]), stdio: 'ignore', detached: true }));
  others.push(spawn('sleep', ['30'], { uid: 54321, gid: 54321, stdio: 'ignore', detached: true }));
  // script(1) runs its command on a new pseudo-terminal.
  const script = spawn('script', ['-qfc', 'sleep 30', '/dev/null'], { stdio: 'ignore', detached: true });
  script.on('error', () => {}); // not installed: skipped below
  others.push(script);
  children.push(...others);
  if (script.pid === undefined) return t.skip('script(1) is not installed');
  let onTerminal = 0;
  await until('the sleep on a terminal', async () => {
    for (const pid of await descendants(script.pid!)) if ((await comm(pid)) === 'sleep') onTerminal = pid;
    return onTerminal !== 0;
  });
  // It runs in a session of its own: killing script's group does not reach it.
  t.after(() => {
    try {
      process.kill(onTerminal, 'SIGKILL');
    } catch {
      // Gone with its terminal already.
    }
  });
  const terminal = (await readlink(`/proc/${onTerminal}/fd/0`)).replace(/^\/dev\//, '');
  assert.match(terminal, /^pts\/\d+$/);

  const all = [...others.slice(0, -1).map((c) => c.pid!), onTerminal];
  const result = await top(all, '-o pid,user,tty,comm');
  assert.deepEqual(result, {
    Titles: ['PID', 'USER', 'TT', 'COMMAND', 'PPID'],
    Processes: [
      ...(long ? [[String(others[0].pid), long[0].slice(0, 7) + '+', '?', 'sleep', String(process.pid)]] : []),
      [String(others[long ? 1 : 0].pid), '54321', '?', 'sleep', String(process.pid)],
      [String(onTerminal), me, terminal, 'sleep', (await readFile(`/proc/${onTerminal}/stat`, 'utf8')).split(') ')[1].split(' ')[1]],
    ].sort((a, b) => Number(a[0]) - Number(b[0])),
  });

  // And column for column what the host's ps says of all these processes. Two readings of a
  // process a few milliseconds apart can differ while it is still starting (state R, its RSS
  // growing) or while its CPU share, cputime over elapsed time, ticks down: the processes are
  // left to fall asleep, and a difference is read again (see agrees).
  const columns = 'pid,ppid,pgid,sid,tpgid,user,ruser,euser,uid,ruid,group,gid,tty,tt,tname,stat,s,ni,nlwp,vsz,rss,time,bsdtime,c,pcpu,pmem,stime,start_time,start,ucmd,comm,cmd';
  const everyone = [...pids(), ...all];
  await until('every process asleep', async () => {
    const states = await Promise.all(everyone.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').then((s) => s.split(') ')[1][0])));
    return states.every((state) => state === 'S');
  });
  for (let attempt = 1; ; attempt++) {
    const ours = await top(everyone, `-o ${columns}`);
    let theirs: string;
    try {
      ({ stdout: theirs } = await promisify(execFile)('ps', ['-o', columns, '-p', everyone.join(',')]));
    } catch {
      return t.skip('procps ps is not installed');
    }
    const [header, ...lines] = theirs.trimEnd().split('\n');
    const titles = header.trim().split(/\s+/);
    const expected = {
      Titles: titles,
      Processes: lines.map((line) => {
        const fields = line.trim().split(/\s+/);
        return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
      }),
    };
    if (await agrees(attempt, () => assert.deepEqual(ours, expected))) break;
  }
});

test('unsupported options are refused by name', async () => {
  await assert.rejects(top(pids(), '-l'), { message: 'unsupported ps option "-l"' });
  await assert.rejects(top(pids(), '-ef --sort=pid'), { message: 'unsupported ps option "--sort"' });
  await assert.rejects(top(pids(), 'auxf'), { message: 'unsupported ps option "f"' });
  await assert.rejects(top(pids(), '-o pid,wchan'), { message: 'unsupported ps format column "wchan" in "pid,wchan"' });
  await assert.rejects(top(pids(), '-o pid,,comm'), { message: 'empty column in ps format list "pid,,comm"' });
  await assert.rejects(top(pids(), '-o'), { message: 'ps option -o needs a format list, e.g. -o pid,comm' });
  await assert.rejects(top(pids(), '-o comm=PID'), { message: 'specifying "comm=PID" is not allowed' });
});
