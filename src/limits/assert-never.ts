/**
 * The `default` of a `switch` over a union: the call only compiles when every member has its own
 * `case`, so adding a member to the union points at every switch that must learn about it.
 */
export function assertNever(value: never, what: string): never {
  throw new Error(`throttleflow internal error: unexpected ${what} ${String(value)}`);
}
