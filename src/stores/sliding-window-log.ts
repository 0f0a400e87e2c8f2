/**
 * The log of one sliding window: when each cost started and how large it was. An entry that
 * started at `t` counts in full while `now < t + windowMs`, so "at most `limit` units start in any
 * half-open interval `[t, t + windowMs)`" holds exactly when every admission checks
 * `used(now) + cost <= limit`.
 *
 * Entries live in two parallel arrays with a moving head and a running sum: admission is
 * amortised O(1) and memory is O(entries inside one window). Each entry has a stable sequence
 * number, so a lease can reconcile its own cost later while the entry is still inside the window.
 * The limit is passed per call (not stored) so limiters sharing one log can each bring their own.
 *
 * An entry may be moved later ({@link delay}: its request reached the provider after it started
 * here), so times are not always in order. An entry then leaves only once every entry before it
 * has left: it counts until the running maximum of the times up to it plus `windowMs`. That errs
 * only towards counting longer, and keeps eviction and {@link waitMs} O(1) amortised.
 */
export class SlidingWindowLog {
  private times: number[] = [];
  private costs: number[] = [];
  private head = 0;
  /** Sequence number of `times[0]`. */
  private base = 0;
  private total = 0;

  /**
   * Extra milliseconds every entry stays counted: the learned delay between a start here and its
   * arrival at the provider (set from provider feedback).
   */
  private extraMs = 0;

  /** @param windowMs the window the log enforces (margin included). */
  constructor(readonly windowMs: number) {}

  /**
   * Keeps entries counted `extraMs` longer. It may shrink: the lag is learned from recent calls,
   * so the entries that a larger, older lag applied to have left the window by then.
   */
  extendBy(extraMs: number): void {
    this.extraMs = Math.max(0, extraMs);
  }

  /** Units inside the window ending at `nowMs`. */
  used(nowMs: number): number {
    this.evict(nowMs);
    return this.total;
  }

  /** Entries inside the window ending at `nowMs`. */
  entries(nowMs: number): number {
    this.evict(nowMs);
    return this.times.length - this.head;
  }

  /**
   * Milliseconds until `cost` more units fit under `limit`: 0 = now, Infinity = never (the cost
   * exceeds the limit). Exact: it is the moment the oldest entries that must leave have left.
   * O(1) when it fits; otherwise it walks only the entries that must expire first.
   */
  waitMs(nowMs: number, cost: number, limit: number): number {
    if (cost > limit) return Infinity;
    if (cost <= 0) return 0; // nothing starts, so nothing can overflow
    this.evict(nowMs);
    let excess = this.total + cost - limit;
    if (excess <= 0) return 0;
    const times = this.times;
    const costs = this.costs;
    // The same sum as evict's (float addition is not associative: `t + windowMs + extraMs` can land
    // an ulp before evict's boundary, and a wait of 0 there would admit while the entry still counts).
    const windowMs = this.windowMs + this.extraMs;
    // An entry leaves when every entry before it has left too (see the class comment).
    let latest = -Infinity;
    for (let i = this.head; i < times.length; i++) {
      if (times[i]! > latest) latest = times[i]!;
      excess -= costs[i]!;
      if (excess <= 0) return latest + windowMs - nowMs;
    }
    // Unreachable up to float drift in the running sum: room comes when every entry has left.
    return latest + windowMs - nowMs;
  }

  /** Records `cost` units started at `nowMs` (never earlier than the last start); returns the entry's sequence number, -1 for a zero cost. */
  add(nowMs: number, cost: number): number {
    if (cost <= 0) return -1;
    this.times.push(nowMs);
    this.costs.push(cost);
    this.total += cost;
    return this.base + this.times.length - 1;
  }

  /**
   * Changes the cost of entry `seq` by `delta` (a reconcile): the cost counts at its start time,
   * so the new cost replaces the old one there. An entry that already left the window no longer
   * matters and is ignored; a lease that charged nothing up front (`seq` -1) and owes a positive
   * delta gets a new entry at `nowMs` (later than its start, so never less strict).
   */
  adjust(seq: number, delta: number, nowMs: number): void {
    this.evict(nowMs);
    if (seq < 0) {
      if (delta > 0) this.add(nowMs, delta);
      return;
    }
    const index = seq - this.base;
    if (index < this.head || index >= this.times.length) return;
    const next = Math.max(0, this.costs[index]! + delta);
    this.total += next - this.costs[index]!;
    this.costs[index] = next;
  }

  /**
   * Counts entry `seq` from `delayMs` after its start instead (never earlier): its request reached
   * the provider that late at the latest, and the provider's window counts it from its arrival.
   * An entry that already left the window is ignored.
   */
  delay(seq: number, delayMs: number, nowMs: number): void {
    if (seq < 0 || !(delayMs > 0) || !Number.isFinite(delayMs)) return;
    this.evict(nowMs);
    const index = seq - this.base;
    if (index < this.head || index >= this.times.length) return;
    this.times[index] = this.times[index]! + delayMs;
  }

  private evict(nowMs: number): void {
    // `t + windowMs <= now` (not `t <= now - windowMs`) so it agrees exactly with waitMs's `t + windowMs - now`.
    const windowMs = this.windowMs + this.extraMs;
    const times = this.times;
    let head = this.head;
    if (head === times.length || times[head]! + windowMs > nowMs) return;
    let total = this.total;
    const costs = this.costs;
    do {
      total -= costs[head]!;
      head++;
    } while (head < times.length && times[head]! + windowMs <= nowMs);
    if (head === times.length) {
      // Empty: start afresh (and an exact zero, no float drift).
      this.base += head;
      this.times = [];
      this.costs = [];
      this.head = 0;
      this.total = 0;
    } else if (head > 1024 && head * 2 > times.length) {
      // Compact once the dead prefix outweighs the live part: amortised O(1) per entry.
      this.base += head;
      this.times = times.slice(head);
      this.costs = costs.slice(head);
      this.head = 0;
      this.total = total;
    } else {
      this.head = head;
      this.total = total;
    }
  }
}
