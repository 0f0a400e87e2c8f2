import type { RateLimitScope } from '../errors/rate-limit-hit';
import type { ProviderRateLimitInfo } from './provider-rate-limit-info';

/**
 * What kind of refusal an error is:
 * - `rate_limit`: a per-window limit (HTTP 429); wait and retry.
 * - `overloaded`: the provider is overloaded (529, Anthropic `overloaded_error`, a 503 asking to
 *   come back later); back off with jitter and retry.
 * - `quota_exhausted`: a daily (long-period) quota ran out, or the provider said not to retry;
 *   stop.
 * - `spend_limit`: the account's spend or billing limit was reached; stop.
 */
export type RateLimitKind = 'rate_limit' | 'overloaded' | 'quota_exhausted' | 'spend_limit';

/** A rate limit, overload or exhausted quota recognised by `detectRateLimit`. */
export interface RateLimitSignal {
  /** What kind of refusal it is. */
  kind: RateLimitKind;
  /** Whether retrying can help: false for exhausted quotas, spend limits and `x-should-retry: false`. */
  retryable: boolean;
  /**
   * How long to wait, in milliseconds: `retry-after-ms`, `retry-after`, Gemini's
   * `RetryInfo.retryDelay`, or else the reset of the budget that reached 0.
   */
  retryAfterMs?: number;
  /** Which limit was hit, when the error says so. */
  scope?: RateLimitScope;
  /**
   * Who refused: `'openai'`, `'anthropic'`, `'google'` when recognisable, otherwise the shape it
   * came in (`'vercel-ai'`, `'axios'`, `'http'`, `'unknown'`), or a `RateLimitHit`'s own source.
   */
  source: string;
  /** The HTTP status, when there was one. */
  status?: number;
  /** The structured code that decided the kind, e.g. `insufficient_quota`, `rate_limit_error`. */
  code?: string;
  /** The provider's quota id (Gemini `QuotaFailure`), when given. */
  quotaId?: string;
  /** The response headers, lower-cased, when the error carried them. */
  headers?: Readonly<Record<string, string>>;
  /** The rate-limit headers, parsed. */
  rateLimits?: ProviderRateLimitInfo;
}
