import type {
  ReleaseRequest,
  StoreHandle,
  StoreSnapshot,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from '../store';
import { adjustmentsOf, entriesOf, startedAtOf } from './lease-entries';
import { LocalFallback } from './local-fallback';
import type { RedisBackend } from './redis-backend';
import type { RedisStore } from './redis-store';

/** The most a concurrency-blocked acquire waits inside the store for a release before handing back. */
const CONCURRENCY_HOLD_MS = 1_000;

/** One limiter's shared state in Redis, with the local fallback when configured. */
export class RedisHandle implements StoreHandle {
  readonly tracksLeases = true;
  readonly sharedAcrossProcesses = true;
  /** Per window, the limit this limiter asks for (setLimit changes it). */
  private readonly limits: number[];
  private readonly acquire: ReturnType<RedisBackend['acquirer']>;
  private readonly releaseLease: ReturnType<RedisBackend['releaser']>;
  private readonly windowIds: { resource: string; windowMs: number }[];
  /** Wakes an acquire that waits inside the store for a slot (on this process's own releases). */
  private readonly localWake = new Set<() => void>();
  private readonly fallback: LocalFallback;
  /** Limiters listening for capacity freed elsewhere (`subscribe`). */
  private readonly capacityListeners = new Set<() => void>();
  /** Releases on their way to Redis, by lease id: a refund of that lease goes after its release. */
  private readonly releasing = new Map<string, Promise<unknown>>();

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
    this.fallback = new LocalFallback(store, backend, name, windows);
  }

  async tryAcquire(incoming: TryAcquireRequest): Promise<TryAcquireResult> {
    // The limiter may reuse its request object once we await: copy it first.
    const request: TryAcquireRequest = {
      nowMs: incoming.nowMs,
      leaseId: incoming.leaseId || this.backend.newLeaseId(),
      costs: incoming.costs.slice(),
      maxConcurrent: incoming.maxConcurrent,
    };
    if (this.fallback.active && !this.fallback.shouldRecheck()) return this.fallback.tryAcquire(request);
    const deadline = Date.now() + CONCURRENCY_HOLD_MS;
    for (;;) {
      let result;
      try {
        result = await this.acquire(request.leaseId, request.maxConcurrent, this.limits, request.costs);
      } catch (error) {
        return this.fallback.onAcquireError(error, request);
      }
      this.fallback.recovered();
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
      if (this.capacityListeners.size > 0)
        return { ok: false, reason: 'concurrency', waitMs: Math.max(1, result.waitMs) };
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
    const localHandle = this.fallback.take(request.leaseId);
    if (localHandle) {
      await localHandle.release(request);
      return;
    }
    const { entries } = request;
    const n = this.windows.length;
    const lag = request.arrivalLagMs;
    const moves = lag !== undefined && lag > 0 && Number.isFinite(lag);
    const adjustments = adjustmentsOf(entries, request.deltas, n, moves);
    const leaseId = request.leaseId;
    const done = this.releaseLease(leaseId, startedAtOf(entries, n), moves ? lag : 0, adjustments);
    this.releasing.set(leaseId, done);
    try {
      await done;
    } catch (error) {
      // The lease expires by itself within leaseTtlMs; nothing is freed twice.
      this.store.emit('error', error);
    } finally {
      this.releasing.delete(leaseId);
    }
  }

  /**
   * Takes back window charges of a released lease the provider never counted, in Redis: every
   * process sharing the windows gets the room back (and a waiting one is woken). Sent after the
   * lease's own release has reached Redis, so it finds the lease's units where that release put
   * them. A lease the local fallback granted (its entries carry no Redis start) keeps its charge
   * there: counting on is safe, and that fallback's state may be gone.
   */
  async refund(
    _nowMs: number,
    entries: readonly number[],
    deltas: readonly number[],
    leaseId?: string,
  ): Promise<void> {
    const n = this.windows.length;
    if (!leaseId || entries.length !== n + 1) return;
    const adjustments = this.windowIds.map((_, i) => {
      const entry = entries[i] ?? -1;
      return { charged: entry > 0 ? entry : 0, delta: deltas[i] ?? 0 };
    });
    if (!adjustments.some((a) => a.charged > 0 && a.delta < 0)) return;
    const pending = this.releasing.get(leaseId);
    if (pending) await pending.catch(() => {});
    try {
      await this.backend.refund(this.name, this.windowIds, leaseId, startedAtOf(entries, n), adjustments);
    } catch (error) {
      // The charge stays until it leaves the window: stricter, never looser.
      this.store.emit('error', error);
    }
  }

  async pause(nowMs: number, durationMs: number): Promise<void> {
    if (this.fallback.active) await this.fallback.active.handle.pause(nowMs, durationMs);
    try {
      await this.backend.pause(this.name, durationMs);
    } catch (error) {
      if (this.fallback.active || this.store.onStoreError === 'local') {
        const local = this.fallback.active ?? this.fallback.enter(error);
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
    if (this.fallback.active) return this.fallback.active.handle.snapshot(nowMs);
    return this.backend.snapshot(this.name, this.windowIds);
  }

  /**
   * Keeps every entry of this limiter's windows counted `extraMs` longer, in every process sharing
   * it (only ever grows; the limiter's widening after a 429 its windows did not foresee).
   */
  async extendWindows(extraMs: number): Promise<void> {
    if (this.fallback.active) await this.fallback.active.handle.extendWindows?.(extraMs);
    if (!(extraMs > 0) || this.windows.length === 0) return;
    const longest = Math.max(...this.windows.map((w) => w.windowMs));
    try {
      await this.backend.extendWindows(this.name, extraMs, longest);
    } catch (error) {
      if (!this.fallback.active && this.store.onStoreError !== 'local') throw error;
    }
  }

  /** Changes window `index`'s limit for this limiter's acquires (learned from the provider). */
  setLimit(index: number, limit: number): void {
    if (index >= 0 && index < this.limits.length) this.limits[index] = limit;
    this.fallback.setLimit(index, limit);
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
    if (this.fallback.active) return this.fallback.active.handle.getLevel();
    return this.backend.getLevel(this.name);
  }

  async setLevel(level: number): Promise<void> {
    if (this.fallback.active) await this.fallback.active.handle.setLevel(level);
    try {
      await this.backend.setLevel(this.name, level);
    } catch (error) {
      if (!this.fallback.active && this.store.onStoreError !== 'local') throw error;
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
}
