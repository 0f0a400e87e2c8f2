import { formatDuration } from '../providers/format-duration';
import type { ProviderRateLimitInfo, RateLimitBudget } from '../providers/provider-rate-limit-info';
import type { LimiterWarningCode } from './limiter-events';
import type { ResolvedWindow } from './limiter-options';

/** The guide's section on each warning (GitHub's anchor for a `### CODE` heading). */
export function docsOf(code: LimiterWarningCode): string {
  return `docs/provider-feedback.md#${code.toLowerCase()}`;
}

/** `200000 tokens per minute`, `20 requests per 10 s`. */
function describeWindow(
  w: Pick<ResolvedWindow, 'resource' | 'limit' | 'configuredWindowMs'>,
  used?: number,
): string {
  const per =
    w.configuredWindowMs === 60_000
      ? 'minute'
      : w.configuredWindowMs === 86_400_000
        ? 'day'
        : formatDuration(w.configuredWindowMs);
  return used === undefined
    ? `${w.limit} ${w.resource} per ${per}`
    : `${used} of ${w.limit} ${w.resource} per ${per} used`;
}

/** `requests: limit 20, 0 remaining, resets in 30s; retry after 2s`, or `undefined` when the headers held none of these. */
function describeProvider(info: ProviderRateLimitInfo): string | undefined {
  const budget = (name: string, b: RateLimitBudget | undefined): string | undefined => {
    if (!b) return undefined;
    const parts = [
      b.limit === undefined ? undefined : `limit ${b.limit}`,
      b.remaining === undefined ? undefined : `${b.remaining} remaining`,
      b.resetMs === undefined ? undefined : `resets in ${formatDuration(b.resetMs)}`,
    ].filter((p): p is string => p !== undefined);
    return parts.length ? `${name}: ${parts.join(', ')}` : undefined;
  };
  const parts = [
    budget('requests', info.requests),
    budget('tokens', info.tokens),
    budget('input tokens', info.inputTokens),
    budget('output tokens', info.outputTokens),
    info.retryAfterMs === undefined ? undefined : `retry after ${formatDuration(info.retryAfterMs)}`,
  ].filter((p): p is string => p !== undefined);
  return parts.length ? parts.join('; ') : undefined;
}

export function failuresCounted(name: string): string {
  return (
    `Limiter '${name}' took back the window units of failed attempts (5xx, dropped connections) as the provider ` +
    'usually does not count them, then met a rate limit within the same window: this provider counts them. Failed ' +
    'attempts now keep their units until a later response proves otherwise. Set refundFailedAttempts: false to ' +
    `start that way. See ${docsOf('FAILURES_COUNTED')}`
  );
}

export function noTokensCharged(name: string, windows: readonly ResolvedWindow[], calls: number): string {
  const tokenWindows = windows.filter((w) => w.resource === 'tokens').map((w) => describeWindow(w));
  return (
    `Limiter '${name}' has a token limit (${tokenWindows.join(', ')}) but none of its first ${calls} calls was charged ` +
    'any tokens, so the token limit is not enforced. Give each call its token estimate: override tokensFor(item) on a ' +
    'throttled node, or pass { tokens } to limiter.acquire() / run(); or report the real usage at release (usageOf, ' +
    `lease.release({ tokens })). See ${docsOf('NO_TOKENS_CHARGED')}`
  );
}

export function noProviderHeaders(name: string, calls: number): string {
  return (
    `Limiter '${name}' has served ${calls} calls without seeing the headers of any response or error, so it cannot ` +
    "tell when its requests reached the provider, nor the provider's own limits and remaining budget. Give the " +
    'SDK client throttledFetch(limiter) as its fetch (new OpenAI({ fetch: throttledFetch(limiter) })): it sees every ' +
    "attempt's headers, retries included. Or return the whole response from the call (an SDK's withResponse() " +
    'result, a fetch Response, or { data, headers }) so a throttled node or fallback chain observes it, or call ' +
    'limiter.observe(response, { lease }) yourself before the release. If this API sends no headers, set ' +
    `warnings: false. See ${docsOf('NO_PROVIDER_HEADERS')}`
  );
}

export function limitAboveProvider(
  name: string,
  source: string | undefined,
  windows: readonly ResolvedWindow[],
  used: readonly number[],
  info: ProviderRateLimitInfo | undefined,
): string {
  const room = windows.map((w, i) => describeWindow(w, used[i] ?? 0)).join(', ');
  const provider = info && describeProvider(info);
  return (
    `Limiter '${name}' was rate limited${source && source !== 'unknown' ? ` by ${source}` : ''} (429) while its own windows had room ` +
    `(${room}): its limits are probably above the provider's, or another client spends the same key. ` +
    (provider
      ? `The provider's last rate-limit headers said: ${provider}. `
      : "No rate-limit headers were observed to tell the provider's numbers. ") +
    "Set the limiter's limits to the provider's (Limiter.forProvider adopts them from the headers). " +
    `See ${docsOf('LIMIT_ABOVE_PROVIDER')}`
  );
}
