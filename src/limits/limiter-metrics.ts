import type { Limiter } from './limiter';
import type { AcquireEvent, ReleaseEvent } from './limiter-events';
import { LatencyHistogram, type LatencyHistogramOptions, type LatencySnapshot } from './latency-histogram';

/** Nearest-rank percentiles of a latency, in milliseconds (all 0 before the first sample). @category Limiters */
export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** The percentiles a stats object reports: call time and queue wait. @category Limiters */
export interface LatencyStats {
  /** How long calls held their slot (limiter) or ran (node). */
  latency: LatencyPercentiles;
  /** How long acquires waited for the limiter before they started. */
  queueWait: LatencyPercentiles;
}

/** p50/p95/p99 of a histogram (each within its relative error of the exact nearest-rank value). */
export function percentilesOf(histogram: LatencyHistogram): LatencyPercentiles {
  return { p50: histogram.percentile(50), p95: histogram.percentile(95), p99: histogram.percentile(99) };
}

const metricsByLimiter = new WeakMap<Limiter, LimiterMetrics>();
// Limiters with metrics, for instrumentation that reports every limiter (queue length, in flight).
// Weak, so a limiter nobody uses any more is not kept alive by having been measured.
const measured = new Set<WeakRef<Limiter>>();
let additionsSincePrune = 0;

/**
 * Latency histograms of one limiter: how long each lease was held (`latency`) and how long each
 * acquire waited (`queueWait`), read from the limiter's `acquire` and `release` events. Memory is
 * fixed (two {@link LatencyHistogram}s), whatever the number of calls.
 *
 * Throttled nodes and the {@link throttleflow!LimiterRegistry} attach metrics to their limiters; attach them
 * yourself to a limiter you made with `new Limiter()`. While attached, `limiter.stats()` carries
 * `latency` and `queueWait` percentiles.
 *
 * @example
 * const limiter = new Limiter({ maxConcurrent: 10 });
 * LimiterMetrics.attach(limiter);
 * // … later
 * limiter.stats().latency; // { p50, p95, p99 } in ms
 */
export class LimiterMetrics {
  /** Time each lease was held, in ms. */
  readonly latency: LatencyHistogram;
  /** Time each acquire waited before its lease started, in ms (0 for an immediate start). */
  readonly queueWait: LatencyHistogram;
  readonly #limiter: Limiter;
  readonly #onAcquire = (event: AcquireEvent): void => {
    if (event.waitedMs >= 0) this.queueWait.record(event.waitedMs);
  };
  readonly #onRelease = (event: ReleaseEvent): void => {
    if (event.heldMs >= 0) this.latency.record(event.heldMs);
  };

  private constructor(limiter: Limiter, options: LatencyHistogramOptions) {
    this.#limiter = limiter;
    this.latency = new LatencyHistogram(options);
    this.queueWait = new LatencyHistogram(options);
    limiter.on('acquire', this.#onAcquire);
    limiter.on('release', this.#onRelease);
  }

  /**
   * Starts measuring `limiter` (calls from now on), or returns the metrics already attached.
   * @param options - histogram precision, used only when attaching anew
   */
  static attach(limiter: Limiter, options: LatencyHistogramOptions = {}): LimiterMetrics {
    let metrics = metricsByLimiter.get(limiter);
    if (metrics === undefined) {
      metrics = new LimiterMetrics(limiter, options);
      metricsByLimiter.set(limiter, metrics);
      measured.add(new WeakRef(limiter));
      if (++additionsSincePrune >= 256) pruneMeasured();
    }
    return metrics;
  }

  /** The metrics attached to `limiter`, if any. */
  static of(limiter: Limiter): LimiterMetrics | undefined {
    return metricsByLimiter.get(limiter);
  }

  /** Stops measuring `limiter` and forgets what was measured; returns whether metrics were attached. */
  static detach(limiter: Limiter): boolean {
    const metrics = metricsByLimiter.get(limiter);
    if (metrics === undefined) return false;
    limiter.off('acquire', metrics.#onAcquire);
    limiter.off('release', metrics.#onRelease);
    metricsByLimiter.delete(limiter);
    for (const ref of measured) if (ref.deref() === limiter) measured.delete(ref);
    return true;
  }

  /** Every limiter (still alive) with metrics attached, in attachment order. */
  static limiters(): Limiter[] {
    pruneMeasured();
    const out: Limiter[] = [];
    for (const ref of measured) {
      const limiter = ref.deref();
      if (limiter !== undefined) out.push(limiter);
    }
    return out;
  }

  /** The limiter measured. */
  get limiter(): Limiter {
    return this.#limiter;
  }

  /** p50/p95/p99 of lease time and queue wait. */
  stats(): LatencyStats {
    return { latency: percentilesOf(this.latency), queueWait: percentilesOf(this.queueWait) };
  }

  /** Full summaries (count, min, max, mean and percentiles) of lease time and queue wait. */
  snapshot(): { latency: LatencySnapshot; queueWait: LatencySnapshot } {
    return { latency: this.latency.snapshot(), queueWait: this.queueWait.snapshot() };
  }

  /** Forgets every sample (keeps measuring). */
  reset(): void {
    this.latency.reset();
    this.queueWait.reset();
  }
}

/**
 * `{ latency, queueWait }` of a limiter with metrics attached, else `{}` (what `limiter.stats()`
 * spreads into its snapshot).
 * @internal
 */
export function limiterLatencyStats(limiter: Limiter): Partial<LatencyStats> {
  const metrics = metricsByLimiter.get(limiter);
  return metrics === undefined ? {} : metrics.stats();
}

function pruneMeasured(): void {
  additionsSincePrune = 0;
  for (const ref of measured) {
    const limiter = ref.deref();
    if (limiter === undefined || metricsByLimiter.get(limiter) === undefined) measured.delete(ref);
  }
}
