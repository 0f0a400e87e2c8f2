import { brandError, isThrottleflowError, type ThrottleflowError } from '../errors/throttleflow-error';

/** One failed try of a fallback chain: which target, and why. */
export interface FallbackAttempt {
  /** The target's name. */
  target: string;
  /**
   * Why it did not serve the call: the call's error, a `RateLimitHit` (rate limited past its retry
   * budget), a `BrokenCircuitError` (open circuit), or the limiter's refusal (`LimiterTimeoutError`,
   * `ShutdownError`, …).
   */
  error: unknown;
}

/**
 * Every target of a fallback chain failed one call. `attempts` lists each try in order (`errors`
 * holds the same errors, as in any `AggregateError`). When every attempt was a rate limit, `cause`
 * is the last one, so an enclosing throttled node or flow treats the whole as a rate limit.
 * A {@link ThrottleflowError} by its brand.
 */
export class FallbackExhaustedError extends AggregateError implements ThrottleflowError {
  override readonly name = 'FallbackExhaustedError';
  /** Stable code, for logs and `switch`es. */
  declare readonly code: 'FALLBACK_EXHAUSTED';
  /** The chain's name. */
  readonly chain: string;
  readonly attempts: readonly FallbackAttempt[];

  constructor(chain: string, attempts: readonly FallbackAttempt[], options: { cause?: unknown } = {}) {
    const summary = attempts.map((a) => `${a.target}: ${describe(a.error)}`).join('; ');
    super(
      attempts.map((a) => a.error),
      `Fallback chain '${chain}': no target served the call (${summary || 'no target tried'})`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    brandError(this, 'FALLBACK_EXHAUSTED');
    this.chain = chain;
    this.attempts = attempts;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Type guard for {@link FallbackExhaustedError}; recognises instances from other copies of throttleflow too. */
export function isFallbackExhaustedError(error: unknown): error is FallbackExhaustedError {
  return isThrottleflowError(error, 'FALLBACK_EXHAUSTED');
}
