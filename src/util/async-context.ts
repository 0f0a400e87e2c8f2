/**
 * The part of `AsyncLocalStorage` the nested-lease hand-off needs: a value visible to everything
 * a function starts, across `await`s, without passing it along.
 * @category Calls
 */
export interface AsyncContextStorage<T> {
  run<R>(store: T, fn: () => R): R;
  getStore(): T | undefined;
}

/** A class like Node's `AsyncLocalStorage` (also in Deno, Bun and Cloudflare Workers' Node compatibility). @category Calls */
export type AsyncLocalStorageClass = new () => AsyncContextStorage<unknown>;

let provided: AsyncLocalStorageClass | undefined;

/**
 * Tells throttleflow which `AsyncLocalStorage` to use for the nested-lease hand-off (a throttled
 * node's lease covering the first HTTP attempt of a `throttledFetch` client inside its `exec`).
 * Needed only where throttleflow cannot find one by itself: it looks for a global
 * `AsyncLocalStorage`, then asks `process.getBuiltinModule('async_hooks')` (Node ≥ 20.16, Deno,
 * Bun). Call it once at start-up, before any limiter is used.
 *
 * @example
 * // Node 20.0–20.15, with AsyncLocalStorage imported from the built-in async_hooks module:
 * useAsyncLocalStorage(AsyncLocalStorage);
 * @category Calls
 */
export function useAsyncLocalStorage(storageClass: AsyncLocalStorageClass): void {
  if (typeof storageClass !== 'function') {
    throw new TypeError(
      `useAsyncLocalStorage expects the AsyncLocalStorage class, got ${storageClass === null ? 'null' : typeof storageClass}`,
    );
  }
  provided = storageClass;
}

/**
 * The runtime's `AsyncLocalStorage` class, or `undefined` when it has none (then nothing is
 * handed down and every nested call acquires for itself). Feature detection only: the core
 * imports no `node:` module, so it runs in any JavaScript runtime.
 */
export function asyncLocalStorageClass(): AsyncLocalStorageClass | undefined {
  if (provided) return provided;
  const scope = globalThis as {
    AsyncLocalStorage?: unknown;
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  if (typeof scope.AsyncLocalStorage === 'function') return scope.AsyncLocalStorage as AsyncLocalStorageClass;
  try {
    const hooks = scope.process?.getBuiltinModule?.('async_hooks') as
      { AsyncLocalStorage?: unknown } | undefined;
    if (typeof hooks?.AsyncLocalStorage === 'function')
      return hooks.AsyncLocalStorage as AsyncLocalStorageClass;
  } catch {
    // A runtime that refuses the lookup has no async context to offer.
  }
  return undefined;
}
