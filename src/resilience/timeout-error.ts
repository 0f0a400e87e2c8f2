import { isThrottleflowError, ThrottleflowError } from '../errors/throttleflow-error';

/**
 * Thrown by {@link withTimeout} when the call did not settle within `timeoutMs`. A timeout is a
 * failure of the call (it counts against a circuit breaker), never a rate limit: it has no
 * `status` and its name is not `RateLimitHit`.
 */
export class TimeoutError extends ThrottleflowError {
  override readonly name = 'TimeoutError';
  declare readonly code: 'TIMEOUT';
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message = `Operation timed out after ${timeoutMs} ms`) {
    super('TIMEOUT', message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Type guard for {@link TimeoutError}; recognises instances from other copies of throttleflow too.
 * Other errors named `TimeoutError` (the platform's `DOMException`, other libraries') are not it.
 */
export function isTimeoutError(error: unknown): error is TimeoutError {
  return isThrottleflowError(error, 'TIMEOUT');
}
