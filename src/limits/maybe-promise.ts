/** Whether a store answered later (a promise) rather than at once. */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Ignores a value or a rejection (a background store call whose failure changes nothing here). */
export function noop(): void {}
