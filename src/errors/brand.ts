/**
 * Brands an error instance with a `Symbol.for` key. `Symbol.for` is shared across module copies
 * (a CJS and an ESM build side by side, or two installed versions), so type guards built on
 * {@link hasBrand} still work where `instanceof` cannot. The property is non-enumerable, so it
 * stays out of JSON and test snapshots.
 * @internal
 */
export function brand(target: object, key: symbol): void {
  Object.defineProperty(target, key, { value: true });
}

/** Whether `value` carries the brand `key` (see {@link brand}). @internal */
export function hasBrand(value: unknown, key: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true;
}
