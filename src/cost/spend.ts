import { costOf } from './cost-of';
import type { PriceTable } from './price-table';
import { normalizeUsage, type UsageLike } from './usage';

/**
 * An amount drawn from a budget: dollars and/or tokens directly, or a model and its usage (the
 * dollars come from the price table, the tokens are input + output). For an estimate before the
 * call, pass the expected usage, e.g. `{ model, usage: { inputTokens: 1200, outputTokens: 512 } }`.
 */
export type Spend = SpendAmounts | ModelSpend;

/** Dollars and/or tokens. */
export interface SpendAmounts {
  /** US dollars. @default not counted in dollars */
  usd?: number;
  /** Tokens (input + output). @default not counted in tokens */
  tokens?: number;
}

/** A model and its (real or expected) usage. */
export interface ModelSpend {
  model: string;
  usage: UsageLike;
}

/** Converts a {@link Spend} to amounts, validating them; `what` names it in errors (`estimate`). */
export function spendAmounts(spend: Spend, prices: PriceTable, what: string): SpendAmounts {
  if (typeof spend !== 'object' || spend === null) {
    throw new TypeError(`${what} must be { usd?, tokens? } or { model, usage }, got ${String(spend)}`);
  }
  if ('model' in spend || 'usage' in spend) {
    const { model, usage } = spend as ModelSpend;
    if (typeof model !== 'string') throw new TypeError(`${what}.model must be a string, got ${String(model)}`);
    return { usd: costOf(model, usage, prices), tokens: normalizeUsage(usage).totalTokens };
  }
  const amounts: SpendAmounts = {};
  for (const key of Object.keys(spend)) {
    if (key !== 'usd' && key !== 'tokens') throw new TypeError(`${what}: unknown field '${key}' (expected usd, tokens, or model with usage)`);
  }
  for (const key of ['usd', 'tokens'] as const) {
    const value = spend[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${what}.${key} must be a non-negative number, got ${String(value)}`);
    }
    amounts[key] = value;
  }
  return amounts;
}
