import { compactBudget, parseCount } from './budget-fields';
import type { HeaderMap } from './header-source';
import { parseDuration } from './parse-duration';
import type { RateLimitBudget } from './provider-rate-limit-info';

/** OpenAI's budgets from `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as `6m0s`). */
export function parseOpenAiBudgets(headers: HeaderMap): {
  requests?: RateLimitBudget;
  tokens?: RateLimitBudget;
} {
  const out: { requests?: RateLimitBudget; tokens?: RateLimitBudget } = {};
  for (const resource of ['requests', 'tokens'] as const) {
    const budget = compactBudget({
      limit: parseCount(headers.get(`x-ratelimit-limit-${resource}`)),
      remaining: parseCount(headers.get(`x-ratelimit-remaining-${resource}`)),
      resetMs: parseDuration(headers.get(`x-ratelimit-reset-${resource}`)),
    });
    if (budget) out[resource] = budget;
  }
  return out;
}
