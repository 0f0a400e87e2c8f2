import type { Lease } from './lease';

/**
 * Idle connections are closed after this long (Node's HTTP server closes idle keep-alive sockets
 * after 5 s, undici's pool after 4 s): a request started later opens a new one.
 */
const CONNECTIONS_CLOSED_AFTER_IDLE_MS = 4_000;

/** Idle spans remembered (leases that span more of them are minutes long: their start no longer matters). */
const MAX_COLD_SPANS = 8;

/**
 * Bounds when a cold request reached the provider when no response says so (a call that returns
 * only its parsed body, an SDK that hides the headers).
 *
 * A request started before any response came back, or after a pause long enough for idle
 * connections to close, travels on a connection opened for it: a burst of them reaches the
 * provider up to a second or two after its leases were granted (TCP set-up on a busy event loop;
 * measured 0.3–2 s on a loaded 2-core machine), far beyond the window's safety margin, while the
 * provider's window counts them from their arrival. One window later our log frees their slots
 * while the provider's still holds them, and the next burst meets 429s, each costing its retry a
 * whole window. Such a request arrived no later than its response came back: that is its arrival
 * bound, and its window entries count from then (the lease's `arrivalLagMs`), in every process
 * sharing the store. It costs at most one round trip per burst after idle.
 *
 * Requests started while responses keep coming back reuse warm connections and keep the static
 * margin; a response that carries the provider's processing time (see `observe`) gives a tighter
 * bound and is preferred.
 */
export class ColdStartArrival {
  /** Clock reading of the latest release (undefined: none yet, every lease in flight is cold). */
  private lastReleaseAtMs: number | undefined = undefined;
  /**
   * Closed spans of time in which a start was cold (from when connections had closed until the
   * next release), newest last; the open one after the latest release is implied.
   */
  private readonly coldSpans: { fromMs: number; toMs: number }[] = [];

  /**
   * The arrival lag to assume for `lease`, released now without an arrival bound of its own;
   * undefined when it needs none (it started while responses were coming back).
   */
  arrivalLagFor(lease: Lease, nowMs: number): number | undefined {
    const last = this.lastReleaseAtMs;
    const coldFromMs =
      last === undefined ? Number.NEGATIVE_INFINITY : last + CONNECTIONS_CLOSED_AFTER_IDLE_MS;
    if (nowMs > coldFromMs) {
      this.coldSpans.push({ fromMs: coldFromMs, toMs: nowMs });
      // A lease outlives a few idle spans only when it runs for many seconds: its lag is then moot.
      if (this.coldSpans.length > MAX_COLD_SPANS) this.coldSpans.shift();
    }
    this.lastReleaseAtMs = nowMs;
    const started = lease.startedAtMs;
    if (!this.coldSpans.some((span) => started >= span.fromMs && started < span.toMs)) return undefined;
    const roundTripMs = nowMs - lease.chargedAtMs;
    return roundTripMs > 0 ? roundTripMs : undefined;
  }
}
