import type { Lease } from './lease';

/**
 * Bounds when the first requests of a limiter reached the provider when no response says so (a
 * call that returns only its parsed body, an SDK that hides the headers).
 *
 * Requests started before any response came back travel on connections opened for them: a burst
 * of them reaches the provider up to a second after its leases were granted (TCP and TLS set-up
 * on a busy event loop; measured 0.3–2 s on a loaded 2-core machine), far beyond the window's
 * safety margin, while the provider's window counts them from their arrival. One window later
 * our log frees their slots while the provider's still holds them, and the next burst meets 429s,
 * each costing its retry a whole window. Such a request arrived no later than its response came
 * back: that is its arrival bound, and its window entries count from then (the lease's
 * `arrivalLagMs`), in every process sharing the store. It costs at most one round trip, once.
 *
 * Later requests reuse warm connections and keep the static margin; a response that carries the
 * provider's processing time (see `observe`) gives a tighter bound and is preferred.
 */
export class ColdStartArrival {
  /** Clock reading of the first release (undefined: none yet, every lease in flight is cold). */
  private firstReleaseAtMs: number | undefined = undefined;

  /**
   * The arrival lag to assume for `lease`, released now without an arrival bound of its own;
   * undefined when it needs none (it started once responses were coming back).
   */
  arrivalLagFor(lease: Lease, nowMs: number): number | undefined {
    this.firstReleaseAtMs ??= nowMs;
    if (lease.startedAtMs >= this.firstReleaseAtMs) return undefined;
    const roundTripMs = nowMs - lease.chargedAtMs;
    return roundTripMs > 0 ? roundTripMs : undefined;
  }
}
