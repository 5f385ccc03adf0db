// A pull in a child process of its own. Downloading and unpacking move hundreds of megabytes
// through buffers, and the engine would keep much of that as resident memory long after (the C
// heap keeps what it freed); a process that exits gives it all back. The engine keeps the image
// store: the child works on a copy and asks the engine to record the image.

import { fork } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';
import { ContentStore } from '../images/content';
import { Snapshots } from '../images/snapshots';
import { ImageStore, type ImageRecord } from '../images/store';
import type { Platform } from '../../../server/src/dockerfile/platform';
import type { RegistryAuth } from './client';
import { pull, type ProgressMessage } from './pull';

const MARK = 'TUG_PULL_PROCESS';

/** What the child needs to pull, besides the engine's image store. */
export interface PullRequest {
  reference: string;
  /** The folders of the content store and the snapshots. */
  content: string;
  snapshots: string;
  platform?: Platform;
  insecure?: readonly string[];
  auth?: RegistryAuth;
}

type ToChild = { start: PullRequest; records: ImageRecord[] } | { added: ImageRecord } | { addFailed: string } | { abort: true };
type FromChild = { progress: ProgressMessage } | { add: ImageRecord } | { done: ImageRecord } | { error: string };

/** Whether this process is a pull's child (the CLI then starts nothing of its own). */
export const isPullProcess = isMainThread && process.env[MARK] === '1' && typeof process.send === 'function';

/** `pull` in a child process; `store` records the image, as `pull` would. */
export function pullInChild(
  request: PullRequest,
  store: ImageStore,
  onProgress: (message: ProgressMessage) => void,
  signal?: AbortSignal,
): Promise<ImageRecord> {
  return new Promise((resolve, reject) => {
    // Not the engine's node flags (which trade speed for a small heap): this is where speed
    // counts. Run from TypeScript sources (through tsx), it loads them the same way.
    const execArgv = __filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = fork(__filename, [], { execArgv, env: { ...process.env, [MARK]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      fn();
    };
    const send = (message: ToChild) => {
      if (child.connected) child.send(message);
    };
    // The child stops its downloads and removes what it had begun, then says so.
    const abort = () => send({ abort: true });
    signal?.addEventListener('abort', abort, { once: true });
    child.on('message', (message: FromChild) => {
      if ('progress' in message) onProgress(message.progress);
      else if ('add' in message) {
        store.add(message.add).then(
          (record) => send({ added: record }),
          (error: Error) => send({ addFailed: error.message }),
        );
      } else if ('done' in message) settle(() => resolve(message.done));
      else settle(() => reject(new Error(message.error)));
    });
    child.once('error', (error) => settle(() => reject(new Error(`cannot start the pull process: ${error.message}`))));
    // 'close' comes after the last message.
    child.once('close', (code, sig) => settle(() => reject(new Error(`the pull process ended (${sig ?? `exit code ${code}`}) before the pull did`))));
    send({ start: request, records: store.list() });
    if (signal?.aborted) abort();
  });
}

/** The image store of the child: a copy of the engine's, whose additions the engine makes. */
class EngineStore extends ImageStore {
  constructor(records: ImageRecord[]) {
    super('', records); // no folder: it never writes
  }

  private pending: { resolve: (record: ImageRecord) => void; reject: (error: Error) => void } | null = null;

  override add(record: ImageRecord): Promise<ImageRecord> {
    if (!process.connected) return Promise.reject(new Error('the engine went away'));
    process.send!({ add: record } satisfies FromChild);
    return new Promise((resolve, reject) => (this.pending = { resolve, reject }));
  }

  answer(message: ToChild): void {
    const pending = this.pending;
    this.pending = null;
    if ('added' in message) pending?.resolve(message.added);
    else if ('addFailed' in message) pending?.reject(new Error(message.addFailed));
  }
}

if (isPullProcess) {
  const controller = new AbortController();
  let store: EngineStore | null = null;
  // Once the engine has gone (or the answer is sent), there is nobody to tell.
  const send = (message: FromChild) => {
    if (process.connected) process.send!(message);
  };
  // The engine gone (its channel closed): nothing is waiting for this pull any more.
  process.once('disconnect', () => {
    controller.abort(new Error('the engine went away'));
    store?.answer({ addFailed: 'the engine went away' });
  });
  process.on('message', (message: ToChild) => {
    if ('abort' in message) controller.abort(new Error('the pull was cancelled'));
    else if ('start' in message) {
      const { start: request } = message;
      store = new EngineStore(message.records);
      const content = new ContentStore(request.content);
      pull(request.reference, {
        content,
        store,
        snapshots: new Snapshots(request.snapshots, content),
        ...(request.platform ? { platform: request.platform } : {}),
        insecure: request.insecure,
        auth: request.auth,
        onProgress: (progress) => send({ progress }),
        signal: controller.signal,
      }).then(
        (done) => send({ done }),
        (error: Error) => send({ error: error.message }),
      ).finally(() => process.disconnect());
    } else store?.answer(message);
  });
}
