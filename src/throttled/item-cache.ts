import type { Cache } from '../resilience/cache';
import { SingleFlight } from '../resilience/single-flight';

/**
 * An item used up its tries inside a load. Thrown instead of calling `execFallback` there, so a
 * fallback value is never cached and every item that shared the load gets its own fallback.
 * @internal
 */
export class ItemFailure {
  constructor(
    readonly error: Error,
    /** The run signal of the caller whose calls failed. */
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Whether the failure came from that caller's run being cancelled (nothing to share with others). */
  get cancelled(): boolean {
    return this.signal?.aborted === true;
  }
}

// One flight table per cache object: items of every node, copy and run that use one cache meet.
const flightsByCache = new WeakMap<object, SingleFlight<unknown>>();

/**
 * One item through a response cache: the cached value of `key` when there is one, else `load()`
 * (its value stored for the cache's default TTL). Concurrent misses of one key share one load, so
 * they cost one call. A cache that fails to answer counts as a miss and one that fails to store
 * is ignored: a response cache must never fail the work it only speeds up.
 *
 * When another caller's load of the same key ends with an error that is not about the item (that
 * caller's run was cancelled, its limiter was drained), this caller loads again instead of sharing it.
 *
 * @returns the value, and `loaded`: whether this caller's own load ran (false for a cache hit or
 * a load shared with another caller, which cost this item no limiter capacity)
 * @internal
 */
export async function loadThroughCache<R>(
  cache: Cache<R>,
  key: string,
  load: () => Promise<R>,
  signal: AbortSignal | undefined,
): Promise<{ value: R; loaded: boolean }> {
  let flights = flightsByCache.get(cache) as SingleFlight<R> | undefined;
  if (!flights) {
    flights = new SingleFlight<R>();
    flightsByCache.set(cache, flights);
  }
  for (;;) {
    let loaded = false;
    try {
      const value = await flights.run(key, async () => {
        const hit = await readSafely(cache, key);
        if (hit !== undefined) return hit;
        loaded = true;
        const fresh = await load();
        // Stored before the flight ends, so a caller arriving after it finds the value.
        if (fresh !== undefined) await writeSafely(cache, key, fresh);
        return fresh;
      });
      return { value, loaded };
    } catch (error) {
      if (loaded || signal?.aborted) throw error;
      if (error instanceof ItemFailure && !error.cancelled) throw error;
    }
  }
}

async function readSafely<R>(cache: Cache<R>, key: string): Promise<R | undefined> {
  try {
    return await cache.get(key);
  } catch {
    return undefined;
  }
}

async function writeSafely<R>(cache: Cache<R>, key: string, value: R): Promise<void> {
  try {
    await cache.set(key, value);
  } catch {
    // The value was served; only later hits are lost.
  }
}
