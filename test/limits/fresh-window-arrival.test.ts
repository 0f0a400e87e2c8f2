import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';
import { resolveSimulatorOptions } from '../../src/testing/provider-simulator-options';
import { SimulatorState } from '../../src/testing/simulator-state';
import { maxInAnyWindow } from '../../src/testing/window-max';
import { countHeaders } from './count-headers';

const LIMIT = 6;
const WINDOW_MS = 10_000;

interface Request {
  /** How long after its grant it reaches the provider. */
  lagMs: number;
  latencyMs: number;
}

/**
 * Two bursts of LIMIT on the fake clock against a sliding-window stand-in that counts rejected
 * requests: the first (`first`) reaches the provider late, the second (`second`) starts as soon as
 * our window lets it. Returns the stand-in's log.
 */
async function twoBursts(first: Request[], second: Request[]) {
  const clock = new FakeClock();
  const provider = new SimulatorState(
    resolveSimulatorOptions({ requestsPerWindow: LIMIT, windowMs: WINDOW_MS, countRejected: true }),
    () => clock.now(),
  );
  const limiter = new Limiter({ maxPerWindow: LIMIT, windowMs: WINDOW_MS, clock, warnings: false });
  const run = async (r: Request) => {
    const lease = await limiter.acquire();
    await clock.sleep(r.lagMs);
    const admission = provider.admit(1);
    await clock.sleep(r.latencyMs);
    if (admission.ok) {
      const budget = admission.budgets.requests!;
      limiter.observe(
        { status: 200, headers: countHeaders(LIMIT, budget.limit - budget.remaining) },
        { lease },
      );
    }
    lease.release();
  };
  const tasks = [...first, ...second].map(run);
  await clock.runAll();
  await Promise.all(tasks);
  return provider.log();
}

describe('a fresh window: arrivals bounded by the counts of responses', () => {
  it("a first burst that reaches the provider 1.5 s late: the next burst waits for the provider's window", async () => {
    // Arrivals in grant order, 1.5 s late; responses out of order (the last arrival answers first).
    const first = Array.from({ length: LIMIT }, (_, i) => ({ lagMs: 1500 + i, latencyMs: 600 - 50 * i }));
    const second = Array.from({ length: LIMIT }, () => ({ lagMs: 0, latencyMs: 100 }));
    const log = await twoBursts(first, second);
    expect(log.rejectedAtMs).toEqual([]);
    expect(maxInAnyWindow(log.acceptedAtMs, WINDOW_MS)).toBe(LIMIT);
    // Each first-burst entry counts from the first response with a count at least its own: the
    // last arrival's, 1505 + 350 ms after the grants; the second burst starts after that plus a window.
    expect(Math.min(...log.acceptedAtMs.slice(LIMIT))).toBeGreaterThanOrEqual(1855 + WINDOW_MS);
  });

  it('without counts in the responses the late burst is not seen (the stand-in rejects the next one)', async () => {
    // The same burst, answered without headers: the margin alone (100 ms) cannot cover 1.5 s.
    const clock = new FakeClock();
    const provider = new SimulatorState(
      resolveSimulatorOptions({ requestsPerWindow: LIMIT, windowMs: WINDOW_MS, countRejected: true }),
      () => clock.now(),
    );
    const limiter = new Limiter({ maxPerWindow: LIMIT, windowMs: WINDOW_MS, clock, warnings: false });
    const tasks = Array.from({ length: 2 * LIMIT }, async (_, i) => {
      const lease = await limiter.acquire();
      await clock.sleep(i < LIMIT ? 1500 : 0);
      provider.admit(1);
      await clock.sleep(100);
      limiter.observe({ status: 200, headers: new Headers() }, { lease });
      lease.release();
    });
    await clock.runAll();
    await Promise.all(tasks);
    expect(provider.log().rejectedAtMs.length).toBeGreaterThan(0);
  });

  it("random late first bursts: the provider's window, rebuilt from its arrivals, never goes over (property)", async () => {
    const late = fc.record({
      // Up to a fifth of the window (the most a fresh window's counts may move an entry), less the latency.
      lagMs: fc.integer({ min: 0, max: 1400 }),
      latencyMs: fc.integer({ min: 1, max: 600 }),
    });
    const prompt = fc.record({
      // Later requests reach the provider within the margin (1 % of the window).
      lagMs: fc.integer({ min: 0, max: 100 }),
      latencyMs: fc.integer({ min: 1, max: 600 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(late, { minLength: 1, maxLength: LIMIT }),
        fc.array(prompt, { minLength: 1, maxLength: 2 * LIMIT }),
        async (first, second) => {
          const log = await twoBursts(first, second);
          expect(log.rejectedAtMs).toEqual([]);
          expect(maxInAnyWindow(log.acceptedAtMs, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
          expect(log.acceptedAtMs).toHaveLength(first.length + second.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
