import type { RedisClient } from './script-runner';

/** What a Redis call should do now, judged from the client's connection. */
export type ConnectionVerdict =
  | { readonly state: 'ready' }
  /** The client has told us the connection failed: fail the call now, with this error as the cause. */
  | { readonly state: 'failed'; readonly error: Error }
  /**
   * Connecting (no failure yet), or reconnecting within the grace after losing a good connection.
   * `until`: when the grace ends (look again then).
   */
  | { readonly state: 'waiting'; readonly until?: number };

const READY: ConnectionVerdict = { state: 'ready' };
const WAITING: ConnectionVerdict = { state: 'waiting' };

/** One watch per client, however many stores share it (each store would otherwise add 6 listeners). */
const watches = new WeakMap<RedisClient, ConnectionWatch>();

/**
 * What the ioredis client has said about its connection: the error of its latest failed connection
 * attempt and when a working connection was lost. ioredis tells us at once when a connection is
 * refused, reset or rejected (`error` event) but keeps commands in its offline queue and retries,
 * so without this a call to an unreachable Redis only failed at the operation timeout.
 *
 * Attaching an `error` listener also stops ioredis printing "Unhandled error event" on every
 * reconnect when the user attached none; the user's own listeners still get every error.
 */
export class ConnectionWatch {
  /** The error of the latest connection attempt, cleared when a connection is made. */
  private lastError: Error | undefined;
  /** When a ready connection was lost (undefined while ready, or before the first ready). */
  private lostAt: number | undefined;
  private up: boolean;
  private users = 0;
  private readonly changeListeners = new Set<() => void>();
  private readonly detachers: (() => void)[] = [];

  private constructor(private readonly client: RedisClient) {
    this.up = client.status === 'ready';
  }

  /** The watch of `client`, attached on first use; pair with {@link release}. */
  static acquire(client: RedisClient): ConnectionWatch {
    let watch = watches.get(client);
    if (!watch) {
      watch = new ConnectionWatch(client);
      watches.set(client, watch);
    }
    if (watch.users++ === 0) watch.attach();
    return watch;
  }

  /** One user fewer; the last one removes the listeners (the client outlives the store). */
  release(): void {
    if (this.users === 0 || --this.users > 0) return;
    for (const detach of this.detachers.splice(0)) detach();
    this.changeListeners.clear();
    watches.delete(this.client);
  }

  /**
   * Whether a call should be sent now, fail now, or wait. Fails when the client is not ready and
   * its latest connection attempt failed — unless a working connection was lost less than
   * `graceMs` ago (a restart or failover ioredis rides out by reconnecting) — or when the client
   * ended (no more reconnects).
   */
  verdict(graceMs: number, now = Date.now()): ConnectionVerdict {
    const status = this.client.status;
    if (status === 'ready') return READY;
    if (status === 'end') {
      return {
        state: 'failed',
        error:
          this.lastError ?? new Error("connection closed (ioredis client status 'end': not reconnecting)"),
      };
    }
    if (!this.lastError) return WAITING;
    if (this.lostAt !== undefined && now - this.lostAt < graceMs)
      return { state: 'waiting', until: this.lostAt + graceMs };
    return { state: 'failed', error: this.lastError };
  }

  /** The client's status, for messages. */
  get status(): string {
    return this.client.status;
  }

  /** Calls `listener` on every connection event; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => {
      this.changeListeners.delete(listener);
    };
  }

  /** A lazy client (`lazyConnect`, status `'wait'`) connects on its first command; a call held back connects it. */
  connectIfIdle(): void {
    // Its failure arrives as an `error` event too.
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
  }

  private attach(): void {
    const on = (event: string, listener: (...args: unknown[]) => void) => {
      this.client.on(event, listener);
      this.detachers.push(() => this.client.off(event, listener));
    };
    const failed = (error: unknown) => {
      this.lastError = error instanceof Error ? error : new Error(String(error));
      this.changed();
    };
    on('error', failed);
    // A Cluster reports each node's connection errors here; its `error` only once all have failed.
    if (this.client.isCluster) on('node error', failed);
    on('connect', () => {
      // Connected: the refusal is over; what comes next (auth, ready check) reports afresh.
      this.lastError = undefined;
      this.changed();
    });
    on('ready', () => {
      this.lastError = undefined;
      this.lostAt = undefined;
      this.up = true;
      this.changed();
    });
    on('close', () => {
      if (this.up) this.lostAt = Date.now();
      this.up = false;
      this.changed();
    });
    on('reconnecting', () => this.changed());
    on('end', () => this.changed());
  }

  private changed(): void {
    for (const listener of [...this.changeListeners]) listener();
  }
}
