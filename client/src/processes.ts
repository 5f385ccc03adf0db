// A container's processes as the Containers view shows them: a tree by parent PID, read from
// `GET /containers/{id}/top` with ps options every Docker-API engine passes to ps (tugd reads
// /proc itself; a Docker daemon or Podman runs ps), so rows are found by column title. From
// tugd, `/tug/containers/{id}/top` gives the PIDs as the container sees them (its init is 1).

import { EngineError, type EngineClient } from '../../runtime-agent/src/cli/client';

/** The ps options asked for: PID and PPID for the tree, and what each row shows. */
export const TOP_PS_ARGS = '-o pid,ppid,user,pcpu,rss,args';

/** The answer of `/containers/{id}/top`. */
export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

export interface ProcessRow {
  pid: number;
  ppid: number;
  user: string;
  /** ps's %CPU, as printed. */
  cpu: string;
  memoryKiB: number;
  command: string;
}

export interface ProcessNode extends ProcessRow {
  children: ProcessNode[];
}

/** The rows of a top answer; a column missing from it (an engine's own ps) reads as empty. */
export function parseTop(top: TopResult): ProcessRow[] {
  const column = (...names: string[]) => top.Titles.findIndex((t) => names.includes(t.trim().toUpperCase()));
  const at = {
    pid: column('PID'),
    ppid: column('PPID'),
    user: column('USER', 'UID'),
    cpu: column('%CPU', 'C'),
    rss: column('RSS', 'RSZ'),
    command: column('COMMAND', 'CMD', 'ARGS'),
  };
  if (at.pid === -1) throw new Error(`the engine's process list has no PID column (columns: ${top.Titles.join(', ')})`);
  const cell = (row: string[], i: number) => (i === -1 ? '' : (row[i] ?? ''));
  return top.Processes.map((row) => ({
    pid: Number(cell(row, at.pid)),
    ppid: Number(cell(row, at.ppid)) || 0,
    user: cell(row, at.user),
    cpu: cell(row, at.cpu),
    memoryKiB: Number(cell(row, at.rss)) || 0,
    command: cell(row, at.command),
  }));
}

/**
 * The rows as trees: a process whose parent is not in the list (the container's init, or one
 * whose parent was reaped) is a root. Children in PID order.
 */
export function processTree(rows: readonly ProcessRow[]): ProcessNode[] {
  const nodes = new Map<number, ProcessNode>();
  for (const row of rows) nodes.set(row.pid, { ...row, children: [] });
  // The links made so far: a PID cycle (PIDs reused between two reads) is cut where it closes.
  const parentOf = new Map<ProcessNode, ProcessNode>();
  const below = (node: ProcessNode, ancestor: ProcessNode) => {
    for (let p: ProcessNode | undefined = ancestor; p; p = parentOf.get(p)) if (p === node) return true;
    return false;
  };
  const roots: ProcessNode[] = [];
  for (const node of nodes.values()) {
    const parent = nodes.get(node.ppid);
    if (parent && !below(node, parent)) {
      parent.children.push(node);
      parentOf.set(node, parent);
    } else {
      roots.push(node);
    }
  }
  const sort = (list: ProcessNode[]) => {
    list.sort((a, b) => a.pid - b.pid);
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots;
}

/**
 * Reads a container's processes every `intervalMs` while `signal` is not aborted (a view's node
 * expanded), telling `onTree` only when something shown changed. Ends, with an empty tree, when
 * the container stops or goes.
 */
export async function watchProcesses(
  client: EngineClient,
  id: string,
  intervalMs: number,
  onTree: (tree: ProcessNode[]) => void,
  signal: AbortSignal,
): Promise<void> {
  let last = '';
  // tugd's /tug/ variant gives the PIDs the container sees; other engines have only Docker's.
  let prefix = '/tug';
  while (!signal.aborted) {
    let rows: ProcessRow[];
    try {
      rows = parseTop(await client.call<TopResult>('GET', `${prefix}/containers/${encodeURIComponent(id)}/top?ps_args=${encodeURIComponent(TOP_PS_ARGS)}`));
    } catch (error) {
      if (prefix && error instanceof EngineError && error.status === 404 && !/no such container/i.test(error.message)) {
        prefix = '';
        continue;
      }
      // 409: not running; 404: removed. Anything else is the engine's trouble, said by the caller's view.
      if (error instanceof EngineError && (error.status === 409 || error.status === 404)) {
        if (last !== '[]') onTree([]);
        return;
      }
      throw error;
    }
    const shown = JSON.stringify(rows);
    if (shown !== last) {
      last = shown;
      onTree(processTree(rows));
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
