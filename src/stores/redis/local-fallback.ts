import type { StoreHandle, TryAcquireRequest, TryAcquireResult, WindowSpec } from '../store';
import type { RedisBackend } from './redis-backend';
import type { RedisStore } from './redis-store';
import { isStoreUnavailableError, StoreUnavailableError } from './store-unavailable-error';

/** The in-memory handle standing in for Redis, and the fraction of each limit it allows. */
export interface ActiveFallback {
  handle: StoreHandle;
  fraction: number;
  since: number;
}

/**
 * One limiter's local fallback (`onStoreError: 'local'`): while Redis is unreachable, acquires go
 * to an in-memory handle holding a fraction of every limit (never unlimited), Redis is tried again
 * every `recheckMs`, and leases granted locally are released locally.
 */
export class LocalFallback {
  /** In use while Redis is unreachable; undefined while Redis answers. */
  active: ActiveFallback | undefined;
  /** Leases granted by a fallback handle, and which one (a later fallback gets a fresh handle). */
  private readonly leases = new Map<string, StoreHandle>();
  private lastRecheck = 0;

  constructor(
    private readonly store: RedisStore,
    private readonly backend: RedisBackend,
    private readonly name: string,
    private readonly windows: readonly WindowSpec[],
  ) {}

  /** An acquire's Redis call failed: serve it locally when configured, else rethrow. */
  onAcquireError(error: unknown, request: TryAcquireRequest): Promise<TryAcquireResult> {
    if (!isStoreUnavailableError(error) || this.store.onStoreError !== 'local') throw error;
    if (!this.active) this.enter(error);
    return this.tryAcquire(request);
  }

  /** Switches to a fresh in-memory handle and says so (`fallback`). */
  enter(error: unknown): ActiveFallback {
    const fraction = this.store.fallbackFraction(this.backend.peers(this.name));
    const handle = this.store.fallbackHandle(this.name, this.windows, fraction);
    this.active = { handle, fraction, since: Date.now() };
    this.lastRecheck = Date.now();
    const unavailable = isStoreUnavailableError(error)
      ? error
      : new StoreUnavailableError({ address: this.store.address, operation: 'acquire', cause: error });
    this.store.emit('fallback', {
      name: this.name,
      address: this.store.address,
      fraction,
      error: unavailable,
    });
    return this.active;
  }

  /** Redis answered: leave the fallback, if in use. */
  recovered(): void {
    if (!this.active) return;
    // Local leases still running are released to the local handle; new work is shared again.
    this.active = undefined;
    this.store.emit('recovered', { name: this.name, address: this.store.address });
  }

  /** True at most every `recheckMs`, and only while the client is connected: time to try Redis again. */
  shouldRecheck(): boolean {
    const now = Date.now();
    if (now - this.lastRecheck < this.store.recheckIntervalMs || !this.backend.connected) return false;
    this.lastRecheck = now;
    return true;
  }

  /** An acquire on the active fallback handle, with the concurrency limit scaled down too. */
  async tryAcquire(request: TryAcquireRequest): Promise<TryAcquireResult> {
    const local = this.active!;
    const scaled =
      request.maxConcurrent === Infinity
        ? Infinity
        : Math.max(1, Math.floor(request.maxConcurrent * local.fraction));
    const result = await local.handle.tryAcquire({ ...request, maxConcurrent: scaled });
    if (result.ok) this.leases.set(request.leaseId, local.handle);
    // While on the fallback, re-check Redis at least every recheckMs even when waiting.
    if (!result.ok && result.waitMs === Infinity) {
      return { ok: false, reason: result.reason, waitMs: this.store.recheckIntervalMs };
    }
    return result;
  }

  /** The fallback handle that granted lease `leaseId`, forgotten now (undefined when Redis granted it). */
  take(leaseId: string): StoreHandle | undefined {
    // Empty but for the time after a fallback: a release asks nothing more then.
    if (this.leases.size === 0) return undefined;
    const handle = this.leases.get(leaseId);
    if (handle) this.leases.delete(leaseId);
    return handle;
  }

  /** Passes a changed limit on to the active fallback handle, scaled by its fraction. */
  setLimit(index: number, limit: number): void {
    const local = this.active;
    const fallback = local?.handle as { setLimit?: (i: number, l: number) => void } | undefined;
    if (local) fallback?.setLimit?.(index, Math.max(1, Math.floor(limit * local.fraction)));
  }
}
