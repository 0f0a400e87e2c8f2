import type { QuotaExhaustedError } from '../errors/quota-exhausted-error';
import type { RateLimitHit } from '../errors/rate-limit-hit';
import type { Lease } from '../limits/lease';

/** Where one attempt stands among the attempts of one call (counts of the attempts before it). */
export interface AttemptCounts {
  /** Zero-based index of the attempt. */
  readonly index: number;
  /** Attempts before this one that ended `failed`. */
  readonly failures: number;
  /** Attempts before this one that ended `rateLimited` or `quotaExhausted`. */
  readonly rateLimits: number;
}

/** What the per-attempt call is given. */
export interface Attempt extends AttemptCounts {
  /**
   * The lease held for this attempt. The call loop releases it (observing the result first);
   * a call that releases it itself, e.g. with its own usage, makes the loop's release a no-op.
   */
  readonly lease: Lease;
  /**
   * Hand this to the SDK or `fetch`: it aborts when the caller cancels and at the guards'
   * `timeoutMs`. `undefined` when there is neither a caller signal nor a guard.
   */
  readonly signal: AbortSignal | undefined;
}

/** How long an attempt that got a lease waited for it and held it. */
export interface AttemptTiming {
  /** From asking the limiter to the lease being granted. */
  waitMs: number;
  /** From the lease being granted to its release. */
  durationMs: number;
}

/**
 * How one attempt ended. `timing` is set when the attempt held a lease (it was released before
 * the outcome was made), `undefined` when it never got one.
 */
export type AttemptOutcome<T> =
  /** The call returned; its result was observed and its usage reconciled at release. */
  | { kind: 'ok'; value: T; tokensUsed: number | undefined; timing: AttemptTiming }
  /**
   * A rate limit or overload (429/529): the limiter was told once (`reportRateLimit`) and is
   * paused for the retry-after (or backoff), so a retry through it waits that out.
   */
  | { kind: 'rateLimited'; error: RateLimitHit; thrown: unknown; pauseMs: number; timing: AttemptTiming }
  /** A daily quota or spend limit: counted as a rate limit, but retrying cannot help. */
  | { kind: 'quotaExhausted'; error: QuotaExhaustedError; thrown: unknown; timing: AttemptTiming }
  /** An ordinary error of the call, a per-call timeout included. */
  | { kind: 'failed'; error: unknown; timing: AttemptTiming }
  /**
   * The call never reached the provider: an open circuit (before or after the acquire), or the
   * limiter refused (acquire `timeoutMs`, drain, queue full, a cost that never fits).
   */
  | { kind: 'refused'; error: unknown; timing: AttemptTiming | undefined }
  /** The caller's signal aborted: while queued, while the call ran, or in a retry wait. */
  | { kind: 'aborted'; error: unknown; timing: AttemptTiming | undefined };

/**
 * The final outcome of {@link callThroughLimiter}: the last attempt's outcome (or `aborted` in a
 * retry wait), with the totals of the call.
 */
export type CallOutcome<T> = AttemptOutcome<T> & {
  /** Attempts that were started (asked the limiter), the last one included. */
  attempts: number;
  /** Attempts that ended `failed`. */
  failures: number;
  /** Attempts that ended `rateLimited` or `quotaExhausted`. */
  rateLimits: number;
};

/** Whether the outcome is a provider rate limit, retryable or not. */
export function isRateLimitOutcome<T>(
  outcome: AttemptOutcome<T>,
): outcome is Extract<AttemptOutcome<T>, { kind: 'rateLimited' | 'quotaExhausted' }> {
  return outcome.kind === 'rateLimited' || outcome.kind === 'quotaExhausted';
}
