// The build half of Build and Run: a Dockerfile's folder streamed as a context tar (honouring
// .dockerignore, as the docker CLI sends it) to `POST /build` of whichever engine is in use, its
// progress handed on as text for a terminal, and a failure brought back with the Dockerfile line
// the engine names (tugd says it in errorDetail.line), for a diagnostic there.

import { dirname } from 'node:path';
import { EngineError, type EngineClient } from '../../runtime-agent/src/cli/client';
import { ContextError, directoryContext, type BuildContext } from '../../runtime-agent/src/cli/context-tar';

export interface BuildOptions {
  dockerfile: string;
  /** The context folder; the Dockerfile's own by default. */
  context?: string;
  tags: string[];
  buildArgs?: Record<string, string>;
  noCache?: boolean;
}

export type BuildResult = { ok: true; imageId: string } | { ok: false; message: string; line?: number; code?: number };

interface Message {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string; line?: number; code?: number };
  aux?: { ID?: unknown };
}

/** Builds; `output` hears the engine's progress as it comes. Cancelling through `signal` ends the request. */
export async function buildImage(client: EngineClient, options: BuildOptions, output: (text: string) => void, signal?: AbortSignal): Promise<BuildResult> {
  const contextDir = options.context ?? dirname(options.dockerfile);
  const query = new URLSearchParams();
  for (const tag of options.tags) query.append('t', tag);
  if (options.buildArgs && Object.keys(options.buildArgs).length) query.set('buildargs', JSON.stringify(options.buildArgs));
  if (options.noCache) query.set('nocache', '1');
  let context: BuildContext;
  try {
    context = await directoryContext(contextDir, { file: options.dockerfile });
  } catch (error) {
    if (error instanceof ContextError) return { ok: false, message: `the build context ${contextDir} cannot be sent: ${error.message}` };
    throw error;
  }
  if (context.dockerfile) query.set('dockerfile', context.dockerfile);
  let imageId = '';
  try {
    for await (const message of client.upload<Message>('POST', `/build?${query}`, context.tar, { 'Content-Type': 'application/x-tar' }, signal)) {
      if (message.errorDetail || message.error) {
        const detail = message.errorDetail ?? {};
        return { ok: false, message: detail.message ?? message.error ?? 'the build failed', ...(detail.line ? { line: detail.line } : {}), ...(detail.code ? { code: detail.code } : {}) };
      }
      if (typeof message.aux?.ID === 'string') imageId = message.aux.ID;
      else if (message.stream) output(message.stream);
      else if (message.status) output(`${message.id ? `${message.id}: ` : ''}${message.status}${message.progress ? ` ${message.progress}` : ''}\n`);
    }
  } catch (error) {
    if (signal?.aborted) return { ok: false, message: 'the build was cancelled' };
    if (error instanceof EngineError) return { ok: false, message: error.message };
    throw error;
  }
  if (!imageId) return { ok: false, message: 'the engine ended the build without an image ID' };
  return { ok: true, imageId };
}
