import { z } from 'zod';
import { opt, parseOptions } from '../validation/options';
import type { BreakerPolicy } from './breaker-policy';

/** Options of {@link SamplingPolicy}. */
export interface SamplingPolicyOptions {
  /** Share of failed calls (0 < rate ≤ 1) in the window that opens the circuit, e.g. `0.5`. */
  failureRate: number;
  /**
   * Length of the sliding window, in milliseconds: a call counts while it finished less than
   * `windowMs` ago.
   * @default 60_000
   */
  windowMs?: number;
  /**
   * Fewest calls in the window before the rate is trusted; below it the circuit never opens, so a
   * single early failure cannot trip it.
   * @default 10
   */
  minimumCalls?: number;
}

const rateMessage = { error: 'a number greater than 0 and at most 1' };

/** The zod schema of {@link SamplingPolicyOptions}, shared with the breaker's options. */
export const samplingShape = {
  failureRate: z.number(rateMessage).gt(0, rateMessage).max(1, rateMessage),
  windowMs: opt.positiveNumber().default(60_000),
  minimumCalls: opt.positiveInt().default(10),
};

const schema = z.strictObject(samplingShape);

/** Compact the outcome buffer once this many entries have expired (amortises the shift cost). */
const COMPACT_AFTER = 1024;

/**
 * Opens the circuit when, among the calls that finished within the last `windowMs`, there are at
 * least `minimumCalls` and the share of failures reaches `failureRate`. Exact, not bucketed: it
 * keeps one entry per call in the window.
 */
export class SamplingPolicy implements BreakerPolicy {
  readonly failureRate: number;
  readonly windowMs: number;
  readonly minimumCalls: number;
  // Finish times and outcomes of the calls in the window, oldest first, starting at `head`.
  private times: number[] = [];
  private failed: boolean[] = [];
  private head = 0;
  private failures = 0;

  constructor(options: SamplingPolicyOptions) {
    const parsed = parseOptions(schema, options, 'SamplingPolicy');
    this.failureRate = parsed.failureRate;
    this.windowMs = parsed.windowMs;
    this.minimumCalls = parsed.minimumCalls;
  }

  /** Calls in the window as of the last record (for stats and tests). */
  get calls(): number {
    return this.times.length - this.head;
  }

  /** Failed calls in the window as of the last record. */
  get failedCalls(): number {
    return this.failures;
  }

  recordSuccess(nowMs: number): void {
    this.record(nowMs, false);
  }

  recordFailure(nowMs: number): boolean {
    this.record(nowMs, true);
    const calls = this.calls;
    // Division, not `failures >= rate * calls`: 0.7 * 10 is 7.000000000000001 in floating point.
    return calls >= this.minimumCalls && this.failures / calls >= this.failureRate;
  }

  reset(): void {
    this.times = [];
    this.failed = [];
    this.head = 0;
    this.failures = 0;
  }

  private record(nowMs: number, failed: boolean): void {
    this.expire(nowMs);
    this.times.push(nowMs);
    this.failed.push(failed);
    if (failed) this.failures++;
  }

  /** Drops calls that finished at or before `nowMs - windowMs`. */
  private expire(nowMs: number): void {
    const horizon = nowMs - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= horizon) {
      if (this.failed[this.head]) this.failures--;
      this.head++;
    }
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.times.length) {
      this.times = this.times.slice(this.head);
      this.failed = this.failed.slice(this.head);
      this.head = 0;
    }
  }
}
