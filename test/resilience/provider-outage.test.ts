import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { CircuitBreaker, type CircuitState } from '../../src/resilience/circuit-breaker';
import type { FallbackTarget } from '../../src/routing/fallback-chain';
import { FallbackNode } from '../../src/routing/fallback-node';
import { runOnFakeClock } from '../throttled/support';

const overloaded = () => Object.assign(new Error('overloaded'), { status: 529, headers: {} });

describe('provider outage (acceptance)', () => {
  it('primary answers 529 for a while, secondary is healthy: every item finishes, the breaker opens, half-opens and closes, the primary serves again', async () => {
    const clock = new FakeClock();
    const outageEndsAt = 6000;
    const transitions: CircuitState[] = [];
    const breaker = new CircuitBreaker({
      consecutiveFailures: 3,
      halfOpenAfterMs: 2000,
      clock,
      name: 'primary',
    });
    breaker.on('stateChange', ({ to }) => transitions.push(to));
    const primaryCalls: number[] = [];
    const primaryLimiter = new Limiter({ clock, maxConcurrent: 4, name: 'primary' });
    const secondaryLimiter = new Limiter({ clock, maxConcurrent: 4, name: 'secondary' });
    const served: { at: number; by: string }[] = [];

    interface Shared {
      batch: number[];
      out?: string[];
    }
    class Answer extends FallbackNode<Shared, number, string> {
      override targets: FallbackTarget<number, string>[] = [
        {
          name: 'primary',
          limiter: primaryLimiter,
          circuitBreaker: breaker,
          call: async (i, signal) => {
            primaryCalls.push(clock.now());
            await clock.sleep(100, signal);
            if (clock.now() < outageEndsAt) throw overloaded();
            return `primary:${i}`;
          },
        },
        {
          name: 'secondary',
          limiter: secondaryLimiter,
          call: async (i, signal) => {
            await clock.sleep(150, signal);
            return `secondary:${i}`;
          },
        },
      ];
      override async prep(shared: Shared) {
        return shared.batch;
      }
      override async post(shared: Shared, _b: number[], out: string[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new Answer({ rateLimitBackoffMs: 200 });
    node.chain.on('served', ({ target }) => served.push({ at: clock.now(), by: target }));

    // 12 batches of 8 items, one batch a second.
    const outputs: string[] = [];
    for (let b = 0; b < 12; b++) {
      const shared: Shared = { batch: Array.from({ length: 8 }, (_, i) => b * 8 + i) };
      await runOnFakeClock(clock, node.run(shared));
      outputs.push(...shared.out!);
      await clock.advanceTo((b + 1) * 1000);
    }

    expect(outputs).toHaveLength(96);
    outputs.forEach((o, i) => expect(o).toMatch(new RegExp(`^(primary|secondary):${i}$`)));
    // The breaker cut the primary off during the outage, probed it, and closed once it was back.
    expect(transitions[0]).toBe('open');
    expect(transitions).toContain('half-open');
    expect(transitions.at(-1)).toBe('closed');
    // While open, nothing reached the primary: its calls during the outage are the few that
    // opened the breaker and the trials, far fewer than the items.
    const duringOutage = primaryCalls.filter((t) => t < outageEndsAt).length;
    expect(duringOutage).toBeLessThanOrEqual(10);
    const stats = node.stats;
    expect(stats.servedBy.secondary).toBeGreaterThan(30);
    expect(stats.failed).toBe(0);
    // After recovery (and the next trial) the primary serves everything again.
    expect(served.filter((s) => s.at >= 9000).every((s) => s.by === 'primary')).toBe(true);
    for (const limiter of [primaryLimiter, secondaryLimiter])
      expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });
});
