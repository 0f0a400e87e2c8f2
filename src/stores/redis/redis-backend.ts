import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import { LimiterKeys } from './keys';
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
 * `max(0, charged + delta)` at its start time while still inside the window; a lease charged 0 up
 * front gets a positive delta as a new entry now.
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
    const keys = this.keys(name);
    const leaseId = request.leaseId ?? this.newLeaseId();
    const scriptKeys = [keys.leases, keys.pause, keys.waiting, keys.extend];
    const args: ScriptArg[] = [
      leaseId,
      request.maxConcurrent === undefined || !Number.isFinite(request.maxConcurrent) ? -1 : request.maxConcurrent,
      this.options.leaseTtlMs,
      request.windows.length,
    ];
    for (const w of request.windows) {
      scriptKeys.push(keys.windowLog(w), keys.windowSum(w));
      args.push(w.windowMs, w.limit, w.cost);
    }
    const reply = (await this.call('acquire', scriptKeys, args)) as [number, string, number?, string?, number?];
    if (reply[0] === 1) {
      this.hold(name, leaseId);
      return { granted: true, leaseId, startedAt: Number(reply[1]) };
    }
    const reason = (reply[3] === 'pause' ? 'paused' : reply[3]) as DenyReason;
    const window = reply[4] ? reply[4] - 1 : undefined;
    return window === undefined
      ? { granted: false, waitMs: Number(reply[2]), reason }
      : { granted: false, waitMs: Number(reply[2]), reason, window };
  }

  /**
   * Returns a lease and reconciles its window costs. Resolves `released: false` when the lease had
   * already expired (reported once through `leaseExpired`); it is never freed twice.
   */
  async release(name: string, leaseId: string, adjustments: readonly WindowAdjustment[] = []): Promise<{ released: boolean }> {
    const keys = this.keys(name);
    this.held.get(name)?.delete(leaseId);
    const scriptKeys = [keys.leases, keys.waiting, keys.extend];
    const args: ScriptArg[] = [leaseId, keys.releasedChannel, 0];
    let n = 0;
    for (const a of adjustments) {
      if (a.delta === 0) continue;
      n++;
      scriptKeys.push(keys.windowLog(a), keys.windowSum(a));
      args.push(a.windowMs, a.charged, a.delta);
    }
    args[2] = n;
    const reply = (await this.call('release', scriptKeys, args)) as [number, string];
    const wasLost = this.lost.delete(leaseId);
    const released = reply[0] === 1;
    if (!released && !wasLost) this.emit('leaseExpired', { name, leaseId });
    return { released };
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
    await this.subscribe(name);
    const channel = this.keys(name).releasedChannel;
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
    this.subscribe(name).catch((error: unknown) => this.emit('heartbeatError', error));
    return () => {
      set.delete(listener);
    };
  }

  /** Stops the heartbeat, wakes every waiter and closes the subscriber connection (not the user's client). */
  async close(): Promise<void> {
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
    if (!this.held.has(name)) this.held.set(name, new Set());
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
