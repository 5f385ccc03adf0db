// What the Containers view shows, kept current from the engine's /events stream rather than by
// polling: the list is read once, then each event re-reads only the container it names, and
// listeners hear which one changed (so a view re-renders that row alone). A stream that drops
// (an engine restart) is opened again with growing pauses, and the list read whole again.

import type { EngineClient } from '../../runtime-agent/src/cli/client';
import { followEvents } from './events';

/** One row of `GET /containers/json`, as every Docker-API engine answers it. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: { PrivatePort: number; PublicPort?: number; Type: string; IP?: string }[];
}

/** Listeners hear a container's ID, or null when the whole list was read again. */
export type ChangeListener = (id: string | null) => void;

export class ContainersModel {
  private readonly rows = new Map<string, ContainerSummary>();
  /** When each was first seen: orders containers created within the same second. */
  private readonly seen = new Map<string, number>();
  private seq = 0;
  private readonly listeners = new Set<ChangeListener>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  private readonly stopping = new AbortController();
  private running: Promise<void> | null = null;
  /** Whether the events stream is open (a view can say when it is not). */
  connected = false;

  constructor(private readonly client: EngineClient) {}

  /** Newest first, as `docker ps` lists them. */
  list(): ContainerSummary[] {
    return [...this.rows.values()].sort((a, b) => b.Created - a.Created || (this.seen.get(b.Id) ?? 0) - (this.seen.get(a.Id) ?? 0));
  }

  get(id: string): ContainerSummary | undefined {
    return this.rows.get(id);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hears the events stream open and drop. */
  onConnection(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  /** Reads the list and follows the events until stop(). Resolves once the list is first read. */
  async start(): Promise<void> {
    let ready!: () => void;
    const first = new Promise<void>((resolve) => (ready = resolve));
    this.running = followEvents(
      this.client,
      ['container'],
      {
        reload: () => this.reload(),
        onEvent: (event) => {
          const id = event.Actor?.ID ?? event.id;
          if (id) return this.refresh(id, event.Action === 'destroy');
        },
        onConnected: (connected) => {
          this.connected = connected;
          for (const listener of this.connectionListeners) listener(connected);
        },
      },
      this.stopping.signal,
      ready,
    );
    await first;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private emit(id: string | null): void {
    for (const listener of this.listeners) listener(id);
  }

  private async reload(): Promise<void> {
    const rows = await this.client.call<ContainerSummary[]>('GET', '/containers/json?all=1');
    this.rows.clear();
    // The engine lists newest first.
    for (const row of [...rows].reverse()) {
      this.rows.set(row.Id, row);
      if (!this.seen.has(row.Id)) this.seen.set(row.Id, ++this.seq);
    }
    this.emit(null);
  }

  /** Reads one container again after an event about it. */
  private async refresh(id: string, destroyed: boolean): Promise<void> {
    const rows = destroyed ? [] : await this.client.call<ContainerSummary[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`);
    const row = rows.find((r) => r.Id === id);
    if (row) {
      this.rows.set(id, row);
      if (!this.seen.has(id)) this.seen.set(id, ++this.seq);
    } else {
      this.seen.delete(id);
      if (!this.rows.delete(id)) return;
    }
    this.emit(id);
  }
}
