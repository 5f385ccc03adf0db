// A test host of the test's own: a network namespace with one veth pair to this machine, on a
// /30 of 10.213.0.0/16 (which the machine does not route otherwise) that no other test host
// uses. remove() takes it all away.

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

/** A /30 of 10.213.0.0/16 that no route of this machine's uses (other tests make hosts too). */
async function freeSubnet(): Promise<string> {
  const routes = (await run('ip', ['-4', 'route'])).stdout;
  for (;;) {
    const subnet = `10.213.${randomInt(0, 256)}.${randomInt(0, 64) * 4}`;
    if (!routes.includes(`${subnet}/30 `)) return subnet;
  }
}

export async function makeTestHost(prefix: string): Promise<TestHost> {
  const id = randomBytes(3).toString('hex');
  const name = `${prefix}-${id}`;
  const base = await freeSubnet();
  const [a, b, c, d] = base.split('.').map(Number);
  const subnet = { host: `${a}.${b}.${c}.${d + 1}`, ns: `${a}.${b}.${c}.${d + 2}` };
  const [hostSide, nsSide] = [`tugh${id}`, `tugn${id}`];
  const inside = (...args: string[]) => run('ip', ['-n', name, ...args]);
  const remove = async () => {
    await run('ip', ['netns', 'delete', name]).catch(() => {});
    await run('ip', ['link', 'delete', hostSide]).catch(() => {});
  };
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide, 'netns', name]);
    await run('ip', ['addr', 'add', `${subnet.host}/30`, 'dev', hostSide]);
    await run('ip', ['link', 'set', hostSide, 'up']);
    await inside('addr', 'add', `${subnet.ns}/30`, 'dev', nsSide);
    await inside('link', 'set', nsSide, 'up');
    await inside('link', 'set', 'lo', 'up');
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    name,
    address: subnet.ns,
    gateway: subnet.host,
    unplug: () => inside('link', 'set', nsSide, 'down').then(() => {}),
    plug: () => inside('link', 'set', nsSide, 'up').then(() => {}),
    remove,
  };
}
