// `docker top`: Docker runs the host's `ps` with the client's options and keeps the rows of the
// container's processes. We read /proc ourselves instead, with ps's columns, headers and
// formatting (procps), so the answer is the same without depending on a ps binary, and each row
// comes already split (ps's output has to be split on spaces, which breaks commands apart).

import { readFile } from 'node:fs/promises';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** What one process shows, read from /proc/<pid>/{stat,status,cmdline}. */
interface Proc {
  pid: number;
  /** The PID in the process's own PID namespace (the last of NSpid). */
  nsPid: number;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  tpgid: number;
  state: string;
  comm: string;
  args: string; // the command line, '' for kernel threads and zombies
  ticks: number; // user + system CPU time in clock ticks
  nice: number;
  realtime: boolean;
  threads: number;
  startTicks: number; // since boot
  processor: number;
  ruid: number;
  euid: number;
  rgid: number;
  egid: number;
  vszKiB: number;
  rssKiB: number;
  lockedKiB: number;
}

/** The host's state that every row is computed against. */
interface Host {
  now: number; // seconds since the epoch
  bootTime: number; // seconds since the epoch
  uptime: number; // seconds
  memTotalKiB: number;
  users: Map<number, string>;
  groups: Map<number, string>;
}

interface Column {
  header: string;
  value: (p: Proc, h: Host) => string;
}

/** /proc times are in USER_HZ, which Linux fixes at 100 on every architecture it exports to userspace. */
const HZ = 100;

/**
 * `namespaced`: PID and PPID as the container sees them (its PID namespace, where its first
 * process is 1 and has parent 0) instead of the host's, which is what Docker's top shows.
 */
export async function top(pids: number[], psArgs = '-ef', namespaced = false): Promise<TopResult> {
  const columns = parsePsArgs(psArgs);
  const host = await readHost();
  const procs: Proc[] = [];
  for (const pid of [...new Set(pids)].sort((a, b) => a - b)) {
    const proc = await readProc(pid);
    if (proc) procs.push(proc);
  }
  if (namespaced) {
    const inside = new Map(procs.map((p) => [p.pid, p.nsPid]));
    for (const p of procs) [p.pid, p.ppid] = [p.nsPid, inside.get(p.ppid) ?? 0];
    procs.sort((a, b) => a.pid - b.pid);
  }
  return { Titles: columns.map((c) => c.header), Processes: procs.map((proc) => columns.map((c) => c.value(proc, host))) };
}

// ---------------------------------------------------------------------------------------------
// The columns, by their ps names (procps's headers).

const cpuTime = (p: Proc) => Math.floor(p.ticks / HZ);
const elapsed = (p: Proc, h: Host) => Math.max(0, Math.floor(h.uptime - p.startTicks / HZ));
const startTime = (p: Proc, h: Host) => new Date((h.bootTime + Math.floor(p.startTicks / HZ)) * 1000);
const two = (n: number) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** CPU use over the process's life (to the fraction of a second, as ps does) in `scale`ths. */
function cpuShare(p: Proc, h: Host, scale: number): number {
  const seconds = h.uptime - p.startTicks / HZ;
  return seconds > 0 ? Math.floor(Math.floor((p.ticks * scale) / HZ) / seconds) : 0;
}

/** ps prints names that do not fit its 8-character column cut, with a '+'; unknown ids as numbers. */
function name(names: Map<number, string>, id: number): string {
  const found = names.get(id);
  if (found === undefined) return String(id);
  return found.length > 8 ? found.slice(0, 7) + '+' : found;
}

/** Start time: the time of day when today, the date this year, otherwise the year. */
function stime(p: Proc, h: Host): string {
  const start = startTime(p, h);
  const now = new Date(h.now * 1000);
  if (start.getFullYear() !== now.getFullYear()) return String(start.getFullYear());
  if (start.getMonth() !== now.getMonth() || start.getDate() !== now.getDate()) return `${MONTHS[start.getMonth()]}${two(start.getDate())}`;
  return `${two(start.getHours())}:${two(start.getMinutes())}`;
}

/** [DD-]HH:MM:SS */
function time(p: Proc): string {
  const t = cpuTime(p);
  const days = Math.floor(t / 86400);
  return `${days ? `${days}-` : ''}${two(Math.floor(t / 3600) % 24)}:${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
}

/** [[DD-]HH:]MM:SS */
function etime(p: Proc, h: Host): string {
  const t = elapsed(p, h);
  const days = Math.floor(t / 86400);
  const hours = Math.floor(t / 3600) % 24;
  return `${days ? `${days}-` : ''}${days || hours ? `${two(hours)}:` : ''}${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
}

function lstart(p: Proc, h: Host): string {
  const d = startTime(p, h);
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${time} ${d.getFullYear()}`;
}

/** STARTED: the time with seconds within the last 24 hours, else "Mon DD". */
function started(p: Proc, h: Host): string {
  const d = startTime(p, h);
  if (d.getTime() / 1000 + 86400 > h.now) return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${MONTHS[d.getMonth()]} ${two(d.getDate())}`;
}

/** The terminal from stat's tty_nr: pseudo-terminals, virtual consoles, serial lines, the console. */
function tty(p: Proc): string {
  if (p.ttyNr === 0) return '?';
  const major = (p.ttyNr >> 8) & 0xfff;
  const minor = (p.ttyNr & 0xff) | ((p.ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return 'console';
  return '?';
}

/** BSD STAT: the state, then <N (priority), L (locked pages), s (session leader), l (threads), + (foreground). */
function bsdStat(p: Proc): string {
  let s = p.state;
  if (p.nice < 0) s += '<';
  if (p.nice > 0) s += 'N';
  if (p.lockedKiB > 0) s += 'L';
  if (p.session === p.pid) s += 's';
  if (p.threads > 1) s += 'l';
  if (p.pgrp === p.tpgid) s += '+';
  return s;
}

const args = (p: Proc) => (p.args ? p.args : `[${p.comm}]`) + (p.state === 'Z' ? ' <defunct>' : '');
const comm = (p: Proc) => p.comm + (p.state === 'Z' ? ' <defunct>' : '');
const pcpu = (p: Proc, h: Host) => {
  const pm = cpuShare(p, h, 1000);
  return pm > 999 ? String(Math.floor(pm / 10)) : `${Math.floor(pm / 10)}.${pm % 10}`;
};
const pmem = (p: Proc, h: Host) => {
  const pm = h.memTotalKiB > 0 ? Math.min(999, Math.floor((p.rssKiB * 1000) / h.memTotalKiB)) : 0;
  return `${Math.floor(pm / 10)}.${pm % 10}`;
};

const col = (header: string, value: Column['value']): Column => ({ header, value });

const COLUMNS: Record<string, Column> = {
  pid: col('PID', (p) => String(p.pid)),
  ppid: col('PPID', (p) => String(p.ppid)),
  pgid: col('PGID', (p) => String(p.pgrp)),
  pgrp: col('PGRP', (p) => String(p.pgrp)),
  sid: col('SID', (p) => String(p.session)),
  sess: col('SESS', (p) => String(p.session)),
  tpgid: col('TPGID', (p) => String(p.tpgid)),
  nlwp: col('NLWP', (p) => String(p.threads)),
  thcount: col('THCNT', (p) => String(p.threads)),
  user: col('USER', (p, h) => name(h.users, p.euid)),
  euser: col('EUSER', (p, h) => name(h.users, p.euid)),
  uname: col('USER', (p, h) => name(h.users, p.euid)),
  ruser: col('RUSER', (p, h) => name(h.users, p.ruid)),
  uid_hack: col('UID', (p, h) => name(h.users, p.euid)), // -f's UID column shows the name
  uid: col('UID', (p) => String(p.euid)),
  euid: col('EUID', (p) => String(p.euid)),
  ruid: col('RUID', (p) => String(p.ruid)),
  group: col('GROUP', (p, h) => name(h.groups, p.egid)),
  egroup: col('EGROUP', (p, h) => name(h.groups, p.egid)),
  rgroup: col('RGROUP', (p, h) => name(h.groups, p.rgid)),
  gid: col('GID', (p) => String(p.egid)),
  egid: col('EGID', (p) => String(p.egid)),
  rgid: col('RGID', (p) => String(p.rgid)),
  c: col('C', (p, h) => String(Math.min(99, cpuShare(p, h, 100)))),
  pcpu: col('%CPU', pcpu),
  '%cpu': col('%CPU', pcpu),
  pmem: col('%MEM', pmem),
  '%mem': col('%MEM', pmem),
  vsz: col('VSZ', (p) => String(p.vszKiB)),
  vsize: col('VSZ', (p) => String(p.vszKiB)),
  rss: col('RSS', (p) => String(p.rssKiB)),
  rssize: col('RSS', (p) => String(p.rssKiB)),
  rsz: col('RSZ', (p) => String(p.rssKiB)),
  tty: col('TT', tty),
  tt: col('TT', tty),
  tname: col('TTY', tty),
  stat: col('STAT', bsdStat),
  s: col('S', (p) => p.state),
  state: col('S', (p) => p.state),
  time: col('TIME', time),
  cputime: col('TIME', time),
  bsdtime: col('TIME', (p) => `${Math.floor(cpuTime(p) / 60)}:${two(cpuTime(p) % 60)}`),
  times: col('TIME', (p) => String(cpuTime(p))),
  etime: col('ELAPSED', etime),
  etimes: col('ELAPSED', (p, h) => String(elapsed(p, h))),
  stime: col('STIME', stime),
  start_time: col('START', stime),
  start: col('STARTED', started),
  lstart: col('STARTED', lstart),
  comm: col('COMMAND', comm),
  ucomm: col('COMMAND', comm),
  ucmd: col('CMD', comm),
  args: col('COMMAND', args),
  command: col('COMMAND', args),
  cmd: col('CMD', args),
  ni: col('NI', (p) => (p.realtime ? '-' : String(p.nice))),
  nice: col('NI', (p) => (p.realtime ? '-' : String(p.nice))),
  psr: col('PSR', (p) => String(p.processor)),
};

/** ps's predefined formats. */
const FORMATS = {
  unix: ['pid', 'tname', 'time', 'ucmd'], // `ps -e`
  full: ['uid_hack', 'pid', 'ppid', 'c', 'stime', 'tname', 'time', 'cmd'], // `ps -f`, `ps -ef`
  bsd: ['pid', 'tname', 'stat', 'bsdtime', 'args'], // `ps ax`
  user: ['user', 'pid', 'pcpu', 'pmem', 'vsz', 'rss', 'tname', 'stat', 'start_time', 'bsdtime', 'args'], // `ps aux`
};

// ---------------------------------------------------------------------------------------------
// ps's options: UNIX (-ef, -o …), BSD (aux, o …) and GNU (--format …). Options that choose which
// processes ps shows (-e, -A, a, x, …) change nothing: the container's processes are the set.

function parsePsArgs(psArgs: string): Column[] {
  const tokens = psArgs.split(/\s+/).filter(Boolean);
  if (tokens.length === 0) tokens.push('-ef'); // Docker's default
  const custom: Column[] = [];
  let full = false;
  let user = false;
  let bsd = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const formatArgument = (option: string, rest: string): string => {
      if (rest !== '') return rest;
      const next = tokens[++i];
      if (next === undefined) throw new Error(`ps option ${option} needs a format list, e.g. ${option} pid,comm`);
      return next;
    };
    if (token.startsWith('--')) {
      const [option, value] = token.split(/=(.*)/s, 2);
      if (option !== '--format' && option !== '--cols' && option !== '--columns' && option !== '--width') {
        throw new Error(`unsupported ps option "${option}"`);
      }
      if (option === '--format') custom.push(...parseFormat(formatArgument(option, value ?? '')));
      else if (value === undefined) i++; // The width, which we never cut at.
      continue;
    }
    const unix = token.startsWith('-');
    if (!unix) bsd = true;
    const letters = unix ? token.slice(1) : token;
    if (letters === '') throw new Error(`unsupported ps option "${token}"`);
    for (let j = 0; j < letters.length; j++) {
      const letter = letters[j];
      const option = unix ? `-${letter}` : letter;
      if (letter === 'o') {
        custom.push(...parseFormat(formatArgument(option, letters.slice(j + 1))));
        break;
      }
      if (unix && 'eAadw'.includes(letter)) continue;
      if (!unix && 'axgw'.includes(letter)) continue;
      if (unix && letter === 'f') full = true;
      else if (!unix && letter === 'u') user = true;
      else throw new Error(`unsupported ps option "${option}"`);
    }
  }
  const columns =
    custom.length > 0
      ? custom
      : (user ? FORMATS.user : full ? FORMATS.full : bsd ? FORMATS.bsd : FORMATS.unix).map((key) => COLUMNS[key]);
  // A client draws the process tree from these two, whatever else was asked for.
  if (!columns.some((c) => c.header === 'PID')) columns.push(COLUMNS.pid);
  if (!columns.some((c) => c.header === 'PPID')) columns.push(COLUMNS.ppid);
  return columns;
}

/** "pid,ppid,comm", "pid=ID,comm": a header after '=' runs to the end of the list, as in ps. */
function parseFormat(list: string): Column[] {
  const equals = list.indexOf('=');
  const keys = (equals < 0 ? list : list.slice(0, equals)).split(',');
  const columns = keys.map((key, index) => {
    const column = COLUMNS[key.toLowerCase()];
    if (key === '') throw new Error(`empty column in ps format list "${list}"`);
    if (!column) throw new Error(`unsupported ps format column "${key}" in "${list}"`);
    if (equals < 0 || index < keys.length - 1) return column;
    const header = list.slice(equals + 1);
    // As Docker does: another column named PID (or PPID) would be taken for the real one.
    if ((header === 'PID' && column !== COLUMNS.pid) || (header === 'PPID' && column !== COLUMNS.ppid)) {
      throw new Error(`specifying "${key}=${header}" is not allowed`);
    }
    return { ...column, header };
  });
  return columns;
}

// ---------------------------------------------------------------------------------------------
// Reading /proc.

async function readProc(pid: number): Promise<Proc | undefined> {
  let stat: string, status: string, cmdline: Buffer;
  try {
    [stat, status, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`),
    ]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined; // It exited meanwhile.
    throw err;
  }
  // The command name is in parentheses and may itself hold spaces and parentheses.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const rest = stat.slice(close + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]); // numbered as in proc(5)
  const statusField = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  const [ruid, euid] = statusField('Uid').split(/\s+/).map(Number);
  const [rgid, egid] = statusField('Gid').split(/\s+/).map(Number);
  const kib = (key: string) => parseInt(statusField(key), 10) || 0;
  return {
    pid,
    nsPid: Number(statusField('NSpid').split(/\s+/).pop()) || pid,
    ppid: field(4),
    pgrp: field(5),
    session: field(6),
    ttyNr: field(7),
    tpgid: field(8),
    state: rest[0],
    comm: stat.slice(open + 1, close),
    // NUL-separated arguments; ps shows control characters as '?'.
    args: cmdline.toString('utf8').replace(/\0+$/, '').replaceAll('\0', ' ').replace(/[\x00-\x1f\x7f]/g, '?'),
    ticks: field(14) + field(15),
    nice: field(19),
    realtime: field(41) === 1 || field(41) === 2, // SCHED_FIFO, SCHED_RR
    threads: field(20),
    startTicks: field(22),
    processor: field(39),
    ruid,
    euid,
    rgid,
    egid,
    vszKiB: kib('VmSize'),
    rssKiB: kib('VmRSS'),
    lockedKiB: kib('VmLck'),
  };
}

async function readHost(): Promise<Host> {
  const [uptime, stat, meminfo, passwd, group] = await Promise.all([
    readFile('/proc/uptime', 'utf8'),
    readFile('/proc/stat', 'utf8'),
    readFile('/proc/meminfo', 'utf8'),
    readFile('/etc/passwd', 'utf8').catch(() => ''),
    readFile('/etc/group', 'utf8').catch(() => ''),
  ]);
  return {
    now: Date.now() / 1000,
    bootTime: Number(/^btime (\d+)/m.exec(stat)?.[1] ?? 0),
    uptime: parseFloat(uptime),
    memTotalKiB: Number(/^MemTotal:\s*(\d+)/m.exec(meminfo)?.[1] ?? 0),
    users: idNames(passwd),
    groups: idNames(group),
  };
}

/** name:x:id:… lines (/etc/passwd, /etc/group): the first name for each id, as getpwuid gives. */
function idNames(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [entry, , id] = line.split(':');
    if (entry && /^\d+$/.test(id ?? '') && !names.has(Number(id))) names.set(Number(id), entry);
  }
  return names;
}
