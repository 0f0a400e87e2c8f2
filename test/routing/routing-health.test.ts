import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/cost/budget';
import { Limiter } from '../../src/limits/limiter';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FakeClock } from '../../src/testing/fake-clock';

describe('FallbackChain.health()', () => {
  it('says per target whether it is healthy, paused until, circuit open, over budget or draining, and whether the chain can serve', async () => {
    const clock = new FakeClock();
    const limiters = ['a', 'b', 'c', 'd', 'e'].map(
      (name) =>
        new Limiter({ clock, name, maxPerWindow: 1, windowMs: 1000, windowMarginMs: 0, warnings: false }),
    );
    const breaker = new CircuitBreaker({ consecutiveFailures: 1 });
    const budget = new Budget({ maxTokens: 100 });
    const t = (i: number, extra: Partial<FallbackTarget<number, number>> = {}) => ({
      name: limiters[i]!.name,
      limiter: limiters[i]!,
      call: (n: number) => n,
      ...extra,
    });
    const chain = withFallback([t(0), t(1), t(2, { circuitBreaker: breaker }), t(3, { budget }), t(4)], {
      strategy: 'soonest',
    });
    expect(chain.health()).toMatchObject({ canServe: true, canServeNow: true });

    limiters[1]!.pause(5000);
    breaker.open();
    (await budget.reserve({ tokens: 100 })).settle();
    await limiters[4]!.drain();
    const lease = await limiters[0]!.acquire(); // a's one-per-second window is now full
    lease.release();

    const health = chain.health();
    expect(health.targets).toMatchObject({
      a: { status: 'healthy', estimatedWaitMs: 1000, inFlight: 0 },
      b: { status: 'paused', pausedUntil: 5000 },
      c: { status: 'circuitOpen', circuit: 'open' },
      d: { status: 'overBudget' },
      e: { status: 'draining', estimatedWaitMs: Infinity },
    });
    // a is healthy but full for a second: the chain can serve, not now.
    expect(health).toMatchObject({ canServe: true, canServeNow: false });
    await clock.advance(1000);
    expect(chain.health()).toMatchObject({ canServe: true, canServeNow: true });
  });
});
