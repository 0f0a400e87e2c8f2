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

/** Sets the class `asyncLocalStorageClass` returns (checked by `useAsyncLocalStorage`). */
export function provideAsyncLocalStorage(storageClass: AsyncLocalStorageClass): void {
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
