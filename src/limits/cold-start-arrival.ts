import type { Lease } from './lease';

/**
 * Idle connections are closed after this long (Node's HTTP server closes idle keep-alive sockets
 * after 5 s, undici's pool after 4 s): a request started later opens a new one.
 */
const CONNECTIONS_CLOSED_AFTER_IDLE_MS = 4_000;

/**
 * Largest arrival lag assumed, as a fraction of the shortest window (as for a lag read from the
 * headers): a long call (a stream, a slow model) must not hold its slot for most of a window.
 */
const MAX_LAG_FRACTION = 0.1;

/** Idle connections remembered (more than any pool keeps open). */
const MAX_IDLE_CONNECTIONS = 10_000;

/**
 * Bounds when a cold request reached the provider when no response says so (a call that returns
 * only its parsed body, an SDK that hides the headers).
 *
 * A request started when no connection is idle — before any response came back, more at once
 * than responses have freed, or after a pause long enough for idle connections to close —
 * travels on a connection opened for it: a burst of them reaches the
 * provider up to a second or two after its leases were granted (TCP set-up on a busy event loop;
 * measured 0.3–2 s on a loaded 2-core machine), far beyond the window's safety margin, while the
 * provider's window counts them from their arrival. One window later our log frees their slots
 * while the provider's still holds them, and the next burst meets 429s, each costing its retry a
 * whole window. Such a request arrived no later than its response came back: that is its arrival
 * bound, and its window entries count from then (the lease's `arrivalLagMs`), in every process
 * sharing the store (at most a tenth of the shortest window, as for a lag read from headers). It
 * costs at most one round trip per burst after idle.
 *
 * A cold request started before another cold one of the same process reached the provider no
 * later than that one (one event loop opens their connections and writes them in start order;
 * the margin covers what the network reorders): so a cold request's arrival is bounded by the
 * earliest response, so far, of a cold request started at or after it. Most of a burst then counts
 * from its earliest responses, not from its own; only the last started counts from its own.
 * (The first response of the burst alone is no bound: on a loaded event loop requests started
 * later may still be connecting when it comes back.)
 *
 * Requests that find a connection freed by a response (within the idle timeout) keep the static
 * margin; a response that carries the provider's processing time (see `observe`) gives a tighter
 * bound and is preferred.
 */
export class ColdStartArrival {
  /**
   * When each connection a response freed became idle, oldest first: a start reuses one (warm)
   * while any is left that has not been idle long enough to be closed; otherwise it opens one (cold).
   */
  private readonly idleSinceMs: number[] = [];
  /** Each cold lease in flight and its place in start order. */
  private readonly coldLeases = new WeakMap<Lease, number>();
  private coldStarts = 0;
  /**
   * Responses of cold requests that bound earlier ones: each started after every one before it
   * (place in start order rising, response time rising), so the first after a place answered first.
   */
  private readonly bounds: { place: number; atMs: number }[] = [];
  private readonly maxLagMs: number;

  /** `shortestWindowMs`: the shortest configured window of the limiter (bounds the lag assumed). */
  constructor(shortestWindowMs: number) {
    this.maxLagMs = MAX_LAG_FRACTION * shortestWindowMs;
  }

  /** Called when `lease` is granted: does its request find an idle connection? */
  onStart(lease: Lease): void {
    const idle = this.idleSinceMs;
    const closedBeforeMs = lease.startedAtMs - CONNECTIONS_CLOSED_AFTER_IDLE_MS;
    let closed = 0;
    while (closed < idle.length && idle[closed]! < closedBeforeMs) closed++;
    if (closed > 0) idle.splice(0, closed);
    if (idle.length > 0) idle.pop();
    else this.coldLeases.set(lease, ++this.coldStarts);
  }

  /**
   * The arrival lag to assume for `lease`, released now without an arrival bound of its own;
   * undefined when it needs none (its request went out on a connection already open).
   */
  arrivalLagFor(lease: Lease, nowMs: number): number | undefined {
    if (this.idleSinceMs.length < MAX_IDLE_CONNECTIONS) this.idleSinceMs.push(nowMs);
    const place = this.coldLeases.get(lease);
    if (place === undefined) return undefined;
    this.coldLeases.delete(lease);
    const arrivedByMs = Math.min(nowMs, this.earliestResponseFrom(place, nowMs));
    const bounds = this.bounds;
    if (bounds.length === 0 || place > bounds[bounds.length - 1]!.place) bounds.push({ place, atMs: nowMs });
    const lagMs = arrivedByMs - lease.chargedAtMs;
    return lagMs > 0 ? Math.min(lagMs, this.maxLagMs) : undefined;
  }

  /** The earliest response of a cold request started after the one at `place` (Infinity: none yet). */
  private earliestResponseFrom(place: number, nowMs: number): number {
    const bounds = this.bounds;
    // Older responses bound only requests in flight longer than any lag assumed: forget them.
    let stale = 0;
    while (stale < bounds.length && bounds[stale]!.atMs < nowMs - 2 * this.maxLagMs) stale++;
    if (stale > 0) bounds.splice(0, stale);
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid]!.place > place) hi = mid;
      else lo = mid + 1;
    }
    return lo < bounds.length ? bounds[lo]!.atMs : Infinity;
  }
}
