// `tug --host ssh://[user@]host[:port]`: the remote engine (installed and started there when
// needed) with questions asked on the terminal as OpenSSH asks them; without a terminal, an
// unknown host key is refused and no passphrase or password is asked for. The extension loads
// this bundle too, for its remote engines, with questions of its own.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SshPrompts } from '../remote/connection';
import { ReconnectingEngine } from '../remote/reconnecting-engine';
import { RemoteEngine, type RemoteEngineOptions } from '../remote/remote-engine';

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
  async unknownHostKey(host, algorithm, print) {
    const answer = await ask(`The authenticity of host '${host}' can't be established.\n${algorithm} key fingerprint is ${print}.\nAre you sure you want to continue connecting (yes/no)? `);
    if (answer === undefined) process.stderr.write(`tug: the host key of ${host} (${print}) is not known and there is no terminal to ask on: add it to ~/.ssh/known_hosts (ssh ${host} once)\n`);
    return answer?.trim().toLowerCase() === 'yes';
  },
  passphrase: (file) => ask(`Enter passphrase for key '${file}': `, true),
  password: (who) => ask(`${who}'s password: `, true),
};

/**
 * How to reach and install a remote engine, with `tugJs` (and the tug-shim beside it) as the
 * bundle to install. On the remote machine the engine lives in ~/.tug and serves
 * /run/tug/tug.sock with its data in /var/lib/tug, unless TUG_REMOTE_DIR, TUG_REMOTE_SOCKET and
 * TUG_REMOTE_DATA_ROOT say otherwise. ~/.ssh/config is read anew each time.
 */
export async function remoteEngineOptions(prompts: SshPrompts, tugJs: string, env: NodeJS.ProcessEnv = process.env): Promise<RemoteEngineOptions> {
  return {
    sshConfig: await readFile(join(homedir(), '.ssh/config'), 'utf8').catch(() => ''),
    prompts,
    bundle: { tugJs, shim: join(dirname(tugJs), 'tug-shim'), init: join(dirname(tugJs), 'tug-init') },
    ...(env.TUG_REMOTE_DIR ? { dir: env.TUG_REMOTE_DIR } : {}),
    ...(env.TUG_REMOTE_SOCKET ? { socket: env.TUG_REMOTE_SOCKET } : {}),
    ...(env.TUG_REMOTE_DATA_ROOT ? { dataRoot: env.TUG_REMOTE_DATA_ROOT } : {}),
  };
}

/** Opens the engine at an ssh:// host for one command, with this bundle to install. */
export async function openRemoteEngine(host: string, env: NodeJS.ProcessEnv = process.env): Promise<RemoteEngine> {
  return RemoteEngine.open(host, await remoteEngineOptions(terminalPrompts, process.argv[1], env));
}

/**
 * The engine at an ssh:// host, connected when first used and again after a drop. It lives long
 * and idles: keepalives every 15 s (unless ServerAliveInterval says otherwise) notice a network
 * that went away without a word.
 */
export function reconnectingEngine(host: string, prompts: SshPrompts, tugJs: string, env: NodeJS.ProcessEnv = process.env): ReconnectingEngine {
  return new ReconnectingEngine(host, async () => ({ ...(await remoteEngineOptions(prompts, tugJs, env)), keepaliveSeconds: 15 }));
}
