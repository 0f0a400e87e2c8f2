import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import { MemoryStore } from '../memory-store';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  StoreSnapshot,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from '../store';
import { opt, parseOptions } from '../../validation/options';
import { assertValidPrefix } from './keys';
import { RedisBackend } from './redis-backend';
import type { RedisClient } from './script-runner';
import { isStoreUnavailableError, StoreUnavailableError } from './store-unavailable-error';

/** What {@link RedisStore} does when Redis cannot be reached. */
export type OnStoreError = 'fail' | 'local';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** A connected (or connecting) ioredis `Redis` or `Cluster`; the store never closes it. */
  client: RedisClient;
  /**
   * Put before every key, e.g. `'myapp:'` (no braces, `*`, `?`, `[`, `]` or `\`). Processes share a
   * limiter when they use the same prefix and limiter `name`.
   * @default 'throttleflow:'
   */
  prefix?: string;
  /**
   * How long a concurrency lease lives without a heartbeat. A process that dies (SIGKILL, lost
   * network) frees its slots within this time; a heartbeat renews leases while their work runs.
   * @default 30_000
   */
  leaseTtlMs?: number;
  /**
   * How often held leases are renewed.
   * @default leaseTtlMs / 3
   */
  heartbeatMs?: number;
  /**
   * Redis unreachable: `'fail'` rejects acquires with {@link StoreUnavailableError} (naming the
   * address); `'local'` falls back to an in-memory limiter holding `localFraction` of every limit
   * and emits `fallback` (and `recovered` once Redis answers again). Never unlimited.
   * @default 'fail'
   */
  onStoreError?: OnStoreError;
  /**
   * Fraction of every limit (each window's limit and the concurrency limit, rounded down, at least 1)
   * that the in-memory fallback allows this process.
   * @default 1 / the number of processes seen sharing the limiter at the last contact with Redis
   * (0.5 until a heartbeat has reached Redis)
   */
  localFraction?: number;
  /**
   * A Redis call with no answer after this long counts as Redis being unavailable.
   * @default 5_000
   */
  operationTimeoutMs?: number;
  /**
   * Upper bound of the random delay before a waiter woken by another process's release tries
   * again, so waiters in many processes do not all retry at the same instant.
   * @default 5
   */
  wakeJitterMs?: number;
  /**
   * While the fallback is in use, how often to try Redis again.
   * @default 1_000
   */
  recheckMs?: number;
}

/** Events of {@link RedisStore}. */
export interface RedisStoreEvents {
  /**
   * A lease's TTL ran out while its work was still running (the heartbeat could not reach Redis
   * in time, or the event loop was blocked longer than the TTL). Its slot may already be someone
   * else's; it is not freed a second time at release.
   */
  leaseExpired: (info: { name: string; leaseId: string }) => void;
  /** Redis became unreachable and `onStoreError: 'local'` switched limiter `name` to memory. */
  fallback: (info: { name: string; address: string; fraction: number; error: StoreUnavailableError }) => void;
  /** Redis answers again: limiter `name` is shared again. */
  recovered: (info: { name: string; address: string }) => void;
  /** A background step (heartbeat, stats refresh) failed; the store keeps going. */
  error: (error: unknown) => void;
}

const optionsSchema = z.strictObject({
  client: opt.instance(
    (v): v is RedisClient => typeof v === 'object' && v !== null && typeof (v as { evalsha?: unknown }).evalsha === 'function',
    'an ioredis Redis or Cluster client',
  ),
  prefix: opt.string().optional(),
  leaseTtlMs: opt.positiveInt().optional(),
  heartbeatMs: opt.positiveInt().optional(),
  onStoreError: opt.oneOf(['fail', 'local'] as const).optional(),
  localFraction: opt.fraction().refine((v) => v > 0, 'localFraction must be greater than 0').optional(),
  operationTimeoutMs: opt.positiveInt().optional(),
  wakeJitterMs: opt.nonNegativeNumber().optional(),
  recheckMs: opt.positiveInt().optional(),
});

/** The most a concurrency-blocked acquire waits inside the store for a release before handing back. */
const CONCURRENCY_HOLD_MS = 1_000;

/**
 * Shares limiters across processes through Redis: limiters with the same `name` and the same
 * store prefix share every sliding window, the concurrency limit (as leases with a TTL, renewed by
 * a heartbeat), the pause gate and the AIMD level. Each operation is one Lua script run by SHA
 * (reloaded by itself after a Redis restart or `SCRIPT FLUSH`), timed by Redis `TIME`, so client
 * clocks do not matter. Needs `ioredis` (an optional peer dependency).
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { Limiter } from 'throttleflow';
 * import { RedisStore } from 'throttleflow/redis';
 *
 * const store = new RedisStore({ client: new Redis(), prefix: 'myapp:' });
 * const limiter = new Limiter({ name: 'openai', maxConcurrent: 10, maxPerMinute: 500, store });
 */
export class RedisStore extends EventEmitter<RedisStoreEvents> implements Store {
  /** The Redis address, as used in error messages. */
  readonly address: string;
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly onStoreError: OnStoreError;
  private readonly backend: RedisBackend;
  private readonly localFractionOption: number | undefined;
  private readonly recheckMs: number;
  private readonly memory = new MemoryStore();
  private readonly handles = new Set<RedisHandle>();

  constructor(options: RedisStoreOptions) {
    super();
    const o = parseOptions(optionsSchema, options, 'RedisStore');
    this.prefix = o.prefix ?? 'throttleflow:';
    assertValidPrefix(this.prefix);
    this.leaseTtlMs = o.leaseTtlMs ?? 30_000;
    this.onStoreError = o.onStoreError ?? 'fail';
    this.localFractionOption = o.localFraction;
    this.recheckMs = o.recheckMs ?? 1_000;
    this.backend = new RedisBackend({
      client: o.client,
      prefix: this.prefix,
      leaseTtlMs: this.leaseTtlMs,
      heartbeatMs: o.heartbeatMs ?? Math.max(1, Math.floor(this.leaseTtlMs / 3)),
      operationTimeoutMs: o.operationTimeoutMs ?? 5_000,
      wakeJitterMs: o.wakeJitterMs ?? 5,
    });
    this.address = this.backend.address;
    this.backend.on('leaseExpired', (info) => this.emit('leaseExpired', info));
    this.backend.on('heartbeatError', (error) => this.emit('error', error));
  }

  /** The state of limiter `name` with these windows, shared with every process using the same prefix. */
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const handle = new RedisHandle(this, this.backend, name, windows);
    this.handles.add(handle);
    return handle;
  }

  /** Reads limiter `name`'s shared state from Redis now: live leases, units per window, pause. */
  async snapshot(name: string, windows: readonly WindowSpec[]): Promise<StoreSnapshot> {
    return this.backend.snapshot(name, windows);
  }

  /** How many `NOSCRIPT` replies were healed by reloading a script (after a restart or `SCRIPT FLUSH`). */
  get scriptReloads(): number {
    return this.backend.scripts.stats().reloads;
  }

  /**
   * Stops the heartbeat and closes the store's own pub/sub connection. Leases still held expire
   * after `leaseTtlMs`. The ioredis client you passed stays open.
   */
  async close(): Promise<void> {
    this.handles.clear();
    await this.backend.close();
  }

  /** @internal the fraction of each limit the in-memory fallback allows. */
  fallbackFraction(peers: number | undefined): number {
    if (this.localFractionOption !== undefined) return this.localFractionOption;
    return peers === undefined ? 0.5 : 1 / Math.max(1, peers);
  }

  /** @internal a fresh in-memory handle for the fallback, with the limits scaled down. */
  fallbackHandle(name: string, windows: readonly WindowSpec[], fraction: number): StoreHandle {
    return this.memory.bind(
      `${name} (local fallback)`,
      windows.map((w) => ({ ...w, limit: Math.max(1, Math.floor(w.limit * fraction)) })),
    );
  }

  /** @internal */
  get recheckIntervalMs(): number {
    return this.recheckMs;
  }
}

/**
 * What a grant's `entries` hold: per window the cost charged (-1 for none; a reconcile needs it),
 * then the lease's start (Redis time, exactly as the acquire answered it): its window entries carry
 * that score, which is how a release finds them again.
 */
function entriesOf(costs: readonly number[], startedAt: number): number[] {
  const n = costs.length;
  const entries = new Array<number>(n + 1);
  for (let i = 0; i < n; i++) entries[i] = costs[i]! > 0 ? costs[i]! : -1;
  entries[n] = startedAt;
  return entries;
}

/** One limiter's shared state in Redis, with the local fallback when configured. */
class RedisHandle implements StoreHandle {
  readonly tracksLeases = true;
  /** Per window, the limit this limiter asks for (setLimit changes it). */
  private readonly limits: number[];
  private readonly acquire: ReturnType<RedisBackend['acquirer']>;
  private readonly releaseLease: ReturnType<RedisBackend['releaser']>;
  private readonly windowIds: { resource: string; windowMs: number }[];
  /** Wakes an acquire that waits inside the store for a slot (on this process's own releases). */
  private readonly localWake = new Set<() => void>();
  private local: { handle: StoreHandle; fraction: number; since: number } | undefined;
  /** Leases granted by a fallback handle, and which one (a later fallback gets a fresh handle). */
  private readonly localLeases = new Map<string, StoreHandle>();
  private lastRecheck = 0;
  /** Limiters listening for capacity freed elsewhere (`subscribe`). */
  private readonly capacityListeners = new Set<() => void>();

  constructor(
    private readonly store: RedisStore,
    private readonly backend: RedisBackend,
    readonly name: string,
    private readonly windows: readonly WindowSpec[],
  ) {
    this.windowIds = windows.map((w) => ({ resource: w.resource, windowMs: w.windowMs }));
    backend.track(name);
    this.limits = windows.map((w) => w.limit);
    this.acquire = backend.acquirer(name, this.windowIds);
    this.releaseLease = backend.releaser(name, this.windowIds);
  }

  async tryAcquire(incoming: TryAcquireRequest): Promise<TryAcquireResult> {
    // The limiter may reuse its request object once we await: copy it first.
    const request: TryAcquireRequest = {
      nowMs: incoming.nowMs,
      leaseId: incoming.leaseId || this.backend.newLeaseId(),
      costs: incoming.costs.slice(),
      maxConcurrent: incoming.maxConcurrent,
    };
    if (this.local && !this.shouldRecheck()) return this.tryLocal(request);
    const deadline = Date.now() + CONCURRENCY_HOLD_MS;
    for (;;) {
      let result;
      try {
        result = await this.acquire(request.leaseId, request.maxConcurrent, this.limits, request.costs);
      } catch (error) {
        return this.onError(error, request);
      }
      this.recovered();
      if (result.granted) return { ok: true, entries: entriesOf(request.costs, result.startedAt) };
      if (result.reason === 'never') {
        // The limiter rejects such costs before asking; a limit lowered elsewhere could still get here.
        return { ok: false, reason: 'window', waitMs: Infinity };
      }
      if (result.reason !== 'concurrency') {
        return { ok: false, reason: result.reason, waitMs: Math.max(1, result.waitMs) };
      }
      // Only a release (here or in another process) or a lease expiry frees a slot. The wait is the
      // earliest lease expiry (a crashed holder's slot returns then, with no release to announce it).
      // A subscribed limiter is woken sooner by the release notification.
      if (this.capacityListeners.size > 0) return { ok: false, reason: 'concurrency', waitMs: Math.max(1, result.waitMs) };
      // A limiter that does not subscribe: wait for the notification inside the store, and give
      // control back after a bounded time so its cancellations and resizes are seen.
      const left = deadline - Date.now();
      if (left <= 0) return { ok: false, reason: 'concurrency', waitMs: 1 };
      const woken = await this.waitForCapacity(Math.min(left, result.waitMs));
      if (!woken && Date.now() >= deadline) return { ok: false, reason: 'concurrency', waitMs: 1 };
    }
  }

  async release(request: ReleaseRequest): Promise<void> {
    if (this.localWake.size > 0) for (const wake of [...this.localWake]) wake();
    if (this.localLeases.size > 0) {
      const localHandle = this.localLeases.get(request.leaseId);
      if (localHandle) {
        this.localLeases.delete(request.leaseId);
        await localHandle.release(request);
        return;
      }
    }
    const { entries, deltas } = request;
    const n = this.windows.length;
    const lag = request.arrivalLagMs;
    const moves = lag !== undefined && lag > 0 && Number.isFinite(lag);
    let adjustments: { index: number; charged: number; delta: number }[] | undefined;
    if (deltas || moves) {
      for (let index = 0; index < n; index++) {
        const entry = entries[index] ?? -1;
        const charged = entry > 0 ? entry : 0;
        const delta = deltas?.[index] ?? 0;
        if (delta === 0 && !(moves && charged > 0)) continue;
        (adjustments ??= []).push({ index, charged, delta });
      }
    }
    try {
      // The start rides after the per-window entries (see entriesOf); a lease from before a
      // fallback has none, and then has nothing to reconcile either.
      await this.releaseLease(request.leaseId, entries[n] ?? 0, moves ? lag : 0, adjustments);
    } catch (error) {
      // The lease expires by itself within leaseTtlMs; nothing is freed twice.
      this.store.emit('error', error);
    }
  }

  async pause(nowMs: number, durationMs: number): Promise<void> {
    if (this.local) await this.local.handle.pause(nowMs, durationMs);
    try {
      await this.backend.pause(this.name, durationMs);
    } catch (error) {
      if (this.local || this.store.onStoreError === 'local') {
        const local = this.local ?? this.enterFallback(error);
        await local.handle.pause(nowMs, durationMs);
        return;
      }
      throw error;
    }
  }

  /**
   * The shared state read from Redis now (one round trip). Asynchronous, so a limiter's synchronous
   * `stats()` shows this process's own view; await `store.snapshot(name, windows)` for shared numbers.
   */
  async snapshot(nowMs: number): Promise<StoreSnapshot> {
    if (this.local) return this.local.handle.snapshot(nowMs);
    return this.backend.snapshot(this.name, this.windowIds);
  }

  /**
   * Keeps every entry of this limiter's windows counted `extraMs` longer, in every process sharing
   * it (only ever grows; the limiter's widening after a 429 its windows did not foresee).
   */
  async extendWindows(extraMs: number): Promise<void> {
    if (this.local) await this.local.handle.extendWindows?.(extraMs);
    if (!(extraMs > 0) || this.windows.length === 0) return;
    const longest = Math.max(...this.windows.map((w) => w.windowMs));
    try {
      await this.backend.extendWindows(this.name, extraMs, longest);
    } catch (error) {
      if (!this.local && this.store.onStoreError !== 'local') throw error;
    }
  }

  /** Changes window `index`'s limit for this limiter's acquires (learned from the provider). */
  setLimit(index: number, limit: number): void {
    if (index >= 0 && index < this.limits.length) this.limits[index] = limit;
    const local = this.local;
    const fallback = local?.handle as { setLimit?: (i: number, l: number) => void } | undefined;
    if (local) fallback?.setLimit?.(index, Math.max(1, Math.floor(limit * local.fraction)));
  }

  /** Calls `onCapacity` when another process (or limiter) frees capacity of this limiter. */
  subscribe(onCapacity: () => void): () => void {
    this.capacityListeners.add(onCapacity);
    const stop = this.backend.onRelease(this.name, onCapacity);
    return () => {
      this.capacityListeners.delete(onCapacity);
      stop();
    };
  }

  async getLevel(): Promise<number | undefined> {
    if (this.local) return this.local.handle.getLevel();
    return this.backend.getLevel(this.name);
  }

  async setLevel(level: number): Promise<void> {
    if (this.local) await this.local.handle.setLevel(level);
    try {
      await this.backend.setLevel(this.name, level);
    } catch (error) {
      if (!this.local && this.store.onStoreError !== 'local') throw error;
    }
  }

  private waitForCapacity(maxMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const done = (woken: boolean) => {
        if (settled) return;
        settled = true;
        this.localWake.delete(onLocal);
        controller.abort();
        resolve(woken);
      };
      const onLocal = () => done(true);
      const controller = new AbortController();
      this.localWake.add(onLocal);
      this.backend.waitForRelease(this.name, maxMs, controller.signal).then(done, () => done(false));
    });
  }

  private onError(error: unknown, request: TryAcquireRequest): Promise<TryAcquireResult> | TryAcquireResult {
    if (!isStoreUnavailableError(error) || this.store.onStoreError !== 'local') throw error;
    if (!this.local) this.enterFallback(error);
    return this.tryLocal(request);
  }

  private enterFallback(error: unknown): { handle: StoreHandle; fraction: number; since: number } {
    const fraction = this.store.fallbackFraction(this.backend.peers(this.name));
    const handle = this.store.fallbackHandle(this.name, this.windows, fraction);
    this.local = { handle, fraction, since: Date.now() };
    this.lastRecheck = Date.now();
    const unavailable = isStoreUnavailableError(error)
      ? error
      : new StoreUnavailableError({ address: this.store.address, operation: 'acquire', cause: error });
    this.store.emit('fallback', { name: this.name, address: this.store.address, fraction, error: unavailable });
    return this.local;
  }

  private recovered(): void {
    if (!this.local) return;
    // Local leases still running are released to the local handle; new work is shared again.
    this.local = undefined;
    this.store.emit('recovered', { name: this.name, address: this.store.address });
  }

  private shouldRecheck(): boolean {
    const now = Date.now();
    if (now - this.lastRecheck < this.store.recheckIntervalMs || !this.backend.connected) return false;
    this.lastRecheck = now;
    return true;
  }

  private async tryLocal(request: TryAcquireRequest): Promise<TryAcquireResult> {
    const local = this.local!;
    const scaled = request.maxConcurrent === Infinity ? Infinity : Math.max(1, Math.floor(request.maxConcurrent * local.fraction));
    const result = await local.handle.tryAcquire({ ...request, maxConcurrent: scaled });
    if (result.ok) this.localLeases.set(request.leaseId, local.handle);
    // While on the fallback, re-check Redis at least every recheckMs even when waiting.
    if (!result.ok && result.waitMs === Infinity) {
      return { ok: false, reason: result.reason, waitMs: this.store.recheckIntervalMs };
    }
    return result;
  }
}
