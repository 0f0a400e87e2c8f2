import { FreshWindowArrival } from './fresh-window-arrival';
import type { Lease } from './lease';

/** What {@link CounterAlignment} may do to its limiter's windows. */
export interface AlignmentTarget {
  now(): number;
  /**
   * Takes one request back from every requests window the lease was charged in (the provider never
   * counted it). Returns false when the store cannot take charges back.
   */
  refundRequest(entries: readonly number[], leaseId: string): boolean;
}

/** What a response told about one lease's request. */
export type CountEvidence =
  /** A response (not an error) with the provider's remaining count: the provider counted it. */
  | 'counted'
  /** An error that still carried the provider's count: counted or not, we cannot tell. */
  | 'unknown';

/** The largest arrival lag a fresh window's counts may note, as a fraction of the shortest window. */
const FRESH_LAG_FRACTION = 0.2;

/** One grant, remembered for a while after it. */
interface GrantRecord {
  /** The lease's grant index (consecutive per limiter). */
  index: number;
  /** When its charge started (`lease.chargedAtMs`). */
  atMs: number;
  entries: readonly number[];
  /** The lease's id (a shared store finds its entries by it). */
  leaseId: string;
  /** How many leases had been granted when it was released (Infinity while held). */
  releasedAtGrant: number;
  evidence: CountEvidence | 'none';
  freed: boolean;
}

/**
 * Lines the limiter's requests window up with the provider's own counter, read from the
 * `remaining` header of every response: the provider counted `limit − remaining` requests in its
 * window when the request arrived.
 *
 * - A request the provider counted later than we sent it is moved: if the provider had counted
 *   more requests than we had started up to this one, the excess were started after it and
 *   arrived before it, so it arrived no earlier than the start of the last of them; its window
 *   entries count from there (only ever later: a wrong or lying header can only make us stricter).
 *   Only while our own starts can explain the count: in the first window after the first count,
 *   and when the count exceeds everything we started (other clients on the key), nothing moves.
 * - An attempt the provider did not count frees its unit: among our requests that finished before
 *   this one started and are surely still in the provider's window, those it answered
 *   were counted; if the provider's count is below theirs plus the attempts that failed without
 *   any count (a connection reset, a 5xx without rate-limit headers), the difference is attempts
 *   it never saw, and that many of them are taken back. Only such attempts are ever taken back
 *   (a response is answered whether or not its headers hold a readable count), so whatever a
 *   header says, the requests the provider answered never exceed the limit in any window.
 *
 * - An attempt that failed the way providers typically do not count (a 5xx, a dropped connection;
 *   see `isFailureBeforeCounting`) and brought no count is presumed uncounted when
 *   `refundFailedAttempts` is on: its unit is taken back at its release, not only once a later
 *   request proves it (a window kept full by its own burst has no later request to prove it). A
 *   429 within a window of such a refund shows the provider counted it: presuming stops for good
 *   and failures wait for proof again, so a provider that counts its failures costs at most the
 *   refunds of one window.
 *
 * Moves and proofs start with the first response with a count (grants are recorded from then on);
 * presumed refunds need no record, so the failures of a first burst are refunded too. Each limiter
 * aligns its own grants (in a shared store the provider's count includes other processes'
 * requests, which only makes this stricter).
 */
export class CounterAlignment {
  private records: GrantRecord[] = [];
  private head = 0;
  private enabled = false;
  private suspects = 0;
  /** Grants are known from here on. */
  private enabledAtMs = Infinity;
  /** When the last failure was presumed uncounted and refunded. */
  private lastPresumedAtMs = -Infinity;
  private readonly fresh: FreshWindowArrival;
  /** Leases whose attempt failed the way providers typically do not count, until their release. */
  private readonly failedBeforeCounting = new WeakSet<Lease>();
  /** How many leases `failedBeforeCounting` holds (a release looks only when some do). */
  private failedPending = 0;
  /** A response has shown the provider's count but not when its request arrived (no processing time). */
  countsWithoutArrival = false;

  constructor(
    private readonly target: AlignmentTarget,
    /** The provider's window (the configured length of our requests window). */
    private readonly windowMs: number,
    /** Our window of the same, margin included. */
    private readonly enforcedWindowMs: number,
    /** Refund failures that providers typically do not count at their release (`refundFailedAttempts`). */
    private presumeFailuresUncounted: boolean,
    /** The shortest window of the limiter, pacing included (bounds the lag a fresh window's counts may note). */
    shortestWindowMs: number,
  ) {
    const maxLagMs = FRESH_LAG_FRACTION * shortestWindowMs;
    this.fresh = new FreshWindowArrival(windowMs, enforcedWindowMs + maxLagMs, maxLagMs);
  }

  /** Records a grant (only once enabled). */
  onGrant(lease: Lease): void {
    this.fresh.onGrant(lease.chargedAtMs);
    if (!this.enabled) return;
    this.records.push({
      index: lease.grantIndex,
      atMs: lease.chargedAtMs,
      entries: lease.entries,
      leaseId: lease.id,
      releasedAtGrant: Infinity,
      evidence: 'none',
      freed: false,
    });
    this.prune(lease.chargedAtMs);
  }

  /** A lease was released when `granted` leases had been granted. */
  onRelease(lease: Lease, granted: number): void {
    // Before the first count nothing is recorded: only a presumed refund can apply.
    if (!this.enabled && this.failedPending === 0) return;
    const record = this.find(lease.grantIndex);
    if (record) record.releasedAtGrant = granted;
    const open = !record || (record.evidence === 'none' && !record.freed);
    if (this.forgetFailure(lease) && open && this.presumeFailuresUncounted) {
      if (this.target.refundRequest(lease.entries, lease.id)) {
        if (record) record.freed = true;
        this.lastPresumedAtMs = this.target.now();
        return;
      }
    }
    if (record && open) this.suspects++;
  }

  /**
   * `lease`'s attempt failed the way providers typically do not count (a 5xx, a dropped
   * connection): told before its release, so the release can refund it.
   */
  onFailedBeforeCounting(lease: Lease): void {
    if (this.failedBeforeCounting.has(lease)) return;
    this.failedBeforeCounting.add(lease);
    this.failedPending++;
  }

  /** Whether `lease` was told failed before counting; it no longer is. */
  private forgetFailure(lease: Lease): boolean {
    if (this.failedPending === 0 || !this.failedBeforeCounting.delete(lease)) return false;
    this.failedPending--;
    return true;
  }

  /**
   * The provider refused a request for its rate limit (not an overload). After a failure was
   * presumed uncounted within a window, that shows the provider counts failures: presuming stops.
   * Returns true when it stopped now.
   */
  onRateLimit(): boolean {
    if (!this.presumeFailuresUncounted) return false;
    if (this.lastPresumedAtMs <= this.target.now() - this.enforcedWindowMs) return false;
    this.presumeFailuresUncounted = false;
    return true;
  }

  /**
   * A response for `lease` said the provider had counted `providerCount` requests in its window
   * (this one included) when it arrived; `arrivalKnown`: the response itself bounded its arrival
   * (`openai-processing-ms`).
   */
  onCount(lease: Lease, providerCount: number, evidence: CountEvidence, arrivalKnown = false): void {
    // An error with a count: the provider may have counted it, so it is no longer presumed uncounted.
    if (evidence === 'unknown') this.forgetFailure(lease);
    if (evidence === 'counted' && !arrivalKnown && providerCount >= 1 && Number.isFinite(providerCount)) {
      this.countsWithoutArrival = true;
      const lagMs = this.fresh.arrivalLagFor(lease, providerCount, this.target.now());
      if (lagMs !== undefined && lagMs > 0) lease.noteArrivalLag(lagMs);
    }
    if (!this.enabled) {
      // From now on; the grants before this one are not known.
      this.enabled = true;
      this.enabledAtMs = this.target.now();
      return;
    }
    const record = this.noteEvidence(lease, evidence);
    if (!record) return;
    if (!(providerCount >= 1) || !Number.isFinite(providerCount)) return;
    const now = this.target.now();
    this.moveLate(lease, record, providerCount, now);
    if (this.suspects > 0) this.freeUncounted(record, providerCount, now);
  }

  /**
   * The provider answered `lease` (a response, not an error): it counted it, whatever the
   * response's headers hold or lack. Told for every response, not only those with a usable count:
   * a header that cannot be read (a count above the limit, so a negative `remaining`; no
   * `remaining` at all) must not leave an answered request a suspect that a later count refunds.
   */
  onAnswered(lease: Lease): void {
    this.noteEvidence(lease, 'counted');
  }

  /** Records evidence for `lease`'s grant: it is no longer a suspect to refund. */
  private noteEvidence(lease: Lease, evidence: CountEvidence): GrantRecord | undefined {
    const record = this.find(lease.grantIndex);
    if (record && record.evidence === 'none') {
      record.evidence = evidence;
      // A released lease counted as a suspect until now (its response came late); a freed one no longer did.
      if (record.releasedAtGrant !== Infinity && !record.freed) this.suspects--;
    }
    return record;
  }

  private moveLate(lease: Lease, record: GrantRecord, providerCount: number, now: number): void {
    // Our grants up to this one that its window could still hold when it started (start times
    // do not decrease with the grant index: a binary search for the oldest).
    const records = this.records;
    const since = record.atMs - this.enforcedWindowMs;
    // Our count is only known once every grant of that window is (not in the first window after
    // enabling).
    if (since < this.enabledAtMs) return;
    let lo = this.head;
    let hi = this.head + record.index - this.firstIndex();
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.atMs > since) hi = mid;
      else lo = mid + 1;
    }
    const ours = record.index - records[lo]!.index + 1;
    const later = providerCount - ours;
    if (later <= 0) return;
    // It arrived after `later` requests we started after it: no earlier than the last one's start.
    // More than we have started since: others spend this key too (or a header is off), and our
    // own starts say nothing about when it arrived.
    const after = this.find(record.index + later);
    if (!after) return;
    const arrivedBy = Math.min(after.atMs, now);
    if (arrivedBy > record.atMs) lease.noteLateAtLeast(arrivedBy - record.atMs);
  }

  private freeUncounted(record: GrantRecord, providerCount: number, now: number): void {
    const first = this.firstIndex();
    // Finished before this one started (so they arrived before it), and started inside the
    // provider's window even as of now (so still inside it when this one arrived).
    let counted = 0;
    const suspects: GrantRecord[] = [];
    for (let i = record.index - 1 - first; i >= 0; i--) {
      const r = this.records[this.head + i]!;
      if (r.atMs <= now - this.windowMs) break;
      if (r.freed || r.releasedAtGrant >= record.index) continue;
      if (r.evidence === 'counted') counted++;
      else if (r.evidence === 'none') suspects.push(r);
    }
    // The provider counted at least `counted` of them and this one; what it counted beyond that
    // may be suspects, and the rest of the suspects it never saw.
    const neverSeen = Math.min(suspects.length, counted + suspects.length + 1 - providerCount);
    for (let k = 0; k < neverSeen; k++) {
      const suspect = suspects[k]!;
      if (!this.target.refundRequest(suspect.entries, suspect.leaseId)) return;
      suspect.freed = true;
      this.suspects--;
    }
  }

  private firstIndex(): number {
    return this.head < this.records.length ? this.records[this.head]!.index : Infinity;
  }

  private find(index: number): GrantRecord | undefined {
    const at = this.head + index - this.firstIndex();
    return at >= this.head && at < this.records.length ? this.records[at] : undefined;
  }

  /** Forgets grants two windows old: no response still to come can be about them. */
  private prune(now: number): void {
    const horizon = now - 2 * this.enforcedWindowMs;
    const records = this.records;
    while (this.head < records.length && records[this.head]!.atMs < horizon) {
      const r = records[this.head]!;
      if (r.evidence === 'none' && !r.freed && r.releasedAtGrant !== Infinity) this.suspects--;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > records.length) {
      this.records = records.slice(this.head);
      this.head = 0;
    }
  }
}
