import { isFailureBeforeCounting } from '../providers/failed-before-counting';
import { readHeaders } from '../providers/header-source';
import { parseRateLimitHeaders } from '../providers/parse-rate-limit-headers';
import type { ProviderRateLimitInfo, RateLimitBudget } from '../providers/provider-rate-limit-info';
import { isRecord } from '../util/is-record';
import type { CounterAlignment } from './counter-alignment';
import type { Lease } from './lease';

/** What a limiter lets its provider feedback change. */
export interface FeedbackTarget {
  now(): number;
  /** The windows: resource, configured length, and the limit in force. */
  windows(): readonly {
    resource: string;
    limit: number;
    configuredWindowMs: number;
    marginMs: number;
    /** A pacing sub-window (`pacingMs`): follows its parent; not a limit the provider states. */
    paced: boolean;
  }[];
  /** Whether window `index` has room now that no waiting acquire is about to take. */
  hasIdleRoom(index: number): boolean;
  /** Leases granted after the one with this grant index. */
  startedSince(grantIndex: number): number;
  pause(ms: number): void;
  /** Keeps window entries counted this much longer (after a 429 our windows did not foresee). */
  setExtraWindowMs(ms: number): void;
  /** Sets the limit of window `index` (from the provider's own numbers). */
  setLimit(index: number, limit: number, reason: 'lowered' | 'learned'): void;
}

/** Options of {@link Limiter.observe}. @category Limiters */
export interface ObserveOptions {
  /**
   * The lease the response belongs to, not yet released. With OpenAI's `openai-processing-ms`
   * the limiter bounds when the request reached the provider (the response's arrival here minus
   * the provider's processing time) and, at release, counts the lease's window entries from then:
   * the provider's window counts a request from its arrival, which may be well after we sent it
   * (a burst on fresh connections arrives spread out).
   * @default undefined
   */
  lease?: Lease;
}

const MINUTE_MS = 60_000;

/** The safety margin of a pause until a provider's reset, as a fraction of it (a window's default margin). */
const RESET_MARGIN_FRACTION = 0.01;

/** Largest arrival lag or widening believed, as a fraction of the shortest window (a bound on one bad sample). */
const MAX_LAG_FRACTION = 0.1;

/**
 * Learns from what a provider says about its limits, so the limiter's windows line up with the
 * provider's: when each request arrived there (its windows count from the arrival, ours from the
 * send), its real limits (lower ones always win; with `learn`, also higher ones), an exhausted
 * budget that our own log does not know about (another client on the same key), and a 429 our
 * windows did not foresee (count every entry longer for a while).
 */
export class ProviderFeedback {
  private widenings: { atMs: number; lagMs: number }[] = [];
  private extraMs = 0;

  constructor(
    private readonly target: FeedbackTarget,
    /** Adopt the provider's limits in both directions (for limiters made by `Limiter.forProvider`). */
    private readonly learn: boolean,
    /** Lines the requests window up with the provider's counter (when the limiter has one). */
    private readonly alignment?: CounterAlignment,
  ) {}

  /** Reads one response, SDK result or error; returns the parsed headers (undefined when there were none). */
  observe(source: unknown, options: ObserveOptions = {}): ProviderRateLimitInfo | undefined {
    const lease = options.lease;
    const failed = source instanceof Error || (isRecord(source) && Number(source.status) >= 400);
    // A response, with or without a usable count: the provider answered it (never refunded).
    if (lease && this.alignment) {
      if (!failed) this.alignment.onAnswered(lease);
      // Only before its release: the release is where the unit comes back.
      else if (!lease.isReleased && isFailureBeforeCounting(source))
        this.alignment.onFailedBeforeCounting(lease);
    }
    const headers = readHeaders(source);
    if (!headers) return undefined;
    const now = this.target.now();
    // A widening after a 429 lasts one window: narrow it again once the window has passed.
    if (this.extraMs > 0) this.refreshWidening(now);
    const info = parseRateLimitHeaders(headers);
    const processing = headers.get('openai-processing-ms');
    const processingMs = processing === null || processing === '' ? NaN : Number(processing);
    const arrivalKnown = Number.isFinite(processingMs) && processingMs >= 0;
    if (lease && !lease.isReleased) {
      // It arrived no later than the response left the provider: now, minus the way back, minus processing.
      if (arrivalKnown) {
        const windows = this.target.windows().filter((w) => !w.paced);
        // Capped: a response read long after its headers came (a stream) must not stall the window.
        const capMs = windows.length
          ? MAX_LAG_FRACTION * Math.min(...windows.map((w) => w.configuredWindowMs))
          : 0;
        lease.noteArrivalLag(Math.min(now - processingMs - lease.chargedAtMs, capMs));
      }
    }
    const requests = info.requests;
    if (lease && this.alignment && requests?.limit !== undefined && requests.remaining !== undefined) {
      // An error that carries the count (a 429) may or may not have been counted; a response was.
      this.alignment.onCount(
        lease,
        requests.limit - requests.remaining,
        failed ? 'unknown' : 'counted',
        arrivalKnown,
      );
    }
    // An error may come after retries the SDK made inside the lease (its last attempt left long
    // after the lease began): only a response's reset is counted from the lease's start.
    const sentAtMs = lease && !failed ? lease.chargedAtMs : undefined;
    // The provider's `remaining` was read when this request arrived; ours started after it are not in it.
    this.applyBudget(
      'requests',
      info.requests,
      lease ? this.target.startedSince(lease.grantIndex) : 0,
      sentAtMs,
      info.retryAfterMs,
    );
    this.applyBudget('tokens', info.tokens, 0, sentAtMs, info.retryAfterMs);
    return info;
  }

  /**
   * A 429 that our own windows allowed means the provider's window ends `retryAfterMs` later
   * than ours: count our entries that much longer.
   */
  onUnexpectedRateLimit(retryAfterMs: number): void {
    // A pause as long as the longest window outlasts every entry the widening would stretch, ours
    // and the provider's: both windows start afresh when it ends, and widening would only slow
    // them (an outage of a key answering 429 for seconds cost a whole round after it).
    const windows = this.target.windows().filter((w) => !w.paced);
    const longestMs = Math.max(...windows.map((w) => w.configuredWindowMs + w.marginMs));
    if (retryAfterMs >= longestMs) return;
    this.widen(this.target.now(), this.currentLagMs() + retryAfterMs);
  }

  /** The arrival lag the limiter currently allows for. */
  currentLagMs(): number {
    const windows = this.target.windows().filter((w) => !w.paced);
    const margin = windows.length ? Math.min(...windows.map((w) => w.marginMs)) : 0;
    return this.extraMs + margin;
  }

  private widen(atMs: number, lagMs: number): void {
    const windows = this.target.windows();
    if (windows.length === 0 || !(lagMs > 0)) return;
    // Every window is counted longer, so the bound is a tenth of the shortest, pacing sub-windows
    // included: a widening learned on a long window must not stall a short one.
    const shortest = Math.min(...windows.map((w) => w.configuredWindowMs));
    this.widenings.push({ atMs, lagMs: Math.min(lagMs, shortest * MAX_LAG_FRACTION) });
    this.refreshWidening(atMs);
  }

  /** Drops widenings older than the longest window (the entries they were for have left) and applies the largest left. */
  private refreshWidening(nowMs: number): void {
    const windows = this.target.windows().filter((w) => !w.paced);
    const margin = Math.min(...windows.map((w) => w.marginMs));
    const horizon = nowMs - Math.max(...windows.map((w) => w.configuredWindowMs + w.marginMs));
    this.widenings = this.widenings.filter((s) => s.atMs >= horizon);
    const lag = this.widenings.length ? Math.max(...this.widenings.map((s) => s.lagMs)) : 0;
    const extra = Math.max(0, lag - margin);
    if (extra !== this.extraMs) {
      this.extraMs = extra;
      this.target.setExtraWindowMs(extra);
    }
  }

  private applyBudget(
    resource: 'requests' | 'tokens',
    budget: RateLimitBudget | undefined,
    startedSince: number,
    /** When the request was sent, if that is known to be its lease's start. */
    sentAtMs: number | undefined,
    /** The retry-after of a 429 carrying this budget. */
    retryAfterMs: number | undefined,
  ): void {
    if (!budget) return;
    const windows = this.target.windows();
    // Providers state per-minute limits: they speak of our shortest window of a minute or less
    // (a lower number lowers it, which is never wrong) and are adopted as-is only by a minute
    // window; a daily window is never lowered to a per-minute number.
    let index = -1;
    windows.forEach((w, i) => {
      if (
        !w.paced &&
        w.resource === resource &&
        w.configuredWindowMs <= MINUTE_MS &&
        (index < 0 || w.configuredWindowMs < windows[index]!.configuredWindowMs)
      )
        index = i;
    });
    if (budget.limit !== undefined && budget.limit > 0 && index >= 0) {
      const current = windows[index]!.limit;
      if (budget.limit < current) this.target.setLimit(index, budget.limit, 'lowered');
      else if (this.learn && budget.limit > current && windows[index]!.configuredWindowMs === MINUTE_MS)
        this.target.setLimit(index, budget.limit, 'learned');
    }
    if (budget.remaining === undefined || budget.resetMs === undefined || !(budget.resetMs > 0)) return;
    // A limit we do not enforce ourselves: what the provider had left when the request arrived,
    // less what we started since, is what we may still start before its reset.
    // A limit we do enforce: the provider has nothing left although our own window has room, so
    // someone else spends this budget. (Not "less what we started since" here: our window frees
    // slots the provider's header could not know of yet, and starting in them is right.)
    if (index >= 0) {
      // `reset` is when the provider's window is whole again (for a sliding window, a whole window
      // after its newest request); a 429's retry-after says when it has room, which may be far sooner.
      if (budget.remaining === 0 && this.target.hasIdleRoom(index))
        this.target.pause(Math.min(budget.resetMs, retryAfterMs ?? Infinity));
      return;
    }
    if (budget.remaining > startedSince) return;
    // The reset was read when the request arrived, not now: counted from when we sent it (the
    // earliest it can have arrived), plus the margin a window of that length would have, the
    // pause ends when the provider's window does, not a round trip later. Without the lease, or
    // for an error, from now.
    const resetMs = budget.resetMs * (1 + RESET_MARGIN_FRACTION);
    const now = this.target.now();
    this.target.pause(sentAtMs === undefined ? budget.resetMs : Math.max(0, sentAtMs + resetMs - now));
  }
}
