import { callThroughLimiter, isRateLimitOutcome, type AttemptOutcome } from '../calls/call-loop';
import { emitEvent, hasEventHooks } from '../observability/throttle-event';
import type { FallbackAttempt } from './fallback-exhausted-error';
import type { ResolvedFallbackOptions } from './fallback-options';
import type { ResolvedTarget, TargetResult, WaitingCall } from './resolved-target';

/** What trying one target needs from its chain. @internal */
export interface TargetCallContext {
  options: ResolvedFallbackOptions;
  /** Records a target's failure of one call (the call moves on). */
  failed(target: string, error: unknown, attempts: FallbackAttempt[]): void;
  /** A call took its target's slot: the target's call is about to run. */
  slotTaken(): void;
  /** That call ended (a rate-limited one may wait for a slot again). */
  slotGivenBack(): void;
}

/** Why a moved call's wait was aborted; never seen by the caller. */
const MOVED = Symbol('moved');

/**
 * Tries one target through the shared call loop (its rate limits retried on its limiter within
 * budget). With `movable`, the call is registered as waiting at the target until it starts, so
 * rebalancing may move it to another target ({@link moveWaitingCall}); the result then is that
 * target's. Each attempt that held a lease is reported to event hooks as a `call` event naming
 * the target (so OpenTelemetry spans carry it). @internal
 */
export async function callTarget<Item, Result>(
  chain: TargetCallContext,
  resolved: ResolvedTarget<Item, Result>,
  item: Item,
  signal: AbortSignal | undefined,
  attempts: FallbackAttempt[],
  movable?: Pick<WaitingCall<Item, Result>, 'estimate' | 'allows'>,
): Promise<TargetResult<Item, Result>> {
  const { target, limiter, stats } = resolved;
  const options = chain.options;
  const moveOn = (error: unknown): TargetResult<Item, Result> => {
    chain.failed(target.name, error, attempts);
    return { ok: false, by: resolved };
  };
  let tokens: number | undefined;
  try {
    tokens = target.tokensFor?.(item);
  } catch (error) {
    if (signal?.aborted) throw error;
    // A target that cannot even estimate the call is passed by, as one that refuses it.
    stats.refused++;
    return moveOn(error);
  }
  let waiting: WaitingCall<Item, Result> | undefined;
  let callSignal = signal;
  if (movable) {
    const controller = new AbortController();
    waiting = { item, signal, attempts, ...movable, controller, moved: undefined };
    callSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    resolved.waiting.add(waiting);
  }
  stats.routed++;
  resolved.inFlight++;
  // Whether this call holds the target's slot now (between its call starting and its attempt's outcome).
  let holding = false;
  const giveBack = () => {
    if (!holding) return;
    holding = false;
    chain.slotGivenBack();
  };
  let outcome;
  try {
    outcome = await callThroughLimiter<Result>(
      limiter,
      (attempt) => {
        if (waiting) {
          resolved.waiting.delete(waiting);
          // Moved between its grant and now: the lease is released unused, the call runs elsewhere.
          if (waiting.moved) throw MOVED;
        }
        holding = true;
        chain.slotTaken();
        return target.call(item, attempt.signal);
      },
      {
        signal: callSignal,
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
          giveBack();
          if (isRateLimitOutcome(attemptOutcome)) stats.rateLimits++;
          if (attemptOutcome.kind === 'ok') resolved.latency.record(attemptOutcome.timing.durationMs);
          // A rate-limited attempt may be retried here: it waits again, and may be moved again.
          if (waiting && !waiting.moved && attemptOutcome.kind === 'rateLimited')
            resolved.waiting.add(waiting);
          reportAttempt(options.name, resolved, attemptOutcome, counts.index, tokens);
        },
      },
    );
  } finally {
    // Only if the loop rejected after the call started (a broken limiter): its outcome was never told.
    giveBack();
    resolved.inFlight--;
    if (waiting) resolved.waiting.delete(waiting);
  }
  if (waiting?.moved) {
    stats.rerouted++;
    return await waiting.moved;
  }
  switch (outcome.kind) {
    case 'ok':
      return { ok: true, value: outcome.value, by: resolved };
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
  return moveOn(outcome.error);
}

/**
 * Moves a call waiting at `from` to `to`: it queues at `to` at once (so estimates asked next see
 * it there) and its wait at `from` is aborted; its original try resolves with the new one. Returns
 * the call's new waiting entry at `to`. Only for a call not granted yet (see rebalance.ts). @internal
 */
export function moveWaitingCall<Item, Result>(
  chain: TargetCallContext,
  waiting: WaitingCall<Item, Result>,
  from: ResolvedTarget<Item, Result>,
  to: ResolvedTarget<Item, Result>,
): WaitingCall<Item, Result> {
  from.waiting.delete(waiting);
  const before = new Set(to.waiting);
  waiting.moved = callTarget(chain, to, waiting.item, waiting.signal, waiting.attempts, waiting);
  waiting.controller.abort(MOVED);
  // The new try registered itself synchronously: it is the entry of `to` that was not there before.
  let fresh: WaitingCall<Item, Result> | undefined;
  for (const w of to.waiting) if (!before.has(w)) fresh = w;
  return fresh ?? waiting;
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
