import { vi, type MockInstance } from 'vitest';

/** Silences console.warn and records every message, in order. */
export function spyWarn(): { messages: () => string[]; spy: MockInstance<typeof console.warn> } {
  const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
  return { spy, messages: () => spy.mock.calls.map((args) => args.map(String).join(' ')) };
}

export { deferred, type Deferred } from '../support/deferred';

/** Lets every pending promise callback run (a macrotask turn drains the microtask queue). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Settles `promise` into a value the test can inspect without unhandled rejections. */
export function outcome<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
