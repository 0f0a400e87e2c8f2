import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/cost/price-table';
import { Limiter } from '../../src/limits/limiter';
import { ROUTING_STRATEGIES } from '../../src/routing/fallback-options';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FakeClock } from '../../src/testing/fake-clock';
import { runOnFakeClock } from '../throttled/support';

const prices = new PriceTable(
  Object.fromEntries(
    [0, 1, 2, 3].map((i) => [
      `m${i}`,
      { inputUsdPerMillion: i + 1, outputUsdPerMillion: 4 * (i + 1), contextWindowTokens: 1_000_000 },
    ]),
  ),
);

interface Item {
  atMs: number;
  tokens: number;
  latencyMs: number;
  outcome: 'ok' | '429' | 'fail';
}

/** The most units started in any window of `windowMs` (each start counts until start + windowMs). */
function maxInAnyWindow(starts: readonly { atMs: number; units: number }[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a.atMs - b.atMs);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length && sorted[j]!.atMs < sorted[i]!.atMs + windowMs; j++)
      sum += sorted[j]!.units;
    most = Math.max(most, sum);
  }
  return most;
}

describe('routing never exceeds a target window (property)', () => {
  it('under every strategy, random targets, arrivals, token costs, 429s and failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          strategy: fc.constantFrom(...ROUTING_STRATEGIES),
          maxWaitMs: fc.integer({ min: 1, max: 3000 }),
          targets: fc.array(
            fc.record({
              requests: fc.integer({ min: 1, max: 8 }),
              windowMs: fc.integer({ min: 100, max: 2000 }),
              tokens: fc.option(fc.integer({ min: 50, max: 400 }), { nil: undefined }),
              maxConcurrent: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          items: fc.array(
            fc.record({
              atMs: fc.integer({ min: 0, max: 3000 }),
              tokens: fc.integer({ min: 0, max: 50 }),
              latencyMs: fc.integer({ min: 0, max: 500 }),
              outcome: fc.constantFrom<Item['outcome']>('ok', 'ok', 'ok', '429', 'fail'),
            }),
            { maxLength: 40 },
          ),
        }),
        async (scenario) => {
          const clock = new FakeClock();
          const starts = scenario.targets.map(() => [] as { atMs: number; tokens: number }[]);
          const targets: FallbackTarget<Item, string>[] = scenario.targets.map((spec, i) => ({
            name: `t${i}`,
            model: `m${i}`,
            limiter: new Limiter({
              clock,
              name: `t${i}`,
              warnings: false,
              windowMarginMs: 0,
              ...(spec.maxConcurrent === undefined ? {} : { maxConcurrent: spec.maxConcurrent }),
              windows: [
                { resource: 'requests', limit: spec.requests, windowMs: spec.windowMs },
                ...(spec.tokens === undefined
                  ? []
                  : [{ resource: 'tokens', limit: spec.tokens, windowMs: spec.windowMs }]),
              ],
            }),
            tokensFor: (item) => item.tokens,
            call: async (item, signal) => {
              starts[i]!.push({ atMs: clock.now(), tokens: item.tokens });
              await clock.sleep(item.latencyMs, signal);
              if (item.outcome === '429')
                throw Object.assign(new Error('429'), { status: 429, headers: { 'retry-after-ms': '150' } });
              if (item.outcome === 'fail') throw new Error('boom');
              return `t${i}`;
            },
          }));
          const chain = withFallback(targets, {
            strategy: scenario.strategy,
            maxWaitMs: scenario.maxWaitMs,
            prices,
          });
          const settled = await runOnFakeClock(
            clock,
            Promise.allSettled(
              scenario.items.map(async (item) => {
                await clock.sleep(item.atMs);
                return await chain.call(item);
              }),
            ),
          );
          // Nothing is lost: every call ends as a result or an error.
          expect(settled).toHaveLength(scenario.items.length);
          const stats = chain.stats();
          expect(stats.served + stats.failed).toBe(scenario.items.length);
          scenario.targets.forEach((spec, i) => {
            const own = starts[i]!;
            expect(
              maxInAnyWindow(
                own.map((s) => ({ atMs: s.atMs, units: 1 })),
                spec.windowMs,
              ),
            ).toBeLessThanOrEqual(spec.requests);
            if (spec.tokens !== undefined)
              expect(
                maxInAnyWindow(
                  own.map((s) => ({ atMs: s.atMs, units: s.tokens })),
                  spec.windowMs,
                ),
              ).toBeLessThanOrEqual(spec.tokens);
            // Only a target's own calls took its capacity: routing reserved nothing it did not use.
            expect(targets[i]!.limiter instanceof Limiter && targets[i]!.limiter.stats().totalRequests).toBe(
              own.length,
            );
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});
