// Unpacking a layer on a worker thread: decompressing, hashing and creating thousands of files
// would otherwise hold the engine's event loop (and the downloads still running) for seconds.
// The same module is the worker's script: in the bundle, dist/tug.js starts its worker threads
// with the kind below and runs nothing else.

import { createReadStream } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { applyLayer, UnsafeLayerError, type AppliedLayer, type ApplyOptions } from './layers';

const KIND = 'tug-apply-layer';

interface Job {
  kind: typeof KIND;
  blob: string;
  dir: string;
  options: Omit<ApplyOptions, 'onBytes'>;
}

type Message = { bytes: number } | { done: AppliedLayer } | { error: string; unsafe: boolean };

/** Whether this thread is a layer worker (the CLI then starts nothing of its own). */
export const isLayerWorker = !isMainThread && (workerData as Job | undefined)?.kind === KIND;

if (isLayerWorker) {
  const job = workerData as Job;
  const post = (message: Message) => parentPort!.postMessage(message);
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
}

/** applyLayer on a worker thread, reading the layer from a blob file. */
export function applyLayerInWorker(blob: string, dir: string, options: ApplyOptions): Promise<AppliedLayer> {
  const { onBytes, ...rest } = options;
  const job: Job = { kind: KIND, blob, dir, options: rest };
  return new Promise((resolve, reject) => {
    // Run from TypeScript sources (the tests, through tsx), the worker loads them the same way.
    const worker = __filename.endsWith('.ts')
      ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: job })
      : new Worker(__filename, { workerData: job });
    let settled = false;
    worker.on('message', (message: Message) => {
      if ('bytes' in message) onBytes?.(message.bytes);
      else if ('done' in message) {
        settled = true;
        resolve(message.done);
      } else {
        settled = true;
        const error = message.unsafe ? new UnsafeLayerError('') : new Error(message.error);
        error.message = message.error;
        reject(error);
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the layer worker ended (exit code ${code}) without an answer`));
    });
  });
}
