import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/observability';
import { InvalidOptionError } from '../../src/validation/options';

/** The reference: sort, then nearest rank (the ⌈p/100·n⌉-th smallest; p = 0 is the minimum). */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

// Latencies spread over many orders of magnitude (1 µs … 1,000 s), log-uniformly, with repeats.
const latencyMs = fc.double({ min: Math.log(0.001), max: Math.log(1_000_000), noNaN: true }).map(Math.exp);
const samples = fc.oneof(
  fc.array(latencyMs, { minLength: 1, maxLength: 500 }),
  fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 500 }),
  fc.array(fc.constantFrom(1, 2, 3, 250, 250, 250, 10_000), { minLength: 1, maxLength: 200 }),
);
const percentile = fc.oneof(
  fc.constantFrom(0, 1, 50, 90, 95, 99, 99.9, 100),
  fc.double({ min: 0, max: 100, noNaN: true }),
);

describe('LatencyHistogram percentiles (fast-check)', () => {
  it.each([0.01, 0.05])(
    'match sort + nearest rank within the stated relative error (%s)',
    (relativeError) => {
      fc.assert(
        fc.property(samples, fc.array(percentile, { minLength: 1, maxLength: 8 }), (values, ps) => {
          const h = new LatencyHistogram({ relativeError });
          for (const v of values) h.record(v);
          for (const p of ps) {
            const expected = nearestRank(values, p);
            const actual = h.percentile(p);
            expect(Math.abs(actual - expected)).toBeLessThanOrEqual(relativeError * expected);
          }
        }),
        { numRuns: 300 },
      );
    },
  );

  it('snapshot: exact count, min, max and mean; p50/p95/p99 within 1 %', () => {
    fc.assert(
      fc.property(samples, (values) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const s = h.snapshot();
        expect(s.count).toBe(values.length);
        expect(s.min).toBe(Math.min(...values));
        expect(s.max).toBe(Math.max(...values));
        expect(s.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
        for (const [key, p] of [
          ['p50', 50],
          ['p95', 95],
          ['p99', 99],
        ] as const) {
          const expected = nearestRank(values, p);
          expect(Math.abs(s[key] - expected)).toBeLessThanOrEqual(0.01 * expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('merging two histograms equals recording both sample sets into one', () => {
    fc.assert(
      fc.property(samples, samples, percentile, (a, b, p) => {
        const left = new LatencyHistogram();
        const right = new LatencyHistogram();
        const both = new LatencyHistogram();
        for (const v of a) {
          left.record(v);
          both.record(v);
        }
        for (const v of b) {
          right.record(v);
          both.record(v);
        }
        left.merge(right);
        expect(left.percentile(p)).toBe(both.percentile(p));
        expect(left.snapshot()).toEqual({
          ...both.snapshot(),
          mean: expect.closeTo(both.snapshot().mean, 6),
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('LatencyHistogram', () => {
  it('uses a fixed number of buckets whatever the sample count (bounded memory)', () => {
    const h = new LatencyHistogram();
    const buckets = h.bucketCount;
    expect(buckets).toBeLessThan(1500);
    for (let i = 0; i < 100_000; i++) h.record((i * 7919) % 60_000);
    expect(h.bucketCount).toBe(buckets);
    expect(h.count).toBe(100_000);
    expect(new LatencyHistogram({ relativeError: 0.05 }).bucketCount).toBeLessThan(buckets / 4);
  });

  it('reports zeros while empty and after reset', () => {
    const h = new LatencyHistogram();
    expect(h.snapshot()).toEqual({ count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 });
    h.record(12);
    h.reset();
    expect(h.snapshot()).toEqual({ count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 });
    h.record(5);
    expect(h.snapshot()).toMatchObject({ count: 1, min: 5, max: 5, p50: 5, p99: 5 });
  });

  it('handles zero and sub-resolution values with at most minTrackableMs absolute error', () => {
    const h = new LatencyHistogram();
    for (const v of [0, 0, 0.0004, 0.0009, 3]) h.record(v);
    expect(h.percentile(20)).toBe(0);
    expect(h.percentile(60)).toBeLessThanOrEqual(0.001);
    expect(h.percentile(100)).toBe(3);
  });

  it('clamps values beyond maxTrackableMs to the exact max', () => {
    const h = new LatencyHistogram({ maxTrackableMs: 1000 });
    h.record(10);
    h.record(5000);
    h.record(7000);
    expect(h.percentile(99)).toBe(7000);
    expect(h.percentile(1)).toBeCloseTo(10, 0);
  });

  it('rejects bad values, percentiles and options with clear errors', () => {
    const h = new LatencyHistogram();
    expect(() => h.record(-1)).toThrow(
      'LatencyHistogram.record: ms must be a non-negative finite number, got -1',
    );
    expect(() => h.record(Number.NaN)).toThrow(InvalidOptionError);
    expect(() => h.record(Infinity)).toThrow(InvalidOptionError);
    expect(() => h.percentile(101)).toThrow('percentile must be between 0 and 100, got 101');
    expect(() => new LatencyHistogram({ relativeError: 0 })).toThrow(
      'relativeError must be a positive number, got 0',
    );
    expect(() => new LatencyHistogram({ relativeError: 0.7 })).toThrow(
      'relativeError must be a number in (0, 0.5], got 0.7',
    );
    expect(() => new LatencyHistogram({ minTrackableMs: 10, maxTrackableMs: 5 })).toThrow(InvalidOptionError);
    expect(() => new LatencyHistogram({ relativeError: 1e-7 })).toThrow(/needs \d+ buckets/);
    expect(() => new LatencyHistogram({ precision: 2 } as never)).toThrow(/unknown option 'precision'/);
    expect(() => h.merge(new LatencyHistogram({ relativeError: 0.02 }))).toThrow(/same relativeError/);
  });
});
