import type { CapacityLimit } from './capacity-limit';

/**
 * A token bucket refilled continuously at `limit / windowMs` per millisecond, holding at most
 * `limit` (the burst). It starts full. Spending beyond empty (rejected requests with
 * `countRejected`) drives it negative, at most one full bucket deep.
 */
export class TokenBucketLimit implements CapacityLimit {
  private level: number;
  private lastMs: number | undefined;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    level = limit,
  ) {
    this.level = level;
  }

  private get ratePerMs(): number {
    return this.limit / this.windowMs;
  }

  waitMs(nowMs: number, cost: number): number {
    if (cost > this.limit) return Number.POSITIVE_INFINITY;
    this.refill(nowMs);
    return this.level >= cost ? 0 : (cost - this.level) / this.ratePerMs;
  }

  take(nowMs: number, cost: number): void {
    this.refill(nowMs);
    this.level = Math.max(-this.limit, this.level - cost);
  }

  remaining(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.level));
  }

  resetMs(nowMs: number): number {
    this.refill(nowMs);
    return (this.limit - this.level) / this.ratePerMs;
  }

  /** The same fill under a new limit or window. */
  resized(limit: number, windowMs: number, nowMs: number): TokenBucketLimit {
    this.refill(nowMs);
    const next = new TokenBucketLimit(limit, windowMs, Math.min(limit, this.level));
    next.lastMs = nowMs;
    return next;
  }

  private refill(nowMs: number): void {
    if (this.lastMs !== undefined && nowMs > this.lastMs) {
      this.level = Math.min(this.limit, this.level + (nowMs - this.lastMs) * this.ratePerMs);
    }
    if (this.lastMs === undefined || nowMs > this.lastMs) this.lastMs = nowMs;
  }
}
