import { z } from 'zod';
import { Budget } from '../cost/budget';
import { BudgetGate } from '../cost/budget-gate';
import type { BudgetReservation } from '../cost/budget-reservation';
import {
  estimateChatCall,
  modelOfItem,
  priceOrWarn,
  usageOfResponse,
  type CallEstimate,
} from '../cost/call-spend';
import { opt, parseOptions } from '../validation/options';
import type { NodeMetrics } from './node-metrics';

/** Zod shape of a throttled node's spend options (checked for constructor options and subclass fields alike). @internal */
export const accountingShape = {
  budget: opt.instance((v): v is Budget => v instanceof Budget, 'a Budget').optional(),
  model: z.string({ error: 'a non-empty string' }).trim().min(1, { error: 'a non-empty string' }).optional(),
};

const accountingSchema = z.object(accountingShape);

/** What one successful call cost, for its event. @internal */
export interface CallSpend {
  model?: string;
  costUsd?: number;
}

/**
 * A throttled node's tokens, cost and budget, shared by every per-visit copy of it: token
 * estimates of chat items, budget reservations around calls, cost totals in its metrics.
 * @internal
 */
export class NodeAccounting {
  readonly budget: Budget | undefined;
  readonly model: string | undefined;
  readonly #metrics: NodeMetrics;
  readonly #subject: string;
  readonly #estimates = new WeakMap<object, CallEstimate | null>();

  /**
   * Reads `budget` and `model`: constructor options first, then subclass fields; validates the
   * fields (the options were validated at construction).
   */
  constructor(options: object, fields: object, metrics: NodeMetrics, subject: string) {
    const read = (key: keyof typeof accountingShape): unknown =>
      (options as Record<string, unknown>)[key] ?? (fields as Record<string, unknown>)[key];
    const parsed = parseOptions(accountingSchema, { budget: read('budget'), model: read('model') }, subject);
    this.budget = parsed.budget;
    this.model = parsed.model;
    this.#metrics = metrics;
    this.#subject = subject;
  }

  /** The model a call of `item` is for: the item's `model`, else the node's. */
  modelOf(item: unknown): string | undefined {
    return modelOfItem(item, this.model);
  }

  /** Prompt estimate and output bound of a chat item (memoised per item object); `undefined` for other items. */
  chatEstimate(item: unknown): CallEstimate | undefined {
    if (typeof item !== 'object' || item === null) return undefined;
    let estimate = this.#estimates.get(item);
    if (estimate === undefined) {
      estimate = estimateChatCall(item, this.modelOf(item)) ?? null;
      this.#estimates.set(item, estimate);
    }
    return estimate ?? undefined;
  }

  /** The default `tokensFor`: prompt estimate + `max_tokens` of a chat item, else `undefined`. */
  defaultTokens(item: unknown): number | undefined {
    const estimate = this.chatEstimate(item);
    return estimate === undefined ? undefined : estimate.inputTokens + estimate.outputTokens;
  }

  /**
   * Reserves a call's estimate against the node's budget (none without a budget). A chat item is
   * estimated from its messages and `max_tokens`; any other item counts `tokens` (the node's
   * `tokensFor`) as input.
   * @throws BudgetExceededError when the call would pass a cap (see {@link BudgetGate})
   */
  async reserve(
    item: unknown,
    tokens: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BudgetReservation | undefined> {
    if (this.budget === undefined) return undefined;
    const estimate = this.chatEstimate(item) ?? {
      inputTokens: tokens !== undefined && tokens >= 0 ? tokens : 0,
      outputTokens: 0,
    };
    return BudgetGate.of(this.budget).reserve(estimate, this.modelOf(item), this.#subject, signal);
  }

  /** Releases the reservation of a call that failed or never started. */
  cancel(reservation: BudgetReservation | undefined): void {
    if (reservation !== undefined && this.budget !== undefined)
      BudgetGate.of(this.budget).cancel(reservation);
  }

  /**
   * Books a successful call: settles its reservation with the real usage and adds its tokens
   * and cost to the node's totals.
   * @param tokensUsed - what the node's `usageOf` read from the result
   * @returns the model and cost, for the call's event
   */
  settle(
    item: unknown,
    result: unknown,
    tokensUsed: number | undefined,
    reservation: BudgetReservation | undefined,
  ): CallSpend {
    const model = this.modelOf(item);
    const usage = model !== undefined || reservation !== undefined ? usageOfResponse(result) : undefined;
    if (reservation !== undefined && this.budget !== undefined)
      BudgetGate.of(this.budget).settle(reservation, model, usage, tokensUsed);
    const costUsd =
      model !== undefined && usage !== undefined ? priceOrWarn(model, usage, this.#subject) : undefined;
    this.#metrics.recordSpend(tokensUsed, costUsd, model !== undefined);
    if (model === undefined) return {};
    return costUsd === undefined ? { model } : { model, costUsd };
  }
}
