// The engine's events, in the shape of Docker's `/events` messages: every change to a container
// or image is emitted here, kept for a while (for `since`), and streamed to subscribers.

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // The older fields Docker still sends for containers and images.
  status?: string;
  id?: string;
  from?: string;
}

export type EventFilter = Map<string, string[]>;

const KEEP = 1000;

export class Events {
  private readonly recent: EngineEvent[] = [];
  private readonly listeners = new Set<(event: EngineEvent) => void>();

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nanos = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nanos / 1_000_000_000n),
      timeNano: Number(nanos),
    };
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = id;
      if (attributes.image) event.from = attributes.image;
    }
    this.recent.push(event);
    if (this.recent.length > KEEP) this.recent.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Events since a time (seconds, as Docker's `since`), then live ones until unsubscribed. */
  subscribe(listener: (event: EngineEvent) => void, since?: number): () => void {
    if (since !== undefined) for (const event of this.recent) if (event.timeNano >= since * 1e9) listener(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Whether an event passes Docker's event filters (type, event, container, image, network, volume, label). */
export function matches(event: EngineEvent, filters: EventFilter): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const attrs = event.Actor.Attributes;
    const ok = values.some((value) => {
      switch (key) {
        case 'type':
          return event.Type === value;
        case 'event':
          return event.Action === value || event.Action.startsWith(`${value}:`);
        case 'container':
          return event.Type === 'container' && (event.Actor.ID.startsWith(value) || attrs.name === value);
        case 'image':
          return attrs.image === value || (event.Type === 'image' && (event.Actor.ID === value || attrs.name === value));
        case 'network':
          return event.Type === 'network' && (event.Actor.ID.startsWith(value) || attrs.name === value);
        case 'volume':
          return event.Type === 'volume' && event.Actor.ID === value;
        case 'label': {
          const eq = value.indexOf('=');
          return eq === -1 ? value in attrs : attrs[value.slice(0, eq)] === value.slice(eq + 1);
        }
        default:
          return true;
      }
    });
    if (!ok) return false;
  }
  return true;
}
