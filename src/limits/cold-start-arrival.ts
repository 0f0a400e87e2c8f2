import type { StoreHandle } from '../stores/store';
import type { Lease } from './lease';
import type { ResolvedWindow } from './limiter-options';
import { isPromise, noop } from './maybe-promise';

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

/** The windows a cold request is charged its lag in at its start, and how: see {@link ColdStartArrival}. */
export interface ColdStartCharge {
  /** Indexes of the windows (the pacing windows; not their tenths). */
  windowIndexes: readonly number[];
  /** How long after its start a cold request is counted there (its largest lag beyond the margin). */
  lagMs: number;
  delayEntries: NonNullable<StoreHandle['delayEntries']>;
}

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
 * On a shared store, where each process's burst is its share of a window, cold requests of one
 * process are taken to reach the provider in the order they started (one event loop opens their
 * connections and writes them in that order), up to the reordering the window's safety margin
 * allows for anyway. So a cold request arrived no later than any cold request started after it,
 * nor later than one started at most a margin before it plus the difference: its bound is the
 * earliest such response so far (plus that difference). A burst then counts from its earliest
 * responses, not each request from its own. (A response is no bound for requests started more
 * than a margin after it: on a loaded event loop they may still be connecting when it comes
 * back.) A single process assumes no such order: a burst of thousands of new connections reaches
 * the provider reordered by up to a second, so each request counts from its own response.
 *
 * Requests that find a connection freed by a response (within the idle timeout) keep the static
 * margin; a response that carries the provider's processing time (see `observe`) gives a tighter
 * bound and is preferred.
 *
 * A pacing window is usually shorter than a call: its entry leaves before the call's response
 * comes back, so a bound found at release is too late for it, and a cold burst reaching the
 * provider late lands in the provider's next sub-window with the requests started there. So a cold
 * request is counted there from its largest lag (a tenth of the shortest window the provider
 * enforces, less the sub-window's margin) as soon as it starts, in one process from the first
 * request on (the first burst is cold too). An entry moved later also holds back the entries
 * after it until it leaves (see SlidingWindowLog): at most that lag, once per cold burst.
 */
export class ColdStartArrival {
  /**
   * When each connection a response freed became idle, oldest first: a start reuses one (warm)
   * while any is left that has not been idle long enough to be closed; otherwise it opens one (cold).
   */
  private readonly idleSinceMs: number[] = [];
  private readonly coldLeases = new WeakSet<Lease>();
  /** Cold requests answered lately (within two maximal lags): when each started and when it was answered. */
  private readonly answered: { startedAtMs: number; atMs: number }[] = [];
  private readonly maxLagMs: number;

  /**
   * `shortestWindowMs`: the shortest configured window of the limiter (bounds the lag assumed);
   * `togetherMs`: how much earlier than another a cold request may start and still bound its
   * arrival (the least window margin), or undefined to bound each by its own response only (no
   * start order assumed); `applies`: whether to assume lags at release now (once true, it stays
   * true); `charge`: the pacing windows a cold request is counted late in from its start.
   */
  constructor(
    shortestWindowMs: number,
    // No default: an explicit undefined (one process: no start order assumed) must stay undefined.
    private readonly togetherMs: number | undefined,
    private readonly applies: () => boolean = () => true,
    private readonly charge?: ColdStartCharge,
  ) {
    this.maxLagMs = MAX_LAG_FRACTION * shortestWindowMs;
  }

  /**
   * For a limiter with these windows (none without windows: nothing to line up). On a shared
   * store it always applies, with the start-order bound; in one process only once responses show
   * the provider's count but not when requests arrived (`countsSeen`), each request bounded by its
   * own response: one process's bursts (up to thousands of new connections at once) reach the
   * provider reordered beyond the margin (the high-tier bench met 429s with the start-order bound).
   * Pacing windows are charged at the start wherever the store can move entries (`delayEntries`).
   */
  static forLimiter(
    windows: readonly ResolvedWindow[],
    shared: boolean,
    countsSeen: () => boolean,
    handle: StoreHandle,
  ): ColdStartArrival | undefined {
    // The windows a provider enforces (a pacing window's tenths only spread our own dispatch).
    const enforced = windows.filter((w) => !w.smoothing);
    if (!enforced.length) return undefined;
    const shortestMs = Math.min(...enforced.map((w) => w.configuredWindowMs));
    const minMarginMs = Math.min(...enforced.map((w) => w.windowMs - w.configuredWindowMs));
    // Pacing windows (shorter than a call, mostly) are charged a cold request's lag at its start.
    const paced = enforced.filter((w) => w.pacedFrom !== undefined);
    const lagMs =
      MAX_LAG_FRACTION * shortestMs - Math.min(...paced.map((w) => w.windowMs - w.configuredWindowMs));
    const delayEntries = handle.delayEntries?.bind(handle);
    const charge =
      paced.length && lagMs > 0 && delayEntries
        ? { windowIndexes: paced.map((w) => windows.indexOf(w)), lagMs, delayEntries }
        : undefined;
    return shared
      ? new ColdStartArrival(shortestMs, minMarginMs, undefined, charge)
      : new ColdStartArrival(shortestMs, undefined, countsSeen, charge);
  }

  /**
   * Called when `lease` is granted: does its request find an idle connection? Connections are
   * tracked from the first request on; a cold one is charged its lag in the pacing windows now.
   */
  onStart(lease: Lease): void {
    const idle = this.idleSinceMs;
    const closedBeforeMs = lease.startedAtMs - CONNECTIONS_CLOSED_AFTER_IDLE_MS;
    let closed = 0;
    while (closed < idle.length && idle[closed]! < closedBeforeMs) closed++;
    if (closed > 0) idle.splice(0, closed);
    if (idle.length > 0) {
      idle.pop();
      return;
    }
    this.coldLeases.add(lease);
    const charge = this.charge;
    if (charge) {
      const done = charge.delayEntries(lease.startedAtMs, lease.entries, charge.windowIndexes, charge.lagMs);
      // A background store call: its failure only leaves the entries where they were.
      if (isPromise(done)) done.catch(noop);
    }
  }

  /**
   * The arrival lag to assume for `lease`, released now without an arrival bound of its own;
   * undefined when it needs none (its request went out on a connection already open, or, in one
   * process, before responses showed counts).
   */
  arrivalLagFor(lease: Lease, nowMs: number): number | undefined {
    if (this.idleSinceMs.length < MAX_IDLE_CONNECTIONS) this.idleSinceMs.push(nowMs);
    if (!this.coldLeases.has(lease)) return undefined;
    this.coldLeases.delete(lease);
    if (!this.applies()) return undefined;
    const together = this.togetherMs;
    const arrivedByMs =
      together === undefined ? nowMs : this.arrivalBound(lease.startedAtMs, nowMs, together);
    if (together !== undefined) this.answered.push({ startedAtMs: lease.startedAtMs, atMs: nowMs });
    const lagMs = arrivedByMs - lease.chargedAtMs;
    return lagMs > 0 ? Math.min(lagMs, this.maxLagMs) : undefined;
  }

  /** The earliest a cold request started at `startedAtMs` is known to have arrived by, answered now. */
  private arrivalBound(startedAtMs: number, nowMs: number, togetherMs: number): number {
    const answered = this.answered;
    // Older responses bound only requests in flight longer than any lag assumed: forget them.
    let stale = 0;
    while (stale < answered.length && answered[stale]!.atMs < nowMs - 2 * this.maxLagMs) stale++;
    if (stale > 0) answered.splice(0, stale);
    let bound = nowMs;
    for (const a of answered) {
      const laterMs = startedAtMs - a.startedAtMs;
      if (laterMs <= togetherMs) bound = Math.min(bound, a.atMs + Math.max(0, laterMs));
    }
    return bound;
  }
}
