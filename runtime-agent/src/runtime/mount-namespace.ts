// A mount namespace of the engine's own, for mounts it needs for a moment (a stopped container's
// root, for `docker cp` and `export`): made by unshare(1) around a process that waits on its
// stdin, mounted into with nsenter(1) and mount(8), and seen from the engine through that
// process's /proc/<pid>/root. Nothing of it shows on the host, and it all goes when the process
// ends, whether the engine closes it or dies: no mount is ever left behind.

import { execFile, spawn, type ChildProcess } from 'node:child_process';

export class MountNamespace {
  private readonly exited: Promise<void>;

  private constructor(private readonly holder: ChildProcess) {
    this.exited = new Promise((resolve) => holder.once('exit', () => resolve()));
  }

  static async open(): Promise<MountNamespace> {
    // Private propagation: its mounts reach no other namespace, and none of theirs reach it.
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'echo; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    holder.stderr!.on('data', (d) => (stderr += d));
    // Its first line says the namespace is made.
    const ready = await new Promise<boolean>((resolve) => {
      holder.stdout!.once('data', () => resolve(true));
      holder.once('error', (error) => ((stderr ||= error.message), resolve(false)));
      holder.once('exit', () => resolve(false));
    });
    if (!ready) throw new Error(`cannot make a mount namespace: unshare: ${stderr.trim() || 'ended at once'}`);
    return new MountNamespace(holder);
  }

  /** Where the engine sees a path of the namespace. */
  see(path: string): string {
    return `/proc/${this.holder.pid}/root${path}`;
  }

  /** mount(8) with these arguments, in the namespace. */
  mount(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('nsenter', ['--target', String(this.holder.pid), '--mount', '--', 'mount', ...args], (error, _stdout, stderr) => {
        if (error) reject(new Error(`mount ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
        else resolve();
      });
    });
  }

  /** Ends the namespace, and every mount in it. */
  async close(): Promise<void> {
    this.holder.stdin!.end();
    await this.exited;
  }
}
