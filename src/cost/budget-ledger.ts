import { BudgetExceededError, type BudgetDimension, type BudgetPeriod } from './budget-exceeded-error';
import type { SpendAmounts } from './spend';
import { InvalidOptionError } from '../validation/options';

/** Internal: the mutable state of one budget; `Budget` is its public face. */
export interface LedgerCaps {
  maxUsd?: number;
  maxTokens?: number;
  period: BudgetPeriod;
}

const DAY_MS = 86_400_000;
// Sums of dollar amounts drift in the last bits (0.1 + 0.2 > 0.3); a billionth of a dollar or
// token is below anything a provider bills.
const EPSILON = 1e-9;

const DIMENSIONS = [
  { dimension: 'usd', cap: 'maxUsd', spent: 'spentUsd', reserved: 'reservedUsd', option: 'maxUsd' },
  {
    dimension: 'tokens',
    cap: 'maxTokens',
    spent: 'spentTokens',
    reserved: 'reservedTokens',
    option: 'maxTokens',
  },
] as const satisfies readonly {
  dimension: BudgetDimension;
  cap: keyof LedgerCaps;
  spent: keyof BudgetLedger;
  reserved: keyof BudgetLedger;
  option: string;
}[];

export class BudgetLedger {
  spentUsd = 0;
  spentTokens = 0;
  reservedUsd = 0;
  reservedTokens = 0;
  refusals = 0;
  /** UTC day number the spend belongs to (day periods only). */
  day: number | undefined;
  readonly tenants = new Map<string, BudgetLedger>();

  constructor(
    public caps: LedgerCaps,
    readonly wallClock: () => number,
    readonly parent: BudgetLedger | undefined,
    readonly name: string | undefined,
    readonly tenant: string | undefined,
  ) {
    if (caps.period === 'day') this.day = this.#today();
  }

  /** This ledger and its ancestors, nearest first. */
  chain(): BudgetLedger[] {
    const chain: BudgetLedger[] = [];
    chain.push(this);
    for (let l = this.parent; l !== undefined; l = l.parent) chain.push(l);
    return chain;
  }

  /** Starts a new day when the wall clock has passed UTC midnight (never goes back a day). */
  roll(): void {
    if (this.caps.period !== 'day') {
      this.day = undefined;
      return;
    }
    const today = this.#today();
    if (this.day === undefined || today > this.day) {
      this.day = today;
      this.spentUsd = 0;
      this.spentTokens = 0;
      this.refusals = 0;
    }
  }

  /** Ms since epoch of the next UTC midnight, for a day period. */
  resetsAtMs(): number | undefined {
    return this.caps.period === 'day' && this.day !== undefined ? (this.day + 1) * DAY_MS : undefined;
  }

  /** UTC midnight that started the current day, for a day period. */
  periodStartMs(): number | undefined {
    return this.caps.period === 'day' && this.day !== undefined ? this.day * DAY_MS : undefined;
  }

  /** Zeroes spend and refusals here and in every tenant below (reservations stay held). */
  reset(): void {
    this.spentUsd = 0;
    this.spentTokens = 0;
    this.refusals = 0;
    for (const tenant of this.tenants.values()) tenant.reset();
  }

  /** Throws when a cap somewhere up the chain needs a dimension `amounts` lacks. */
  static requireDimensions(chain: readonly BudgetLedger[], amounts: SpendAmounts, what: string): void {
    for (const ledger of chain) {
      for (const d of DIMENSIONS) {
        if (ledger.caps[d.cap] !== undefined && amounts[d.dimension] === undefined) {
          throw new InvalidOptionError(
            what,
            `${what} needs ${d.dimension === 'usd' ? 'usd' : 'tokens'} (or { model, usage }): ` +
              `${ledger.describe()} has ${d.option} ${ledger.caps[d.cap]}`,
          );
        }
      }
    }
  }

  /**
   * Holds `amounts` on every ledger of `chain`, or throws {@link BudgetExceededError} for the
   * first cap it would pass, counting the refusal there and on the ledger asked.
   */
  static reserve(chain: readonly BudgetLedger[], amounts: SpendAmounts): void {
    for (const ledger of chain) ledger.roll();
    for (const ledger of chain) {
      for (const d of DIMENSIONS) {
        const cap = ledger.caps[d.cap];
        const estimated = amounts[d.dimension] ?? 0;
        if (cap === undefined || ledger[d.spent] + ledger[d.reserved] + estimated - cap <= EPSILON) continue;
        ledger.refusals++;
        if (ledger !== chain[0]) chain[0]!.refusals++;
        const resetsAtMs = ledger.resetsAtMs();
        throw new BudgetExceededError({
          dimension: d.dimension,
          spent: ledger[d.spent],
          reserved: ledger[d.reserved],
          estimated,
          cap,
          period: ledger.caps.period,
          ...(ledger.name !== undefined ? { budgetName: ledger.name } : {}),
          ...(ledger.tenant !== undefined ? { tenant: ledger.tenant } : {}),
          ...(resetsAtMs !== undefined ? { resetsAtMs } : {}),
        });
      }
    }
    for (const ledger of chain) {
      ledger.reservedUsd += amounts.usd ?? 0;
      ledger.reservedTokens += amounts.tokens ?? 0;
    }
  }

  /** Releases a reservation's hold and books `actual` (nothing, for a cancel) as spent. */
  static release(
    chain: readonly BudgetLedger[],
    reserved: SpendAmounts,
    actual: SpendAmounts | undefined,
  ): void {
    for (const ledger of chain) {
      ledger.roll();
      ledger.reservedUsd = nonNegative(ledger.reservedUsd - (reserved.usd ?? 0));
      ledger.reservedTokens = nonNegative(ledger.reservedTokens - (reserved.tokens ?? 0));
      if (actual !== undefined) {
        ledger.spentUsd += actual.usd ?? 0;
        ledger.spentTokens += actual.tokens ?? 0;
      }
    }
  }

  /** What a reservation through this ledger could still take of a dimension (capped ancestors included). */
  remaining(dimension: BudgetDimension): number | undefined {
    const d = DIMENSIONS.find((x) => x.dimension === dimension)!;
    let remaining: number | undefined;
    for (const ledger of this.chain()) {
      ledger.roll();
      const cap = ledger.caps[d.cap];
      if (cap === undefined) continue;
      const left = Math.max(0, cap - ledger[d.spent] - ledger[d.reserved]);
      remaining = remaining === undefined ? left : Math.min(remaining, left);
    }
    return remaining;
  }

  describe(): string {
    if (this.tenant !== undefined) return `the budget of tenant '${this.tenant}'`;
    return this.name !== undefined ? `budget '${this.name}'` : 'the budget';
  }

  #today(): number {
    return Math.floor(this.wallClock() / DAY_MS);
  }
}

function nonNegative(x: number): number {
  return x < EPSILON ? 0 : x;
}
