// Unpacking layers on worker threads: decompressing, hashing and creating thousands of files
// would otherwise hold the event loop (and the downloads still running) for seconds. A worker
// takes one layer after another, so that a pull of many layers starts few threads (each one
// loads this bundle again). The same module is the workers' script: in the bundle, dist/tug.js
// starts its worker threads with the kind below and runs nothing else.

import { createReadStream } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { applyLayer, UnsafeLayerError, type AppliedLayer, type ApplyOptions } from './layers';

const KIND = 'tug-apply-layer';

interface Job {
  blob: string;
  dir: string;
  options: Omit<ApplyOptions, 'onBytes'>;
}

type Message = { bytes: number } | { done: AppliedLayer } | { error: string; unsafe: boolean };

/** Whether this thread is a layer worker (the CLI then starts nothing of its own). */
export const isLayerWorker = !isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND;

if (isLayerWorker) {
  const post = (message: Message) => parentPort!.postMessage(message);
  parentPort!.on('message', (job: Job) => {
    let pending = 0;
    applyLayer(createReadStream(job.blob, { highWaterMark: 256 * 1024 }), job.dir, {
      ...job.options,
      // Progress in coarse steps: a message per chunk would cost more than it tells.
      onBytes: (n) => {
        pending += n;
        if (pending >= 1 << 20) {
          post({ bytes: pending });
          pending = 0;
        }
      },
    }).then(
      (done) => {
        if (pending) post({ bytes: pending });
        post({ done });
      },
      (error: Error) => post({ error: error.message, unsafe: error instanceof UnsafeLayerError }),
    );
  });
}

/** Workers waiting for a layer; they do not keep the process alive while they wait. */
const idle: Worker[] = [];

function startWorker(): Worker {
  // Run from TypeScript sources (the tests, through tsx), the worker loads them the same way.
  const data = { kind: KIND };
  return __filename.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: data })
    : new Worker(__filename, { workerData: data });
}

/** applyLayer on a worker thread, reading the layer from a blob file. */
export function applyLayerInWorker(blob: string, dir: string, options: ApplyOptions): Promise<AppliedLayer> {
  const { onBytes, ...rest } = options;
  const job: Job = { blob, dir, options: rest };
  const worker = idle.pop() ?? startWorker();
  worker.ref();
  return new Promise((resolve, reject) => {
    const finish = (settle: () => void, reuse: boolean) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (reuse) {
        worker.unref();
        idle.push(worker);
      } else {
        void worker.terminate();
      }
      settle();
    };
    const onMessage = (message: Message) => {
      if ('bytes' in message) onBytes?.(message.bytes);
      else if ('done' in message) finish(() => resolve(message.done), true);
      else {
        const error = message.unsafe ? new UnsafeLayerError('') : new Error(message.error);
        error.message = message.error;
        // A refused layer may have left the worker mid-stream: it is not reused.
        finish(() => reject(error), false);
      }
    };
    const onError = (error: Error) => finish(() => reject(error), false);
    const onExit = (code: number) => finish(() => reject(new Error(`the layer worker ended (exit code ${code}) without an answer`)), false);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}
