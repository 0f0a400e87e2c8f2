import { z } from 'zod';
import { InvalidOptionError, opt, parseOptions } from '../validation/options';
import type { BudgetPeriod } from './budget-exceeded-error';
import { BudgetLedger, type LedgerCaps } from './budget-ledger';
import { BudgetReservation } from './budget-reservation';
import { defaultPriceTable, PriceTable } from './price-table';
import { spendAmounts, type Spend } from './spend';

/** The caps of a budget. A budget without caps only keeps count. */
export interface BudgetCaps {
  /**
   * Most US dollars to spend per period.
   * @default no dollar cap
   */
  maxUsd?: number;
  /**
   * Most tokens (input + output) to spend per period.
   * @default no token cap
   */
  maxTokens?: number;
  /**
   * `'run'`: the caps cover the budget's whole life (until `reset()`). `'day'`: spending starts
   * from zero at each UTC midnight of `wallClock`.
   * @default 'run' (a tenant budget: its parent's period)
   */
  period?: BudgetPeriod;
}

/** Options of {@link Budget}. */
export interface BudgetOptions extends BudgetCaps {
  /**
   * Wall-clock time in ms since the epoch; daily budgets roll over at UTC midnight by it.
   * (Not the limiter's monotonic `Clock`: a day boundary is a calendar fact.)
   * @default Date.now
   */
  wallClock?: () => number;
  /**
   * Prices for spends given as `{ model, usage }`.
   * @default defaultPriceTable
   */
  prices?: PriceTable;
  /**
   * Name shown in errors and stats.
   * @default undefined
   */
  name?: string;
}

/** A budget's state for the current period. */
export interface BudgetStats {
  /** Dollars spent by settled calls. */
  spentUsd: number;
  /** Dollars held by reservations in flight. */
  reservedUsd: number;
  /** Dollars a new reservation could still take here (parents' caps included); `undefined` when uncapped. */
  remainingUsd: number | undefined;
  /** Tokens spent by settled calls. */
  spentTokens: number;
  /** Tokens held by reservations in flight. */
  reservedTokens: number;
  /** Tokens a new reservation could still take here (parents' caps included); `undefined` when uncapped. */
  remainingTokens: number | undefined;
  /** Reservations refused in this period (here, or by a parent's cap on a call made here). */
  refusals: number;
  maxUsd: number | undefined;
  maxTokens: number | undefined;
  period: BudgetPeriod;
  /** Start of the current day (UTC midnight, ms since epoch) for a daily budget. */
  periodStartMs: number | undefined;
}

let pendingTenant: { ledger: BudgetLedger; prices: PriceTable } | undefined;

function caps(o: BudgetCaps, defaultPeriod: BudgetPeriod): LedgerCaps {
  return {
    period: o.period ?? defaultPeriod,
    ...(o.maxUsd !== undefined ? { maxUsd: o.maxUsd } : {}),
    ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
  };
}

const capsShape = {
  maxUsd: opt.positiveNumber().optional(),
  maxTokens: opt.positiveInt().optional(),
  period: opt.oneOf(['run', 'day']).optional(),
};
const capsSchema = z.strictObject(capsShape);
const optionsSchema = z.strictObject({
  ...capsShape,
  wallClock: opt.func().optional(),
  prices: opt.instance((v): v is PriceTable => v instanceof PriceTable, 'a PriceTable').optional(),
  name: opt.string().optional(),
});

/**
 * Spend caps in dollars and/or tokens, per run or per UTC day, with tenant budgets that also
 * draw on their parent. Two-phase: `reserve(estimate)` before a call — refused with a
 * `BudgetExceededError` when spent + reserved + estimate would pass a cap — then
 * `reservation.settle(actual)` after it (or `cancel()`). Calls already in flight may finish and
 * take spending past the cap; new reservations are then refused.
 *
 * ```ts
 * const budget = new Budget({ maxUsd: 0.01 });
 * const r = await budget.reserve({ model: 'gpt-4o-mini', usage: { inputTokens: 1200, outputTokens: 256 } });
 * try { const res = await call(); r.settle({ model: 'gpt-4o-mini', usage: res.usage }); } finally { r.cancel(); }
 * ```
 */
export class Budget {
  /** Tenant id when this is a tenant budget. */
  readonly tenant: string | undefined;
  readonly #ledger: BudgetLedger;
  readonly #prices: PriceTable;
  readonly #tenants = new Map<string, Budget>();

  /** @throws InvalidOptionError naming the option and value, e.g. `maxUsd must be a positive number, got -1`. */
  constructor(options: BudgetOptions = {}) {
    // forTenant builds tenant budgets through this constructor (private fields need it) by
    // handing over their ledger here.
    const child = pendingTenant;
    pendingTenant = undefined;
    if (child !== undefined) {
      this.#ledger = child.ledger;
      this.#prices = child.prices;
      this.tenant = child.ledger.tenant;
      return;
    }
    const o = parseOptions(optionsSchema, options, 'Budget');
    this.#prices = o.prices ?? defaultPriceTable;
    this.tenant = undefined;
    this.#ledger = new BudgetLedger(
      caps(o, 'run'),
      (o.wallClock as (() => number) | undefined) ?? Date.now,
      undefined,
      o.name,
      undefined,
    );
  }

  /**
   * Holds `estimate` against this budget and every parent.
   * @returns a reservation to settle with the real usage after the call (or cancel).
   * @throws BudgetExceededError (as a rejection) when the estimate would take spending past a cap.
   * @throws TypeError when a cap is in dollars (tokens) and the estimate has none.
   */
  async reserve(estimate: Spend): Promise<BudgetReservation> {
    const amounts = spendAmounts(estimate, this.#prices, 'estimate');
    const chain = this.#ledger.chain();
    BudgetLedger.requireDimensions(chain, amounts, 'reserve(estimate)');
    BudgetLedger.reserve(chain, amounts);
    return new BudgetReservation(chain, amounts, this.#prices);
  }

  /**
   * The budget of tenant `id`, created on first use with `caps` (period defaults to this
   * budget's). Its reservations also draw on this budget, so both caps hold. Passing caps for an
   * existing tenant replaces them and keeps its spending.
   * @throws InvalidOptionError for an empty id or invalid caps.
   */
  forTenant(id: string, tenantCaps?: BudgetCaps): Budget {
    if (typeof id !== 'string' || id === '')
      throw new InvalidOptionError('id', `tenant id must be a non-empty string, got ${String(id)}`);
    const existing = this.#tenants.get(id);
    if (existing !== undefined && tenantCaps === undefined) return existing;
    const parsed = caps(
      parseOptions(capsSchema, tenantCaps ?? {}, `Budget.forTenant('${id}')`),
      this.#ledger.caps.period,
    );
    if (existing !== undefined) {
      existing.#ledger.caps = parsed;
      return existing;
    }
    const ledger = new BudgetLedger(parsed, this.#ledger.wallClock, this.#ledger, this.#ledger.name, id);
    this.#ledger.tenants.set(id, ledger);
    pendingTenant = { ledger, prices: this.#prices };
    const tenant = new Budget();
    this.#tenants.set(id, tenant);
    return tenant;
  }

  /** Spent, held and remaining amounts for the current period. */
  stats(): BudgetStats {
    const l = this.#ledger;
    l.roll();
    return {
      spentUsd: l.spentUsd,
      reservedUsd: l.reservedUsd,
      remainingUsd: l.remaining('usd'),
      spentTokens: l.spentTokens,
      reservedTokens: l.reservedTokens,
      remainingTokens: l.remaining('tokens'),
      refusals: l.refusals,
      maxUsd: l.caps.maxUsd,
      maxTokens: l.caps.maxTokens,
      period: l.caps.period,
      periodStartMs: l.periodStartMs(),
    };
  }

  /**
   * Starts a new run: spending and refusals go back to zero here and in every tenant budget.
   * Reservations in flight stay held and are booked when they settle.
   */
  reset(): void {
    this.#ledger.reset();
  }
}
