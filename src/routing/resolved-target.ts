import type { CallEstimate } from '../cost/call-spend';
import type { Limiter } from '../limits/limiter';
import type { FallbackAttempt } from './fallback-exhausted-error';
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
  /** Routed calls waiting for its limiter, oldest first, that rebalancing may move elsewhere. */
  waiting: Set<WaitingCall<Item, Result>>;
}

/** How one try of a target ended: served (`value` set) or moved on, and which target it ended at. @internal */
export interface TargetResult<Item, Result> {
  ok: boolean;
  value?: Result;
  /** The target that served or failed the call (another than the one tried, when the call was moved). */
  by: ResolvedTarget<Item, Result>;
}

/** A routed call waiting for a target's limiter (not started), which rebalancing may move. @internal */
export interface WaitingCall<Item, Result> {
  item: Item;
  signal: AbortSignal | undefined;
  attempts: FallbackAttempt[];
  /** The call's prompt and output tokens (for the context windows of other targets). */
  estimate: CallEstimate | undefined;
  /** Whether it may go to a target (not one that already failed it). */
  allows: (target: ResolvedTarget<Item, Result>) => boolean;
  /** Aborts its wait where it is. */
  controller: AbortController;
  /** Set when it was moved: the try of the target it was moved to. */
  moved: Promise<TargetResult<Item, Result>> | undefined;
}
