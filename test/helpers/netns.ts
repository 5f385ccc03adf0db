// A test host of the test's own: a network namespace with one veth pair to this machine, on a
// /30 of 10.213.0.0/16 (which the machine does not route otherwise). remove() takes it all away.

import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestHost {
  /** The namespace's name, under /run/netns. */
  readonly name: string;
  /** The test host's address, and this machine's end of the link. */
  readonly address: string;
  readonly gateway: string;
  /** Its end of the link down (packets dropped without a word), and up again. */
  unplug(): Promise<void>;
  plug(): Promise<void>;
  remove(): Promise<void>;
}

export async function makeTestHost(prefix: string): Promise<TestHost> {
  const id = randomBytes(3).toString('hex');
  const name = `${prefix}-${id}`;
  const subnet = `10.213.${randomInt(1, 254)}`;
  const [hostSide, nsSide] = [`tugh${id}`, `tugn${id}`];
  const inside = (...args: string[]) => run('ip', ['-n', name, ...args]);
  const remove = async () => {
    await run('ip', ['netns', 'delete', name]).catch(() => {});
    await run('ip', ['link', 'delete', hostSide]).catch(() => {});
  };
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide, 'netns', name]);
    await run('ip', ['addr', 'add', `${subnet}.1/30`, 'dev', hostSide]);
    await run('ip', ['link', 'set', hostSide, 'up']);
    await inside('addr', 'add', `${subnet}.2/30`, 'dev', nsSide);
    await inside('link', 'set', nsSide, 'up');
    await inside('link', 'set', 'lo', 'up');
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    name,
    address: `${subnet}.2`,
    gateway: `${subnet}.1`,
    unplug: () => inside('link', 'set', nsSide, 'down').then(() => {}),
    plug: () => inside('link', 'set', nsSide, 'up').then(() => {}),
    remove,
  };
}
