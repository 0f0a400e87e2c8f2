import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { LimiterMetrics } from '../../src/limits/limiter-metrics';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from '../throttled/support';

/** The reference: sort, then nearest rank (the ⌈p/100·n⌉-th smallest). */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function expectPercentiles(
  actual: { p50: number; p95: number; p99: number } | undefined,
  values: readonly number[],
): void {
  expect(actual).toBeDefined();
  for (const [key, p] of [
    ['p50', 50],
    ['p95', 95],
    ['p99', 99],
  ] as const) {
    const expected = nearestRank(values, p);
    // The histogram's stated bound: 1 % of the value (values of 0 land exactly on 0).
    expect(Math.abs(actual![key] - expected)).toBeLessThanOrEqual(0.01 * expected);
  }
}

// Whole milliseconds, as the fake clock hands them out; some zeros (immediate starts).
const durations = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 120_000 })),
  { minLength: 1, maxLength: 60 },
);

describe('limiter stats: latency and queue wait percentiles', () => {
  it('are absent until metrics are attached, then cover calls from then on', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    expect(limiter.stats().latency).toBeUndefined();
    expect(limiter.stats().queueWait).toBeUndefined();
    const metrics = LimiterMetrics.attach(limiter);
    expect(LimiterMetrics.attach(limiter)).toBe(metrics);
    expect(LimiterMetrics.of(limiter)).toBe(metrics);
    const lease = await limiter.acquire();
    await clock.advance(40);
    lease.release();
    expect(limiter.stats().latency).toEqual({ p50: 40, p95: 40, p99: 40 });
    expect(limiter.stats().queueWait).toEqual({ p50: 0, p95: 0, p99: 0 });
    expect(metrics.snapshot().latency.count).toBe(1);
    expect(LimiterMetrics.limiters()).toContain(limiter);
    expect(LimiterMetrics.detach(limiter)).toBe(true);
    expect(LimiterMetrics.detach(limiter)).toBe(false);
    expect(limiter.stats().latency).toBeUndefined();
    expect(limiter.listenerCount('acquire') + limiter.listenerCount('release')).toBe(0);
    expect(LimiterMetrics.limiters()).not.toContain(limiter);
  });

  it('match a sort + nearest-rank reference of held and waited times on random samples (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(durations, async (holds) => {
        const clock = new FakeClock();
        // One at a time: call i waits for the holds of every call before it.
        const limiter = new Limiter({ clock, maxConcurrent: 1 });
        LimiterMetrics.attach(limiter);
        const work = Promise.all(holds.map((ms) => limiter.run(() => clock.sleep(ms))));
        await runOnFakeClock(clock, work);
        const waits = holds.map((_, i) => holds.slice(0, i).reduce((a, b) => a + b, 0));
        const stats = limiter.stats();
        expectPercentiles(stats.latency, holds);
        expectPercentiles(stats.queueWait, waits);
      }),
      { numRuns: 60 },
    );
  });

  it('registered limiters carry them', () => {
    const registry = new LimiterRegistry();
    const limiter = registry.register('api', { maxConcurrent: 2 });
    expect(limiter.stats().latency).toEqual({ p50: 0, p95: 0, p99: 0 });
    expect(limiter.stats().queueWait).toEqual({ p50: 0, p95: 0, p99: 0 });
  });
});

describe('throttled node stats: latency and queue wait of its own calls', () => {
  it('match a reference on random call durations (fast-check), and the limiter has them too', async () => {
    await fc.assert(
      fc.asyncProperty(durations, async (ms) => {
        const clock = new FakeClock();
        class N extends ThrottledParallelBatchNode<unknown, number, number> {
          override async prep() {
            return ms.map((_, i) => i);
          }
          override async exec(i: number) {
            await clock.sleep(ms[i]!);
            return i;
          }
        }
        const node = new N({ clock, maxConcurrent: 1 });
        await runOnFakeClock(clock, node.run({}));
        const waits = ms.map((_, i) => ms.slice(0, i).reduce((a, b) => a + b, 0));
        const stats = node.stats;
        expectPercentiles(stats.latency, ms);
        expectPercentiles(stats.queueWait, waits);
        const limiterStats = node.getLimiter().stats();
        expectPercentiles(limiterStats.latency, ms);
        expectPercentiles(limiterStats.queueWait, waits);
      }),
      { numRuns: 40 },
    );
  });

  it('a node on a shared limiter reports its own calls, the limiter all of them', async () => {
    const clock = new FakeClock();
    const shared = new Limiter({ clock, maxConcurrent: 10, name: 'shared' });
    const make = (ms: number) =>
      new (class extends ThrottledParallelBatchNode<unknown, number, number> {
        override async prep() {
          return [1, 2, 3];
        }
        override async exec(i: number) {
          await clock.sleep(ms);
          return i;
        }
      })({ limiter: shared });
    const fast = make(10);
    const slow = make(1000);
    await runOnFakeClock(clock, Promise.all([fast.run({}), slow.run({})]));
    expect(fast.stats.latency).toEqual({ p50: 10, p95: 10, p99: 10 });
    expect(slow.stats.latency).toEqual({ p50: 1000, p95: 1000, p99: 1000 });
    // Within the histogram's 1 % of the exact nearest-rank values.
    expectPercentiles(shared.stats().latency, [10, 10, 10, 1000, 1000, 1000]);
  });

  it('before any run, percentiles are zero and tokens/cost empty', () => {
    const node = new ThrottledParallelBatchNode({ maxConcurrent: 1 });
    expect(node.stats).toMatchObject({
      latency: { p50: 0, p95: 0, p99: 0 },
      queueWait: { p50: 0, p95: 0, p99: 0 },
      tokens: 0,
      costUsd: undefined,
      unpricedCalls: 0,
    });
  });
});
