// A container's log, as the monitor writes it in Docker's json-file format: one JSON object per
// line with the text, the stream and an RFC 3339 time. Read for `logs`, followed for `logs -f`
// and attach.

import { open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export interface ReadOptions {
  /** Where to start: a byte offset (attach starts at the end of what is there). */
  from?: number;
  /** Keep reading as the file grows, until `done()` says the writer has finished. */
  follow?: boolean;
  /** Whether the writer has finished (the container stopped): then the rest is read and it ends. */
  done?: () => boolean;
  signal?: AbortSignal;
  /** Settles when the writer finishes, so that a follower need not wait to notice. */
  finished?: Promise<unknown>;
}

/** The current size of a log, for attach: what comes after it is new. */
export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Waits until the file changes, the signal aborts, or a short while passes. */
function changed(path: string, signal?: AbortSignal, finished?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | null = null;
    const finish = () => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    // inotify wakes us at once; the timer covers a file that does not exist yet and the end of
    // the writer, which is no change to the file.
    const timer = setTimeout(finish, 100);
    try {
      watcher = watch(path, finish);
      watcher.on('error', finish);
    } catch {
      // Not there yet: the timer will do.
    }
    signal?.addEventListener('abort', finish);
    void finished?.then(finish, finish);
  });
}

export async function* readLog(path: string, options: ReadOptions = {}): AsyncIterable<LogEntry> {
  let offset = options.from ?? 0;
  let partial = '';
  const chunk = Buffer.alloc(64 * 1024);
  // Once open, the file stays open: a container removed with --rm takes its log with it, and
  // a follower still reads to the end of what was written.
  let file: Awaited<ReturnType<typeof open>> | null = null;
  try {
    for (;;) {
      if (options.signal?.aborted) return;
      // Check before reading: what the writer wrote before it finished is then surely read.
      const finished = !options.follow || (options.done?.() ?? false);
      file ??= await open(path, 'r').catch(() => null);
      while (file) {
        const { bytesRead } = await file.read(chunk, 0, chunk.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const lines = (partial + chunk.toString('utf8', 0, bytesRead)).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue;
          try {
            yield JSON.parse(line) as LogEntry;
          } catch {
            // A damaged line (a crash mid-write) is skipped, not fatal.
          }
        }
      }
      if (finished) return;
      await changed(path, options.signal, options.finished);
    }
  } finally {
    await file?.close();
  }
}
