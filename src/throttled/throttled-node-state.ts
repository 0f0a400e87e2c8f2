import type { Limiter } from '../limits/limiter';
import type { WarningTally } from '../limits/limiter-warnings';
import type { NodeAccounting } from '../observability/node-accounting';
import type { NodeMetrics, NodeMetricsStats } from '../observability/node-metrics';
import type { NodeResilience } from './node-resilience';

/** Counters of one node, shared by every per-visit copy of it. @category Throttled nodes and flows */
export interface ThrottledNodeCounters {
  /** Items that ended with a value from `exec`. */
  totalSuccesses: number;
  /** Items whose tries were all used up (they then went through `execFallback`). */
  totalFailures: number;
  /** Provider rate limits (429/529) seen by this node. */
  totalRateLimits: number;
  /** Successes since the last rate limit. */
  consecutiveSuccesses: number;
  /** Items answered by the `cache` (or by a concurrent call for the same key) without a call of their own. */
  totalCacheHits: number;
}

/**
 * Stats of a throttled node: its counters plus its limiter's stats, with the latency and queue
 * wait percentiles, tokens and cost of this node's own calls.
 * @category Throttled nodes and flows
 */
export type ThrottledNodeStats = ThrottledNodeCounters &
  ReturnType<Limiter['stats']> &
  NodeMetricsStats & {
    /** The concurrency limit in force now (the AIMD level for adaptive nodes). */
    currentConcurrent: number;
  };

/**
 * State every per-visit copy of a node shares by reference (Flow shallow-copies nodes), so
 * limits, AIMD level and stats are those of the node the user created.
 * @internal
 */
export interface ThrottleState {
  limiter: Limiter | undefined;
  scoped: WeakMap<object, Limiter>;
  counters: ThrottledNodeCounters;
  /** Breaker, timeout and cache, read at the first run. */
  resilience?: NodeResilience<unknown>;
  /** Latency histograms, tokens and cost of the node's calls. */
  metrics: NodeMetrics;
  /** Budget and model, read at the first run. */
  accounting?: NodeAccounting;
  /** Whether the node's limiter has a token window (read at the first run). */
  countsTokens?: boolean;
  /** Fields the library's constructors set: the first run checks only those a subclass adds. */
  frameworkKeys: Set<string>;
  /** Whether the subclass fields were checked for misspelt options (at the first run). */
  fieldsChecked: boolean;
  /** What the warning checks of the node's own limiters have seen, shared by all of them. */
  warningTally?: WarningTally;
}

/** Counters of a node that has made no call yet. @internal */
export function emptyCounters(): ThrottledNodeCounters {
  return {
    totalSuccesses: 0,
    totalFailures: 0,
    totalRateLimits: 0,
    consecutiveSuccesses: 0,
    totalCacheHits: 0,
  };
}
