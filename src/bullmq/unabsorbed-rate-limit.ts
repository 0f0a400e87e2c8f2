import { detectRateLimit } from '../providers/detect-rate-limit';
import type { RateLimitSignal } from '../providers/rate-limit-signal';

/**
 * The rate limit a sub-flow ended with, if that is why it failed: the error itself is a retryable
 * rate limit or overload (a 429, a 529, a node's `RateLimitHit`), or an aggregate (a
 * `BatchFlowError`, a node's failures) all of whose errors are. Anything else (an exhausted
 * quota, a spend limit, a bug) is an ordinary failure.
 */
export function unabsorbedRateLimit(error: unknown): RateLimitSignal | undefined {
  const direct = retryable(detectRateLimit(error));
  if (direct) return direct;
  if (!(error instanceof AggregateError) || error.errors.length === 0) return undefined;
  let longest: RateLimitSignal | undefined;
  for (const inner of error.errors) {
    const signal = unabsorbedRateLimit(inner);
    if (!signal) return undefined;
    if (!longest || (signal.retryAfterMs ?? 0) > (longest.retryAfterMs ?? 0)) longest = signal;
  }
  return longest;
}

function retryable(signal: RateLimitSignal | undefined): RateLimitSignal | undefined {
  if (!signal?.retryable) return undefined;
  return signal.kind === 'rate_limit' || signal.kind === 'overloaded' ? signal : undefined;
}
