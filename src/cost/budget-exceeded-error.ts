import { isThrottleflowError, ThrottleflowError } from '../errors/throttleflow-error';
import { formatCount, formatUsd } from './format';

/** The two things a budget can cap. */
export type BudgetDimension = 'usd' | 'tokens';

/** How long a budget's caps last: its whole life (`run`) or one UTC day (`day`). */
export type BudgetPeriod = 'run' | 'day';

/** What {@link BudgetExceededError} reports. */
export interface BudgetExceededDetails {
  /** Whether the dollar or the token cap refused. */
  dimension: BudgetDimension;
  /** Already spent in the current period. */
  spent: number;
  /** Held by reservations still in flight. */
  reserved: number;
  /** What the refused reservation asked for. */
  estimated: number;
  /** The cap that would have been passed. */
  cap: number;
  period: BudgetPeriod;
  /** Name of the budget whose cap refused, when it has one. */
  budgetName?: string;
  /** Tenant id of the budget whose cap refused, when it is a tenant budget. */
  tenant?: string;
  /** For a daily cap: when it resets (next UTC midnight, ms since epoch). */
  resetsAtMs?: number;
}

/**
 * Thrown (as a rejection of `Budget.reserve`) when a new call would take spending past a cap.
 * In-flight work is not affected. The message says spent vs cap, e.g.
 * `Budget exceeded: spent $0.0093 + estimated $0.0021 > cap $0.0100`.
 */
export class BudgetExceededError extends ThrottleflowError {
  override readonly name = 'BudgetExceededError';
  declare readonly code: 'BUDGET_EXCEEDED';
  readonly dimension: BudgetDimension;
  readonly spent: number;
  readonly reserved: number;
  readonly estimated: number;
  readonly cap: number;
  readonly period: BudgetPeriod;
  readonly budgetName: string | undefined;
  readonly tenant: string | undefined;
  readonly resetsAtMs: number | undefined;

  constructor(details: BudgetExceededDetails) {
    const f = details.dimension === 'usd' ? formatUsd : (n: number) => `${formatCount(n)} tokens`;
    const who =
      details.tenant !== undefined
        ? ` for tenant '${details.tenant}'`
        : details.budgetName !== undefined
          ? ` for '${details.budgetName}'`
          : '';
    const reserved = details.reserved > 0 ? ` + reserved ${f(details.reserved)}` : '';
    const daily =
      details.period === 'day'
        ? ` per day${details.resetsAtMs !== undefined ? ` (resets at ${new Date(details.resetsAtMs).toISOString()})` : ''}`
        : '';
    super(
      'BUDGET_EXCEEDED',
      `Budget exceeded${who}: spent ${f(details.spent)}${reserved} + estimated ${f(details.estimated)} > cap ${f(details.cap)}${daily}`,
    );
    this.dimension = details.dimension;
    this.spent = details.spent;
    this.reserved = details.reserved;
    this.estimated = details.estimated;
    this.cap = details.cap;
    this.period = details.period;
    this.budgetName = details.budgetName;
    this.tenant = details.tenant;
    this.resetsAtMs = details.resetsAtMs;
  }
}

/** Type guard for {@link BudgetExceededError}; recognises instances from other copies of throttleflow too. */
export function isBudgetExceededError(error: unknown): error is BudgetExceededError {
  return isThrottleflowError(error, 'BUDGET_EXCEEDED');
}
