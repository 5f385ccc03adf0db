// `npm start`: the extension in VS Code on the examples/ workspace, with the local engine
// running and `busybox:latest` (the examples' base image) in it. The image is pulled from Docker
// Hub where the machine reaches it, and otherwise made here from Debian's busybox-static.
// VS Code is the desktop `code` where it is installed, else code-server in the browser.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { engineAnswers, startDaemon, waitForEngine } from '../runtime-agent/src/cli/background';
import { DEFAULT_SOCKET, EngineClient, EngineError } from '../runtime-agent/src/cli/client';
import { startCodeServer, workbenchUrl } from '../test/extension/workbench';
import { BUSYBOX, loadBusybox } from './busybox-image';

const root = resolve(__dirname, '..');
const examples = join(root, 'examples');
const IMAGE = 'busybox:latest';

/** The local engine, started when it does not answer (as root only). */
async function ensureEngine(): Promise<void> {
  if (await engineAnswers(DEFAULT_SOCKET)) return console.log(`the local engine answers on ${DEFAULT_SOCKET}`);
  if (process.getuid?.() !== 0) {
    throw new Error(`the local engine is not running, and it must be started as root (it makes namespaces and mounts):\n\n  sudo ${process.execPath} ${join(root, 'dist/tug.js')} daemon\n\nthen npm start again (or run npm start itself as root)`);
  }
  const log = '/var/log/tug/tugd.log';
  const pid = await startDaemon(join(root, 'dist/tug.js'), [], log);
  if (!(await waitForEngine(DEFAULT_SOCKET, 20_000))) throw new Error(`the local engine did not start; see ${log}`);
  console.log(`started the local engine (pid ${pid}) on ${DEFAULT_SOCKET}; its log: ${log}; it keeps running after this`);
}

/** Pulls `image`; false when the registry cannot be reached (or refuses). */
async function pull(client: EngineClient, image: string): Promise<boolean> {
  const [name, tag] = image.split(':');
  try {
    for await (const m of client.lines<{ error?: string }>('POST', `/images/create?fromImage=${name}&tag=${tag}`)) if (m.error) return false;
    return true;
  } catch {
    return false;
  }
}

/** `busybox:latest` in the engine: there already, pulled, or made from busybox-static. */
export async function ensureBusybox(client: EngineClient): Promise<'present' | 'pulled' | 'made'> {
  try {
    await client.call('GET', `/images/${IMAGE}/json`);
    return 'present';
  } catch (error) {
    if (!(error instanceof EngineError && error.status === 404)) throw error;
  }
  if (await pull(client, IMAGE)) return 'pulled';
  if (!existsSync(BUSYBOX)) throw new Error(`${IMAGE} cannot be pulled (no internet?) nor made here without ${BUSYBOX}: apt-get install busybox-static`);
  await loadBusybox(client, IMAGE);
  return 'made';
}

async function main(): Promise<void> {
  await ensureEngine();
  const how = await ensureBusybox(new EngineClient(DEFAULT_SOCKET));
  console.log(
    {
      present: `${IMAGE} is in the engine`,
      pulled: `pulled ${IMAGE} from Docker Hub`,
      made: `no internet: made ${IMAGE} from Debian's busybox-static`,
    }[how],
  );
  if (spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0) {
    console.log('opening VS Code with the extension of this tree on examples/');
    spawn('code', [`--extensionDevelopmentPath=${root}`, examples], { stdio: 'inherit', detached: true }).unref();
    return;
  }
  const port = Number(process.env.PORT || 8080);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT=${process.env.PORT} is not a port number`);
  // Heard from here on, so that a Ctrl-C while code-server starts does not leave it running.
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  // Its settings, state and extensions persist here between runs, as a desktop VS Code's do.
  const server = await startCodeServer({ dir: join(homedir(), '.local/share/tug-dev'), port });
  console.log(`VS Code (code-server) with the extension of this tree, on examples/:\n\n  ${workbenchUrl(server, examples, [['extensionDevelopmentPath', root]])}\n\nCtrl-C stops it (the engine keeps running).`);
  await stopped;
  await server.stop();
  console.log(`stopped code-server; the local engine keeps running on unix://${DEFAULT_SOCKET}`);
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`npm start: ${error.message}`);
    process.exit(1);
  });
}
