import { throwIfAborted } from '../core/abort';
import type { BudgetReservation } from '../cost/budget-reservation';
import type { Lease } from '../limits/lease';
import type { Limiter } from '../limits/limiter';
import type { NodeAccounting, CallSpend } from '../observability/node-accounting';
import type { NodeMetrics } from '../observability/node-metrics';
import { emitEvent, hasEventHooks, type CallEvent, type EventHook } from '../observability/throttle-event';
import { isBrokenCircuitError } from '../resilience/broken-circuit-error';
import {
  callThroughLimiter,
  isRateLimitOutcome,
  type AttemptOutcome,
  type AttemptTiming,
  type CallOutcome,
} from '../calls/call-loop';
import type { CallGuards } from '../calls/guarded-call';
import { ItemFailure } from './item-cache';
import type { NodeCallPolicy } from './throttled-node-options';
import type { ThrottledNodeCounters } from './throttled-node-state';

/**
 * What the calls of one item need from their node: its settings for this run and its
 * overridable hooks, bound (the hooks are protected, so the node hands them over).
 * @internal
 */
export interface NodeCallHost<Item, Result> {
  /** The node's class name: names it in events and in the rate limits it reports. */
  readonly subject: string;
  /** The run's cancellation. */
  readonly signal: AbortSignal | undefined;
  /** Tries of an item before `execFallback` (pocketflow's `maxRetries`; rate limits not counted). */
  readonly maxRetries: number;
  /** Pause between those tries. */
  readonly retryWaitMs: number;
  readonly policy: NodeCallPolicy;
  readonly guards: CallGuards;
  readonly accounting: NodeAccounting;
  readonly counters: ThrottledNodeCounters;
  readonly metrics: NodeMetrics;
  readonly eventHook: EventHook | undefined;
  /** Told when an item takes a slot (its `exec` is about to run) and gives it back (the try ended). */
  readonly slots: { hold(): void; unhold(): void };
  tokensFor(item: Item): number | undefined;
  usageOf(result: Result): number | undefined;
  execCall(item: Item, signal: AbortSignal | undefined): Promise<Result>;
  observeResponse(limiter: Limiter, response: unknown, lease: Lease): void;
  /** Sets the node's `currentRetry` (ordinary failures so far) for `exec` to read. */
  setCurrentRetry(failures: number): void;
  beforeAcquire(limiter: Limiter): void;
  congestionEpoch(): number;
  onSuccess(limiter: Limiter, epoch: number): void;
  onRateLimit(limiter: Limiter, epoch: number): void;
  shouldPropagateRateLimit(): boolean;
}

/**
 * The calls of one item through the shared call loop: each attempt reserves its budget, acquires,
 * runs `exec`; rate limits are retried through the limiter (`maxRateLimitRetries`), ordinary
 * failures up to `maxRetries` tries. Events, metrics, counters and budget settling happen per
 * attempt. Throws {@link ItemFailure} when the item failed for good.
 * @internal
 */
export async function execItemCalls<Item, Result>(
  host: NodeCallHost<Item, Result>,
  limiter: Limiter,
  item: Item,
  runId: number,
  signal: AbortSignal | undefined = host.signal,
): Promise<Result> {
  const { accounting, counters, policy } = host;
  // Whether this item holds a slot now (between its exec starting and its try's outcome).
  let holding = false;
  // Per attempt: set when it asks for capacity, read when it ends (attempts never overlap).
  let tokens: number | undefined;
  let reservation: BudgetReservation | undefined;
  let epoch = 0;

  const report = (
    timing: AttemptTiming,
    attempt: number,
    outcome: CallEvent['outcome'],
    tokensUsed?: number,
    error?: unknown,
    spend?: CallSpend,
  ) => {
    host.metrics.recordCall(timing.waitMs, timing.durationMs);
    if (!hasEventHooks(host.eventHook)) return;
    const event: CallEvent = {
      type: 'call',
      node: host.subject,
      limiter: limiter.name,
      outcome,
      waitMs: timing.waitMs,
      durationMs: timing.durationMs,
      tokensEstimated: tokens,
      tokensUsed,
      attempt,
      runId,
      ...(spend ?? { model: accounting.modelOf(item) }),
    };
    if (event.model === undefined) delete event.model;
    emitEvent(error === undefined ? event : { ...event, error }, host.eventHook);
  };

  const onAttempt = (outcome: AttemptOutcome<Result>, attempt: number) => {
    if (holding) {
      holding = false;
      host.slots.unhold();
    }
    if (outcome.kind === 'ok') {
      const spend = accounting.settle(item, outcome.value, outcome.tokensUsed, reservation);
      report(outcome.timing, attempt, 'ok', outcome.tokensUsed, undefined, spend);
      counters.totalSuccesses++;
      counters.consecutiveSuccesses++;
      host.onSuccess(limiter, epoch);
      return;
    }
    accounting.cancel(reservation);
    const rateLimited = isRateLimitOutcome(outcome);
    if (outcome.timing)
      report(
        outcome.timing,
        attempt,
        rateLimited ? 'rate_limited' : 'error',
        undefined,
        rateLimited ? outcome.thrown : outcome.error,
      );
    if (!rateLimited) return;
    counters.totalRateLimits++;
    counters.consecutiveSuccesses = 0;
    if (outcome.kind === 'quotaExhausted') return;
    host.onRateLimit(limiter, epoch);
    // Adaptive nodes inside adaptive flows hand the rate limit up instead of retrying it.
    if (host.shouldPropagateRateLimit()) throw outcome.error;
  };

  const outcome = await callThroughLimiter<Result>(
    limiter,
    (attempt) => {
      epoch = host.congestionEpoch();
      host.setCurrentRetry(attempt.failures);
      holding = true;
      host.slots.hold();
      // The item's own signal only spares the run's signal a listener per waiter: exec sees the run's.
      return host.execCall(item, attempt.signal === signal ? host.signal : attempt.signal);
    },
    {
      signal,
      acquire: () => {
        tokens = host.tokensFor(item);
        // Without a budget nothing can wait here: answered at once, a microtask less per attempt.
        if (accounting.budget === undefined) {
          reservation = undefined;
          host.beforeAcquire(limiter);
          return { tokens, priority: policy.priority };
        }
        return reserve(host, item, tokens, signal).then((reserved) => {
          reservation = reserved;
          // After the budget, which may have made this call wait.
          host.beforeAcquire(limiter);
          return { tokens, priority: policy.priority };
        });
      },
      guards: host.guards,
      observe: (response, lease) => host.observeResponse(limiter, response, lease),
      usageOf: (result) => host.usageOf(result),
      source: host.subject,
      retry: {
        maxRateLimitRetries: policy.maxRateLimitRetries,
        rateLimitBackoffMs: policy.rateLimitBackoffMs,
        maxRateLimitBackoffMs: policy.maxRateLimitBackoffMs,
        // A maxRetries assigned as NaN must end the tries, as in core Node.
        maxFailureRetries: host.maxRetries >= 1 ? host.maxRetries - 1 : 0,
        failureRetryDelayMs: host.retryWaitMs,
      },
      onAttempt: (o, attempt) => onAttempt(o, attempt.index),
    },
  );
  return settleItem(host, outcome, signal);
}

/** Reserves an attempt's estimate; a budget that refuses fails the item (no retry). */
async function reserve<Item, Result>(
  host: NodeCallHost<Item, Result>,
  item: Item,
  tokens: number | undefined,
  signal: AbortSignal | undefined,
): Promise<BudgetReservation | undefined> {
  try {
    return await host.accounting.reserve(item, tokens, signal);
  } catch (error) {
    // Over budget (or unpriceable under a dollar cap): fail the item, do not retry it.
    if (signal?.aborted) throw error;
    host.counters.totalFailures++;
    throw new ItemFailure(error as Error, signal);
  }
}

/** The item's result, or how it fails: {@link ItemFailure} (to `execFallback`) or the error itself (the run fails). */
function settleItem<Item, Result>(
  host: NodeCallHost<Item, Result>,
  outcome: CallOutcome<Result>,
  signal: AbortSignal | undefined,
): Result {
  switch (outcome.kind) {
    case 'ok':
      return outcome.value;
    case 'refused':
      // An open circuit fails the item fast; a limiter that refuses (drain, queue full) fails the run.
      if (!isBrokenCircuitError(outcome.error)) throw outcome.error;
      break;
    case 'aborted':
      // As in core Node, a try cancelled while running counts against maxRetries and the last one
      // goes to execFallback; a cancelled wait (in the queue, between tries) just rethrows.
      if (outcome.timing === undefined || outcome.failures + 1 < host.maxRetries) {
        throwIfAborted(signal);
        throw outcome.error;
      }
      break;
  }
  host.counters.totalFailures++;
  throw new ItemFailure(outcome.error as Error, signal);
}
