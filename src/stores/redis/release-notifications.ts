import type { RedisClient } from './script-runner';
import { StoreUnavailableError } from './store-unavailable-error';

/** Options of {@link ReleaseNotifications}. */
export interface ReleaseNotificationsOptions {
  /** The user's client; the subscriber connection is a duplicate of it (a subscribed connection cannot run commands). */
  client: RedisClient;
  /** For error messages. */
  address: string;
  /** Upper bound of the random delay before a woken waiter or listener runs. */
  wakeJitterMs: number;
  /** Subscribing for a standing listener failed. */
  onError: (error: unknown) => void;
}

interface Waiter {
  resolve: (woken: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Release notifications over pub/sub: one subscriber connection of the store's own, waiters that
 * wait once for a release on a channel, and standing listeners. Every wake is delayed by a random
 * jitter so waiters in many processes do not retry at the same instant.
 */
export class ReleaseNotifications {
  private subscriber: RedisClient | undefined;
  private readonly subscribing = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Standing listeners for release notifications, by channel. */
  private readonly listeners = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(private readonly options: ReleaseNotificationsOptions) {}

  /**
   * Waits until a release is published on `channel` (plus the jitter), or `maxMs` passes.
   * Resolves `true` when woken by a release.
   */
  async waitFor(channel: string, maxMs: number, signal?: AbortSignal): Promise<boolean> {
    // Just subscribed: a release published before the subscription took effect is lost, so say
    // "woken" at once and let the caller look again.
    if (!this.subscribing.has(channel)) {
      await this.subscribe(channel);
      return true;
    }
    await this.subscribe(channel);
    return new Promise<boolean>((resolve) => {
      let set = this.waiters.get(channel);
      if (!set) this.waiters.set(channel, (set = new Set()));
      const waiters = set;
      const waiter: Waiter = {
        resolve: (woken) => {
          waiters.delete(waiter);
          if (waiter.timer) clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(woken);
        },
        timer: undefined,
      };
      const onAbort = () => waiter.resolve(false);
      waiter.timer = setTimeout(() => waiter.resolve(false), Math.max(0, maxMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** Calls `listener` (after the jitter) whenever a release is published on `channel`; returns a stop function. */
  listen(channel: string, listener: () => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    // Once subscribed, call it once: a release published before the subscription took effect is lost.
    this.subscribe(channel).then(
      () => {
        if (!this.closed && set.has(listener)) listener();
      },
      (error: unknown) => this.options.onError(error),
    );
    return () => {
      set.delete(listener);
    };
  }

  /** Wakes every waiter (`false`), drops every listener and closes the subscriber connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.waiters.values()) for (const w of [...set]) w.resolve(false);
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (!sub) return;
    // QUIT on a connection that is not up waits in ioredis's offline queue behind the SUBSCRIBE
    // (until its retries run out, ~10 s by default): close such a connection at once.
    if (sub.status === 'ready') await sub.quit().catch(() => sub.disconnect());
    else sub.disconnect();
  }

  private subscribe(channel: string): Promise<void> {
    let pending = this.subscribing.get(channel);
    if (pending) return pending;
    if (!this.subscriber) {
      const sub = this.options.client.duplicate();
      sub.on('error', () => {
        // Reconnects by itself; a missed notification only delays a waiter to its timeout.
      });
      sub.on('message', (ch: string) => this.wake(ch));
      // After a reconnect (ioredis resubscribes by itself) notifications from the gap are lost: look again.
      let connectedOnce = false;
      sub.on('ready', () => {
        if (connectedOnce) for (const ch of this.subscribing.keys()) this.wake(ch);
        connectedOnce = true;
      });
      this.subscriber = sub;
    }
    const sub = this.subscriber;
    pending = sub.subscribe(channel).then(
      () => undefined,
      (error: unknown) => {
        this.subscribing.delete(channel);
        throw new StoreUnavailableError({
          address: this.options.address,
          operation: 'subscribe',
          cause: error,
        });
      },
    );
    this.subscribing.set(channel, pending);
    return pending;
  }

  private wake(channel: string): void {
    const listeners = this.listeners.get(channel);
    if (listeners) {
      for (const listener of listeners) {
        const timer = setTimeout(() => {
          if (!this.closed) listener();
        }, Math.random() * this.options.wakeJitterMs);
        timer.unref?.();
      }
    }
    const set = this.waiters.get(channel);
    if (!set) return;
    for (const waiter of [...set]) {
      set.delete(waiter);
      if (waiter.timer) clearTimeout(waiter.timer);
      const jitter = Math.random() * this.options.wakeJitterMs;
      waiter.timer = setTimeout(() => waiter.resolve(true), jitter);
    }
  }
}
