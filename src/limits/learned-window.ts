import type { RateLimitBudget } from '../providers/provider-rate-limit-info';

/** Kept at most this long, whatever the window learned (a bound on memory). */
const MAX_HISTORY_MS = 10 * 60_000;
/** Allowance for requests reaching the provider later than we started them. */
const MARGIN_FRACTION = 0.01;

/**
 * A provider's requests window that the limiter does not enforce (no limit configured), learned
 * from the headers: its length is the longest `reset` seen (a sliding window's newest request
 * resets it a full window after its arrival; a bucket refills within one) and its limit is the
 * header's `limit`. When the provider says it has nothing left, the next slot frees when the oldest
 * of our last `limit` requests leaves that window, usually long before the full reset the header
 * names: so a limiter that learns its limits runs at the provider's window instead of pausing
 * window by window. Requests of other clients on the same key only end such a pause early, and the
 * next response or 429 pauses again.
 */
export class LearnedWindow {
  private windowMs = 0;
  private starts: number[] = [];
  private head = 0;

  constructor(private readonly now: () => number) {}

  /** Records one start of ours. */
  noteStart(atMs: number): void {
    this.starts.push(atMs);
    if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
    const horizon = atMs - Math.max(this.windowMs * 2, 1) - MAX_HISTORY_MS;
    while (this.head < this.starts.length && this.starts[this.head]! < horizon) this.head++;
  }

  noteReset(resetMs: number): void {
    if (Number.isFinite(resetMs) && resetMs > this.windowMs)
      this.windowMs = Math.min(resetMs, MAX_HISTORY_MS);
  }

  /**
   * Milliseconds until the provider's window frees a slot, if our own starts tell (at most the
   * header's reset); undefined when they cannot (fewer of ours than the limit, no limit).
   */
  untilSlotFrees(budget: RateLimitBudget): number | undefined {
    const limit = budget.limit;
    const count = this.starts.length - this.head;
    if (limit === undefined || !(limit >= 1) || count < limit || this.windowMs <= 0) return undefined;
    const oldest = this.starts[this.starts.length - limit]!;
    const marginMs = this.windowMs * MARGIN_FRACTION;
    // Our starts say a slot is free already, the provider says none is: its window ends a little
    // later than ours, so wait a margin (the next response or 429 tells more).
    const waitMs = Math.max(oldest + this.windowMs + marginMs - this.now(), marginMs);
    return budget.resetMs === undefined ? waitMs : Math.min(waitMs, budget.resetMs);
  }
}
