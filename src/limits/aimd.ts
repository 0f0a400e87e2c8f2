import { z } from 'zod';
import { opt, parseOptions, InvalidOptionError } from '../validation/options';

/** Options of an {@link Aimd} controller. @category Limiters */
export interface AimdOptions {
  /** Level to start at. @default 5 */
  initial?: number;
  /** Lowest level. @default 1 */
  min?: number;
  /** Highest level. @default 20 */
  max?: number;
  /** Multiplier on a congestion event, strictly between 0 and 1. @default 0.5 */
  backoffFactor?: number;
  /** Consecutive successes before the level grows. @default 10 */
  recoveryThreshold?: number;
  /** Growth multiplier, greater than 1 (growth is at least +1). @default 1.2 */
  recoveryFactor?: number;
}

/** AIMD counters (the reference cookbook's stats keys, camelCased). @category Limiters */
export interface AimdStats {
  currentConcurrent: number;
  totalSuccesses: number;
  totalRateLimits: number;
  consecutiveSuccesses: number;
  /** Congestion events that cut the level (several rate limits of one cohort count once). */
  totalBackoffs: number;
}

const schema = z.strictObject({
  initial: opt.positiveInt().optional(),
  min: opt.positiveInt().optional(),
  max: opt.positiveInt().optional(),
  backoffFactor: z
    .number({ error: 'a number between 0 and 1 (exclusive)' })
    .gt(0, { error: 'a number between 0 and 1 (exclusive)' })
    .lt(1, { error: 'a number between 0 and 1 (exclusive)' })
    .optional(),
  recoveryThreshold: opt.positiveInt().optional(),
  recoveryFactor: z
    .number({ error: 'a number greater than 1' })
    .gt(1, { error: 'a number greater than 1' })
    .optional(),
});

/**
 * Additive-increase / multiplicative-decrease of a concurrency level, as a pure state machine
 * (no timers). Grows to `min(max, max(cur + 1, ceil(cur × recoveryFactor)))` after
 * `recoveryThreshold` successes in a row (so it also grows from 1), and shrinks to
 * `max(min, floor(cur × backoffFactor))` on a rate limit.
 *
 * Rate limits of calls that were already in flight when the level was last cut belong to the
 * same congestion event and do not cut again: tag each call with {@link Aimd.epoch} when it
 * starts and pass that to {@link Aimd.onRateLimit}.
 * @category Limiters
 */
export class Aimd {
  readonly min: number;
  readonly max: number;
  readonly backoffFactor: number;
  readonly recoveryThreshold: number;
  readonly recoveryFactor: number;
  private level: number;
  private cuts = 0;
  private totals = { successes: 0, rateLimits: 0, inARow: 0 };

  constructor(options: AimdOptions = {}) {
    const o = parseOptions(schema, options, 'Aimd');
    this.min = o.min ?? 1;
    this.max = o.max ?? Math.max(20, this.min);
    const initial = o.initial ?? Math.min(Math.max(5, this.min), this.max);
    if (this.min > this.max)
      throw new InvalidOptionError('min', `min must be at most max (${this.max}), got ${this.min}`);
    if (initial < this.min || initial > this.max) {
      throw new InvalidOptionError(
        'initial',
        `initial must be between min (${this.min}) and max (${this.max}), got ${initial}`,
      );
    }
    this.level = initial;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.recoveryThreshold = o.recoveryThreshold ?? 10;
    this.recoveryFactor = o.recoveryFactor ?? 1.2;
  }

  /** The level in force. */
  get current(): number {
    return this.level;
  }

  /** The congestion epoch: it advances at every cut. Tag calls with it when they start. */
  get epoch(): number {
    return this.cuts;
  }

  /** Records a success; returns true when the level grew. */
  onSuccess(): boolean {
    this.totals.successes++;
    if (++this.totals.inARow < this.recoveryThreshold) return false;
    this.totals.inARow = 0;
    const next = Math.min(this.max, Math.max(this.level + 1, Math.ceil(this.level * this.recoveryFactor)));
    const grew = next !== this.level;
    this.level = next;
    return grew;
  }

  /**
   * Records a rate limit of a call that started in `startEpoch` (default: the current one);
   * returns true when the level was cut. A call that started before the last cut does not cut again.
   */
  onRateLimit(startEpoch: number = this.cuts): boolean {
    this.totals.rateLimits++;
    this.totals.inARow = 0;
    if (startEpoch < this.cuts) return false;
    this.cuts++;
    const next = Math.max(this.min, Math.floor(this.level * this.backoffFactor));
    const cut = next !== this.level;
    this.level = next;
    return cut;
  }

  /** Adopts a level learned elsewhere (another process sharing the limiter), clamped to [min, max]. */
  adopt(level: number): void {
    this.level = Math.min(this.max, Math.max(this.min, Math.round(level)));
  }

  stats(): AimdStats {
    return {
      currentConcurrent: this.level,
      totalSuccesses: this.totals.successes,
      totalRateLimits: this.totals.rateLimits,
      consecutiveSuccesses: this.totals.inARow,
      totalBackoffs: this.cuts,
    };
  }
}
