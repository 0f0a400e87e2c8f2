/**
 * `throttleflow/providers`: rate-limit detection in thrown errors and responses, and provider header parsing.
 * @module throttleflow/providers
 */
export { detectRateLimit, type DetectRateLimitOptions } from './detect-rate-limit';
export type { RateLimitKind, RateLimitSignal } from './rate-limit-signal';
export { parseRateLimitHeaders, type ParseRateLimitHeadersOptions } from './parse-rate-limit-headers';
export type {
  ProviderRateLimitInfo,
  RateLimitBudget,
  RateLimitHeaderDialect,
} from './provider-rate-limit-info';
export { parseDuration } from './parse-duration';
export { formatDuration } from './format-duration';
export { parseRetryAfter, parseRetryAfterMs, retryAfterFromHeaders } from './parse-retry-after';
export type { HeaderGetter, HeaderMap, HeaderRecord, HeaderSource, HeadersLike } from './header-source';
