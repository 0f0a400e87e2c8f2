import { abortReason } from '../util/clock';
import { InvalidOptionError } from '../validation/options';
import type { Budget } from './budget';
import { isBudgetExceededError, type BudgetExceededError } from './budget-exceeded-error';
import type { BudgetReservation } from './budget-reservation';
import type { CallEstimate } from './call-spend';
import { isUnknownModelError } from './unknown-model-error';
import type { NormalizedUsage } from './usage';

// Sums of dollar amounts drift in the last bits; the budget ledger uses the same tolerance.
const EPSILON = 1e-9;

const gates = new WeakMap<Budget, BudgetGate>();

interface Waiter {
  wake: () => void;
}

/**
 * The door of throttled nodes to a {@link Budget}: each call reserves its estimate before it asks
 * the limiter for a slot and settles with the real usage after.
 *
 * A call is refused (`BudgetExceededError`) when what is already spent plus its estimate would
 * pass a cap. When the cap is only reached because of estimates held by calls in flight
 * through this gate, it waits for one of them to settle instead (estimates are worst cases, so a batch is not
 * refused up front for spending it may never do); waiting calls then go in arrival order.
 * @internal
 */
export class BudgetGate {
  #open = 0;
  readonly #waiters: Waiter[] = [];

  private constructor(readonly budget: Budget) {}

  /** The gate of `budget`, shared by every node that spends from it (so any settle wakes their waiters). */
  static of(budget: Budget): BudgetGate {
    let gate = gates.get(budget);
    if (gate === undefined) gates.set(budget, (gate = new BudgetGate(budget)));
    return gate;
  }

  /** Calls holding a reservation now. */
  get inFlight(): number {
    return this.#open;
  }

  /**
   * Reserves the estimate of one call.
   * @param model - the model the call is for, to price the estimate
   * @param subject - who asks, named in errors (a node's class name)
   * @throws BudgetExceededError when it would pass a cap
   * @throws UnknownModelError / InvalidOptionError when the budget caps dollars and the call cannot be priced
   */
  async reserve(
    estimate: CallEstimate,
    model: string | undefined,
    subject: string,
    signal?: AbortSignal,
  ): Promise<BudgetReservation> {
    // Behind calls already waiting: they go first.
    if (this.#waiters.length > 0) await this.#wait(signal, false);
    for (;;) {
      if (signal?.aborted) {
        this.#wakeOne();
        throw abortReason(signal);
      }
      let refusal: unknown;
      try {
        const reservation = await this.#reserve(estimate, model, subject);
        this.#open++;
        // There may be room for the next waiter too.
        this.#wakeOne();
        return reservation;
      } catch (error) {
        refusal = error;
      }
      if (!(isBudgetExceededError(refusal) && this.#open > 0 && heldByReservations(refusal))) {
        this.#wakeOne();
        throw refusal;
      }
      await this.#wait(signal, true);
    }
  }

  /**
   * Books a finished call: its real usage when known (priced on `model`), else `tokens`, else
   * its estimate.
   */
  settle(
    reservation: BudgetReservation,
    model: string | undefined,
    usage: NormalizedUsage | undefined,
    tokens: number | undefined,
  ): void {
    if (reservation.state !== 'open') return;
    try {
      const attempts: (() => void)[] = [];
      if (usage !== undefined && model !== undefined) {
        attempts.push(() =>
          reservation.settle({
            model,
            usage: {
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              cachedInputTokens: usage.cachedInputTokens,
              cacheWriteInputTokens: usage.cacheWriteInputTokens,
            },
          }),
        );
      }
      const used = usage?.totalTokens ?? tokens;
      if (used !== undefined && Number.isFinite(used) && used >= 0)
        attempts.push(() => reservation.settle({ tokens: used }));
      for (const attempt of attempts) {
        try {
          attempt();
          return;
        } catch {
          // cannot be booked this way (unpriced model, a dollar cap without dollars): try the next
        }
      }
      reservation.settle();
    } finally {
      this.#done();
    }
  }

  /** Releases the reservation of a call that failed (a failed call is not billed). */
  cancel(reservation: BudgetReservation): void {
    if (reservation.state !== 'open') return;
    reservation.cancel();
    this.#done();
  }

  async #reserve(
    estimate: CallEstimate,
    model: string | undefined,
    subject: string,
  ): Promise<BudgetReservation> {
    const tokens = estimate.inputTokens + estimate.outputTokens;
    const capsDollars = this.budget.stats().remainingUsd !== undefined;
    if (model !== undefined) {
      try {
        return await this.budget.reserve({
          model,
          usage: { inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens },
        });
      } catch (error) {
        // Without a dollar cap, an unpriced model is still counted in tokens.
        if (capsDollars || !isUnknownModelError(error)) throw error;
      }
    } else if (capsDollars) {
      throw new InvalidOptionError(
        'model',
        `${subject}: its budget caps dollars, but no model is known for this call; set the node's \`model\` option or give the item a \`model\``,
      );
    }
    return this.budget.reserve({ tokens });
  }

  #done(): void {
    this.#open = Math.max(0, this.#open - 1);
    this.#wakeOne();
  }

  #wait(signal: AbortSignal | undefined, front: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(abortReason(signal!));
      };
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (front) this.#waiters.unshift(waiter);
      else this.#waiters.push(waiter);
    });
  }

  #wakeOne(): void {
    this.#waiters.shift()?.wake();
  }
}

/** Whether the cap was reached only because of reservations in flight (spent + estimate still fit). */
function heldByReservations(error: BudgetExceededError): boolean {
  return error.reserved > 0 && error.spent + error.estimated - error.cap <= EPSILON;
}
