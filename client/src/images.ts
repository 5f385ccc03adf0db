// What the Images view shows: images by repository and tag, and an image's layers as the
// instructions that made them, read from `GET /images/json` and `GET /images/{id}/history`.

import type { EngineClient } from '../../runtime-agent/src/cli/client';
import { followEvents } from './events';

/** One row of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
}

/** One entry of `GET /images/{id}/history`, newest first. */
export interface HistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
  Tags: string[] | null;
}

export interface ImageItem {
  id: string;
  repository: string;
  tag: string;
  created: number;
  size: number;
}

export interface Layer {
  /** The Dockerfile instruction, as it reads in a Dockerfile. */
  instruction: string;
  size: number;
  created: number;
}

/** One item per tag (`<none>` for an untagged image), newest first, as `docker images` lists them. */
export async function listImages(client: EngineClient): Promise<ImageItem[]> {
  const images = await client.call<ImageSummary[]>('GET', '/images/json');
  const items: ImageItem[] = [];
  for (const image of images) {
    const tags = image.RepoTags?.filter((t) => t !== '<none>:<none>') ?? [];
    const base = { id: image.Id, created: image.Created, size: image.Size };
    if (tags.length === 0) items.push({ ...base, repository: '<none>', tag: '<none>' });
    for (const tag of tags) {
      const colon = tag.lastIndexOf(':');
      items.push({ ...base, repository: tag.slice(0, colon), tag: tag.slice(colon + 1) });
    }
  }
  return items.sort((a, b) => b.created - a.created || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}

/** The image's layers, oldest first (the order of its Dockerfile). */
export async function imageLayers(client: EngineClient, image: string): Promise<Layer[]> {
  const history = await client.call<HistoryEntry[]>('GET', `/images/${encodeURIComponent(image)}/history`);
  return history.reverse().map((h) => ({ instruction: instruction(h.CreatedBy), size: h.Size, created: h.Created }));
}

/**
 * A history line as the instruction it records. The legacy builder writes `/bin/sh -c #(nop)  ENV …`
 * for steps that run nothing and `|N ARG=… /bin/sh -c cmd` for RUN; BuildKit writes
 * `RUN /bin/sh -c cmd # buildkit` and the others as they are.
 */
export function instruction(createdBy: string): string {
  const text = createdBy.trim().replace(/ # buildkit$/, '');
  const nop = /^\/bin\/sh -c #\(nop\)\s+(.*)$/s.exec(text);
  if (nop) return nop[1].trim();
  if (/^[A-Z]+ /.test(text)) return text;
  // A RUN: the build args it saw (`|2 A=1 B=two words `) come before its command.
  const shell = text.indexOf('/bin/sh -c ');
  if (shell !== -1 && (shell === 0 || text.startsWith('|'))) return `RUN ${text.slice(shell + '/bin/sh -c '.length)}`;
  return `RUN ${text.replace(/^\|\d+(?: \S+=\S*)* /, '')}`;
}

/** The Images view's list, read again on each image event (images change a few at a time, and rarely). */
export class ImagesModel {
  private items: ImageItem[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly stopping = new AbortController();
  private running: Promise<void> | null = null;
  connected = false;

  constructor(private readonly client: EngineClient) {}

  list(): ImageItem[] {
    return this.items;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the list and follows the events until stop(). Resolves once the list is first read. */
  async start(): Promise<void> {
    let ready!: () => void;
    const first = new Promise<void>((resolve) => (ready = resolve));
    const reload = async () => {
      this.items = await listImages(this.client);
      for (const listener of this.listeners) listener();
    };
    this.running = followEvents(this.client, ['image'], { reload, onEvent: reload, onConnected: (c) => (this.connected = c) }, this.stopping.signal, ready);
    await first;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }
}
