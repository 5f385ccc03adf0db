// An SSH connection to the machine of a remote engine (ssh2): the host key verified against
// known_hosts before anything else, then the agent's keys, the identity files (asking for a
// passphrase where one is locked) and a password where the server asks for one; through
// ProxyJump hops when the config names them. Nothing connects unverified.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, utils, type AnyAuthMethod, type AuthenticationType, type ConnectConfig } from 'ssh2';
import type { Duplex } from 'node:stream';
import { addHostKey, checkHostKey, fingerprint, hostEntryName, keyAlgorithm, keyType } from './known-hosts';
import type { SshTarget } from './ssh-config';

export interface SshPrompts {
  /** A host key never seen (`algorithm`: ED25519, say): true adds it to known_hosts and goes on. */
  unknownHostKey(host: string, algorithm: string, fingerprint: string): Promise<boolean>;
  /** A locked identity file's passphrase; undefined skips the file. */
  passphrase(file: string): Promise<string | undefined>;
  /** The password the server asks for; undefined gives up. */
  password(userAtHost: string): Promise<string | undefined>;
}

export interface SshOptions {
  prompts: SshPrompts;
  /** Checked in order; new keys go to the first. Default: ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts. */
  knownHosts?: string[];
  /** The agent's socket; default SSH_AUTH_SOCK. */
  agent?: string;
  readyTimeoutMs?: number;
  /** Seconds between keepalives where the config sets no ServerAliveInterval (default: none, as OpenSSH). */
  keepaliveSeconds?: number;
}

/** What went wrong reaching a remote engine; `retryable`: the network, not a refusal, so trying again may work. */
export class SshError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** Opens (and authenticates) a connection to the target, through its jump hosts first. */
export async function connectSsh(target: SshTarget, options: SshOptions): Promise<Client> {
  const chain = [...target.proxyJump, target];
  const hops: Client[] = [];
  let sock: Duplex | undefined;
  try {
    for (let i = 0; i < chain.length - 1; i++) {
      hops.push(await connectOne(chain[i], options, sock));
      sock = await forward(hops[i], chain[i].alias, chain[i + 1]);
    }
    const client = await connectOne(target, options, sock);
    client.once('close', () => hops.forEach((hop) => hop.end()));
    return client;
  } catch (error) {
    for (const hop of hops) hop.end();
    throw error;
  }
}

/** A TCP stream from `client`'s machine to the next one. */
function forward(client: Client, from: string, to: SshTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, to.hostName, to.port, (error, stream) => {
      if (error) reject(new SshError(`the jump host ${from} could not reach ${to.hostName}:${to.port}: ${error.message}`, true));
      else resolve(stream);
    });
  });
}

async function connectOne(target: SshTarget, options: SshOptions, sock?: Duplex): Promise<Client> {
  const files = options.knownHosts ?? [join(homedir(), '.ssh/known_hosts'), '/etc/ssh/ssh_known_hosts'];
  const known = (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).map((text, i) => ({ file: files[i], text }));
  const where = hostEntryName(target.hostName, target.port);
  let refusal: SshError | undefined;

  const hostVerifier = (key: Buffer, verify: (valid: boolean) => void) => {
    void (async () => {
      const type = keyType(key);
      const print = fingerprint(key);
      for (const { file, text } of known) {
        const found = checkHostKey(text, target.hostName, target.port, key);
        if (found.status === 'known') return true;
        if (found.status === 'revoked') {
          refusal = new SshError(`the host key of ${where} (${type} ${print}) is marked as revoked in ${file}, line ${found.line}: not connecting`);
          return false;
        }
        if (found.status === 'changed') {
          refusal = new SshError(
            `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for ${where}: it now offers ${type} ${print}, ` +
              `but ${file}, line ${found.line}, holds another key. Not connecting: someone could be in the middle. ` +
              `If the host really has a new key, remove the old one (ssh-keygen -R ${where}) and connect again.`,
          );
          return false;
        }
      }
      if (!(await options.prompts.unknownHostKey(where, keyAlgorithm(type), print))) {
        refusal = new SshError(`the host key of ${where} (${type} ${print}) was not accepted: not connecting`);
        return false;
      }
      await addHostKey(files[0], target.hostName, target.port, key);
      return true;
    })().then(verify, (error: Error) => {
      refusal = new SshError(`the host key of ${where} could not be checked: ${error.message}`);
      verify(false);
    });
  };

  const tried: string[] = [];
  const methods = await authMethods(target, options, tried);
  const authHandler = (left: AuthenticationType[], _partial: boolean, next: (m: AnyAuthMethod | AuthenticationType) => void) => {
    void (async () => {
      for (;;) {
        const method = methods.shift();
        if (!method) return next(false as unknown as AuthenticationType); // none left: the server's refusal ends it
        if (left && !left.includes(method.type === 'agent' ? 'publickey' : method.type)) continue;
        const ready = await method.make();
        if (ready) return next(ready);
      }
    })().catch((error: Error) => {
      // A key that cannot be unlocked (a wrong passphrase) ends the login, saying so.
      refusal = error instanceof SshError ? error : new SshError(`cannot log in to ${target.user}@${where}: ${error.message}`);
      next(false as unknown as AuthenticationType);
    });
  };

  const client = new Client();
  const config: ConnectConfig = {
    host: target.hostName,
    port: target.port,
    username: target.user,
    hostVerifier,
    authHandler: authHandler as ConnectConfig['authHandler'],
    readyTimeout: options.readyTimeoutMs ?? 20_000,
    // Three unanswered keepalives end the connection (OpenSSH's ServerAliveCountMax).
    keepaliveInterval: (target.serverAliveInterval || options.keepaliveSeconds || 0) * 1000,
    keepaliveCountMax: 3,
    ...(sock ? { sock } : {}),
  };
  return new Promise((resolve, reject) => {
    client.once('ready', () => {
      // Requests are small writes answered at once: Nagle's wait for more would add tens of ms each.
      client.setNoDelay(true);
      resolve(client);
    });
    client.once('error', (error: Error & { level?: string }) => {
      // The first error decides; the socket may still report its reset after this one.
      client.on('error', () => {});
      client.end();
      if (refusal) return reject(refusal);
      if (error.level === 'client-authentication') {
        return reject(new SshError(`cannot log in to ${target.user}@${where}: the server accepted none of ${tried.length ? tried.join(', ') : 'no key or password offered'}. Add a key to the agent, name one with IdentityFile in ~/.ssh/config, or check the user.`));
      }
      reject(new SshError(`cannot connect to ${where}: ${error.message}`, true));
    });
    client.connect(config);
  });
}

interface PendingMethod {
  type: 'agent' | 'publickey' | 'password';
  make(): Promise<AnyAuthMethod | undefined>;
}

/** What will be offered, in OpenSSH's order: the agent's keys, the identity files, a password. */
async function authMethods(target: SshTarget, options: SshOptions, tried: string[]): Promise<PendingMethod[]> {
  const methods: PendingMethod[] = [];
  const username = target.user;
  const agent = options.agent ?? process.env.SSH_AUTH_SOCK;
  if (agent && !target.identitiesOnly) {
    methods.push({ type: 'agent', make: async () => (tried.push('the agent\'s keys'), { type: 'agent', username, agent }) });
  }
  for (const file of target.identityFiles) {
    const data = await readFile(file).catch(() => null);
    if (!data) continue;
    methods.push({
      type: 'publickey',
      make: async () => {
        let key = utils.parseKey(data);
        if (key instanceof Error && /passphrase|encrypted/i.test(key.message)) {
          const passphrase = await options.prompts.passphrase(file);
          if (passphrase === undefined) return undefined;
          key = utils.parseKey(data, passphrase);
          if (key instanceof Error) throw new SshError(`${file}: wrong passphrase (${key.message})`);
        }
        if (key instanceof Error) return undefined; // not a key ssh2 reads: skipped, as ssh skips it
        tried.push(file.replace(homedir(), '~'));
        return { type: 'publickey', username, key: Array.isArray(key) ? key[0] : key };
      },
    });
  }
  methods.push({
    type: 'password',
    make: async () => {
      const password = await options.prompts.password(`${username}@${hostEntryName(target.hostName, target.port)}`);
      if (password === undefined) return undefined;
      tried.push('a password');
      return { type: 'password', username, password };
    },
  });
  return methods;
}
