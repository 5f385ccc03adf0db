// `tug --host ssh://[user@]host[:port]`: the remote engine (installed and started there when
// needed) with questions asked on the terminal as OpenSSH asks them; without a terminal, an
// unknown host key is refused and no passphrase or password is asked for.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SshPrompts } from '../remote/connection';
import { RemoteEngine } from '../remote/remote-engine';

/** A line typed on the terminal; `hidden`: not echoed (a password). */
async function ask(question: string, hidden = false): Promise<string | undefined> {
  if (!process.stdin.isTTY) return undefined;
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, terminal: true });
  if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const answer = await new Promise<string>((resolve) => rl.once('line', resolve));
  rl.close();
  if (hidden) process.stderr.write('\n');
  return answer;
}

export const terminalPrompts: SshPrompts = {
  async unknownHostKey(host, type, print) {
    const algorithm = type.replace(/^ssh-/, '').toUpperCase();
    const answer = await ask(`The authenticity of host '${host}' can't be established.\n${algorithm} key fingerprint is ${print}.\nAre you sure you want to continue connecting (yes/no)? `);
    if (answer === undefined) process.stderr.write(`tug: the host key of ${host} (${print}) is not known and there is no terminal to ask on: add it to ~/.ssh/known_hosts (ssh ${host} once)\n`);
    return answer?.trim().toLowerCase() === 'yes';
  },
  passphrase: (file) => ask(`Enter passphrase for key '${file}': `, true),
  password: (who) => ask(`${who}'s password: `, true),
};

/**
 * Opens the engine at an ssh:// host, with this bundle (dist/tug.js and its tug-shim) to
 * install. On the remote machine the engine lives in ~/.tug and serves /run/tug/tug.sock with
 * its data in /var/lib/tug, unless TUG_REMOTE_DIR, TUG_REMOTE_SOCKET and TUG_REMOTE_DATA_ROOT
 * say otherwise.
 */
export async function openRemoteEngine(host: string, env: NodeJS.ProcessEnv = process.env): Promise<RemoteEngine> {
  const bundle = process.argv[1];
  return RemoteEngine.open(host, {
    sshConfig: await readFile(join(homedir(), '.ssh/config'), 'utf8').catch(() => ''),
    prompts: terminalPrompts,
    bundle: { tugJs: bundle, shim: join(dirname(bundle), 'tug-shim') },
    ...(env.TUG_REMOTE_DIR ? { dir: env.TUG_REMOTE_DIR } : {}),
    ...(env.TUG_REMOTE_SOCKET ? { socket: env.TUG_REMOTE_SOCKET } : {}),
    ...(env.TUG_REMOTE_DATA_ROOT ? { dataRoot: env.TUG_REMOTE_DATA_ROOT } : {}),
  });
}
