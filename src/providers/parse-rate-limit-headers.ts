import { parseAnthropicBudgets } from './anthropic-rate-limit-headers';
import { readHeaders } from './header-source';
import { parseOpenAiBudgets } from './openai-rate-limit-headers';
import { retryAfterFromHeaders } from './parse-retry-after';
import type { ProviderRateLimitInfo } from './provider-rate-limit-info';

/** Options of {@link parseRateLimitHeaders}. */
export interface ParseRateLimitHeadersOptions {
  /**
   * The current wall-clock time in milliseconds, for RFC 3339 resets and HTTP-date retry-afters.
   * @default Date.now()
   */
  nowMs?: number;
}

/**
 * Reads a provider's rate-limit headers into a {@link ProviderRateLimitInfo}. Accepts a
 * `Headers`, a plain record (any case), a `Map`, or anything carrying headers (a fetch
 * `Response`, an SDK error, a `withResponse()` result). Pure and never throws; unknown input
 * gives `{ provider: 'unknown' }`.
 */
export function parseRateLimitHeaders(
  source: unknown,
  options: ParseRateLimitHeadersOptions = {},
): ProviderRateLimitInfo {
  const headers = readHeaders(source);
  if (!headers) return { provider: 'unknown' };
  const nowMs = options.nowMs ?? Date.now();

  const anthropic = parseAnthropicBudgets(headers, nowMs);
  const openai = parseOpenAiBudgets(headers);
  const info: ProviderRateLimitInfo = Object.keys(anthropic).length
    ? { provider: 'anthropic', ...anthropic }
    : Object.keys(openai).length
      ? { provider: 'openai', ...openai }
      : { provider: 'unknown' };
  const retryAfterMs = retryAfterFromHeaders(headers, nowMs);
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  return info;
}
