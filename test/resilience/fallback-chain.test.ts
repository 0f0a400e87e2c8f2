import { afterEach, describe, expect, it } from 'vitest';
import { isRateLimitHit } from '../../src/errors/rate-limit-hit';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { detectRateLimit } from '../../src/providers/detect-rate-limit';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { BrokenCircuitError } from '../../src/resilience/broken-circuit-error';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FallbackExhaustedError } from '../../src/routing/fallback-exhausted-error';
import { TimeoutError } from '../../src/resilience/timeout-error';
import { FallbackNode } from '../../src/routing/fallback-node';
import { runOnFakeClock } from '../throttled/support';

afterEach(() => LimiterRegistry.clear());

const status = (code: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${code}`), { status: code, headers });

/** A fake provider: `behaviour()` says what the next call does. */
function provider(clock: FakeClock, name: string, behaviour: () => 'ok' | Error, latencyMs = 100) {
  const calls: number[] = [];
  return {
    calls,
    call: async (item: number, signal: AbortSignal | undefined) => {
      calls.push(clock.now());
      await clock.sleep(latencyMs, signal);
      const outcome = behaviour();
      if (outcome !== 'ok') throw outcome;
      return `${name}:${item}`;
    },
  };
}

describe('withFallback', () => {
  it('serves from the secondary while the primary is paused by its retry-after, then returns to the primary', async () => {
    const clock = new FakeClock();
    let primaryDown = true;
    const p = provider(clock, 'p', () => (primaryDown ? status(429, { 'retry-after': '5' }) : 'ok'));
    const s = provider(clock, 's', () => 'ok');
    const primaryLimiter = new Limiter({ clock, name: 'p' });
    const chain = withFallback<number, string>([
      { name: 'primary', limiter: primaryLimiter, call: p.call },
      { name: 'secondary', limiter: new Limiter({ clock, name: 's' }), call: s.call },
    ]);
    const served: string[] = [];
    chain.on('served', (e) => served.push(e.target));

    // The first call meets the 429: it moves on to the secondary at once, and the primary pauses 5 s.
    expect(await runOnFakeClock(clock, chain.call(1))).toBe('s:1');
    expect(primaryLimiter.stats().pausedUntil).toBe(100 + 5000);
    primaryDown = false;
    // During the pause the primary is passed by (not called).
    for (let i = 2; i <= 4; i++) {
      expect(await runOnFakeClock(clock, chain.call(i))).toBe(`s:${i}`);
      await clock.advance(1000);
    }
    expect(p.calls).toHaveLength(1);
    await clock.advanceTo(5100);
    expect(await runOnFakeClock(clock, chain.call(5))).toBe('p:5');
    expect(served).toEqual(['secondary', 'secondary', 'secondary', 'secondary', 'primary']);
    expect(chain.stats()).toMatchObject({
      calls: 5,
      served: 5,
      fellBack: 4,
      servedBy: { primary: 1, secondary: 4 },
      targets: { primary: { rateLimits: 1, skipped: 3, served: 1 }, secondary: { served: 4 } },
    });
  });

  it('retries a rate-limited target within its budget before moving on', async () => {
    const clock = new FakeClock();
    let limited = 2;
    const p = provider(clock, 'p', () => (limited-- > 0 ? status(429, { 'retry-after-ms': '300' }) : 'ok'));
    const s = provider(clock, 's', () => 'ok');
    const chain = withFallback<number, string>(
      [
        { name: 'primary', limiter: new Limiter({ clock }), call: p.call },
        { name: 'secondary', limiter: new Limiter({ clock }), call: s.call },
      ],
      { maxRateLimitRetries: 2 },
    );
    expect(await runOnFakeClock(clock, chain.call(1))).toBe('p:1');
    // 100 ms call, 300 ms pause, twice, then the successful call.
    expect(p.calls).toEqual([0, 400, 800]);
    expect(s.calls).toHaveLength(0);
  });

  it('an overloaded primary opens its breaker; open, it is passed by without taking capacity, and a trial closes it', async () => {
    const clock = new FakeClock();
    let overloaded = true;
    const p = provider(clock, 'p', () => (overloaded ? status(529) : 'ok'));
    const s = provider(clock, 's', () => 'ok');
    const breaker = new CircuitBreaker({
      consecutiveFailures: 3,
      halfOpenAfterMs: 10_000,
      clock,
      name: 'primary',
    });
    const primaryLimiter = new Limiter({ clock });
    const chain = withFallback<number, string>(
      [
        { name: 'primary', limiter: primaryLimiter, circuitBreaker: breaker, call: p.call },
        { name: 'secondary', limiter: new Limiter({ clock }), call: s.call },
      ],
      { rateLimitBackoffMs: 1 },
    );
    for (let i = 0; i < 6; i++) {
      expect(await runOnFakeClock(clock, chain.call(i))).toBe(`s:${i}`);
      await clock.advance(10);
    }
    expect(breaker.state).toBe('open');
    expect(p.calls).toHaveLength(3);
    expect(primaryLimiter.stats().totalRequests).toBe(3);
    expect(chain.stats().targets.primary).toMatchObject({ rateLimits: 3, refused: 3 });

    overloaded = false;
    await clock.advance(10_000);
    expect(await runOnFakeClock(clock, chain.call(7))).toBe('p:7');
    expect(breaker.state).toBe('closed');
  });

  it('moves on after an ordinary failure or a timeout, and rethrows when shouldFallback says no', async () => {
    const clock = new FakeClock();
    const hang = provider(clock, 'h', () => 'ok', 1_000_000);
    const broken = provider(clock, 'b', () => new Error('boom'));
    const s = provider(clock, 's', () => 'ok');
    const hangLimiter = new Limiter({ clock, maxConcurrent: 1 });
    const chain = withFallback<number, string>([
      { name: 'hanging', limiter: hangLimiter, timeoutMs: 500, call: (i) => hang.call(i, undefined) },
      { name: 'broken', limiter: new Limiter({ clock }), call: broken.call },
      { name: 'ok', limiter: new Limiter({ clock }), call: s.call },
    ]);
    const report = await runOnFakeClock(clock, chain.callWithReport(1));
    expect(report.servedBy).toBe('ok');
    expect(report.attempts.map((a) => a.target)).toEqual(['hanging', 'broken']);
    expect(report.attempts[0]!.error).toBeInstanceOf(TimeoutError);
    expect(hangLimiter.stats().active).toBe(0);

    const strict = withFallback<number, string>(
      [
        { name: 'broken', limiter: new Limiter({ clock }), call: broken.call },
        { name: 'ok', limiter: new Limiter({ clock }), call: s.call },
      ],
      { shouldFallback: (error) => (error as Error).message !== 'boom' },
    );
    await expect(runOnFakeClock(clock, strict.call(2))).rejects.toThrow('boom');
  });

  it('moves on when a target limiter has no room within acquireTimeoutMs', async () => {
    const clock = new FakeClock();
    const busy = new Limiter({ clock, maxConcurrent: 1 });
    const held = await busy.acquire();
    const s = provider(clock, 's', () => 'ok');
    const chain = withFallback<number, string>([
      { name: 'busy', limiter: busy, acquireTimeoutMs: 200, call: async () => 'never' },
      { name: 'free', limiter: new Limiter({ clock }), call: s.call },
    ]);
    expect(await runOnFakeClock(clock, chain.call(1))).toBe('s:1');
    expect(s.calls).toEqual([200]);
    expect(chain.stats().targets.busy!.refused).toBe(1);
    held.release();
  });

  it('waits for a paused target when every other target failed', async () => {
    const clock = new FakeClock();
    const primary = new Limiter({ clock });
    primary.pause(3000);
    const p = provider(clock, 'p', () => 'ok');
    const broken = provider(clock, 'b', () => status(500));
    const chain = withFallback<number, string>([
      { name: 'primary', limiter: primary, call: p.call },
      { name: 'secondary', limiter: new Limiter({ clock }), call: broken.call },
    ]);
    expect(await runOnFakeClock(clock, chain.call(1))).toBe('p:1');
    expect(p.calls).toEqual([3000]);
  });

  it('rejects with FallbackExhaustedError listing every attempt; all rate limited, it reads as a rate limit', async () => {
    const clock = new FakeClock();
    const a = provider(clock, 'a', () => status(500));
    const b = provider(clock, 'b', () => status(400));
    const chain = withFallback<number, string>(
      [
        { name: 'a', limiter: new Limiter({ clock }), call: a.call },
        { name: 'b', limiter: new Limiter({ clock }), call: b.call },
      ],
      { name: 'chat' },
    );
    const error = await runOnFakeClock(clock, chain.call(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FallbackExhaustedError);
    expect((error as FallbackExhaustedError).attempts.map((x) => x.target)).toEqual(['a', 'b']);
    expect((error as Error).message).toMatch(
      /^Fallback chain 'chat': no target served the call \(a: Error: HTTP 500; b: Error: HTTP 400\)/,
    );
    expect(detectRateLimit(error)).toBeUndefined();
    expect(chain.stats()).toMatchObject({ calls: 1, served: 0, failed: 1 });

    const limited = withFallback<number, string>([
      {
        name: 'a',
        limiter: new Limiter({ clock }),
        call: async () => {
          throw status(429);
        },
      },
      {
        name: 'b',
        limiter: new Limiter({ clock }),
        call: async () => {
          throw status(429);
        },
      },
    ]);
    // Both get paused by the 429s; after the others failed, the chain waits for the paused ones,
    // which fail again: every attempt is a rate limit.
    const all = await runOnFakeClock(clock, limited.call(1)).catch((e: unknown) => e);
    expect(all).toBeInstanceOf(FallbackExhaustedError);
    expect((all as FallbackExhaustedError).attempts.every((x) => isRateLimitHit(x.error))).toBe(true);
    expect(detectRateLimit(all)?.kind).toBe('rate_limit');
  });

  it("looks limiter names up in the registry and stops at the caller's abort", async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    registry.register('one', { clock });
    registry.register('two', { clock });
    const second = provider(clock, 'two', () => 'ok');
    const chain = withFallback<number, string>(
      [
        { name: 'one', limiter: 'one', call: (_i, signal) => clock.sleep(1000, signal).then(() => 'one') },
        { name: 'two', limiter: 'two', call: second.call },
      ],
      { registry },
    );
    expect(chain.limiters().one).toBe(registry.get('one'));
    const controller = new AbortController();
    const call = chain.call(1, { signal: controller.signal });
    await clock.advance(10);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(second.calls).toHaveLength(0);
    expect(registry.get('one').stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('validates targets and options, naming the offending one', () => {
    const limiter = new Limiter();
    const call = async () => 'x';
    expect(() => withFallback([])).toThrow('targets must be a non-empty array of targets, got []');
    expect(() =>
      withFallback([
        { name: 'a', limiter, call },
        { name: 'a', limiter, call },
      ]),
    ).toThrow("targets.1.name must be unique, got 'a' twice");
    expect(() => withFallback([{ name: 'a', limiter: 5 as unknown as Limiter, call }])).toThrow(
      /targets\.0\.limiter must be a registered limiter name or a Limiter/,
    );
    expect(() => withFallback([{ name: 'a', limiter, call, timeoutMs: 0 }])).toThrow(
      /targets\.0\.timeoutMs must be a positive number/,
    );
    expect(() => withFallback([{ name: 'a', limiter, call }], { maxRateLimitRetries: -1 })).toThrow(
      /maxRateLimitRetries must be a non-negative integer/,
    );
    expect(() => withFallback([{ name: 'a', limiter, call }], { retries: 1 } as object)).toThrow(
      /unknown option 'retries'/,
    );
  });
});

describe('FallbackNode', () => {
  it('routes every item through the chain, counts who served what, and falls back per item when all targets fail', async () => {
    const clock = new FakeClock();
    let primaryHealthy = false;
    const breaker = new CircuitBreaker({ consecutiveFailures: 2, halfOpenAfterMs: 60_000, clock });
    const fallbacks: unknown[] = [];
    interface Shared {
      items: number[];
      out?: string[];
    }
    class Summarise extends FallbackNode<Shared, number, string> {
      override targets: FallbackTarget<number, string>[] = [
        {
          name: 'primary',
          limiter: new Limiter({ clock, maxConcurrent: 2 }),
          circuitBreaker: breaker,
          call: async (i, signal) => {
            await clock.sleep(50, signal);
            if (!primaryHealthy) throw status(503);
            return `p${i}`;
          },
        },
        {
          name: 'secondary',
          limiter: new Limiter({ clock, maxConcurrent: 2 }),
          call: async (i, signal) => {
            await clock.sleep(80, signal);
            if (i === 99) throw status(500);
            return `s${i}`;
          },
        },
      ];
      override async prep(shared: Shared) {
        return shared.items;
      }
      override async execFallback(_i: number, error: Error) {
        fallbacks.push(error);
        return 'none';
      }
      override async post(shared: Shared, _items: number[], out: string[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new Summarise({ maxRetries: 2 });
    const shared: Shared = { items: [1, 2, 3, 4, 99] };
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual(['s1', 's2', 's3', 's4', 'none']);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toBeInstanceOf(FallbackExhaustedError);
    expect(
      (fallbacks[0] as FallbackExhaustedError).attempts.some((a) => a.error instanceof BrokenCircuitError),
    ).toBe(true);
    expect(node.stats.servedBy).toEqual({ primary: 0, secondary: 4 });

    primaryHealthy = true;
    breaker.reset();
    const again: Shared = { items: [5, 6] };
    await runOnFakeClock(clock, node.run(again));
    expect(again.out).toEqual(['p5', 'p6']);
    expect(node.stats.servedBy).toEqual({ primary: 2, secondary: 4 });
  });

  it('validates targets given as an option at construction', () => {
    expect(() => new FallbackNode({ targets: [] })).toThrow(
      'targets must be a non-empty array of targets, got []',
    );
  });
});
