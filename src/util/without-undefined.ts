/**
 * A copy of `value` without its `undefined` properties, so spreading it over defaults keeps the
 * defaults where an option was left out (`{ ...defaults, ...withoutUndefined(options) }`).
 */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
