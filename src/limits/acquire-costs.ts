import { LimitExceededError } from '../errors/limit-exceeded-error';
import { abortReason } from '../util/clock';
import { InvalidOptionError } from '../validation/options';
import { assertNever } from './assert-never';
import type { ResolvedWindow } from './limiter-options';
import type { AcquireOptions } from './limiter-types';

/** What a window counts, as far as an acquire's costs go: its `cost`, its `tokens`, or one of its `units`. */
export type ResourceKind = 'requests' | 'tokens' | 'custom';

function kindOf(resource: string): ResourceKind {
  return resource === 'requests' ? 'requests' : resource === 'tokens' ? 'tokens' : 'custom';
}

/**
 * Turns acquire options into one cost per window (index for index with the limiter's windows),
 * checking the options on the way. The windows are the limiter's own objects, so a limit lowered
 * at run time is seen here at once.
 */
export class CostTable {
  /** Per window, what it counts. */
  readonly kinds: readonly ResourceKind[];
  readonly hasTokenWindow: boolean;
  /** Costs of an acquire without cost options (one request, no tokens); shared, never mutated. */
  readonly defaultCosts: readonly number[];

  constructor(
    private readonly limiterName: string,
    private readonly windows: readonly ResolvedWindow[],
  ) {
    this.kinds = windows.map((w) => kindOf(w.resource));
    this.hasTokenWindow = this.kinds.includes('tokens');
    this.defaultCosts = this.kinds.map((k) => (k === 'requests' ? 1 : 0));
  }

  /** The per-window costs of an acquire; throws what the acquire should reject with. */
  of(options: AcquireOptions): readonly number[] {
    const { tokens, cost, units, priority, signal, timeoutMs } = options;
    if (signal?.aborted) throw abortReason(signal);
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) {
      throw new InvalidOptionError('priority', `priority must be a finite number, got ${String(priority)}`);
    }
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      throw new InvalidOptionError(
        'timeoutMs',
        `timeoutMs must be a non-negative number, got ${String(timeoutMs)}`,
      );
    }
    if (tokens !== undefined) checkAmount('tokens', tokens);
    if (cost !== undefined) checkAmount('cost', cost);
    if (tokens === undefined && cost === undefined && units === undefined) return this.defaultCosts;
    const windows = this.windows;
    const costs = new Array<number>(windows.length);
    for (let i = 0; i < windows.length; i++) {
      const kind = this.kinds[i]!;
      const w = windows[i]!;
      let amount: number;
      switch (kind) {
        case 'requests':
          amount = cost ?? 1;
          break;
        case 'tokens':
          amount = tokens ?? 0;
          break;
        case 'custom':
          checkAmount(`units.${w.resource}`, (amount = units?.[w.resource] ?? 0));
          break;
        default:
          return assertNever(kind, 'resource kind');
      }
      if (amount > w.limit)
        throw new LimitExceededError(this.limiterName, w.resource, amount, w.limit, w.configuredWindowMs);
      costs[i] = amount;
    }
    return costs;
  }

  /** Per-window reconcile deltas: `delta` tokens on every token window, nothing elsewhere. */
  tokenDeltas(delta: number): number[] {
    return this.kinds.map((k) => (k === 'tokens' ? delta : 0));
  }

  /** The error for costs that can never fit: names the window they overfill the most. */
  neverFits(costs: readonly number[]): LimitExceededError {
    const windows = this.windows;
    let worst = 0;
    windows.forEach((w, i) => {
      if (costs[i]! / w.limit > costs[worst]! / windows[worst]!.limit) worst = i;
    });
    const w = windows[worst]!;
    return new LimitExceededError(this.limiterName, w.resource, costs[worst]!, w.limit, w.configuredWindowMs);
  }
}

function checkAmount(option: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(option, `${option} must be a non-negative number, got ${String(value)}`);
  }
}
