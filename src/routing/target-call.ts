import { callThroughLimiter, isRateLimitOutcome, type AttemptOutcome } from '../calls/call-loop';
import { emitEvent, hasEventHooks } from '../observability/throttle-event';
import type { FallbackAttempt } from './fallback-exhausted-error';
import type { ResolvedFallbackOptions } from './fallback-options';
import type { ResolvedTarget } from './resolved-target';

/** What trying one target needs from its chain. @internal */
export interface TargetCallContext {
  options: ResolvedFallbackOptions;
  /** Records a target's failure of one call (the call moves on). */
  failed(target: string, error: unknown, attempts: FallbackAttempt[]): void;
}

/**
 * Tries one target through the shared call loop (its rate limits retried on its limiter within
 * budget); `undefined` when the call should move on. Each attempt that held a lease is reported
 * to event hooks as a `call` event naming the target (so OpenTelemetry spans carry it). @internal
 */
export async function callTarget<Item, Result>(
  chain: TargetCallContext,
  resolved: ResolvedTarget<Item, Result>,
  item: Item,
  signal: AbortSignal | undefined,
  attempts: FallbackAttempt[],
): Promise<{ ok: Result } | undefined> {
  const { target, limiter, stats } = resolved;
  const options = chain.options;
  let tokens: number | undefined;
  try {
    tokens = target.tokensFor?.(item);
  } catch (error) {
    if (signal?.aborted) throw error;
    // A target that cannot even estimate the call is passed by, as one that refuses it.
    stats.refused++;
    chain.failed(target.name, error, attempts);
    return undefined;
  }
  stats.routed++;
  resolved.inFlight++;
  let outcome;
  try {
    outcome = await callThroughLimiter<Result>(limiter, (attempt) => target.call(item, attempt.signal), {
      signal,
      acquire: { tokens, priority: target.priority, timeoutMs: target.acquireTimeoutMs },
      guards: { circuitBreaker: target.circuitBreaker, timeoutMs: target.timeoutMs },
      usageOf: target.usageOf ? (value) => target.usageOf!(value) : undefined,
      source: `${options.name}/${target.name}`,
      retry: {
        maxRateLimitRetries: target.maxRateLimitRetries ?? options.maxRateLimitRetries,
        rateLimitBackoffMs: options.rateLimitBackoffMs,
        maxRateLimitBackoffMs: options.maxRateLimitBackoffMs,
      },
      onAttempt: (attemptOutcome, counts) => {
        if (isRateLimitOutcome(attemptOutcome)) stats.rateLimits++;
        if (attemptOutcome.kind === 'ok') resolved.latency.record(attemptOutcome.timing.durationMs);
        reportAttempt(options.name, resolved, attemptOutcome, counts.index, tokens);
      },
    });
  } finally {
    resolved.inFlight--;
  }
  switch (outcome.kind) {
    case 'ok':
      return { ok: outcome.value };
    case 'aborted':
      // The caller's cancellation never moves the call on.
      throw outcome.error;
    case 'refused':
      stats.refused++;
      break;
    case 'failed':
      stats.failures++;
      if (!options.shouldFallback(outcome.error, target.name)) throw outcome.error;
      break;
    case 'rateLimited':
    case 'quotaExhausted':
      // Past the retry budget, or a quota retrying cannot help: the next target.
      break;
  }
  chain.failed(target.name, outcome.error, attempts);
  return undefined;
}

/** A `call` event for one attempt that held a lease, naming the chain as the node and the target. */
function reportAttempt<Item, Result>(
  chain: string,
  resolved: ResolvedTarget<Item, Result>,
  outcome: AttemptOutcome<Result>,
  attempt: number,
  tokensEstimated: number | undefined,
): void {
  if (outcome.timing === undefined || !hasEventHooks(undefined)) return;
  const { target, limiter } = resolved;
  emitEvent(
    {
      type: 'call',
      node: chain,
      limiter: limiter.name,
      target: target.name,
      outcome: outcome.kind === 'ok' ? 'ok' : isRateLimitOutcome(outcome) ? 'rate_limited' : 'error',
      waitMs: outcome.timing.waitMs,
      durationMs: outcome.timing.durationMs,
      tokensEstimated,
      tokensUsed: outcome.kind === 'ok' ? outcome.tokensUsed : undefined,
      attempt,
      ...(outcome.kind === 'ok' ? {} : { error: outcome.error }),
      ...(target.model === undefined ? {} : { model: target.model }),
    },
    undefined,
  );
}
