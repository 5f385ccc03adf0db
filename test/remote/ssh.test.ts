// The SSH layer against a real OpenSSH server in a network namespace of the test's own: host keys
// checked against known_hosts (an unknown one asked about once and added, a changed one refused),
// keys from the agent and from files (a locked one unlocked by its passphrase), a password where
// the server takes one, a wrong key refused with a clear message, a host reached through a jump
// host; and ~/.ssh/config resolution.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Client } from 'ssh2';
import { connectSsh, type SshPrompts } from '../../runtime-agent/src/remote/connection';
import { runRemote } from '../../runtime-agent/src/remote/remote-engine';
import { checkHostKey, fingerprint } from '../../runtime-agent/src/remote/known-hosts';
import { resolveTarget } from '../../runtime-agent/src/remote/ssh-config';
import { startSshd, type TestSshd } from '../helpers/sshd';

const exec = async (client: Client, command: string) => (await runRemote(client, command)).stdout;

/** Prompts that answer as told and record what they were asked. */
function prompts(answers: { hostKey?: boolean } = {}): SshPrompts & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    unknownHostKey: async (host, type, print) => (asked.push(`${host} ${type} ${print}`), answers.hostKey ?? false),
    passphrase: async (file) => (asked.push(`passphrase ${file}`), undefined),
    password: async (who) => (asked.push(`password ${who}`), undefined),
  };
}

describe('over a real sshd', () => {
  let sshd: TestSshd;
  let dir: string;
  before(async () => {
    sshd = await startSshd();
    dir = await mkdtemp(join(tmpdir(), 'tug-ssh-client-'));
  });
  after(async () => {
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const target = (key = sshd.userKey) => resolveTarget(`ssh://root@${sshd.host}`, `Host *\n  IdentityFile ${key}\n  IdentitiesOnly yes\n`);

  test('an unknown host key is asked about with its SHA256 fingerprint, added, and not asked again', async () => {
    const knownHosts = join(dir, 'known_hosts-new');
    const first = prompts({ hostKey: true });
    const client = await connectSsh(target(), { prompts: first, knownHosts: [knownHosts], agent: '' });
    assert.equal(await exec(client, 'echo $((6*7)) $(id -un)'), '42 root\n');
    client.end();
    const [type, blob] = (await sshd.hostKey()).split(' ');
    assert.equal(type, 'ssh-ed25519');
    assert.deepEqual(first.asked, [`${sshd.host} ED25519 ${fingerprint(Buffer.from(blob, 'base64'))}`]);
    assert.equal(await readFile(knownHosts, 'utf8'), `${sshd.host} ${type} ${blob}\n`);
    const second = prompts();
    (await connectSsh(target(), { prompts: second, knownHosts: [knownHosts], agent: '' })).end();
    assert.deepEqual(second.asked, []);
  });

  test('a host key that is declined connects nothing', async () => {
    const knownHosts = join(dir, 'known_hosts-declined');
    await assert.rejects(connectSsh(target(), { prompts: prompts({ hostKey: false }), knownHosts: [knownHosts], agent: '' }), /was not accepted: not connecting/);
    assert.equal(await readFile(knownHosts, 'utf8').catch(() => 'absent'), 'absent');
  });

  test('a wrong user key is refused, saying what was offered', async () => {
    const knownHosts = join(dir, 'known_hosts-wrong');
    await sshd.knownHosts(knownHosts);
    const other = join(dir, 'other_key');
    await keygen(other);
    const asked = prompts();
    await assert.rejects(connectSsh(target(other), { prompts: asked, knownHosts: [knownHosts], agent: '' }), (error: Error) => {
      assert.match(error.message, new RegExp(`cannot log in to root@${sshd.host.replace(/\./g, '\\.')}: the server accepted none of ${other.replace(/[.]/g, '\\.')}`));
      return true;
    });
    assert.deepEqual(asked.asked, [], 'no password asked for: this server takes none');
  });

  test('keys from the agent (SSH_AUTH_SOCK) log in', async () => {
    const socket = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let i = 0; !(await stat(socket).then(() => true, () => false)); i++) {
        if (i === 100) throw new Error('ssh-agent did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      await promisify(execFile)('ssh-add', ['-q', sshd.userKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const knownHosts = join(dir, 'known_hosts-agent');
      await sshd.knownHosts(knownHosts);
      // No identity file to fall back on: the agent's key alone logs in.
      const noFiles = resolveTarget(`ssh://root@${sshd.host}`, `Host *\n  IdentityFile ${join(dir, 'absent')}\n`);
      const client = await connectSsh(noFiles, { prompts: prompts(), knownHosts: [knownHosts], agent: socket });
      assert.equal(await exec(client, 'echo agent'), 'agent\n');
      client.end();
      await assert.rejects(connectSsh(noFiles, { prompts: prompts(), knownHosts: [knownHosts], agent: '' }), /the server accepted none of no key or password offered/);
    } finally {
      agent.kill();
    }
  });

  test('a key locked with a passphrase is asked for it; a wrong one is told', async () => {
    const locked = join(dir, 'locked_key');
    await keygen(locked, 'open sesame');
    await sshd.authorize(await readFile(`${locked}.pub`, 'utf8'));
    const knownHosts = join(dir, 'known_hosts-locked');
    await sshd.knownHosts(knownHosts);
    const asked: string[] = [];
    const unlocking = { ...prompts(), passphrase: async (file: string) => (asked.push(file), 'open sesame') };
    const client = await connectSsh(target(locked), { prompts: unlocking, knownHosts: [knownHosts], agent: '' });
    assert.equal(await exec(client, 'echo unlocked'), 'unlocked\n');
    client.end();
    assert.deepEqual(asked, [locked]);
    const wrong = { ...prompts(), passphrase: async () => 'open barley' };
    await assert.rejects(connectSsh(target(locked), { prompts: wrong, knownHosts: [knownHosts], agent: '' }), new RegExp(`^Error: ${locked.replace(/[.]/g, '\\.')}: wrong passphrase`));
  });

  test('a password is asked for where the server takes one; a wrong one is refused', async () => {
    const server = await startSshd({ rootPassword: 'correct horse' });
    try {
      const knownHosts = join(dir, 'known_hosts-password');
      await server.knownHosts(knownHosts);
      const noKeys = resolveTarget(`ssh://root@${server.host}`, `Host *\n  IdentityFile ${join(dir, 'absent')}\n  IdentitiesOnly yes\n`);
      const asked: string[] = [];
      const typing = (password: string) => ({ ...prompts(), password: async (who: string) => (asked.push(who), password) });
      const client = await connectSsh(noKeys, { prompts: typing('correct horse'), knownHosts: [knownHosts], agent: '' });
      assert.equal(await exec(client, 'echo in'), 'in\n');
      client.end();
      assert.deepEqual(asked, [`root@${server.host}`]);
      await assert.rejects(connectSsh(noKeys, { prompts: typing('battery staple'), knownHosts: [knownHosts], agent: '' }), /cannot log in to root@[\d.]+: the server accepted none of a password/);
    } finally {
      await server.stop();
    }
  });

  test('ProxyJump: a host that only the jump host reaches, through one hop', async () => {
    // Its sshd listens on 127.0.0.1:2222 inside the jump host's namespace: nothing here reaches it directly.
    const inner = await startSshd({ behind: sshd });
    try {
      const knownHosts = join(dir, 'known_hosts-jump');
      await sshd.knownHosts(join(dir, 'jump'));
      await inner.knownHosts(join(dir, 'inner'));
      await writeFile(knownHosts, (await readFile(join(dir, 'jump'), 'utf8')) + (await readFile(join(dir, 'inner'), 'utf8')));
      const config = [
        `Host jump\n  HostName ${sshd.host}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes`,
        `Host inner\n  HostName 127.0.0.1\n  Port 2222\n  User root\n  IdentityFile ${inner.userKey}\n  IdentitiesOnly yes\n  ProxyJump jump\n`,
      ].join('\n');
      const client = await connectSsh(resolveTarget('inner', config), { prompts: prompts(), knownHosts: [knownHosts], agent: '' });
      // The shell is the inner server's: it was reached on 127.0.0.1 port 2222 of that namespace.
      assert.match(await exec(client, 'echo $SSH_CONNECTION'), / 127\.0\.0\.1 2222\n$/);
      client.end();
    } finally {
      await inner.stop();
    }
  });

  test('a changed host key refuses the connection with OpenSSH\'s warning; a hashed entry is matched too', async () => {
    const knownHosts = join(dir, 'known_hosts-hashed');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(sshd.host).digest('base64')}`;
    await writeFile(knownHosts, `${hashed} ${await sshd.hostKey()}\n`);
    (await connectSsh(target(), { prompts: prompts(), knownHosts: [knownHosts], agent: '' })).end();
    await sshd.restart({ newHostKey: true });
    const asked = prompts({ hostKey: true });
    await assert.rejects(connectSsh(target(), { prompts: asked, knownHosts: [knownHosts], agent: '' }), /REMOTE HOST IDENTIFICATION HAS CHANGED for 10\.213\.\d+\.\d+: it now offers ssh-ed25519 SHA256:\S+, but .*known_hosts-hashed, line 1, holds another key/);
    assert.deepEqual(asked.asked, [], 'a changed key is never offered to be accepted');
  });
});

const keygen = (file: string, passphrase = '') => promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);

test('~/.ssh/config: Host aliases and patterns, the first value wins, IdentityFile adds up, ProxyJump resolves', () => {
  const config = [
    'Host build',
    '  HostName 10.0.0.5',
    '  User dev',
    '  Port 2222',
    '  IdentityFile ~/.ssh/build_key',
    '  IdentitiesOnly yes',
    '  ProxyJump bastion',
    '  ServerAliveInterval 15',
    'Host bastion',
    '  HostName bastion.example.org',
    '  User jump',
    'Host * !nope',
    '  User everyone',
    '  IdentityFile /keys/%h',
    '  Port 2200',
    '',
  ].join('\n');
  const build = resolveTarget('build', config);
  assert.equal(build.hostName, '10.0.0.5');
  assert.equal(build.user, 'dev');
  assert.equal(build.port, 2222);
  assert.match(build.identityFiles[0], /\/\.ssh\/build_key$/);
  assert.equal(build.identityFiles[1], '/keys/10.0.0.5');
  assert.equal(build.identitiesOnly, true);
  assert.equal(build.serverAliveInterval, 15);
  assert.deepEqual([build.proxyJump[0].hostName, build.proxyJump[0].user, build.proxyJump[0].port], ['bastion.example.org', 'jump', 2200]);
  const direct = resolveTarget('ssh://me@nope:2022', config);
  assert.deepEqual([direct.hostName, direct.user, direct.port, direct.proxyJump], ['nope', 'me', 2022, []]);
  assert.throws(() => resolveTarget('ssh://a b', config), /is not an SSH address/);
});

test('known_hosts: ports in brackets, negations, revoked keys', () => {
  const key = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), randomBytes(36)]);
  const other = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), randomBytes(36)]);
  const line = (names: string, k: Buffer) => `${names} ssh-ed25519 ${k.toString('base64')}`;
  assert.deepEqual(checkHostKey(line('[h]:2222', key), 'h', 2222, key), { status: 'known' });
  assert.deepEqual(checkHostKey(line('h', key), 'h', 2222, key), { status: 'unknown' });
  assert.deepEqual(checkHostKey(line('*.lan,!bad.lan', key), 'bad.lan', 22, key), { status: 'unknown' });
  assert.deepEqual(checkHostKey(line('*.lan', other), 'x.lan', 22, key), { status: 'changed', line: 1 });
  assert.deepEqual(checkHostKey(`${line('x', key)}\n@revoked ${line('x', key)}`, 'x', 22, key), { status: 'revoked', line: 2 });
});
