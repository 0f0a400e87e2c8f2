import type { RateLimitBudget } from './provider-rate-limit-info';

/** Reads a header's count (`"60"`, `"59.0"`); `undefined` unless a finite number ≥ 0. */
export function parseCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+(?:\.\d*)?\s*$/.test(value)) return undefined;
  const count = Number(value);
  return Number.isFinite(count) ? count : undefined;
}

/** Drops a budget's absent fields; `undefined` when nothing is left. */
export function compactBudget(budget: RateLimitBudget): RateLimitBudget | undefined {
  const out: RateLimitBudget = {};
  if (budget.limit !== undefined) out.limit = budget.limit;
  if (budget.remaining !== undefined) out.remaining = budget.remaining;
  if (budget.resetMs !== undefined) out.resetMs = budget.resetMs;
  return Object.keys(out).length ? out : undefined;
}
