export { deferred, type Deferred } from '../support/deferred';

/** An SDK-style HTTP error: `status` like openai-node, anthropic-sdk and @google/genai. */
export function httpError(status: number): Error & { status: number } {
  return Object.assign(new Error(`HTTP ${status}`), { status });
}

/** The library's own rate-limit error is identified by name only (it lives in another module). */
export function rateLimitHit(): Error {
  const error = new Error('slow down');
  error.name = 'RateLimitHit';
  return error;
}

/** Lets every pending promise callback run (a macrotask turn drains the microtask queue). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
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
