// Engines on other machines, reached over SSH: the connection layer of the tug CLI (its bundle
// dist/remote.js, loaded when a remote engine is first used), with the questions OpenSSH asks on
// a terminal asked in VS Code instead. The engine installed there is this extension's own.

import { join } from 'node:path';
import * as vscode from 'vscode';
import type { SshPrompts } from '../../runtime-agent/src/remote/connection';
import type { ReconnectingEngine } from '../../runtime-agent/src/remote/reconnecting-engine';

const prompts: SshPrompts = {
  async unknownHostKey(host, algorithm, print) {
    const connect = 'Connect';
    const answer = await vscode.window.showWarningMessage(
      `The authenticity of host '${host}' can't be established.`,
      { modal: true, detail: `${algorithm} key fingerprint is ${print}.\nConnect, and add the key to ~/.ssh/known_hosts?` },
      connect,
    );
    return answer === connect;
  },
  passphrase: async (file) => vscode.window.showInputBox({ title: 'Tug: SSH', prompt: `Enter passphrase for key '${file}'`, password: true, ignoreFocusOut: true }),
  password: async (who) => vscode.window.showInputBox({ title: 'Tug: SSH', prompt: `${who}'s password`, password: true, ignoreFocusOut: true }),
};

/** Whether a host is reached over SSH. */
export const isRemote = (host: string) => host.startsWith('ssh://');

/** The link to the engine at an ssh:// host (connected when first used). */
export function remoteLink(host: string, extensionPath: string): ReconnectingEngine {
  const remote = require('./remote') as typeof import('../../runtime-agent/src/cli/remote');
  return remote.reconnectingEngine(host, prompts, join(extensionPath, 'dist', 'tug.js'));
}

/**
 * What a person types to add an engine, as a host: `ssh://…` and `unix://…` as they are, a path
 * as a socket, `user@host` or a Host of ~/.ssh/config as an ssh:// address. Undefined: not one.
 */
export function engineAddress(text: string): string | undefined {
  const value = text.trim();
  if (/^(ssh|unix):\/\/\S+$/.test(value)) return value;
  if (value.startsWith('/')) return `unix://${value}`;
  if (/^([\w.-]+@)?[\w.-]+(:\d+)?$/.test(value)) return `ssh://${value}`;
  return undefined;
}
