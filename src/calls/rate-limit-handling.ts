import { QuotaExhaustedError, isQuotaExhaustedError } from '../errors/quota-exhausted-error';
import { RateLimitHit, isRateLimitHit } from '../errors/rate-limit-hit';
import type { Limiter } from '../limits/limiter';
import { detectRateLimit } from '../providers/detect-rate-limit';
import { rateLimitBackoffMs } from './backoff';

/** What a throttled node or flow should do with an error. @category Calls */
export type RateLimitOutcome =
  /** Not a rate limit: an ordinary failure. */
  | { kind: 'none' }
  /** A rate limit or overload: the limiter was paused; try again through it. */
  | { kind: 'retry'; error: RateLimitHit; pauseMs: number }
  /** A daily quota or spend limit: retrying cannot help. */
  | { kind: 'fatal'; error: QuotaExhaustedError };

/** Where a rate limit was seen, and how to back off when the provider gave no retry-after. @category Calls */
export interface RateLimitContext {
  limiter: Limiter;
  /** Consecutive rate limits of the same unit of work before this one. */
  attempt: number;
  backoffMs: number;
  maxBackoffMs: number;
  /** Names the node or flow in the `RateLimitHit` it makes. */
  source: string;
}

/**
 * The one place that turns a thrown error into rate-limit handling: detect it (status codes,
 * SDK error shapes, headers), pause the shared limiter for the provider's retry-after (or a
 * jittered exponential backoff), and hand back a `RateLimitHit` to retry or rethrow.
 * @category Calls
 */
export function handleRateLimit(error: unknown, context: RateLimitContext): RateLimitOutcome {
  const signal = detectRateLimit(error);
  if (!signal) return { kind: 'none' };
  if (signal.kind === 'quota_exhausted' || signal.kind === 'spend_limit') {
    const quota = isQuotaExhaustedError(error)
      ? error
      : new QuotaExhaustedError(
          `${signal.source}: ${signal.kind === 'spend_limit' ? 'spend limit' : 'quota'} exhausted` +
            (signal.quotaId ? ` (${signal.quotaId})` : ''),
          {
            kind: signal.kind,
            source: signal.source,
            quotaId: signal.quotaId,
            retryAfterMs: signal.retryAfterMs,
            cause: error,
          },
        );
    return { kind: 'fatal', error: quota };
  }
  const pauseMs =
    signal.retryAfterMs ?? rateLimitBackoffMs(context.attempt, context.backoffMs, context.maxBackoffMs);
  context.limiter.reportRateLimit({ retryAfterMs: pauseMs, source: signal.source, kind: signal.kind });
  const hit = isRateLimitHit(error)
    ? error
    : new RateLimitHit(`${context.source}: rate limited by ${signal.source}`, {
        retryAfterMs: signal.retryAfterMs,
        source: signal.source,
        // A 529 stays an overload for whoever reads the hit (a breaker, a fallback chain).
        kind: signal.kind === 'overloaded' ? 'overloaded' : 'rate_limit',
        cause: error,
      });
  return { kind: 'retry', error: hit, pauseMs };
}
