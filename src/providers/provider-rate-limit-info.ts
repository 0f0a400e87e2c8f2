/** One resource's budget as a provider reported it in its response headers. */
export interface RateLimitBudget {
  /** The provider's limit for this resource (per its window; per minute for OpenAI and Anthropic). */
  limit?: number;
  /** How much of the limit is left right now. */
  remaining?: number;
  /** Milliseconds until the budget is fully replenished. */
  resetMs?: number;
}

/** Which provider's header dialect the headers were written in. */
export type RateLimitHeaderDialect = 'openai' | 'anthropic' | 'unknown';

/**
 * What a provider's response headers say about its rate limits, normalised across providers.
 * Every field is optional: providers send different subsets, and a proxy may strip them.
 */
export interface ProviderRateLimitInfo {
  /** The header dialect: OpenAI's `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`, or neither. */
  provider: RateLimitHeaderDialect;
  /** Requests budget. */
  requests?: RateLimitBudget;
  /** Tokens budget (Anthropic: the most restrictive of its token limits). */
  tokens?: RateLimitBudget;
  /** Input tokens budget (Anthropic). */
  inputTokens?: RateLimitBudget;
  /** Output tokens budget (Anthropic). */
  outputTokens?: RateLimitBudget;
  /** `retry-after-ms` or `retry-after`, in milliseconds. */
  retryAfterMs?: number;
}
