import type { Lease } from '../limits/lease';
import { holderReleases, offerLease, withLeaseOffered } from '../limits/lease-hand-off';
import type { AcquireOptions, Limiter } from '../limits/limiter';
import { isBrokenCircuitError } from '../resilience/broken-circuit-error';
import type { Attempt, AttemptCounts, AttemptOutcome, AttemptTiming } from './call-outcome';
import { acquireWhileClosed, guardedCall, type CallGuards } from './guarded-call';
import { handleRateLimit } from './rate-limit-handling';

/** Everything the attempts of one call share, resolved once by the call loop. @internal */
export interface AttemptSetup<T> {
  guards: CallGuards;
  /** Learns from a result or error while the lease is still held. */
  observe: (response: unknown, lease: Lease) => void;
  /** Real tokens of a result, to reconcile the estimate at release. */
  usageOf: (value: T) => number | undefined;
  /** Names the caller in the `RateLimitHit` it makes. */
  source: string;
  rateLimitBackoffMs: number;
  maxRateLimitBackoffMs: number;
}

/**
 * One attempt: acquire (refused at once by an open circuit), run the call under the guards,
 * observe its result or error, release the lease exactly once, then classify. Never rejects on
 * account of the call: every way it can end is an outcome. Only a broken limiter (its
 * `reportRateLimit` throwing) can make it reject, and by then the lease is released.
 * @internal
 */
export async function attemptThroughLimiter<T>(
  limiter: Limiter,
  call: (attempt: Attempt) => T | PromiseLike<T>,
  counts: AttemptCounts,
  setup: AttemptSetup<T>,
  acquire: AcquireOptions,
): Promise<AttemptOutcome<T>> {
  const signal = acquire.signal;
  const { circuitBreaker, timeoutMs } = setup.guards;
  const askedAtMs = limiter.clock.now();
  let lease: Lease;
  try {
    // Without a breaker, straight to the limiter: one promise less per attempt (big batches).
    lease = await (circuitBreaker
      ? acquireWhileClosed(limiter, acquire, circuitBreaker)
      : limiter.acquire(acquire));
  } catch (error) {
    return signal?.aborted
      ? { kind: 'aborted', error, timing: undefined }
      : { kind: 'refused', error, timing: undefined };
  }

  // A throttledFetch on this limiter inside the call takes the lease for its first HTTP attempt,
  // so the attempt is counted once (see LeaseOffer for who releases it).
  const offer = offerLease(limiter, lease);
  let value: T;
  try {
    if (circuitBreaker === undefined && timeoutMs === undefined) {
      // No closure per attempt without an offer (big batches).
      const args = attemptOf(counts, lease, signal);
      value = await (offer ? withLeaseOffered(offer, () => call(args)) : call(args));
    } else {
      const run = (s: AbortSignal | undefined) => {
        const args = attemptOf(counts, lease, s);
        return offer ? withLeaseOffered(offer, () => call(args)) : call(args);
      };
      value = await guardedCall(run, setup.guards, signal, limiter.clock);
    }
  } catch (error) {
    // Observed before the release: the response tells when the request reached the provider.
    observeQuietly(setup, error, lease);
    if (holderReleases(offer)) lease.release();
    return classifyFailure(error, limiter, counts, setup, signal, timingOf(limiter, lease, askedAtMs));
  }
  const tokensUsed = readUsage(setup, value);
  observeQuietly(setup, value, lease);
  if (holderReleases(offer)) lease.release(tokensUsed === undefined ? undefined : { tokens: tokensUsed });
  return { kind: 'ok', value, tokensUsed, timing: timingOf(limiter, lease, askedAtMs) };
}

/** What the call is given; field by field, as an object spread per attempt costs µs in big batches. */
function attemptOf(counts: AttemptCounts, lease: Lease, signal: AbortSignal | undefined): Attempt {
  return { index: counts.index, failures: counts.failures, rateLimits: counts.rateLimits, lease, signal };
}

/** How long the attempt waited for its lease and has held it so far. */
function timingOf(limiter: Limiter, lease: Lease, askedAtMs: number): AttemptTiming {
  return { waitMs: lease.startedAtMs - askedAtMs, durationMs: limiter.clock.now() - lease.startedAtMs };
}

/** Turns a call's error into an outcome; a rate limit is reported to the limiter here, once. */
function classifyFailure<T>(
  error: unknown,
  limiter: Limiter,
  counts: AttemptCounts,
  setup: AttemptSetup<T>,
  signal: AbortSignal | undefined,
  timing: AttemptTiming,
): AttemptOutcome<T> {
  // The caller's cancellation first: whatever the call rejected with after it is not the provider's answer.
  if (signal?.aborted) return { kind: 'aborted', error, timing };
  if (isBrokenCircuitError(error)) return { kind: 'refused', error, timing };
  const handled = handleRateLimit(error, {
    limiter,
    attempt: counts.rateLimits,
    backoffMs: setup.rateLimitBackoffMs,
    maxBackoffMs: setup.maxRateLimitBackoffMs,
    source: setup.source,
  });
  switch (handled.kind) {
    case 'none':
      return { kind: 'failed', error, timing };
    case 'retry':
      return { kind: 'rateLimited', error: handled.error, thrown: error, pauseMs: handled.pauseMs, timing };
    case 'fatal':
      return { kind: 'quotaExhausted', error: handled.error, thrown: error, timing };
  }
}

// Learning and accounting only: a throwing observer or usage reader must neither lose a served
// result nor skip the release.
function observeQuietly<T>(setup: AttemptSetup<T>, response: unknown, lease: Lease): void {
  try {
    setup.observe(response, lease);
  } catch {
    // ignored, see above
  }
}

function readUsage<T>(setup: AttemptSetup<T>, value: T): number | undefined {
  try {
    return setup.usageOf(value);
  } catch {
    return undefined;
  }
}
