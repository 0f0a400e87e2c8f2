// Provider feedback: rate-limit detection in thrown errors, and rate-limit header parsing.
export { detectRateLimit, type DetectRateLimitOptions } from './detect-rate-limit';
export type { RateLimitKind, RateLimitSignal } from './rate-limit-signal';
export {
  parseRateLimitHeaders,
  type ParseRateLimitHeadersOptions,
} from './parse-rate-limit-headers';
export type { ProviderRateLimitInfo, RateLimitBudget, RateLimitHeaderDialect } from './provider-rate-limit-info';
export { parseDuration } from './parse-duration';
export { formatDuration } from './format-duration';
export { parseRetryAfter, parseRetryAfterMs, retryAfterFromHeaders } from './parse-retry-after';
export {
  readHeaders,
  type HeaderGetter,
  type HeaderMap,
  type HeaderRecord,
  type HeaderSource,
  type HeadersLike,
} from './header-source';
