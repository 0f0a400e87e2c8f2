import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import { LimiterKeys, type WindowKeyParts } from './keys';
import { ScriptRunner, type RedisClient, type ScriptArg } from './script-runner';
import { luaScripts } from './scripts.generated';
import { StoreUnavailableError } from './store-unavailable-error';

/** One window charged by an acquire: `cost` units of `resource` against `limit` per `windowMs`. */
export interface WindowCharge {
  readonly resource: string;
  /** Length of the window as the store enforces it (margin included), in ms. */
  readonly windowMs: number;
  readonly limit: number;
  /** Units this acquire charges to the window (0 charges nothing but still checks the gate). */
  readonly cost: number;
}

/**
 * A cost reconciled at release: the entry charged `charged` at acquire becomes
 * `max(0, charged + delta)` at its start time (or start + arrival lag) while still inside the
 * window; a lease charged 0 up front gets a positive delta as a new entry now.
 */
export interface WindowAdjustment {
  readonly resource: string;
  readonly windowMs: number;
  readonly charged: number;
  readonly delta: number;
}

/** What {@link RedisBackend.snapshot} reads. */
export interface BackendSnapshot {
  /** Live leases across every process. */
  active: number;
  /** Units held in each window now, in the order asked. */
  used: number[];
  /** Whole ms until the pause gate opens (0 = open). */
  pausedForMs: number;
}

/** When a released lease started (the acquire's `startedAt`) and how late its request arrived. */
export interface ReleaseTiming {
  /** The lease's `startedAt`, exactly as the acquire answered it: its window entries carry this score. */
  readonly startedAt: number;
  /** Counts the lease's window entries from `startedAt + arrivalLagMs` (ignored unless finite and > 0). */
  readonly arrivalLagMs?: number;
}

/** One window's reconcile at release, by window index. */
export interface IndexedAdjustment {
  readonly index: number;
  readonly charged: number;
  readonly delta: number;
}

/** Why an acquire was denied. */
export type DenyReason = 'paused' | 'window' | 'concurrency' | 'never';

/** The answer to one acquire attempt. */
export type AttemptResult =
  | { readonly granted: true; readonly leaseId: string; /** Start time, ms of Redis time. */ readonly startedAt: number }
  | {
      readonly granted: false;
      /** Whole ms until the request can fit; for `'concurrency'` an upper bound (a release wakes sooner); -1 for `'never'`. */
      readonly waitMs: number;
      readonly reason: DenyReason;
      /** Index into the request's windows of the window that decided the wait (`'window'`, `'never'`). */
      readonly window?: number;
    };

/** Events of the backend. */
export interface RedisBackendEvents {
  /** A lease's TTL ran out while its work still ran (no heartbeat reached Redis in time). */
  leaseExpired: (info: { name: string; leaseId: string }) => void;
  /** A heartbeat failed (Redis unreachable); leases stay held locally and are retried next beat. */
  heartbeatError: (error: unknown) => void;
}

/** Options of {@link RedisBackend}. */
export interface RedisBackendOptions {
  client: RedisClient;
  prefix: string;
  leaseTtlMs: number;
  /** How often held leases are renewed. */
  heartbeatMs: number;
  /** A Redis call slower than this counts as Redis being unavailable. */
  operationTimeoutMs: number;
  /** Upper bound of the random delay before a woken waiter retries. */
  wakeJitterMs: number;
}

/** Error names/replies that mean "Redis cannot serve us right now" rather than "our script is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

/** True when `error` comes from the connection (refused, closed, timed out, retries exhausted). */
export function isUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLY.test(error.message);
  return true;
}

/** `host:port` (or socket path, or cluster nodes) of an ioredis client, for error messages. */
export function describeAddress(client: RedisClient): string {
  if (client.isCluster) {
    const nodes = (client as Cluster).nodes('all').map((n) => `${n.options.host ?? '127.0.0.1'}:${n.options.port ?? 6379}`);
    return nodes.length > 0 ? `cluster ${nodes.join(',')}` : 'cluster';
  }
  const { host, port, path } = (client as Redis).options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

interface Waiter {
  resolve: (woken: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

let leaseCounter = 0;

/** One script call's arguments for one request, and the values its reply holds for that request. */
type BatchArgs = ScriptArg[];
type BatchReply = [number, ...(number | string)[]];

/**
 * Sends calls as they come while fewer than `maxInFlight` are on their way, and the ones that
 * arrive meanwhile together, as one batch, when one returns: no added latency when idle, one round
 * trip for many under load. Calls reach Redis in the order they were submitted (one connection).
 */
class CallBatcher {
  private pending: { args: BatchArgs; resolve: (reply: BatchReply) => void; reject: (error: unknown) => void }[] = [];
  private inFlight = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly send: (requests: BatchArgs[]) => Promise<BatchReply[]>,
    private readonly maxInFlight = 1,
    private readonly maxBatch = 256,
  ) {}

  submit(args: BatchArgs): Promise<BatchReply> {
    return new Promise<BatchReply>((resolve, reject) => {
      this.pending.push({ args, resolve, reject });
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.inFlight++;
    this.send(batch.map((b) => b.args)).then(
      (replies) => {
        batch.forEach((b, i) => b.resolve(replies[i]!));
        this.done();
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error);
        this.done();
      },
    );
  }

  /** Resolves once every call submitted so far has been answered (or has failed). */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private done(): void {
    this.inFlight--;
    this.flush();
    if (this.inFlight === 0 && this.pending.length === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/**
 * The Redis side of the store: runs the per-operation Lua scripts, keeps held leases alive with a
 * heartbeat, and wakes local waiters when another process frees capacity (pub/sub).
 * Policy (what to ask for, whom to serve first) stays with the Limiter.
 */
export class RedisBackend extends EventEmitter<RedisBackendEvents> {
  readonly address: string;
  /** Unique per backend: the first part of every lease id it issues. */
  readonly instanceId: string;
  private readonly runner: ScriptRunner<keyof typeof luaScripts>;
  private readonly keysByName = new Map<string, LimiterKeys>();
  /** Lease ids held by this process, by limiter name: what the heartbeat renews. */
  private readonly held = new Map<string, Set<string>>();
  /** Leases the heartbeat found expired: released without freeing twice, reported once. */
  private readonly lost = new Set<string>();
  /** Store instances seen sharing each limiter at the last heartbeat. */
  private readonly peerCounts = new Map<string, number>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private subscriber: RedisClient | undefined;
  private subscribing = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly batchers = new Map<string, CallBatcher>();
  /** Standing listeners for release notifications, by channel. */
  private readonly releaseListeners = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(private readonly options: RedisBackendOptions) {
    super();
    this.runner = new ScriptRunner(options.client, luaScripts);
    this.address = describeAddress(options.client);
    this.instanceId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  /** The script runner (exposed for stats: how often NOSCRIPT was healed). */
  get scripts(): ScriptRunner<keyof typeof luaScripts> {
    return this.runner;
  }

  keys(name: string): LimiterKeys {
    let keys = this.keysByName.get(name);
    if (!keys) {
      keys = new LimiterKeys(this.options.prefix, name);
      this.keysByName.set(name, keys);
    }
    return keys;
  }

  /** A fresh lease id: `<instance>:<counter>`, unique across processes. */
  newLeaseId(): string {
    return `${this.instanceId}.${(++leaseCounter).toString(36)}`;
  }

  /**
   * One atomic acquire attempt (one round trip): pause gate, every window and the concurrency
   * leases. Granted leases are renewed by the heartbeat until {@link release}.
   */
  async tryAcquire(
    name: string,
    request: { leaseId?: string; windows: readonly WindowCharge[]; maxConcurrent?: number },
  ): Promise<AttemptResult> {
    const acquire = this.acquirer(name, request.windows);
    return acquire(
      request.leaseId ?? this.newLeaseId(),
      request.maxConcurrent,
      request.windows.map((w) => w.limit),
      request.windows.map((w) => w.cost),
    );
  }

  /**
   * A fast acquire for limiter `name` with these windows (what a store handle keeps): one atomic
   * attempt per call, batched with concurrent calls into one script call.
   */
  acquirer(
    name: string,
    windows: readonly WindowKeyParts[],
  ): (leaseId: string, maxConcurrent: number | undefined, limits: readonly number[], costs: readonly number[]) => Promise<AttemptResult> {
    const batcher = this.batcher('acquire', name, windows);
    return async (leaseId, maxConcurrent, limits, costs) => {
      const args: ScriptArg[] = [leaseId, maxConcurrent === undefined || !Number.isFinite(maxConcurrent) ? -1 : maxConcurrent];
      for (let i = 0; i < limits.length; i++) args.push(limits[i]!, costs[i] ?? 0);
      const [startedAt, granted, waitMs, reason, window] = (await batcher.submit(args)) as [number, number, number, string, number];
      if (granted === 1) {
        this.hold(name, leaseId);
        return { granted: true, leaseId, startedAt };
      }
      const why = (reason === 'pause' ? 'paused' : reason) as DenyReason;
      return window ? { granted: false, waitMs, reason: why, window: window - 1 } : { granted: false, waitMs, reason: why };
    };
  }

  /**
   * Returns a lease and reconciles its window costs. Resolves `released: false` when the lease had
   * already expired (reported once through `leaseExpired`); it is never freed twice.
   */
  async release(
    name: string,
    leaseId: string,
    adjustments: readonly WindowAdjustment[] = [],
    timing?: ReleaseTiming,
  ): Promise<{ released: boolean }> {
    const lag = timing?.arrivalLagMs;
    const adjusted = adjustments.filter((a) => a.delta !== 0 || (lag !== undefined && lag > 0 && a.charged > 0));
    if (adjusted.length > 0 && timing === undefined) throw new TypeError('RedisBackend.release: adjustments need the lease\'s startedAt');
    const release = this.releaser(name, adjusted);
    return release(
      leaseId,
      timing?.startedAt ?? 0,
      lag ?? 0,
      adjusted.map((a, i) => ({ index: i, charged: a.charged, delta: a.delta })),
    );
  }

  /**
   * A fast release for limiter `name` with these windows (what a store handle keeps): adjustments
   * name windows by index; concurrent calls are batched into one script call.
   */
  releaser(
    name: string,
    windows: readonly WindowKeyParts[],
  ): (leaseId: string, startedAt: number, arrivalLagMs: number, adjustments?: readonly IndexedAdjustment[]) => Promise<{ released: boolean }> {
    const batcher = this.batcher('release', name, windows);
    return async (leaseId, startedAt, arrivalLagMs, adjustments) => {
      this.held.get(name)?.delete(leaseId);
      const lag = arrivalLagMs > 0 && Number.isFinite(arrivalLagMs) ? arrivalLagMs : 0;
      const args: ScriptArg[] = [leaseId, startedAt, lag, 0];
      let n = 0;
      if (adjustments) {
        for (const a of adjustments) {
          // Without a lag, an unchanged charge needs nothing; with one, every charge moves.
          if (a.delta === 0 && (lag === 0 || !(a.charged > 0))) continue;
          n++;
          args.push(a.index + 1, a.charged, a.delta);
        }
      }
      args[3] = n;
      const [, released] = await batcher.submit(args);
      const wasLost = this.lost.delete(leaseId);
      if (released !== 1 && !wasLost) this.emit('leaseExpired', { name, leaseId });
      return { released: released === 1 };
    };
  }

  /**
   * The batcher for `operation` on limiter `name` with these windows: concurrent calls made while
   * one is in flight go to Redis together, as one script call, when it returns.
   */
  private batcher(operation: 'acquire' | 'release', name: string, windows: readonly WindowKeyParts[]): CallBatcher {
    const id = `${operation}\u0000${name}\u0000${windows.map((w) => `${w.resource}\u0000${w.windowMs}`).join('\u0000')}`;
    let batcher = this.batchers.get(id);
    if (batcher) return batcher;
    const keys = this.keys(name);
    const windowKeys = windows.flatMap((w) => [keys.windowLog(w), keys.windowSum(w)]);
    const lengths = windows.map((w) => w.windowMs);
    if (operation === 'acquire') {
      const scriptKeys = [keys.leases, keys.pause, keys.waiting, keys.extend, ...windowKeys];
      batcher = new CallBatcher(async (requests) => {
        const args: ScriptArg[] = [this.options.leaseTtlMs, lengths.length, ...lengths, requests.length];
        for (const r of requests) for (const a of r) args.push(a);
        const reply = (await this.call('acquire', scriptKeys, args)) as [string, ...(number | string)[]];
        const now = Number(reply[0]);
        return requests.map((_, i) => [now, Number(reply[1 + i * 4]), Number(reply[2 + i * 4]), String(reply[3 + i * 4]), Number(reply[4 + i * 4])]);
      });
    } else {
      const scriptKeys = [keys.leases, keys.waiting, keys.extend, ...windowKeys];
      batcher = new CallBatcher(async (requests) => {
        const args: ScriptArg[] = [keys.releasedChannel, lengths.length, ...lengths, requests.length];
        for (const r of requests) for (const a of r) args.push(a);
        const reply = (await this.call('release', scriptKeys, args)) as [string, ...number[]];
        const now = Number(reply[0]);
        return requests.map((_, i) => [now, Number(reply[1 + i])]);
      });
    }
    this.batchers.set(id, batcher);
    return batcher;
  }

  /** Live leases, units held per window and the pause gate, all read at one instant. */
  async snapshot(name: string, windows: readonly { resource: string; windowMs: number }[]): Promise<BackendSnapshot> {
    const keys = this.keys(name);
    const scriptKeys = [keys.leases, keys.pause, keys.extend];
    for (const w of windows) scriptKeys.push(keys.windowLog(w), keys.windowSum(w));
    const reply = (await this.call(
      'snapshot',
      scriptKeys,
      windows.map((w) => w.windowMs),
    )) as [number, number, ...string[]];
    return { active: reply[0], pausedForMs: reply[1], used: reply.slice(2).map(Number) };
  }

  /**
   * Counts every window entry of `name` `extraMs` longer, in every process (only ever grows).
   * Resolves the extension in force.
   */
  async extendWindows(name: string, extraMs: number, longestWindowMs: number): Promise<number> {
    const keys = this.keys(name);
    return Number(await this.call('extend', [keys.extend], [Math.max(0, extraMs), longestWindowMs + extraMs + 1000]));
  }

  /** Reads the shared AIMD level (undefined until some process sets one). */
  async getLevel(name: string): Promise<number | undefined> {
    const value = await this.command('getLevel', () => this.options.client.hget(this.keys(name).aimd, 'level'));
    return value === null ? undefined : Number(value);
  }

  /** Writes the shared AIMD level. */
  async setLevel(name: string, level: number): Promise<void> {
    await this.command('setLevel', () => this.options.client.hset(this.keys(name).aimd, 'level', level));
  }

  /** Closes the shared pause gate for `ms` (never shortening a longer pause); resolves the ms it stays closed. */
  async pause(name: string, ms: number): Promise<number> {
    return Number(await this.call('pause', [this.keys(name).pause], [Math.max(0, Math.ceil(ms))]));
  }

  /**
   * Waits until another acquire's release is published for `name` (plus a random jitter so waiters
   * in many processes do not retry at the same instant), or `maxMs` passes. Resolves `true` when
   * woken by a release.
   */
  async waitForRelease(name: string, maxMs: number, signal?: AbortSignal): Promise<boolean> {
    const channel = this.keys(name).releasedChannel;
    // Just subscribed: a release published before the subscription took effect is lost, so say
    // "woken" at once and let the caller look again.
    if (!this.subscribing.has(channel)) {
      await this.subscribe(name);
      return true;
    }
    await this.subscribe(name);
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

  /**
   * Calls `listener` (after a random jitter) whenever another acquire's release is published for
   * `name`. Returns a function that stops listening.
   */
  onRelease(name: string, listener: () => void): () => void {
    const channel = this.keys(name).releasedChannel;
    let set = this.releaseListeners.get(channel);
    if (!set) this.releaseListeners.set(channel, (set = new Set()));
    set.add(listener);
    // Once subscribed, call it once: a release published before the subscription took effect is lost.
    this.subscribe(name).then(
      () => {
        if (!this.closed && set.has(listener)) listener();
      },
      (error: unknown) => this.emit('heartbeatError', error),
    );
    return () => {
      set.delete(listener);
    };
  }

  /** Stops the heartbeat, wakes every waiter and closes the subscriber connection (not the user's client). */
  async close(): Promise<void> {
    // Releases already made (a limiter does not await them) reach Redis before the store stops:
    // otherwise their leases would hold slots until the TTL. Bounded by the operation timeout.
    const drained = Promise.all([...this.batchers.values()].map((b) => b.drained()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.operationTimeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const set of this.waiters.values()) for (const w of [...set]) w.resolve(false);
    this.releaseListeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  /** True while the client is connected and ready. */
  get connected(): boolean {
    return this.options.client.status === 'ready';
  }

  /** Processes (store instances) seen sharing limiter `name` at the last heartbeat, if any beat yet. */
  peers(name: string): number | undefined {
    return this.peerCounts.get(name);
  }

  /** Starts the heartbeat for `name` (presence, and renewal of the leases held under it). */
  track(name: string): void {
    if (!this.held.has(name)) {
      this.held.set(name, new Set());
      // A first beat right away, so the number of processes sharing the limiter is known early.
      if (!this.closed) this.renewAll().catch(() => {});
    }
    if (!this.heartbeat && !this.closed) {
      this.heartbeat = setInterval(() => {
        this.renewAll().catch((error: unknown) => this.emit('heartbeatError', error));
      }, this.options.heartbeatMs);
      this.heartbeat.unref?.();
    }
  }

  /** Leases this process holds right now (for tests and stats). */
  heldLeases(name: string): number {
    return this.held.get(name)?.size ?? 0;
  }

  /** Renews every held lease now (the heartbeat calls this every `heartbeatMs`). */
  async renewAll(): Promise<void> {
    const ttl = this.options.leaseTtlMs;
    await Promise.all(
      [...this.held].map(async ([name, ids]) => {
        const keys = this.keys(name);
        const presenceTtl = this.options.heartbeatMs * 3;
        const reply = (await this.call('renew', [keys.leases, keys.clients], [ttl, this.instanceId, presenceTtl, ...ids])) as [
          number,
          ...string[],
        ];
        this.peerCounts.set(name, reply[0]);
        for (const id of reply.slice(1) as string[]) {
          // Released meanwhile? Then it was not lost, just gone.
          if (!ids.delete(id)) continue;
          this.lost.add(id);
          this.emit('leaseExpired', { name, leaseId: id });
        }
      }),
    );
  }

  private hold(name: string, leaseId: string): void {
    this.track(name);
    this.held.get(name)!.add(leaseId);
  }

  private subscribe(name: string): Promise<void> {
    const channel = this.keys(name).releasedChannel;
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
        throw new StoreUnavailableError({ address: this.address, operation: 'subscribe', cause: error });
      },
    );
    this.subscribing.set(channel, pending);
    return pending;
  }

  private wake(channel: string): void {
    const listeners = this.releaseListeners.get(channel);
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

  private call(name: keyof typeof luaScripts, keys: string[], args: ScriptArg[]): Promise<unknown> {
    return this.command(name, () => this.runner.run(name, keys, args));
  }

  /** Runs one Redis round trip, turning a dead or silent connection into {@link StoreUnavailableError}. */
  private async command<T>(operation: string, send: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply within ${this.options.operationTimeoutMs} ms`)),
        this.options.operationTimeoutMs,
      );
      // The pending call is what matters; its timeout alone must not keep a process alive.
      timer.unref?.();
    });
    try {
      return await Promise.race([send(), timeout]);
    } catch (error) {
      if (isUnavailableError(error)) {
        throw new StoreUnavailableError({ address: this.address, operation, cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
