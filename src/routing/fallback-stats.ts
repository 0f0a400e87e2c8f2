import type { CircuitState } from '../resilience/circuit-breaker';
import type { FallbackAttempt } from './fallback-exhausted-error';
import type { RoutingStrategy } from './fallback-options';

/**
 * Why a call passed a target by without trying it: its limiter is paused (a provider's
 * retry-after), its circuit is open, the call does not fit its context window, its budget has
 * nothing left, or (`'cheapest'`, `'latency'`) it could not start the call within the wait allowed.
 */
export type SkipReason = 'paused' | 'circuitOpen' | 'contextWindow' | 'budget' | 'wait';

/** Options of one {@link FallbackChain.call}. */
export interface FallbackCallOptions {
  /**
   * Cancels the call: waits and the target's call are aborted and it rejects with the signal's reason.
   * @default undefined
   */
  signal?: AbortSignal;
}

/** What {@link FallbackChain.callWithReport} resolves with. */
export interface FallbackReport<Result> {
  value: Result;
  /** The target that served the call. */
  servedBy: string;
  /** Targets that failed the call before, in order. */
  attempts: FallbackAttempt[];
}

/** Counters of one target. */
export interface FallbackTargetStats {
  /** Calls it served. */
  served: number;
  /** Calls routed to it (by the strategy, or in order), served or not. */
  routed: number;
  /** Rate limits and overloads (429/529) it answered with. */
  rateLimits: number;
  /** Calls that failed with an ordinary error (including timeouts). */
  failures: number;
  /** Calls refused before they reached it: open circuit, or its limiter refused (timeout, drain, …). */
  refused: number;
  /** Calls moved away from it while they waited for its limiter (`'soonest'` rebalancing after a pause). */
  rerouted: number;
  /** Calls that passed it by while its limiter was paused (the same as `skips.paused`). */
  skipped: number;
  /** Calls that passed it by without trying it, by reason. */
  skips: Record<SkipReason, number>;
}

/** Stats of a chain, since it was made. */
export interface FallbackStats {
  /** How the chain picks targets. */
  strategy: RoutingStrategy;
  /** Calls made through the chain. */
  calls: number;
  /** Calls some target served. */
  served: number;
  /** Calls no target served (they rejected with `FallbackExhaustedError` or `ContextLengthError`). */
  failed: number;
  /** Calls served by a target other than the first one tried for them. */
  fellBack: number;
  /** Calls served, by target name (every target listed). */
  servedBy: Record<string, number>;
  /** Counters by target name. */
  targets: Record<string, FallbackTargetStats>;
}

/** Events of a {@link FallbackChain}. */
export interface FallbackEvents {
  /** A strategy picked a target for a call (not emitted with `'ordered'`). */
  route: [event: { target: string; strategy: RoutingStrategy; estimatedWaitMs: number }];
  /** A target did not serve a call; the call moves on to the next one (if any). */
  failover: [event: { from: string; error: unknown }];
  /** A call passed a target by without trying it; `pausedUntil` is 0 unless the reason is `'paused'`. */
  skip: [event: { target: string; reason: SkipReason; pausedUntil: number }];
  /** A target served a call; `fallback` when another target was tried for it first. */
  served: [event: { target: string; fallback: boolean; attempts: number }];
}

/** How one target stands now (see {@link FallbackChain.health}). */
export interface TargetHealth {
  /**
   * `'healthy'`: it would take a call; `'paused'`: its limiter waits out a provider's retry-after
   * until `pausedUntil`; `'circuitOpen'`: its breaker is open; `'overBudget'`: its budget has
   * nothing left; `'draining'`: its limiter was drained.
   */
  status: 'healthy' | 'paused' | 'circuitOpen' | 'overBudget' | 'draining';
  /** Clock reading until which its limiter is paused (0 = not paused). */
  pausedUntil: number;
  /** Its breaker's state, when it has one. */
  circuit: CircuitState | undefined;
  /** How long a one-request call would probably wait for its limiter now, in ms (Infinity = never). */
  estimatedWaitMs: number;
  /** Calls of this chain routed to it and not yet ended (waiting for its limiter or running). */
  inFlight: number;
  /** Median latency of its recent successful calls in ms, or undefined before the first. */
  recentP50Ms: number | undefined;
}

/** What {@link FallbackChain.health} returns. */
export interface FallbackHealth {
  /** Whether some healthy target could start a call now. */
  canServeNow: boolean;
  /** Whether some target is healthy (it may still have to wait for room). */
  canServe: boolean;
  /** Each target, by name. */
  targets: Record<string, TargetHealth>;
}

/** Fresh counters of one target. @internal */
export function emptyTargetStats(): FallbackTargetStats {
  return {
    served: 0,
    routed: 0,
    rerouted: 0,
    rateLimits: 0,
    failures: 0,
    refused: 0,
    skipped: 0,
    skips: { paused: 0, circuitOpen: 0, contextWindow: 0, budget: 0, wait: 0 },
  };
}
