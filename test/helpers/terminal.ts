// A pseudo-terminal a test types into: script(1) runs a command on a terminal of its own and
// passes on what the test writes to its stdin, as keys typed.

import { spawn } from 'node:child_process';

export interface Terminal {
  /** Everything the command wrote to the terminal so far. */
  output(): string;
  type(keys: string): void;
  /** Waits until the output matches (from `from`, an offset into it); fails after `timeoutMs`. */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<void>;
  /** The command's exit code once it ended. */
  readonly exited: Promise<number | null>;
  /** Kills what is still running (the whole process group). */
  close(): void;
}

export function terminal(command: string, env: NodeJS.ProcessEnv = {}): Terminal {
  const child = spawn('script', ['-qefc', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    output: () => output,
    type: (keys) => void child.stdin.write(keys),
    async waitFor(pattern, { from = 0, timeoutMs = 15_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output.slice(from))) {
        if (done || Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}${done ? ' (its command ended)' : ''}: ${JSON.stringify(output.slice(from))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited,
    close() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
