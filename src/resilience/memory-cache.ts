import { z } from 'zod';
import { systemClock, type Clock } from '../util/clock';
import { InvalidOptionError, formatValue, opt, parseOptions } from '../validation/options';
import type { Cache } from './cache';
import { isClock } from '../util/is-clock';
import { getOrLoad } from './single-flight';

/** Options of {@link MemoryCache}. */
export interface MemoryCacheOptions {
  /**
   * Most entries kept; setting one more evicts the least recently used.
   * @default 1000
   */
  max?: number;
  /**
   * How long an entry lives after it is set, in milliseconds (reads do not extend it).
   * @default undefined (entries never expire; only `max` evicts them)
   */
  ttlMs?: number;
  /**
   * Source of time for expiry (inject a `FakeClock` in tests).
   * @default systemClock
   */
  clock?: Clock;
}

interface Entry<V> {
  value: V;
  /** Time at which the entry stops being served; `Infinity` when it never expires. */
  expiresAtMs: number;
}

const schema = z.strictObject({
  max: opt.positiveInt().default(1000),
  ttlMs: opt.positiveNumber().optional(),
  clock: opt.instance(isClock, 'a Clock with now() and sleep()').optional(),
});

/**
 * An in-memory LRU cache with a time to live, for LLM responses: a hit costs no limiter capacity.
 * Implements {@link Cache}, so nodes accept it wherever a Redis-backed cache would go.
 *
 * @example
 * const cache = new MemoryCache<string>({ max: 500, ttlMs: 60 * 60_000 });
 * const reply = await cache.getOrLoad(cacheKeyOf({ model, messages }), () => callLlm(messages));
 */
export class MemoryCache<V> implements Cache<V> {
  /** Most entries kept. */
  readonly max: number;
  /** Default time to live of an entry, in milliseconds; `undefined` when entries never expire. */
  readonly ttlMs: number | undefined;
  private readonly clock: Clock;
  // A Map iterates in insertion order: re-inserting on each hit keeps the least recent first.
  private readonly entries = new Map<string, Entry<V>>();

  constructor(options: MemoryCacheOptions = {}) {
    const parsed = parseOptions(schema, options, 'MemoryCache');
    this.max = parsed.max;
    this.ttlMs = parsed.ttlMs;
    this.clock = parsed.clock ?? systemClock;
  }

  /** Live entries (expired ones are dropped first, so this is O(size)). */
  get size(): number {
    this.prune();
    return this.entries.size;
  }

  /** The value under `key` and marks it most recently used; `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const entry = this.live(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Whether `key` holds a live value; does not change its recency. */
  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  /**
   * Stores `value` under `key` as the most recently used entry, living `ttlMs` (default: the
   * cache's `ttlMs`), and evicts the least recently used entries beyond `max`. Storing `undefined`
   * deletes the key, since `get` could not tell it from a miss.
   */
  set(key: string, value: V, ttlMs: number | undefined = this.ttlMs): this {
    if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new InvalidOptionError('ttlMs', `ttlMs must be a positive number, got ${formatValue(ttlMs)}`);
    }
    this.entries.delete(key);
    if (value === undefined) return this;
    const expiresAtMs = ttlMs === undefined ? Infinity : this.clock.now() + ttlMs;
    this.entries.set(key, { value, expiresAtMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return this;
  }

  /** Removes `key`; true when a live value was removed. */
  delete(key: string): boolean {
    const wasLive = this.live(key) !== undefined;
    this.entries.delete(key);
    return wasLive;
  }

  /** Removes every entry. */
  clear(): void {
    this.entries.clear();
  }

  /** Drops every expired entry now (they are otherwise dropped when met). */
  prune(): void {
    const nowMs = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= nowMs) this.entries.delete(key);
    }
  }

  /**
   * The live value of `key`, or the result of `loader`, stored for `ttlMs` (default: the cache's).
   * Concurrent misses for one key run `loader` once and all get its result; a rejection is
   * passed to each of them and not cached.
   */
  getOrLoad(key: string, loader: () => Promise<V>, ttlMs?: number): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    return getOrLoad(this, key, loader, ttlMs);
  }

  /** The entry under `key` if it has not expired; an expired one is removed. */
  private live(key: string): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
