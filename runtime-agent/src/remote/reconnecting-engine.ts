// A remote engine that stays reachable for as long as someone uses it: opened on the first
// request, and opened again after the SSH connection drops, with pauses that double up to a
// limit, in the background, so that whoever shows it can say it is reconnecting. Refusals (a
// changed host key, a login the server turns down, no Node there) are not retried by themselves:
// trying again would ask the same questions for the same answer. Containers run on: they belong
// to the remote tugd, not to the connection.

import type { Duplex } from 'node:stream';
import type { Dialer } from '../cli/client';
import { SshError } from './connection';
import { RemoteEngine, type RemoteEngineOptions } from './remote-engine';

export type LinkState =
  | { status: 'idle' }
  | { status: 'connecting'; attempt: number }
  | { status: 'connected'; engine: RemoteEngine }
  /** `retryAt`: when the next attempt starts by itself (ms since the epoch); absent for a refusal. */
  | { status: 'disconnected'; error: Error; retryAt?: number };

export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export class ReconnectingEngine implements Dialer {
  private current: LinkState = { status: 'idle' };
  private opening: Promise<RemoteEngine> | undefined;
  private pause: number;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<(state: LinkState) => void>();

  constructor(
    readonly name: string,
    /** Asked before each attempt (so that an edited ~/.ssh/config counts). */
    private readonly options: () => Promise<RemoteEngineOptions>,
    private readonly backoff: Backoff = { firstMs: 1000, maxMs: 30_000 },
  ) {
    this.pause = backoff.firstMs;
  }

  get state(): LinkState {
    return this.current;
  }

  onState(listener: (state: LinkState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The engine, connected now (or by the attempt under way); after a refusal, asks again. */
  connect(): Promise<RemoteEngine> {
    if (this.closed) return Promise.reject(new SshError(`${this.name}: closed`));
    if (this.current.status === 'connected') return Promise.resolve(this.current.engine);
    clearTimeout(this.timer);
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  /** A stream to the engine's socket. While disconnected and waiting to retry, fails at once, saying so. */
  async dial(): Promise<Duplex> {
    const state = this.current;
    if (state.status === 'connected') return state.engine.dial();
    if (state.status === 'disconnected' && !this.opening) {
      const retry = state.retryAt === undefined ? '' : `; trying again in ${Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000))} s`;
      throw new SshError(`${this.name} is not connected: ${state.error.message}${retry}`, state.retryAt !== undefined);
    }
    return (await this.connect()).dial();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.current.status === 'connected') this.current.engine.close();
    this.set({ status: 'idle' });
  }

  private async open(): Promise<RemoteEngine> {
    this.set({ status: 'connecting', attempt: ++this.attempt });
    let engine: RemoteEngine;
    try {
      engine = await RemoteEngine.open(this.name, await this.options());
    } catch (error) {
      this.failed(error as Error);
      throw error;
    }
    if (this.closed) {
      engine.close();
      throw new SshError(`${this.name}: closed`);
    }
    this.pause = this.backoff.firstMs;
    this.attempt = 0;
    engine.onClose((error) => {
      if (this.closed || this.current.status !== 'connected' || this.current.engine !== engine) return;
      this.failed(new SshError(`the connection to ${this.name} dropped${error ? ` (${error.message})` : ''}`, true));
    });
    this.set({ status: 'connected', engine });
    return engine;
  }

  /** Network trouble is retried after a pause that doubles each time; a refusal waits for connect(). */
  private failed(error: Error): void {
    if (this.closed) return;
    const retryable = !(error instanceof SshError) || error.retryable;
    if (!retryable) return this.set({ status: 'disconnected', error });
    const pause = this.pause;
    this.pause = Math.min(this.pause * 2, this.backoff.maxMs);
    this.timer = setTimeout(() => void this.connect().catch(() => {}), pause);
    this.timer.unref();
    this.set({ status: 'disconnected', error, retryAt: Date.now() + pause });
  }

  private set(state: LinkState): void {
    this.current = state;
    for (const listener of this.listeners) listener(state);
  }
}
