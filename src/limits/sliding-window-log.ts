/**
 * The log of one sliding window: when each unit of cost started and how much it was.
 * At most `limit` units start in any half-open interval of `windowMs`: an entry started at `t`
 * counts while `now < t + windowMs`.
 *
 * Entries live in two parallel arrays with a moving head (amortised O(1) admission, memory
 * O(entries inside one window)); each entry has a stable sequence number so a lease can adjust
 * its own cost later (reconcile) while the entry is still inside the window.
 */
export class SlidingWindowLog {
  private times: number[] = [];
  private costs: number[] = [];
  private head = 0;
  /** Sequence number of `times[0]`. */
  private base = 0;
  private total = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Units inside the window ending at `nowMs`. */
  used(nowMs: number): number {
    this.evict(nowMs);
    return this.total;
  }

  /** Milliseconds until `cost` more units fit (0 = now; Infinity = never, the cost exceeds the limit). */
  waitMs(nowMs: number, cost: number): number {
    if (cost > this.limit) return Infinity;
    this.evict(nowMs);
    let excess = this.total + cost - this.limit;
    if (excess <= 0) return 0;
    // Walk from the oldest entry until enough has expired for the cost to fit.
    for (let i = this.head; i < this.times.length; i++) {
      excess -= this.costs[i]!;
      if (excess <= 0) return this.times[i]! + this.windowMs - nowMs;
    }
    return Infinity;
  }

  /** Records `cost` units started at `nowMs`; returns the entry's sequence number (-1 for a zero cost). */
  add(nowMs: number, cost: number): number {
    if (cost <= 0) return -1;
    this.times.push(nowMs);
    this.costs.push(cost);
    this.total += cost;
    return this.base + this.times.length - 1;
  }

  /**
   * Changes the cost of entry `seq` by `delta` (a reconcile). An entry that has left the window
   * no longer matters and is ignored; a missing entry with a positive delta is added at `nowMs`.
   */
  adjust(seq: number, delta: number, nowMs: number): void {
    this.evict(nowMs);
    const index = seq - this.base;
    if (seq >= 0 && index >= this.head && index < this.times.length) {
      const next = Math.max(0, this.costs[index]! + delta);
      this.total += next - this.costs[index]!;
      this.costs[index] = next;
    } else if (seq < 0 && delta > 0) {
      this.add(nowMs, delta);
    }
  }

  private evict(nowMs: number): void {
    // `t + windowMs <= now` (not `t <= now - windowMs`) so it agrees exactly with waitMs's `t + windowMs - now`.
    const windowMs = this.windowMs;
    const times = this.times;
    let head = this.head;
    while (head < times.length && times[head]! + windowMs <= nowMs) {
      this.total -= this.costs[head]!;
      head++;
    }
    this.head = head;
    if (head === times.length) {
      if (head > 0) {
        this.base += head;
        this.times = [];
        this.costs = [];
        this.head = 0;
        this.total = 0; // exact zero, no float drift
      }
    } else if (head > 1024 && head * 2 > times.length) {
      this.base += head;
      this.times = times.slice(head);
      this.costs = this.costs.slice(head);
      this.head = 0;
    }
  }
}
