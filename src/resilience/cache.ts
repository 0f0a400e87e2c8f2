import type { MaybePromise } from '../stores/store';

export type { MaybePromise };

/**
 * What a response cache must do. {@link MemoryCache} implements it in memory; a Redis-backed cache
 * can implement it with async methods. Keys are strings (see {@link cacheKeyOf}); `undefined` means
 * a miss, so `undefined` itself cannot be cached.
 */
export interface Cache<V> {
  /** The live value under `key`, or `undefined` when missing or expired. */
  get(key: string): MaybePromise<V | undefined>;
  /** Stores `value` under `key` for `ttlMs` milliseconds (the cache's default when omitted). */
  set(key: string, value: V, ttlMs?: number): MaybePromise<unknown>;
}
