import { usageTokensOf } from '../cost/usage-tokens';
import type { Lease } from '../limits/lease';
import type { AcquireOptions, Limiter } from '../limits/limiter';
import { abortReason } from '../util/clock';
import { isPromiseLike } from '../limits/maybe-promise';
import { attemptThroughLimiter, type AttemptSetup } from './call-attempt';
import type { Attempt, AttemptCounts, AttemptOutcome, CallOutcome } from './call-outcome';
import type { CallGuards } from './guarded-call';

export type { Attempt, AttemptCounts, AttemptOutcome, AttemptTiming, CallOutcome } from './call-outcome';
export { isRateLimitOutcome } from './call-outcome';

/** What one attempt asks the limiter for (the caller's signal is {@link CallLoopOptions.signal}). */
export type AttemptAcquire = Omit<AcquireOptions, 'signal'>;

/**
 * Which failures {@link callThroughLimiter} tries again on the same limiter. A retry after a rate
 * limit needs no wait of its own: the limiter is paused for the provider's retry-after (or the
 * backoff), so the next acquire waits that out, and so does every other caller of that limiter.
 */
export interface CallRetryPolicy {
  /**
   * Rate limits and overloads (429/529) one call may answer with and still be tried again.
   * Quota and spend limits are never retried.
   * @default 10
   */
  maxRateLimitRetries?: number;
  /**
   * Base pause of the limiter after a rate limit that carries no retry-after; doubles per
   * consecutive rate limit of the call, with jitter.
   * @default 1000
   */
  rateLimitBackoffMs?: number;
  /**
   * Upper bound of that pause.
   * @default 60000
   */
  maxRateLimitBackoffMs?: number;
  /**
   * Ordinary failures (per-call timeouts included) one call may have and still be tried again.
   * Open circuits, limiter refusals and the caller's abort are never retried.
   * @default 0
   */
  maxFailureRetries?: number;
  /**
   * Pause before trying again after an ordinary failure, on the limiter's clock.
   * @default 0
   */
  failureRetryDelayMs?: number;
}

/** Options of {@link callThroughLimiter}. */
export interface CallLoopOptions<T> {
  /**
   * What each attempt asks the limiter for (tokens, cost, units, priority, timeoutMs), or a
   * function that makes it before each attempt; it may wait (e.g. for a budget) and may throw to
   * end the call (the error propagates; no lease is held then).
   * @default {} (one request, no tokens)
   */
  acquire?: AttemptAcquire | ((attempt: AttemptCounts) => AttemptAcquire | PromiseLike<AttemptAcquire>);
  /**
   * The caller's cancellation: gives up the wait in the queue, aborts the call's signal, and
   * ends the call with an `aborted` outcome.
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * A circuit breaker and a per-call timeout (see {@link CallGuards}). Without `timeoutMs` an
   * aborted call holds its lease until the call itself settles, as its request may still be in
   * flight at the provider.
   * @default {} (no breaker, no timeout)
   */
  guards?: CallGuards;
  /**
   * Learns from each result or error while its lease is held (provider headers, arrival time).
   * Errors it throws are ignored.
   * @default `limiter.observe(response, { lease })`
   */
  observe?: (response: unknown, lease: Lease) => void;
  /**
   * Real tokens a result used, to reconcile the lease's estimate at release. Errors it throws
   * count as "no usage".
   * @default `usageTokensOf` (OpenAI, Anthropic, Gemini and AI SDK usage)
   */
  usageOf?: (value: T) => number | undefined;
  /**
   * Names the caller in the `RateLimitHit`s it makes (`'node'`, `'chain/target'`, `'fetch'`).
   * @default limiter.name
   */
  source?: string;
  /**
   * Which failures are tried again on this limiter.
   * @default 10 rate-limit retries, no retry of ordinary failures
   */
  retry?: CallRetryPolicy;
  /**
   * Told every attempt's outcome, after its lease was released and before the loop decides on a
   * retry (events, metrics, counters, budget settling). It may throw to end the call there: the
   * error propagates and nothing is held.
   * @default undefined
   */
  onAttempt?: (outcome: AttemptOutcome<T>, attempt: AttemptCounts) => void;
}

/**
 * Makes one call through `limiter`: acquire a lease (refused at once while the breaker is open),
 * run `call` under the guards, observe the result or error before the release, release the lease
 * exactly once (on success, throw, timeout and abort), classify the failure (a rate limit pauses
 * the limiter, reported once), and try again on the same limiter as `retry` allows. Resolves with
 * the final {@link CallOutcome}; the caller acts on it (return, fall back, fail). It rejects only
 * with an error thrown by `acquire` or `onAttempt`.
 *
 * A call that ends in a `Response`-like value the provider meant as a failure (a fetch 429)
 * should throw it (with its headers) so it is observed and classified.
 *
 * @example
 * const outcome = await callThroughLimiter(limiter, ({ signal }) => fetch(url, { ...init, signal }).then(failOn429), {
 *   acquire: { tokens: 1200 }, signal, guards: { timeoutMs: 30_000 }, retry: { maxRateLimitRetries: 3 },
 * });
 * if (outcome.kind === 'ok') return outcome.value;
 * throw outcome.error;
 */
export async function callThroughLimiter<T>(
  limiter: Limiter,
  call: (attempt: Attempt) => T | PromiseLike<T>,
  options: CallLoopOptions<T> = {},
): Promise<CallOutcome<T>> {
  const { signal, onAttempt } = options;
  const retry = options.retry ?? {};
  const maxRateLimitRetries = retry.maxRateLimitRetries ?? 10;
  const maxFailureRetries = retry.maxFailureRetries ?? 0;
  const failureRetryDelayMs = retry.failureRetryDelayMs ?? 0;
  const setup: AttemptSetup<T> = {
    guards: options.guards ?? {},
    observe: options.observe ?? ((response, lease) => limiter.observe(response, { lease })),
    usageOf: options.usageOf ?? usageTokensOf,
    source: options.source ?? limiter.name,
    rateLimitBackoffMs: retry.rateLimitBackoffMs ?? 1000,
    maxRateLimitBackoffMs: retry.maxRateLimitBackoffMs ?? 60_000,
  };
  let failures = 0;
  let rateLimits = 0;
  for (let index = 0; ; index++) {
    const counts: AttemptCounts = { index, failures, rateLimits };
    const made = typeof options.acquire === 'function' ? options.acquire(counts) : options.acquire;
    // Awaited only when it is a promise: a microtask less per attempt when nothing waits (big batches).
    const fields = isPromiseLike(made) ? await made : made;
    const outcome = await attemptThroughLimiter(limiter, call, counts, setup, withSignal(fields, signal));
    if (outcome.kind === 'failed') failures++;
    if (outcome.kind === 'rateLimited' || outcome.kind === 'quotaExhausted') rateLimits++;
    onAttempt?.(outcome, counts);
    if (outcome.kind === 'rateLimited' && rateLimits <= maxRateLimitRetries) continue;
    if (outcome.kind !== 'failed' || failures > maxFailureRetries)
      return withTotals(outcome, index + 1, failures, rateLimits);
    // An ordinary failure with retries left: wait, unless the caller gave up meanwhile.
    try {
      if (signal?.aborted) throw abortReason(signal);
      if (failureRetryDelayMs > 0) await limiter.clock.sleep(failureRetryDelayMs, signal);
    } catch (error) {
      return { kind: 'aborted', error, timing: undefined, attempts: index + 1, failures, rateLimits };
    }
  }
}

// The two helpers below build their objects field by field: object spreads here (`{ ...fields,
// signal }`, `{ ...outcome, ...totals }`) made objects V8 handles slowly, and cost a few µs per
// item in big batches (measured: 3 spreads per call made 300k no-op calls ~5× slower).

/** What the limiter is asked for in one attempt: the caller's fields and its signal. */
function withSignal(fields: AttemptAcquire | undefined, signal: AbortSignal | undefined): AcquireOptions {
  if (fields === undefined) return { signal };
  // Every field of AcquireOptions, so one added there fails to compile here until it is passed on.
  const options: { [K in keyof Required<AcquireOptions>]: AcquireOptions[K] } = {
    tokens: fields.tokens,
    cost: fields.cost,
    units: fields.units,
    priority: fields.priority,
    timeoutMs: fields.timeoutMs,
    signal,
  };
  return options;
}

/** The last attempt's outcome with the call's totals (the outcome is the loop's own: it is completed in place). */
function withTotals<T>(
  outcome: AttemptOutcome<T>,
  attempts: number,
  failures: number,
  rateLimits: number,
): CallOutcome<T> {
  const final = outcome as CallOutcome<T>;
  final.attempts = attempts;
  final.failures = failures;
  final.rateLimits = rateLimits;
  return final;
}
