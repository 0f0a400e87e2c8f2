import { compactBudget, parseCount } from './budget-fields';
import type { HeaderMap } from './header-source';
import type { RateLimitBudget } from './provider-rate-limit-info';

/** Anthropic's budgets, keyed as in `ProviderRateLimitInfo`. */
export interface AnthropicBudgets {
  requests?: RateLimitBudget;
  tokens?: RateLimitBudget;
  inputTokens?: RateLimitBudget;
  outputTokens?: RateLimitBudget;
}

const RESOURCES = [
  ['requests', 'requests'],
  ['tokens', 'tokens'],
  ['input-tokens', 'inputTokens'],
  ['output-tokens', 'outputTokens'],
] as const;

/**
 * Anthropic's budgets from `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
 * {limit,remaining,reset}`. Resets are RFC 3339 times, turned into milliseconds from `nowMs`.
 */
export function parseAnthropicBudgets(headers: HeaderMap, nowMs: number): AnthropicBudgets {
  const out: AnthropicBudgets = {};
  for (const [header, key] of RESOURCES) {
    const budget = compactBudget({
      limit: parseCount(headers.get(`anthropic-ratelimit-${header}-limit`)),
      remaining: parseCount(headers.get(`anthropic-ratelimit-${header}-remaining`)),
      resetMs: parseResetTime(headers.get(`anthropic-ratelimit-${header}-reset`), nowMs),
    });
    if (budget) out[key] = budget;
  }
  return out;
}

// RFC 3339 requires a date, a `T` (or space) and a zone; reject anything looser before Date.parse.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function parseResetTime(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || !RFC3339.test(value.trim())) return undefined;
  const atMs = Date.parse(value.trim().replace(' ', 'T'));
  if (!Number.isFinite(atMs) || !Number.isFinite(nowMs)) return undefined;
  return Math.max(0, atMs - nowMs);
}
