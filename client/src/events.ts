// The engine's /events stream, followed for as long as a view needs it: opened before the
// caller reads its list (so no change falls between the two), and opened again with growing
// pauses when it drops (an engine restart), each time after reading the list again.

import type { EngineClient } from '../../runtime-agent/src/cli/client';

/** One message of `GET /events`, in the fields every Docker-API engine sends. */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  id?: string;
}

export interface EventFollower {
  /** Reads the whole list; called each time the stream is (re)opened. */
  reload(): Promise<void>;
  onEvent(event: EngineEvent): Promise<void> | void;
  /** The stream opened (true) or dropped (false). */
  onConnected(connected: boolean): void;
}

/** Follows events of `types` until `signal` aborts; `ready` is called once the first attempt is over, whatever its outcome. */
export async function followEvents(client: EngineClient, types: string[], follower: EventFollower, signal: AbortSignal, ready: () => void = () => {}): Promise<void> {
  for (let pause = 250; !signal.aborted; pause = Math.min(pause * 2, 5000)) {
    try {
      const since = Math.floor(Date.now() / 1000) - 1;
      const events = client.lines<EngineEvent>('GET', `/events?since=${since}&filters=${encodeURIComponent(JSON.stringify({ type: types }))}`, {}, signal)[Symbol.asyncIterator]();
      const first = events.next();
      first.catch(() => {}); // heard below, unless the list cannot be read first
      await follower.reload();
      follower.onConnected(true);
      ready();
      pause = 250;
      for (let next = await first; !next.done; next = await events.next()) await follower.onEvent(next.value);
    } catch {
      // Dropped, or the engine is not there yet: try again below.
    }
    follower.onConnected(false);
    ready(); // an engine that is not running yet leaves the list empty, not the caller waiting
    if (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
