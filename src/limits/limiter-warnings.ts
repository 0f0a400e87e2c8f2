import type { EventEmitter } from 'eventemitter3';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import type { LimiterEvents, LimiterWarningCode, LimiterWarningEvent } from './limiter-events';
import type { ResolvedWindow } from './limiter-options';
import {
  docsOf,
  failuresCounted,
  limitAboveProvider,
  noProviderHeaders,
  noTokensCharged,
} from './limiter-warning-messages';

/** Calls released without any tokens charged before `NO_TOKENS_CHARGED` (enough to rule out a few odd items). */
export const TOKENS_CHECK_AFTER = 20;
/** Calls released without any headers observed before `NO_PROVIDER_HEADERS`. */
export const HEADERS_CHECK_AFTER = 50;
/** A window "has room" for `LIMIT_ABOVE_PROVIDER` when at least this share of its limit (and one unit) is unused. */
const ROOM_SHARE = 0.1;

/**
 * What the checks have seen. Shared by every limiter a throttled node makes (one per throttled
 * flow run), so the node warns once and counts all its calls. @internal
 */
export interface WarningTally {
  released: number;
  tokensCharged: boolean;
  headersSeen: boolean;
  warned: Set<LimiterWarningCode>;
}

/** What the checks need from their limiter. @internal */
export interface WarningOwner extends EventEmitter<LimiterEvents> {
  readonly name: string;
}

/**
 * Run-time checks for misconfigurations a limiter cannot see in its options, each warned at most
 * once (a `warning` event, and `console.warn` unless the limiter has `warnings: false`). The
 * release path pays one field test once every check has decided. See the "Warnings" section of
 * docs/provider-feedback.md.
 * @internal
 */
export class LimiterWarnings {
  /** Whether releases still need counting; the limiter tests this before calling {@link onRelease}. */
  watching: boolean;
  private tally: WarningTally = { released: 0, tokensCharged: false, headersSeen: false, warned: new Set() };
  private enabled = true;
  private readonly hasTokenWindow: boolean;
  /** The provider's numbers from the last headers observed, quoted by `LIMIT_ABOVE_PROVIDER`. */
  private lastInfo: ProviderRateLimitInfo | undefined;

  constructor(
    private readonly owner: WarningOwner,
    private readonly windows: readonly ResolvedWindow[],
    private readonly printToConsole: boolean,
    /** Units used per window now, or `undefined` when the store answers later (no guessing then). */
    private readonly usedNow: () => readonly number[] | undefined,
  ) {
    this.hasTokenWindow = windows.some((w) => w.resource === 'tokens');
    this.watching = this.needsReleases();
  }

  /** The tally, to share with other limiters of the same node. */
  get shared(): WarningTally {
    return this.tally;
  }

  /** Counts with (and warns once for) `tally` from now on: the node's limiters warn as one. */
  shareTally(tally: WarningTally): void {
    this.tally = tally;
    this.watching = this.needsReleases();
  }

  /** No checks at all: for limiters that do not front a provider (a flow's sub-flow starts) or whose parent checks (a tenant's). */
  disable(): void {
    this.enabled = false;
    this.watching = false;
  }

  /** A lease was released: `charged` tokens at acquire, `used` reported at release. */
  onRelease(charged: number, used: number | undefined): void {
    const t = this.tally;
    if (charged > 0 || (used !== undefined && used > 0)) t.tokensCharged = true;
    t.released++;
    if (this.hasTokenWindow && !t.tokensCharged && t.released >= TOKENS_CHECK_AFTER) {
      this.warn('NO_TOKENS_CHARGED', () => noTokensCharged(this.owner.name, this.windows, t.released));
    }
    if (!t.headersSeen && t.released >= HEADERS_CHECK_AFTER) {
      this.warn('NO_PROVIDER_HEADERS', () => noProviderHeaders(this.owner.name, t.released));
    }
    this.watching = this.needsReleases();
  }

  /** `observe` read a response or error: headers when `info` is defined. */
  onObserve(info: ProviderRateLimitInfo | undefined): void {
    if (!info) return;
    this.tally.headersSeen = true;
    this.lastInfo = info;
  }

  /** The provider refused a call; warns when every window had room to spare (our limits are above the provider's). */
  onRateLimit(source: string | undefined, kind: string | undefined): void {
    // An overload says nothing about our limits; without windows there is no limit to be above.
    if (
      !this.enabled ||
      kind === 'overloaded' ||
      this.windows.length === 0 ||
      this.tally.warned.has('LIMIT_ABOVE_PROVIDER')
    )
      return;
    const used = this.usedNow();
    if (!used) return;
    const roomy = this.windows.every(
      (w, i) => w.limit - (used[i] ?? 0) >= Math.max(1, Math.ceil(w.limit * ROOM_SHARE)),
    );
    if (roomy)
      this.warn('LIMIT_ABOVE_PROVIDER', () =>
        limitAboveProvider(this.owner.name, source, this.windows, used, this.lastInfo),
      );
  }

  /** A 429 came within a window of a failure presumed uncounted: the provider counts its failures. */
  onFailuresCounted(): void {
    this.warn('FAILURES_COUNTED', () => failuresCounted(this.owner.name));
  }

  private needsReleases(): boolean {
    const t = this.tally;
    if (!this.enabled || this.windows.length === 0) return false;
    const tokensOpen = this.hasTokenWindow && !t.tokensCharged && !t.warned.has('NO_TOKENS_CHARGED');
    const headersOpen = !t.headersSeen && !t.warned.has('NO_PROVIDER_HEADERS');
    return tokensOpen || headersOpen;
  }

  private warn(code: LimiterWarningCode, message: () => string): void {
    const warned = this.tally.warned;
    if (!this.enabled || warned.has(code)) return;
    warned.add(code);
    const event: LimiterWarningEvent = {
      code,
      message: message(),
      limiter: this.owner.name,
      docs: docsOf(code),
    };
    // Advice only: a listener that throws must not fail the release or the report it came from.
    try {
      if (this.owner.listenerCount('warning')) this.owner.emit('warning', event);
    } catch {
      // ignored, see above
    }
    if (this.printToConsole) console.warn(`[throttleflow] ${event.message}`);
  }
}
