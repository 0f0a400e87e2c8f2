import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Flow } from '../../src/index';
import { isRateLimitHit, RateLimitHit } from '../../src/errors/rate-limit-hit';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { AdaptiveThrottledNode } from '../../src/throttled/adaptive-throttled-node';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { CallLog, runOnFakeClock } from './support';

afterEach(() => {
  LimiterRegistry.clear();
  vi.restoreAllMocks();
});

/** An error shaped like an SDK's 429. */
const tooManyRequests = (retryAfterSeconds?: number) =>
  Object.assign(new Error('429'), {
    status: 429,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  });

/** A provider that rejects calls above `limit()` in flight with a 429. */
function concurrencyCappedProvider(clock: FakeClock, limit: () => number, latencyMs = 100) {
  let inFlight = 0;
  let rejected = 0;
  return {
    get rejected() {
      return rejected;
    },
    async call<T>(value: T): Promise<T> {
      inFlight++;
      try {
        await clock.sleep(latencyMs);
        if (inFlight > limit()) {
          rejected++;
          throw tooManyRequests();
        }
        return value;
      } finally {
        inFlight--;
      }
    },
  };
}

describe('ThrottledParallelBatchNode', () => {
  it('puts a rate-limited item back through the limiter without using up maxRetries', async () => {
    const clock = new FakeClock();
    const tries = new Map<number, number>();
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1, 2, 3];
      }
      override async exec(i: number) {
        const n = (tries.get(i) ?? 0) + 1;
        tries.set(i, n);
        await clock.sleep(10);
        if (i === 2 && n <= 3) throw tooManyRequests(1);
        return i * 10;
      }
      override async post(shared: { out?: number[] }, _i: number[], out: number[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new N({ maxConcurrent: 3, clock, maxRetries: 1 });
    const shared: { out?: number[] } = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual([10, 20, 30]);
    expect(tries.get(2)).toBe(4);
    expect(node.stats.totalRateLimits).toBe(3);
    expect(node.stats.totalFailures).toBe(0);
    // Each 429 carried retry-after: 1 s; the limiter paused for it.
    expect(clock.now()).toBeGreaterThanOrEqual(3000);
  });

  it('fails an item through execFallback with a RateLimitHit once maxRateLimitRetries is spent', async () => {
    const clock = new FakeClock();
    const fallbacks: unknown[] = [];
    class N extends ThrottledParallelBatchNode<unknown, number, string> {
      override async prep() {
        return [1];
      }
      override async exec(): Promise<string> {
        await clock.sleep(5);
        throw tooManyRequests(0);
      }
      override async execFallback(_i: number, error: Error) {
        fallbacks.push(error);
        return 'fallback';
      }
    }
    const node = new N({ clock, maxRateLimitRetries: 2 });
    await runOnFakeClock(clock, node.run({}));
    expect(fallbacks).toHaveLength(1);
    expect(isRateLimitHit(fallbacks[0])).toBe(true);
    expect(node.stats.totalRateLimits).toBe(3);
  });

  it('retries ordinary failures maxRetries times with wait, then rejects run with the original error', async () => {
    const clock = new FakeClock();
    const boom = new Error('boom');
    let calls = 0;
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1, 2];
      }
      override async exec(i: number) {
        calls++;
        if (i === 2) throw boom;
        return i;
      }
    }
    const node = new N({ clock, maxRetries: 3, waitMs: 1000 });
    await expect(runOnFakeClock(clock, node.run({}))).rejects.toBe(boom);
    expect(calls).toBe(1 + 3);
    expect(clock.now()).toBe(2000);
    expect(node.stats).toMatchObject({ totalSuccesses: 1, totalFailures: 1, active: 0 });
  });

  it('charges token estimates and reconciles with real usage', async () => {
    const clock = new FakeClock();
    class N extends ThrottledParallelBatchNode<unknown, string, { usage: { total_tokens: number } }> {
      override async prep() {
        return ['a', 'b'];
      }
      override tokensFor(text: string) {
        return text === 'a' ? 100 : 200;
      }
      override async exec(text: string) {
        return { usage: { total_tokens: text === 'a' ? 150 : 50 } };
      }
    }
    const node = new N({ clock, maxTokensPerMinute: 10_000 });
    await runOnFakeClock(clock, node.run({}));
    // 'up' reconcile: a charges 100 + 50 extra; b keeps its 200 (no refund).
    expect(node.stats.tokensInWindow).toBe(350);
  });

  it("shares limiter and stats between the user's node and the copies a flow makes", async () => {
    const clock = new FakeClock();
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1, 2, 3, 4];
      }
      override async exec(i: number) {
        await clock.sleep(1);
        return i;
      }
    }
    const node = new N({ clock, maxPerMinute: 100 });
    await runOnFakeClock(clock, new Flow(node).run({}));
    await runOnFakeClock(clock, new Flow(node).run({}));
    expect(node.stats.totalSuccesses).toBe(8);
    expect(node.stats.requestsInWindow).toBe(8);
  });

  it('uses a Limiter instance or a registry name, and says which names exist when one is missing', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxConcurrent: 2, clock });
    const node = new ThrottledParallelBatchNode({ limiter });
    expect(node.getLimiter()).toBe(limiter);
    LimiterRegistry.register('known', { maxConcurrent: 1, clock });
    const missing = new ThrottledParallelBatchNode({ limiter: 'unknown' });
    expect(() => missing.getLimiter()).toThrow(/No limiter named 'unknown'.*known/);
  });

  it('rejects bad options at construction, naming option and value', () => {
    expect(() => new ThrottledParallelBatchNode({ maxConcurrent: 0 })).toThrow(
      'maxConcurrent must be a positive integer, got 0',
    );
    expect(() => new ThrottledParallelBatchNode({ maxRateLimitRetries: -1 })).toThrow(
      /maxRateLimitRetries must be a non-negative integer, got -1/,
    );
    expect(() => new ThrottledParallelBatchNode({ maxRetries: 0 })).toThrow(
      /maxRetries must be a positive integer, got 0/,
    );
    expect(() => new AdaptiveThrottledNode({ backoffFactor: 1.5 })).toThrow(
      /backoffFactor must be a number between 0 and 1/,
    );
  });

  it('property: never exceeds its limits and loses no item under random latencies, failures and 429s', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxConcurrent: fc.integer({ min: 1, max: 6 }),
          maxPerWindow: fc.integer({ min: 1, max: 12 }),
          windowMs: fc.integer({ min: 100, max: 5000 }),
          maxRetries: fc.integer({ min: 1, max: 3 }),
          items: fc.array(
            fc.record({
              latencyMs: fc.integer({ min: 0, max: 3000 }),
              // What each try does: ok, an ordinary failure, or a 429 (with or without retry-after).
              tries: fc.array(fc.constantFrom('ok', 'fail', '429', '429ra'), { minLength: 1, maxLength: 5 }),
            }),
            { maxLength: 25 },
          ),
        }),
        async ({ maxConcurrent, maxPerWindow, windowMs, maxRetries, items }) => {
          const clock = new FakeClock();
          const log = new CallLog(clock);
          const attempt = new Map<number, number>();
          class N extends ThrottledParallelBatchNode<unknown, number, string> {
            override async prep() {
              return items.map((_, i) => i);
            }
            override async exec(i: number) {
              return log.track(async () => {
                const n = attempt.get(i) ?? 0;
                attempt.set(i, n + 1);
                await clock.sleep(items[i]!.latencyMs);
                const outcome = items[i]!.tries[Math.min(n, items[i]!.tries.length - 1)];
                if (outcome === 'fail') throw new Error(`fail ${i}`);
                if (outcome === '429') throw tooManyRequests();
                if (outcome === '429ra') throw tooManyRequests(1);
                return `ok ${i}`;
              });
            }
            override async execFallback(i: number, error: Error) {
              return `fallback ${i}: ${error.name}`;
            }
            override async post(shared: { out?: string[] }, _i: number[], out: string[]) {
              shared.out = out;
              return undefined;
            }
          }
          const node = new N({
            clock,
            maxConcurrent,
            maxPerWindow,
            windowMs,
            windowMarginMs: 0,
            maxRetries,
            maxRateLimitRetries: 3,
            rateLimitBackoffMs: 50,
          });
          const shared: { out?: string[] } = {};
          await runOnFakeClock(clock, node.run(shared));
          expect(shared.out).toHaveLength(items.length);
          shared.out!.forEach((o, i) =>
            expect(o.endsWith(` ${i}`) || o.startsWith(`fallback ${i}:`)).toBe(true),
          );
          expect(log.maxInFlight).toBeLessThanOrEqual(maxConcurrent);
          expect(log.maxStartsInWindow(windowMs)).toBeLessThanOrEqual(maxPerWindow);
          expect(node.stats).toMatchObject({ active: 0, queued: 0 });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('AdaptiveThrottledNode', () => {
  it('converges near a provider concurrency of 8 and recovers after the limit is raised', async () => {
    const clock = new FakeClock();
    let providerLimit = 8;
    const provider = concurrencyCappedProvider(clock, () => providerLimit);
    const levels: number[] = [];
    class N extends AdaptiveThrottledNode<unknown, number, number> {
      override async prep(shared: { n: number }) {
        return Array.from({ length: shared.n }, (_, i) => i);
      }
      override async exec(i: number) {
        const r = await provider.call(i);
        levels.push(this.stats.currentConcurrent);
        return r;
      }
    }
    const node = new N({
      clock,
      initialConcurrent: 2,
      minConcurrent: 1,
      maxConcurrent: 40,
      recoveryThreshold: 5,
      rateLimitBackoffMs: 100,
      maxRateLimitBackoffMs: 400,
    });
    await runOnFakeClock(clock, node.run({ n: 600 }));
    const tail = levels.slice(-200);
    const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
    expect(mean).toBeGreaterThanOrEqual(4);
    expect(mean).toBeLessThanOrEqual(12);
    expect(node.stats.totalSuccesses).toBe(600);

    providerLimit = 30;
    levels.length = 0;
    await runOnFakeClock(clock, node.run({ n: 1500 }));
    expect(Math.max(...levels.slice(-300))).toBeGreaterThan(16);
  });

  it("with a request budget in the provider's headers, starts what it has room for at once, then pauses until the reset", async () => {
    const clock = new FakeClock();
    // 30 requests per fixed window of 1 s, counted when they arrive (at once here); 100 ms latency.
    const budget = { limit: 30, windowMs: 1000 };
    const counts = new Map<number, number>();
    const starts: number[] = [];
    let rejected = 0;
    class N extends AdaptiveThrottledNode<unknown, number, { headers: Record<string, string> }> {
      override async prep() {
        return Array.from({ length: 60 }, (_, i) => i);
      }
      override async exec() {
        const now = clock.now();
        starts.push(now);
        const window = Math.floor(now / budget.windowMs);
        const count = (counts.get(window) ?? 0) + 1;
        counts.set(window, count);
        const headers = {
          'x-ratelimit-limit-requests': String(budget.limit),
          'x-ratelimit-remaining-requests': String(Math.max(0, budget.limit - count)),
          'x-ratelimit-reset-requests': `${(window + 1) * budget.windowMs - now}ms`,
        };
        await clock.sleep(100);
        if (count > budget.limit) {
          rejected++;
          throw Object.assign(tooManyRequests(), { headers });
        }
        return { headers };
      }
    }
    // Grown a step per 10 successes from 2, the first window's 30 would take 0.8 s to start.
    const node = new N({ clock, initialConcurrent: 2, maxConcurrent: 50, recoveryThreshold: 10 });
    await runOnFakeClock(clock, node.run({}));
    expect(rejected).toBe(0);
    expect(node.stats.totalSuccesses).toBe(60);
    // Two at 0 ms; the first answers say 28 more fit, and they start at 100 ms.
    expect(starts.filter((t) => t < 1000)).toEqual([...Array(2).fill(0), ...Array(28).fill(100)]);
    // Paused until the reset (counted from the send, plus 1 %), then the next window's 30 at once.
    expect(new Set(starts.filter((t) => t >= 1000))).toEqual(new Set([1010]));
  });

  it("against a concurrency limit, the provider's headers never raise it back to a level that was cut", async () => {
    // A concurrency cap of 8 and a request budget that never runs out, with and without the headers.
    const run = async (headers: Record<string, string>) => {
      const clock = new FakeClock();
      const provider = concurrencyCappedProvider(clock, () => 8);
      const levels: number[] = [];
      class N extends AdaptiveThrottledNode<unknown, number, { headers: Record<string, string> }> {
        override async prep() {
          return Array.from({ length: 400 }, (_, i) => i);
        }
        override async exec(i: number) {
          await provider.call(i);
          levels.push(this.stats.currentConcurrent);
          return { headers };
        }
      }
      const node = new N({
        clock,
        initialConcurrent: 2,
        maxConcurrent: 40,
        recoveryThreshold: 5,
        rateLimitBackoffMs: 100,
        maxRateLimitBackoffMs: 400,
      });
      await runOnFakeClock(clock, node.run({}));
      expect(node.stats.totalSuccesses).toBe(400);
      return { rejected: provider.rejected, tail: levels.slice(-200) };
    };
    const plain = await run({});
    const told = await run({
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-remaining-requests': '9999',
    });
    // The first answer raises the level to the most allowed (40); the cuts that follow bring it
    // down (40 → 20, grown to 24 → 12, …), each capping later raises. The 429s of that descent
    // (at most 32 + 16 + 8 + …) are all it adds: afterwards the level moves as AIMD's alone does.
    expect(told.rejected).toBeLessThanOrEqual(plain.rejected + 2 * (40 - 8));
    expect(Math.max(...told.tail)).toBe(Math.max(...plain.tail));
    expect(Math.min(...told.tail)).toBe(Math.min(...plain.tail));
  });

  it('a burst of simultaneous 429s from one in-flight cohort cuts concurrency once', async () => {
    const clock = new FakeClock();
    class N extends AdaptiveThrottledNode<unknown, number, number> {
      override async prep() {
        return Array.from({ length: 10 }, (_, i) => i);
      }
      override async exec(i: number) {
        await clock.sleep(100);
        if (this.stats.totalRateLimits < 10) throw tooManyRequests(1);
        return i;
      }
    }
    const node = new N({
      clock,
      initialConcurrent: 10,
      minConcurrent: 1,
      maxConcurrent: 20,
      backoffFactor: 0.5,
      recoveryThreshold: 100,
    });
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats.totalRateLimits).toBe(10);
    expect(node.aimd.stats().currentConcurrent).toBe(5);
  });

  it('propagateRateLimit: backs off itself, then rethrows RateLimitHit for the enclosing flow', async () => {
    const clock = new FakeClock();
    class N extends AdaptiveThrottledNode<unknown, number, number> {
      override propagateRateLimit = true;
      override async prep() {
        return [1, 2, 3];
      }
      override async exec(i: number) {
        await clock.sleep(10);
        if (i === 2) throw tooManyRequests(2);
        return i;
      }
    }
    const node = new N({ clock, initialConcurrent: 4 });
    const error = await runOnFakeClock(clock, node.run({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitHit);
    expect((error as RateLimitHit).retryAfterMs).toBe(2000);
    expect(node.stats.currentConcurrent).toBe(2);
  });
});
