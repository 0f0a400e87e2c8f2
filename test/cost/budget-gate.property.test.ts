import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/cost/budget';
import { isBudgetExceededError, type BudgetExceededError } from '../../src/cost/budget-exceeded-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from '../throttled/support';

interface Item {
  /** Tokens the node estimates (its tokensFor). */
  estimate: number;
  /** Tokens the call really uses (at most the estimate, as with max_tokens). */
  used: number;
  latencyMs: number;
}

const item = fc
  .record({
    estimate: fc.integer({ min: 1, max: 400 }),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    latencyMs: fc.integer({ min: 1, max: 500 }),
  })
  .map(({ estimate, fraction, latencyMs }): Item => ({
    estimate,
    used: Math.floor(estimate * fraction),
    latencyMs,
  }));

describe('budget gate of throttled nodes (fast-check)', () => {
  it('never spends past the cap when calls use at most their estimate, refuses only what would pass it, and never hangs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 1, max: 8 }),
        async (items, cap, maxConcurrent) => {
          const clock = new FakeClock();
          const budget = new Budget({ maxTokens: cap });
          const refusals: BudgetExceededError[] = [];
          let spentSoFar = 0;
          let overCap = false;
          class N extends ThrottledParallelBatchNode<
            unknown,
            Item,
            { usage: { total_tokens: number } } | null
          > {
            override async prep() {
              return items;
            }
            override tokensFor(i: Item) {
              return i.estimate;
            }
            override async exec(i: Item) {
              await clock.sleep(i.latencyMs);
              return { usage: { total_tokens: i.used } };
            }
            override usageOf(r: { usage: { total_tokens: number } } | null) {
              if (r) {
                spentSoFar += r.usage.total_tokens;
                if (spentSoFar > cap) overCap = true;
              }
              return r?.usage.total_tokens;
            }
            override async execFallback(_i: Item, error: Error) {
              if (!isBudgetExceededError(error)) throw error;
              refusals.push(error);
              return null;
            }
          }
          const node = new N({ clock, budget, maxConcurrent });
          const out = await runOnFakeClock(
            clock,
            node.run({}).then(() => node.stats),
          );
          expect(overCap).toBe(false);
          expect(budget.stats().spentTokens).toBe(spentSoFar);
          expect(budget.stats().reservedTokens).toBe(0);
          // Only a call whose estimate no longer fits next to what was really spent is refused.
          for (const r of refusals) expect(r.spent + r.estimated).toBeGreaterThan(cap);
          expect(out.totalSuccesses + refusals.length).toBe(items.length);
          // An item whose estimate fits alone is refused only after something was spent.
          for (const r of refusals) if (r.estimated <= cap) expect(r.spent).toBeGreaterThan(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
