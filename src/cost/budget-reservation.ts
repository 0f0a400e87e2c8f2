import { BudgetLedger } from './budget-ledger';
import type { PriceTable } from './price-table';
import { spendAmounts, type Spend, type SpendAmounts } from './spend';

/** Where a reservation is: holding its estimate, or done one way or the other. */
export type BudgetReservationState = 'open' | 'settled' | 'cancelled';

/**
 * An estimate held against a budget (and its parents) while a call is in flight. Settle it with
 * the real usage after the call, or cancel it when the call never happened. `using` cancels it on
 * scope exit unless it was settled.
 */
export class BudgetReservation implements Disposable {
  /** The amounts held: the estimate in dollars and/or tokens. */
  readonly estimate: Readonly<SpendAmounts>;
  readonly #chain: readonly BudgetLedger[];
  readonly #prices: PriceTable;
  #state: BudgetReservationState = 'open';

  /** @internal Created by `Budget.reserve`. */
  constructor(chain: readonly BudgetLedger[], estimate: SpendAmounts, prices: PriceTable) {
    this.#chain = chain;
    this.estimate = Object.freeze({ ...estimate });
    this.#prices = prices;
  }

  get state(): BudgetReservationState {
    return this.#state;
  }

  /**
   * Books the real spend in place of the estimate. May take spending past a cap: the call has
   * already happened; later reservations are then refused. Without `actual`, the estimate is booked.
   * @throws Error when the reservation is already settled or cancelled.
   * @throws UnknownModelError / TypeError when `actual` cannot be priced; the reservation stays open.
   */
  settle(actual?: Spend): void {
    if (this.#state !== 'open')
      throw new Error(`Cannot settle a budget reservation that is already ${this.#state}`);
    const amounts = actual === undefined ? this.estimate : spendAmounts(actual, this.#prices, 'actual');
    BudgetLedger.requireDimensions(this.#chain, amounts, 'settle(actual)');
    BudgetLedger.release(this.#chain, this.estimate, amounts);
    this.#state = 'settled';
  }

  /** Releases the estimate without spending anything. Does nothing once settled or cancelled. */
  cancel(): void {
    if (this.#state !== 'open') return;
    BudgetLedger.release(this.#chain, this.estimate, undefined);
    this.#state = 'cancelled';
  }

  /** Cancels the reservation unless it was settled. */
  [Symbol.dispose](): void {
    this.cancel();
  }
}
