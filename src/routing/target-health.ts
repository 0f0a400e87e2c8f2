import type { SkipReason, TargetHealth } from './fallback-stats';
import type { ResolvedTarget } from './resolved-target';

/** Why a target cannot take a call now (before its limiter is asked), or undefined when it can. @internal */
export function unavailableReason<Item, Result>(
  resolved: ResolvedTarget<Item, Result>,
): { reason: Extract<SkipReason, 'paused' | 'circuitOpen' | 'budget'>; pausedUntil: number } | undefined {
  const { target, limiter } = resolved;
  if (target.circuitBreaker?.state === 'open') return { reason: 'circuitOpen', pausedUntil: 0 };
  if (target.budget !== undefined && isSpent(target.budget.stats()))
    return { reason: 'budget', pausedUntil: 0 };
  // Not stats(): that reads a shared store's snapshot, once per target per call.
  const until = limiter.pausedUntil;
  if (until > 0) return { reason: 'paused', pausedUntil: until };
  return undefined;
}

function isSpent(stats: { remainingUsd: number | undefined; remainingTokens: number | undefined }): boolean {
  return (
    (stats.remainingUsd !== undefined && stats.remainingUsd <= 0) ||
    (stats.remainingTokens !== undefined && stats.remainingTokens <= 0)
  );
}

/** How one target stands now. @internal */
export function targetHealth<Item, Result>(resolved: ResolvedTarget<Item, Result>): TargetHealth {
  const { target, limiter } = resolved;
  const reason = unavailableReason(resolved);
  const status: TargetHealth['status'] = limiter.isDraining
    ? 'draining'
    : reason === undefined
      ? 'healthy'
      : reason.reason === 'budget'
        ? 'overBudget'
        : reason.reason;
  return {
    status,
    pausedUntil: reason?.pausedUntil ?? 0,
    circuit: target.circuitBreaker?.state,
    estimatedWaitMs: limiter.estimateWaitMs(),
    inFlight: resolved.inFlight,
    recentP50Ms: resolved.latency.p50(),
  };
}
