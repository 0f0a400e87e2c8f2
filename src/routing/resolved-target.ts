import type { Limiter } from '../limits/limiter';
import type { FallbackTargetStats } from './fallback-stats';
import type { FallbackTarget } from './fallback-target';
import type { RecentLatency } from './recent-latency';

/** A target with its limiter looked up and the chain's bookkeeping about it. @internal */
export interface ResolvedTarget<Item, Result> {
  target: FallbackTarget<Item, Result>;
  /** Its position in the chain (ties of every strategy go to the earlier one). */
  index: number;
  limiter: Limiter;
  stats: FallbackTargetStats;
  latency: RecentLatency;
  /** Calls of this chain routed to it and not yet ended (waiting for its limiter or running). */
  inFlight: number;
  /** Prompt plus output tokens a call may have here (undefined = unchecked). */
  contextWindowTokens: number | undefined;
}
