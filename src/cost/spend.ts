import { isRecord } from '../util/is-record';
import { didYouMean, formatValue, InvalidOptionError } from '../validation/options';
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

// Every field a Spend may have, for "did you mean" on a misspelt one.
const SPEND_FIELDS = ['usd', 'tokens', 'model', 'usage'] as const;

/**
 * Converts a {@link Spend} to amounts, validating them; `what` names it in errors (`estimate`).
 * @throws InvalidOptionError naming the field and its value.
 */
export function spendAmounts(spend: Spend, prices: PriceTable, what: string): SpendAmounts {
  if (!isRecord(spend)) {
    throw new InvalidOptionError(
      what,
      `${what} must be { usd?, tokens? } or { model, usage }, got ${formatValue(spend)}`,
    );
  }
  if ('model' in spend || 'usage' in spend) {
    const { model, usage } = spend as unknown as ModelSpend;
    if (typeof model !== 'string') {
      throw new InvalidOptionError(
        `${what}.model`,
        `${what}.model must be a string, got ${formatValue(model)}`,
      );
    }
    return { usd: costOf(model, usage, prices), tokens: normalizeUsage(usage).totalTokens };
  }
  const amounts: SpendAmounts = {};
  for (const key of Object.keys(spend)) {
    if (key !== 'usd' && key !== 'tokens') {
      throw new InvalidOptionError(
        `${what}.${key}`,
        `${what}: unknown field '${key}'${didYouMean(key, SPEND_FIELDS)} (expected usd, tokens, or model with usage)`,
      );
    }
  }
  for (const key of ['usd', 'tokens'] as const) {
    const value = spend[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(
        `${what}.${key}`,
        `${what}.${key} must be a non-negative number, got ${formatValue(value)}`,
      );
    }
    amounts[key] = value;
  }
  return amounts;
}
