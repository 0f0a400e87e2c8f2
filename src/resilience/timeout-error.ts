/**
 * Thrown by {@link withTimeout} when the call did not settle within `timeoutMs`. A timeout is a
 * failure of the call (it counts against a circuit breaker), never a rate limit: it has no
 * `status` and its name is not `RateLimitHit`.
 */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message = `Operation timed out after ${timeoutMs} ms`) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Type guard for {@link TimeoutError}. Also accepts a look-alike from another copy of this
 * library (same name and a numeric `timeoutMs`), since bundles can hold two copies.
 */
export function isTimeoutError(error: unknown): error is TimeoutError {
  if (error instanceof TimeoutError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; timeoutMs?: unknown };
  return e.name === 'TimeoutError' && typeof e.timeoutMs === 'number';
}
