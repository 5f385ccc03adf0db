// A process as /proc/PID/stat tells it, for tests that watch processes.

import { readFileSync } from 'node:fs';

/** The fields after the command (state, ppid, …: field 3 onwards of proc(5)); null once it is gone. */
export function procStat(pid: number | string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  } catch {
    return null;
  }
}

/** The CPU time a process has used, user and system, in clock ticks (USER_HZ, 100 a second). */
export function cpuTicks(pid: number): number {
  const fields = procStat(pid);
  if (!fields) throw new Error(`process ${pid} is gone`);
  return Number(fields[11]) + Number(fields[12]);
}
