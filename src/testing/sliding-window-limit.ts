import type { CapacityLimit } from './capacity-limit';

/**
 * At most `limit` units start in any half-open interval of `windowMs`: a unit spent at `t` counts
 * until (and not at) `t + windowMs`.
 */
export class SlidingWindowLimit implements CapacityLimit {
  private times: number[] = [];
  private costs: number[] = [];
  private head = 0;
  private used = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  waitMs(nowMs: number, cost: number): number {
    if (cost > this.limit) return Number.POSITIVE_INFINITY;
    this.prune(nowMs);
    let excess = this.used + cost - this.limit;
    if (excess <= 0) return 0;
    // The wait is until enough of the oldest units have left the window.
    for (let i = this.head; i < this.times.length; i++) {
      excess -= this.costs[i]!;
      if (excess <= 0) return this.times[i]! + this.windowMs - nowMs;
    }
    return this.windowMs; // unreachable while cost <= limit
  }

  take(nowMs: number, cost: number): void {
    this.prune(nowMs);
    this.times.push(nowMs);
    this.costs.push(cost);
    this.used += cost;
  }

  remaining(nowMs: number): number {
    this.prune(nowMs);
    return Math.max(0, this.limit - this.used);
  }

  resetMs(nowMs: number): number {
    this.prune(nowMs);
    const last = this.times[this.times.length - 1];
    return this.head < this.times.length && last !== undefined ? last + this.windowMs - nowMs : 0;
  }

  /** The same history under a new limit or window (so `setOptions` does not forget the past). */
  resized(limit: number, windowMs: number): SlidingWindowLimit {
    const next = new SlidingWindowLimit(limit, windowMs);
    for (let i = this.head; i < this.times.length; i++) {
      next.times.push(this.times[i]!);
      next.costs.push(this.costs[i]!);
      next.used += this.costs[i]!;
    }
    return next;
  }

  private prune(nowMs: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= nowMs - this.windowMs) {
      this.used -= this.costs[this.head]!;
      this.head++;
    }
    // Compact now and then so a long run does not keep every timestamp.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
  }
}
