import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { MemoryCache } from '../../src/resilience/memory-cache';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from './support';

const tooManyRequests = () =>
  Object.assign(new Error('429'), { status: 429, headers: { 'retry-after-ms': '30' } });

/** What one try of an item does. */
const tryArb = fc.record({
  latencyMs: fc.integer({ min: 0, max: 600 }),
  /** Whether the call stops when its signal aborts (an SDK given the signal) or runs on regardless. */
  honoursSignal: fc.boolean(),
  outcome: fc.constantFrom('ok', 'ok', 'fail', '429'),
});

describe('no slot leaks (property)', () => {
  it('under random timeouts, latencies, failures, 429s and run aborts, every slot and queue entry is freed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxConcurrent: fc.integer({ min: 1, max: 4 }),
          maxPerWindow: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
          timeoutMs: fc.integer({ min: 20, max: 400 }),
          maxRetries: fc.integer({ min: 1, max: 3 }),
          waitMs: fc.constantFrom(0, 50),
          withBreaker: fc.boolean(),
          withCache: fc.boolean(),
          runs: fc.array(
            fc.record({
              /** When this run is aborted (undefined: never). */
              abortAtMs: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined }),
              items: fc.array(
                fc.record({
                  key: fc.integer({ min: 0, max: 5 }),
                  tries: fc.array(tryArb, { minLength: 1, maxLength: 4 }),
                }),
                {
                  maxLength: 8,
                },
              ),
            }),
            { minLength: 1, maxLength: 3 },
          ),
        }),
        async (scenario) => {
          const clock = new FakeClock();
          const limiter = new Limiter({
            clock,
            maxConcurrent: scenario.maxConcurrent,
            ...(scenario.maxPerWindow
              ? { maxPerWindow: scenario.maxPerWindow, windowMs: 1000, windowMarginMs: 0 }
              : {}),
          });
          let maxActive = 0;
          limiter.on('acquire', ({ active }) => (maxActive = Math.max(maxActive, active)));
          const breaker = scenario.withBreaker
            ? new CircuitBreaker({ consecutiveFailures: 3, halfOpenAfterMs: 200, clock })
            : undefined;
          const cache = scenario.withCache ? new MemoryCache<string>({ clock, ttlMs: 300 }) : undefined;
          type Item = { run: number; index: number; key: number };
          const attempts = new Map<string, number>();

          class N extends ThrottledParallelBatchNode<unknown, Item, string> {
            override cacheKeyOf(item: Item) {
              return String(item.key);
            }
            override async prep(): Promise<Item[]> {
              return [];
            }
            override async exec(item: Item, signal?: AbortSignal): Promise<string> {
              const id = `${item.run}/${item.index}`;
              const n = attempts.get(id) ?? 0;
              attempts.set(id, n + 1);
              const tries = scenario.runs[item.run]!.items[item.index]!.tries;
              const t = tries[Math.min(n, tries.length - 1)]!;
              await clock.sleep(t.latencyMs, t.honoursSignal ? signal : undefined);
              if (t.outcome === 'fail') throw new Error('fail');
              if (t.outcome === '429') throw tooManyRequests();
              return `ok ${item.key}`;
            }
            override async execFallback(_item: Item, error: Error) {
              return `fallback: ${error.name}`;
            }
          }
          const node = new N({
            limiter,
            timeoutMs: scenario.timeoutMs,
            maxRetries: scenario.maxRetries,
            waitMs: scenario.waitMs,
            maxRateLimitRetries: 2,
            rateLimitBackoffMs: 20,
            circuitBreaker: breaker,
            cache,
          });

          const runs = scenario.runs.map((run, r) => {
            const controller = new AbortController();
            if (run.abortAtMs !== undefined) void clock.sleep(run.abortAtMs).then(() => controller.abort());
            const items = run.items.map((it, index) => ({ run: r, index, key: it.key }));
            const copy = node.clone();
            copy.prep = async () => items;
            return copy.run({}, { signal: controller.signal });
          });
          const results = await runOnFakeClock(clock, Promise.allSettled(runs));
          // Nothing held or waiting once every run has settled, even while ignored calls still run on.
          expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
          expect(maxActive).toBeLessThanOrEqual(scenario.maxConcurrent);
          // A run that was never aborted finishes every item (with a value or its fallback).
          results.forEach((result, r) => {
            if (scenario.runs[r]!.abortAtMs === undefined) expect(result.status).toBe('fulfilled');
          });
          await clock.runAll();
          expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
        },
      ),
      { numRuns: 150 },
    );
  });
});
