import type { Lease } from './lease';

/**
 * Bounds when a request reached the provider from the counts of a fresh window, when no response
 * says when it arrived (no `openai-processing-ms`).
 *
 * After a pause longer than the window (or at the first grant), nothing of ours is left in the
 * provider's window, and until a window after the pause's first grant nothing of ours leaves it:
 * the provider's count only grows, so a response with a higher count arrived later. A request
 * therefore arrived no later than the first response, its own or another, that came back with a
 * count at least its own. A cold burst (thousands of new connections) reaches the provider a second
 * or more after its grants, far beyond the margin; counted from these bounds, its entries leave our
 * window no earlier than the provider's, so the next window's burst does not meet 429s. The bound
 * is within one latency of the true arrival when responses come back out of order, as they do.
 *
 * Another client on the same key whose requests leave the provider's window during ours can lower
 * a count; the bound is capped (a fifth of the shortest window) so no lease is held back long.
 */
export class FreshWindowArrival {
  private periodStartMs = -Infinity;
  private lastGrantMs = -Infinity;
  /** The highest counts seen in the period, increasing, and when each was first seen. */
  private readonly counts: number[] = [];
  private readonly seenAtMs: number[] = [];

  constructor(
    /** The provider's window (the configured length of our requests window). */
    private readonly windowMs: number,
    /** No grant for this long starts a fresh period (our window, margin and largest lag included). */
    private readonly idleMs: number,
    private readonly maxLagMs: number,
  ) {}

  onGrant(atMs: number): void {
    if (atMs - this.lastGrantMs >= this.idleMs) {
      this.periodStartMs = atMs;
      this.counts.length = 0;
      this.seenAtMs.length = 0;
    }
    this.lastGrantMs = atMs;
  }

  /**
   * A response to `lease` came back now saying the provider had counted `count` requests when it
   * arrived. Returns how long after its charge it arrived at the latest, or undefined when the
   * counts say nothing (outside a fresh period).
   */
  arrivalLagFor(lease: Lease, count: number, nowMs: number): number | undefined {
    if (lease.chargedAtMs < this.periodStartMs || nowMs >= this.periodStartMs + this.windowMs)
      return undefined;
    const counts = this.counts;
    if (counts.length === 0 || count > counts[counts.length - 1]!) {
      counts.push(count);
      this.seenAtMs.push(nowMs);
    }
    // The first response with a count at least this one's.
    let lo = 0;
    let hi = counts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (counts[mid]! >= count) hi = mid;
      else lo = mid + 1;
    }
    return Math.min(this.seenAtMs[lo]! - lease.chargedAtMs, this.maxLagMs);
  }
}
