import { afterEach, describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/cost/price-table';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FallbackNode } from '../../src/routing/fallback-node';
import { FakeClock } from '../../src/testing/fake-clock';
import { runOnFakeClock } from '../throttled/support';

afterEach(() => LimiterRegistry.clear());

const status = (code: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${code}`), { status: code, headers });

/** A target on the fake clock whose calls take `latencyMs`; `starts` records when each call began. */
function target(
  clock: FakeClock,
  name: string,
  limiter: Limiter,
  options: { latencyMs?: number; fail?: () => Error | undefined; model?: string } = {},
) {
  const starts: number[] = [];
  const t: FallbackTarget<number, string> = {
    name,
    limiter,
    ...(options.model === undefined ? {} : { model: options.model }),
    call: async (item, signal) => {
      starts.push(clock.now());
      await clock.sleep(options.latencyMs ?? 100, signal);
      const error = options.fail?.();
      if (error) throw error;
      return `${name}:${item}`;
    },
  };
  return { target: t, starts, limiter };
}

const windowLimiter = (clock: FakeClock, name: string, maxPerWindow: number, windowMs: number) =>
  new Limiter({ clock, name, maxPerWindow, windowMs, windowMarginMs: 0, warnings: false });

describe("strategy 'soonest'", () => {
  it('adds the capacity of three targets up: each serves a third, in the makespan three allow', async () => {
    const clock = new FakeClock();
    const ts = ['a', 'b', 'c'].map((n) => target(clock, n, windowLimiter(clock, n, 10, 1000)));
    const chain = withFallback(
      ts.map((t) => t.target),
      { strategy: 'soonest' },
    );
    const items = Array.from({ length: 60 }, (_, i) => i);
    const results = await runOnFakeClock(clock, Promise.all(items.map((i) => chain.call(i))));
    expect(results).toHaveLength(60);
    expect(chain.stats().servedBy).toEqual({ a: 20, b: 20, c: 20 });
    // 30 start at once, 30 at the window's end: the last ends at 1000 + 100 ms.
    expect(clock.now()).toBe(1100);
    for (const t of ts) expect(Math.max(...t.starts)).toBeLessThanOrEqual(1000);
  });

  it('works in a FallbackNode, as an option or a subclass field', async () => {
    const clock = new FakeClock();
    const ts = ['a', 'b'].map((n) => target(clock, n, windowLimiter(clock, n, 5, 1000)));
    class Spread extends FallbackNode<{ out?: string[] }, number, string> {
      override strategy = 'soonest' as const;
      override targets = ts.map((t) => t.target);
      override async prep() {
        return Array.from({ length: 10 }, (_, i) => i);
      }
      override async post(shared: { out?: string[] }, _items: unknown, results: string[]) {
        shared.out = results;
        return undefined;
      }
    }
    const node = new Spread();
    const shared: { out?: string[] } = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toHaveLength(10);
    expect(node.stats).toMatchObject({ strategy: 'soonest', servedBy: { a: 5, b: 5 } });
    expect(clock.now()).toBe(100); // both windows at once, nobody waited
  });

  it("'ordered' (the default) queues every call on the first target", async () => {
    const clock = new FakeClock();
    const ts = ['a', 'b', 'c'].map((n) => target(clock, n, windowLimiter(clock, n, 10, 1000)));
    const chain = withFallback(ts.map((t) => t.target));
    expect(chain.strategy).toBe('ordered');
    await runOnFakeClock(clock, Promise.all(Array.from({ length: 30 }, (_, i) => chain.call(i))));
    expect(chain.stats().servedBy).toEqual({ a: 30, b: 0, c: 0 });
    expect(clock.now()).toBe(2100);
  });

  it('sends each call where it starts soonest when the targets differ, and takes no capacity from the others', async () => {
    const clock = new FakeClock();
    const big = target(clock, 'big', windowLimiter(clock, 'big', 20, 1000));
    const small = target(clock, 'small', windowLimiter(clock, 'small', 5, 1000));
    const chain = withFallback([small.target, big.target], { strategy: 'soonest' });
    const routed: { target: string; estimatedWaitMs: number }[] = [];
    chain.on('route', (e) => routed.push(e));
    await runOnFakeClock(clock, Promise.all(Array.from({ length: 25 }, (_, i) => chain.call(i))));
    // All 25 fit at once in the two windows: nobody waits.
    expect(chain.stats().servedBy).toEqual({ small: 5, big: 20 });
    expect(routed.every((r) => r.estimatedWaitMs === 0)).toBe(true);
    expect(clock.now()).toBe(100);
    // Only the chosen limiter was acquired: the requests each limiter granted are the calls it served.
    expect(small.limiter.stats().totalRequests).toBe(5);
    expect(big.limiter.stats().totalRequests).toBe(20);
  });

  it('passes a target that answered a 429 by until its pause ends, then uses it again', async () => {
    const clock = new FakeClock();
    let down = true;
    const a = target(clock, 'a', windowLimiter(clock, 'a', 100, 1000), {
      fail: () => (down ? status(429, { 'retry-after': '2' }) : undefined),
    });
    const b = target(clock, 'b', windowLimiter(clock, 'b', 100, 1000));
    const chain = withFallback([a.target, b.target], { strategy: 'soonest' });
    const skips: string[] = [];
    chain.on('skip', (e) => skips.push(`${e.target}:${e.reason}`));
    // The first call is routed to a (a tie goes to the first), meets the 429 and moves on to b;
    // a call made while a is paused goes straight to b.
    const [first, second] = await runOnFakeClock(
      clock,
      Promise.all([
        chain.call(0),
        clock.sleep(150).then(() => {
          down = false;
          return chain.call(1);
        }),
      ]),
    );
    expect([first, second]).toEqual(['b:0', 'b:1']);
    expect(skips).toEqual(['a:paused']);
    expect(a.starts).toHaveLength(1);
    await clock.advanceTo(2100);
    expect(await runOnFakeClock(clock, chain.call(2))).toBe('a:2');
    const stats = chain.stats();
    expect(stats.targets.a).toMatchObject({ served: 1, rateLimits: 1, skipped: 1, skips: { paused: 1 } });
    expect(stats).toMatchObject({ strategy: 'soonest', calls: 3, served: 3, fellBack: 1 });
  });
});

describe("'soonest' rebalancing after a pause", () => {
  it('moves the calls queued at a target that a 429 paused to the others, and takes work back after the pause', async () => {
    const clock = new FakeClock();
    // A answers 429 (retry-after 3 s) to calls that end between 1 s and 4 s.
    const a = target(clock, 'a', windowLimiter(clock, 'a', 10, 1000), {
      fail: () =>
        clock.now() > 1000 && clock.now() < 4000 ? status(429, { 'retry-after': '3' }) : undefined,
    });
    const b = target(clock, 'b', windowLimiter(clock, 'b', 10, 1000));
    const c = target(clock, 'c', windowLimiter(clock, 'c', 10, 1000));
    const chain = withFallback([a.target, b.target, c.target], { strategy: 'soonest' });
    const results = await runOnFakeClock(
      clock,
      Promise.all(Array.from({ length: 150 }, (_, i) => chain.call(i))),
    );
    expect(results).toHaveLength(150);
    const stats = chain.stats();
    // A lost its rounds at 1, 2 and 3 s; the 10 calls it refused and those queued behind went to B and C.
    expect(stats.targets.a).toMatchObject({ rateLimits: 10 });
    expect(stats.targets.a!.rerouted).toBeGreaterThan(0);
    // 150 calls, 15 rounds of 10 in all: B and C serve rounds 0–5 s, A rounds 0 s and two after its
    // pause (4.1 s and 5.1 s: a retry-after longer than the window does not widen it), so the last
    // ends at 5.2 s. Left queued at A for its whole pause (no rebalancing), the last ends at 6.4 s.
    expect(clock.now()).toBeLessThanOrEqual(5200);
    expect(stats.servedBy.a! + stats.servedBy.b! + stats.servedBy.c!).toBe(150);
    for (const t of [a, b, c]) expect(t.limiter.stats().totalRequests).toBe(t.starts.length);
  });
});

describe("strategy 'cheapest'", () => {
  const prices = new PriceTable({
    cheap: { inputUsdPerMillion: 0.1, outputUsdPerMillion: 0.4, contextWindowTokens: 100_000 },
    dear: { inputUsdPerMillion: 3, outputUsdPerMillion: 15, contextWindowTokens: 100_000 },
  });

  it('serves from the cheap target everything it can start within maxWaitMs, and only the overflow from the dear one', async () => {
    const clock = new FakeClock();
    // The cheap target takes 10 per second; a call may wait up to 1.5 s for it.
    const cheap = target(clock, 'cheap', windowLimiter(clock, 'cheap', 10, 1000), { model: 'cheap' });
    const dear = target(clock, 'dear', windowLimiter(clock, 'dear', 100, 1000), { model: 'dear' });
    const chain = withFallback([dear.target, cheap.target], {
      strategy: 'cheapest',
      maxWaitMs: 1500,
      prices,
    });
    const results = await runOnFakeClock(
      clock,
      Promise.all(Array.from({ length: 50 }, (_, i) => chain.call(i))),
    );
    expect(results).toHaveLength(50);
    // Within 1.5 s the cheap one starts 20 (10 now, 10 at 1 s); the other 30 cannot wait that long.
    expect(chain.stats().servedBy).toEqual({ cheap: 20, dear: 30 });
    expect(Math.max(...cheap.starts)).toBeLessThanOrEqual(1500);
    expect(chain.stats().targets.cheap!.skips.wait).toBe(30);
  });

  it('sends everything to the cheap target when it can take it all in time', async () => {
    const clock = new FakeClock();
    const cheap = target(clock, 'cheap', windowLimiter(clock, 'cheap', 100, 1000), { model: 'cheap' });
    const dear = target(clock, 'dear', windowLimiter(clock, 'dear', 100, 1000), { model: 'dear' });
    const chain = withFallback([dear.target, cheap.target], { strategy: 'cheapest', prices });
    await runOnFakeClock(clock, Promise.all(Array.from({ length: 40 }, (_, i) => chain.call(i))));
    expect(chain.stats().servedBy).toEqual({ cheap: 40, dear: 0 });
  });
});

describe("strategy 'latency'", () => {
  it('prefers the target with the lower recent median among those that can start now', async () => {
    const clock = new FakeClock();
    const slow = target(clock, 'slow', windowLimiter(clock, 'slow', 1000, 1000), { latencyMs: 400 });
    const fast = target(clock, 'fast', windowLimiter(clock, 'fast', 1000, 1000), { latencyMs: 50 });
    const chain = withFallback([slow.target, fast.target], { strategy: 'latency' });
    // Unmeasured targets are tried first (one each), then the faster one wins.
    for (let i = 0; i < 10; i++) await runOnFakeClock(clock, chain.call(i));
    expect(chain.stats().servedBy).toEqual({ slow: 1, fast: 9 });
    expect(chain.health().targets.fast!.recentP50Ms).toBe(50);
  });

  it('falls back to the soonest target when the fastest cannot start now', async () => {
    const clock = new FakeClock();
    const slow = target(clock, 'slow', windowLimiter(clock, 'slow', 1000, 1000), { latencyMs: 400 });
    const fast = target(clock, 'fast', windowLimiter(clock, 'fast', 2, 10_000), { latencyMs: 50 });
    const chain = withFallback([slow.target, fast.target], { strategy: 'latency' });
    for (let i = 0; i < 6; i++) await runOnFakeClock(clock, chain.call(i));
    expect(chain.stats().servedBy).toEqual({ slow: 4, fast: 2 });
  });
});
