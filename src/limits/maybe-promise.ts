/** Whether a value a caller may give either way (at once or later) is a thenable. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** Whether a store answered later (a promise) rather than at once. */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return isPromiseLike(value);
}

/** Ignores a value or a rejection (a background store call whose failure changes nothing here). */
export function noop(): void {}
