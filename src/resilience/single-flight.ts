import type { Cache } from './cache';

/**
 * Runs at most one load per key at a time: callers that ask for a key while its load is in
 * flight share that load's promise (and its rejection) instead of starting their own.
 */
export class SingleFlight<V> {
  private readonly flights = new Map<string, Promise<V>>();

  /** Keys with a load in flight. */
  get size(): number {
    return this.flights.size;
  }

  /** True while a load for `key` is in flight. */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Joins the load of `key` in flight, or starts `load` as that load. */
  run(key: string, load: () => Promise<V>): Promise<V> {
    const existing = this.flights.get(key);
    if (existing) return existing;
    // Started a microtask later so a loader that throws synchronously still goes through `finally`
    // after the flight is registered (and is removed again).
    const flight = Promise.resolve()
      .then(() => load())
      .finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }
}

// One flight table per cache object, so loads through any path (method or function) meet.
const flightsByCache = new WeakMap<object, SingleFlight<unknown>>();

/**
 * Returns the cached value of `key`, or runs `loader` once, stores its result for `ttlMs` (the
 * cache's default when omitted) and returns it. Concurrent misses for the same key on the same
 * cache share one `loader` call. A rejected load is not cached; a loader result of `undefined` is
 * returned but not stored. Works with any {@link Cache}, including async ones.
 */
export function getOrLoad<V>(
  cache: Cache<V>,
  key: string,
  loader: () => Promise<V>,
  ttlMs?: number,
): Promise<V> {
  let flights = flightsByCache.get(cache) as SingleFlight<V> | undefined;
  if (!flights) {
    flights = new SingleFlight<V>();
    flightsByCache.set(cache, flights);
  }
  return flights.run(key, async () => {
    // Looked up inside the flight so that callers of an async cache join the lookup as well.
    const hit = await cache.get(key);
    if (hit !== undefined) return hit;
    const value = await loader();
    if (value !== undefined) await cache.set(key, value, ttlMs);
    return value;
  });
}
