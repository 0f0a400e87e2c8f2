import { z } from 'zod';
import { InvalidOptionError, opt, parseOptions } from '../validation/options';

/** Options of {@link LatencyHistogram}. */
export interface LatencyHistogramOptions {
  /**
   * Largest relative error of a reported percentile against the exact (nearest-rank) one, for
   * values between `minTrackableMs` and `maxTrackableMs`. Memory grows as log(max/min)/relativeError.
   * @default 0.01 (1 %: about 1,350 buckets, 11 KB)
   */
  relativeError?: number;
  /**
   * Values up to this many ms share one bucket, so there the error is absolute (at most this).
   * @default 0.001 (1 µs)
   */
  minTrackableMs?: number;
  /**
   * Values above this many ms share the top bucket; percentiles there are only bounded by the
   * exact maximum.
   * @default 604_800_000 (7 days)
   */
  maxTrackableMs?: number;
}

/** Summary of a {@link LatencyHistogram}, all in milliseconds; all zero while `count` is 0. */
export interface LatencySnapshot {
  count: number;
  /** Exact smallest value recorded. */
  min: number;
  /** Exact largest value recorded. */
  max: number;
  /** Exact arithmetic mean. */
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

const optionsSchema = z.strictObject({
  relativeError: opt.positiveNumber().max(0.5, { error: 'a number in (0, 0.5]' }).optional(),
  minTrackableMs: opt.positiveNumber().optional(),
  maxTrackableMs: opt.positiveNumber().optional(),
});

const MAX_BUCKETS = 1_000_000;

/**
 * A latency histogram in bounded memory with a guaranteed relative error: log-scale buckets
 * (bucket i holds (m·γ^(i−1), m·γ^i] with γ = (1+α)/(1−α), m = `minTrackableMs`) report a
 * value within α of every value they hold. Percentiles use the nearest-rank definition, so
 * `percentile(p)` is within α of the ⌈p/100·n⌉-th smallest recorded value; min, max and mean are
 * exact. Memory is fixed at construction (one counter per bucket), whatever the number of samples.
 *
 * Chosen over a sampling reservoir because its error is bounded for every sample, tails included,
 * where a reservoir's p99 rests on a handful of kept samples.
 */
export class LatencyHistogram {
  readonly relativeError: number;
  readonly minTrackableMs: number;
  readonly maxTrackableMs: number;
  readonly #logGamma: number;
  readonly #representativeFactor: number;
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  #lowest = Infinity;
  #highest = -1;

  /** @throws InvalidOptionError naming the option, e.g. `relativeError must be a positive number, got 0`. */
  constructor(options: LatencyHistogramOptions = {}) {
    const o = parseOptions(optionsSchema, options, 'LatencyHistogram');
    this.relativeError = o.relativeError ?? 0.01;
    this.minTrackableMs = o.minTrackableMs ?? 0.001;
    this.maxTrackableMs = o.maxTrackableMs ?? 604_800_000;
    if (!(this.maxTrackableMs > this.minTrackableMs)) {
      throw new InvalidOptionError(
        'maxTrackableMs',
        `maxTrackableMs must be greater than minTrackableMs (${this.minTrackableMs}), got ${this.maxTrackableMs}`,
      );
    }
    // A hair under α, so float rounding at a bucket edge cannot push the error past α.
    const alpha = this.relativeError * (1 - 1e-9);
    const gamma = (1 + alpha) / (1 - alpha);
    this.#logGamma = Math.log(gamma);
    this.#representativeFactor = 2 / (1 + gamma);
    const buckets = Math.ceil(Math.log(this.maxTrackableMs / this.minTrackableMs) / this.#logGamma) + 2;
    if (buckets > MAX_BUCKETS) {
      throw new InvalidOptionError(
        'relativeError',
        `relativeError ${this.relativeError} over ${this.minTrackableMs}–${this.maxTrackableMs} ms needs ${buckets} buckets (max ${MAX_BUCKETS}); raise it or narrow the range`,
      );
    }
    this.#counts = new Float64Array(buckets);
  }

  /** Number of buckets, fixed at construction: the histogram's whole memory is one counter each. */
  get bucketCount(): number {
    return this.#counts.length;
  }

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /**
   * Records one duration.
   * @throws InvalidOptionError when `ms` is negative, NaN or infinite.
   */
  record(ms: number): void {
    if (!(ms >= 0 && ms < Infinity)) {
      throw new InvalidOptionError(
        'ms',
        `LatencyHistogram.record: ms must be a non-negative finite number, got ${String(ms)}`,
      );
    }
    const i = this.#indexOf(ms);
    this.#counts[i]! += 1;
    this.#count += 1;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
    if (i < this.#lowest) this.#lowest = i;
    if (i > this.#highest) this.#highest = i;
  }

  /**
   * The nearest-rank `p`-th percentile (0–100) of the recorded values, within `relativeError`;
   * 0 when nothing was recorded. `percentile(0)` and `percentile(100)` are the exact min and max.
   * @throws InvalidOptionError when `p` is outside 0–100.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100))
      throw new InvalidOptionError('p', `percentile must be between 0 and 100, got ${String(p)}`);
    if (this.#count === 0) return 0;
    if (p === 0) return this.#min;
    if (p === 100) return this.#max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = this.#lowest; i <= this.#highest; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, this.#representative(i)));
    }
    return this.#max;
  }

  /** Count, exact min/max/mean and p50/p95/p99 in ms. */
  snapshot(): LatencySnapshot {
    if (this.#count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 };
    return {
      count: this.#count,
      min: this.#min,
      max: this.#max,
      mean: this.#sum / this.#count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
    };
  }

  /**
   * Adds every value recorded in `other` (e.g. to combine per-node histograms).
   * @throws InvalidOptionError when the two were built with different options.
   */
  merge(other: LatencyHistogram): this {
    if (
      other.relativeError !== this.relativeError ||
      other.minTrackableMs !== this.minTrackableMs ||
      other.maxTrackableMs !== this.maxTrackableMs
    ) {
      throw new InvalidOptionError(
        'other',
        'LatencyHistogram.merge: both histograms need the same relativeError, minTrackableMs and maxTrackableMs, got ' +
          `${other.relativeError}, ${other.minTrackableMs}, ${other.maxTrackableMs} for ${this.relativeError}, ${this.minTrackableMs}, ${this.maxTrackableMs}`,
      );
    }
    if (other.#count === 0) return this;
    for (let i = other.#lowest; i <= other.#highest; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
    this.#lowest = Math.min(this.#lowest, other.#lowest);
    this.#highest = Math.max(this.#highest, other.#highest);
    return this;
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
    this.#lowest = Infinity;
    this.#highest = -1;
  }

  #indexOf(ms: number): number {
    if (ms <= this.minTrackableMs) return 0;
    const i = Math.ceil(Math.log(ms / this.minTrackableMs) / this.#logGamma);
    return Math.min(Math.max(i, 1), this.#counts.length - 1);
  }

  // The point of bucket i's range (m·γ^(i−1), m·γ^i] within α of both ends: 2·m·γ^i/(1+γ).
  // The last bucket only holds values past maxTrackableMs, whose one known bound is the max.
  #representative(i: number): number {
    if (i === 0) return 0;
    if (i === this.#counts.length - 1) return this.#max;
    return this.minTrackableMs * Math.exp(i * this.#logGamma) * this.#representativeFactor;
  }
}
