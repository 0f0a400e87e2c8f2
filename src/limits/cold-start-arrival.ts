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
  private readonly coldLeases = new WeakSet<Lease>();
  private readonly maxLagMs: number;

  /**
   * `shortestWindowMs`: the shortest configured window of the limiter (bounds the lag assumed);
   * `applies`: whether to assume lags now (and track connections: once true, it stays true).
   */
  constructor(
    shortestWindowMs: number,
    private readonly applies: () => boolean = () => true,
  ) {
    this.maxLagMs = MAX_LAG_FRACTION * shortestWindowMs;
  }

  /** For a limiter with these windows (none without windows: nothing to line up). */
  static forWindows(
    windows: readonly { configuredWindowMs: number }[],
    applies: () => boolean,
  ): ColdStartArrival | undefined {
    return windows.length
      ? new ColdStartArrival(Math.min(...windows.map((w) => w.configuredWindowMs)), applies)
      : undefined;
  }

  /** Called when `lease` is granted: does its request find an idle connection? */
  onStart(lease: Lease): void {
    if (!this.applies()) return;
    const idle = this.idleSinceMs;
    const closedBeforeMs = lease.startedAtMs - CONNECTIONS_CLOSED_AFTER_IDLE_MS;
    let closed = 0;
    while (closed < idle.length && idle[closed]! < closedBeforeMs) closed++;
    if (closed > 0) idle.splice(0, closed);
    if (idle.length > 0) idle.pop();
    else this.coldLeases.add(lease);
  }

  /**
   * The arrival lag to assume for `lease`, released now without an arrival bound of its own;
   * undefined when it needs none (its request went out on a connection already open).
   */
  arrivalLagFor(lease: Lease, nowMs: number): number | undefined {
    if (!this.applies()) return undefined;
    if (this.idleSinceMs.length < MAX_IDLE_CONNECTIONS) this.idleSinceMs.push(nowMs);
    if (!this.coldLeases.has(lease)) return undefined;
    this.coldLeases.delete(lease);
    const roundTripMs = nowMs - lease.chargedAtMs;
    return roundTripMs > 0 ? Math.min(roundTripMs, this.maxLagMs) : undefined;
  }
}
