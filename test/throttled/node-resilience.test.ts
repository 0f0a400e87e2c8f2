import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { BrokenCircuitError } from '../../src/resilience/broken-circuit-error';
import type { Cache } from '../../src/resilience/cache';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { MemoryCache } from '../../src/resilience/memory-cache';
import { TimeoutError } from '../../src/resilience/timeout-error';
import { AdaptiveThrottledNode } from '../../src/throttled/adaptive-throttled-node';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from './support';

afterEach(() => LimiterRegistry.clear());

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status, headers: {} });

/** A node over `items` whose exec is `fn`; results land in `shared.out`. */
function nodeOf<I, R>(
  items: I[],
  fn: (
    item: I,
    signal: AbortSignal | undefined,
    node: ThrottledParallelBatchNode<Shared<R>, I, R>,
  ) => Promise<R>,
) {
  return class extends ThrottledParallelBatchNode<Shared<R>, I, R> {
    override async prep() {
      return items;
    }
    override async exec(item: I, signal?: AbortSignal) {
      return fn(item, signal, this);
    }
    override async execFallback(item: I, error: Error) {
      return `fallback ${String(item)}: ${error.name}` as R;
    }
    override async post(shared: Shared<R>, _items: I[], out: R[]) {
      shared.out = out;
      return undefined;
    }
  };
}
interface Shared<R> {
  out?: R[];
}

describe('circuitBreaker option', () => {
  it('opens after consecutive failures; later items fail fast through execFallback without taking capacity', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({
      consecutiveFailures: 3,
      halfOpenAfterMs: 10_000,
      clock,
      name: 'llm',
    });
    let calls = 0;
    const N = nodeOf<number, string>([1, 2, 3, 4, 5, 6], async () => {
      calls++;
      await clock.sleep(100);
      throw httpError(500);
    });
    const node = new N({ clock, maxConcurrent: 1, circuitBreaker: breaker });
    const shared: Shared<string> = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(calls).toBe(3);
    expect(breaker.state).toBe('open');
    expect(shared.out).toEqual([
      'fallback 1: Error',
      'fallback 2: Error',
      'fallback 3: Error',
      'fallback 4: BrokenCircuitError',
      'fallback 5: BrokenCircuitError',
      'fallback 6: BrokenCircuitError',
    ]);
    // Refused items never acquired the limiter.
    expect(node.stats).toMatchObject({ totalRequests: 3, totalFailures: 6, active: 0, queued: 0 });
  });

  it('does not retry an open-circuit failure, even with maxRetries left', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ consecutiveFailures: 1, clock });
    breaker.open();
    const errors: unknown[] = [];
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1];
      }
      override async exec(i: number) {
        return i;
      }
      override async execFallback(_i: number, error: Error) {
        errors.push(error);
        return -1;
      }
    }
    const node = new N({ clock, circuitBreaker: breaker, maxRetries: 5, waitMs: 1000 });
    await runOnFakeClock(clock, node.run({}));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BrokenCircuitError);
    expect(clock.now()).toBe(0);
  });

  it('half-opens after the delay and closes again on a successful trial', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ consecutiveFailures: 2, halfOpenAfterMs: 5000, clock });
    let healthy = false;
    const N = nodeOf(['a', 'b'], async (item) => {
      await clock.sleep(10);
      if (!healthy) throw httpError(503);
      return `ok ${item}`;
    });
    const node = new N({ clock, maxConcurrent: 1, circuitBreaker: breaker });
    await runOnFakeClock(clock, node.run({}));
    expect(breaker.state).toBe('open');
    healthy = true;
    await clock.advance(5000);
    expect(breaker.state).toBe('half-open');
    const shared: Shared<string> = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual(['ok a', 'ok b']);
    expect(breaker.state).toBe('closed');
  });

  it('rate limits do not trip it (they are retried through the limiter); overloads do', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ consecutiveFailures: 2, halfOpenAfterMs: 60_000, clock });
    let tries = 0;
    const limited = nodeOf([1], async (i) => {
      tries++;
      if (tries <= 4) throw Object.assign(httpError(429), { headers: { 'retry-after-ms': '100' } });
      return i;
    });
    const node = new limited({ clock, circuitBreaker: breaker });
    const shared: Shared<number> = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual([1]);
    expect(breaker.state).toBe('closed');
    expect(node.stats.totalRateLimits).toBe(4);

    const overloaded = nodeOf<number, string>([1, 2, 3], async () => {
      throw Object.assign(httpError(529), { headers: { 'retry-after-ms': '100' } });
    });
    const outage = new overloaded({ clock, maxConcurrent: 1, circuitBreaker: breaker });
    const out: Shared<string> = {};
    await runOnFakeClock(clock, outage.run(out));
    expect(breaker.state).toBe('open');
    expect(out.out).toEqual([
      'fallback 1: BrokenCircuitError',
      'fallback 2: BrokenCircuitError',
      'fallback 3: BrokenCircuitError',
    ]);
  });
});

describe('timeoutMs option', () => {
  it('aborts the signal exec got, frees the slot at the deadline, and retries as an ordinary failure', async () => {
    const clock = new FakeClock();
    const aborted: unknown[] = [];
    const tries = new Map<number, number>();
    const N = nodeOf([1, 2], async (i, signal) => {
      const n = (tries.get(i) ?? 0) + 1;
      tries.set(i, n);
      signal!.addEventListener('abort', () => aborted.push(signal!.reason));
      // Item 1 hangs on its first try (and ignores the abort); every other call takes 100 ms.
      await clock.sleep(i === 1 && n === 1 ? 1_000_000 : 100);
      return i * 10;
    });
    const starts: number[] = [];
    const node = new N({ clock, maxConcurrent: 1, timeoutMs: 1000, maxRetries: 2 });
    node.getLimiter().on('acquire', () => starts.push(clock.now()));
    const shared: Shared<number> = {};
    const run = node.run(shared);
    await clock.advance(1000);
    await runOnFakeClock(clock, run);
    expect(shared.out).toEqual([10, 20]);
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toBeInstanceOf(TimeoutError);
    // The slot came free at the deadline (maxConcurrent 1) although the first call never ended.
    expect(starts).toEqual([0, 1000, 1100]);
    expect(node.stats).toMatchObject({ totalRateLimits: 0, totalSuccesses: 2, active: 0, pausedUntil: 0 });
    expect(node.getLimiter().stats().totalRateLimits).toBe(0);
  });

  it('fails through execFallback with TimeoutError once maxRetries are spent', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const N = nodeOf([1], async (_i, signal) => {
      calls++;
      await clock.sleep(5000, signal);
      return 'late';
    });
    const shared: Shared<string> = {};
    const node = new N({ clock, timeoutMs: 200, maxRetries: 3 });
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual(['fallback 1: TimeoutError']);
    expect(calls).toBe(3);
    expect(clock.now()).toBe(600);
    expect(node.stats).toMatchObject({ totalFailures: 1, totalRateLimits: 0, active: 0 });
  });

  it('passes the run signal through when there is no timeout, and counts timeouts as breaker failures', async () => {
    const clock = new FakeClock();
    const seen: (AbortSignal | undefined)[] = [];
    const N = nodeOf([1], async (i, signal) => {
      seen.push(signal);
      return i;
    });
    const controller = new AbortController();
    await runOnFakeClock(clock, new N({ clock }).run({}, { signal: controller.signal }));
    expect(seen[0]).toBe(controller.signal);

    const breaker = new CircuitBreaker({ consecutiveFailures: 2, clock });
    const Slow = nodeOf([1, 2], async (_i, signal) => {
      await clock.sleep(10_000, signal);
      return 0;
    });
    await runOnFakeClock(
      clock,
      new Slow({ clock, maxConcurrent: 1, timeoutMs: 100, circuitBreaker: breaker }).run({}),
    );
    expect(breaker.state).toBe('open');
  });
});

describe('cache option', () => {
  it('a hit costs no limiter capacity; concurrent misses of one key make one call', async () => {
    const clock = new FakeClock();
    const cache = new MemoryCache<string>({ clock });
    const calls: string[] = [];
    const N = nodeOf(['a', 'b', 'a', 'a', 'c', 'b'], async (item) => {
      calls.push(item);
      await clock.sleep(100);
      return `answer ${item}`;
    });
    const node = new N({ clock, maxConcurrent: 10, cache });
    const shared: Shared<string> = {};
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.out).toEqual(['answer a', 'answer b', 'answer a', 'answer a', 'answer c', 'answer b']);
    expect(calls.sort()).toEqual(['a', 'b', 'c']);
    expect(node.stats).toMatchObject({ totalRequests: 3, totalCacheHits: 3, totalSuccesses: 3 });

    // A second run is served from the cache entirely: no acquire at all.
    const again: Shared<string> = {};
    await runOnFakeClock(clock, node.run(again));
    expect(again.out).toEqual(shared.out);
    expect(node.stats).toMatchObject({ totalRequests: 3, totalCacheHits: 9 });
  });

  it('does not cache fallback values; each item sharing a failed load gets its own fallback', async () => {
    const clock = new FakeClock();
    const cache = new MemoryCache<string>({ clock });
    let fail = true;
    let calls = 0;
    const N = nodeOf(['x', 'x'], async (item) => {
      calls++;
      await clock.sleep(10);
      if (fail) throw new Error('down');
      return `ok ${item}`;
    });
    const node = new N({ clock, cache });
    const first: Shared<string> = {};
    await runOnFakeClock(clock, node.run(first));
    expect(first.out).toEqual(['fallback x: Error', 'fallback x: Error']);
    expect(calls).toBe(1);
    expect(cache.size).toBe(0);
    fail = false;
    const second: Shared<string> = {};
    await runOnFakeClock(clock, node.run(second));
    expect(second.out).toEqual(['ok x', 'ok x']);
    expect(calls).toBe(2);
  });

  it('uses an overridden cacheKeyOf (undefined bypasses the cache) and subclass fields', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    class N extends ThrottledParallelBatchNode<Shared<string>, { prompt: string; id: number }, string> {
      override cache = new MemoryCache<string>({ clock });
      override clock = clock;
      override async prep() {
        return [
          { prompt: 'p', id: 1 },
          { prompt: 'p', id: 2 },
          { prompt: 'nocache', id: 3 },
          { prompt: 'nocache', id: 4 },
        ];
      }
      override cacheKeyOf(item: { prompt: string }) {
        return item.prompt === 'nocache' ? undefined : item.prompt;
      }
      override async exec(item: { prompt: string; id: number }) {
        calls.push(`${item.prompt}${item.id}`);
        return `r${item.id}`;
      }
      override async post(shared: Shared<string>, _i: unknown, out: string[]) {
        shared.out = out;
        return undefined;
      }
    }
    const shared: Shared<string> = {};
    await runOnFakeClock(clock, new N().run(shared));
    expect(shared.out).toEqual(['r1', 'r1', 'r3', 'r4']);
    expect(calls.sort()).toEqual(['nocache3', 'nocache4', 'p1']);
  });

  it('treats a failing cache as a miss', async () => {
    const clock = new FakeClock();
    const broken: Cache<string> = {
      get: async () => {
        throw new Error('cache down');
      },
      set: async () => {
        throw new Error('cache down');
      },
    };
    const N = nodeOf(['a'], async (item) => `ok ${item}`);
    const shared: Shared<string> = {};
    await runOnFakeClock(clock, new N({ clock, cache: broken }).run(shared));
    expect(shared.out).toEqual(['ok a']);
  });

  it('an item of another run that was cancelled does not cancel the item sharing its load', async () => {
    const clock = new FakeClock();
    const cache = new MemoryCache<string>({ clock });
    let calls = 0;
    const N = nodeOf(['k'], async (item, signal) => {
      calls++;
      await clock.sleep(100, signal);
      return `ok ${item}`;
    });
    const limiter = new Limiter({ clock });
    const node = new N({ limiter, cache });
    const controller = new AbortController();
    const aborted: Shared<string> = {};
    const cancelled = node.run(aborted, { signal: controller.signal });
    const shared: Shared<string> = {};
    const kept = node.run(shared);
    await clock.advance(50);
    controller.abort();
    await runOnFakeClock(clock, kept);
    await cancelled;
    // The cancelled run's item went through its fallback (as any aborted last try does) …
    expect(aborted.out).toEqual(['fallback k: AbortError']);
    // … while the other run's item, which had joined that load, made its own call.
    expect(shared.out).toEqual(['ok k']);
    expect(calls).toBe(2);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });
});

describe('resilience option validation', () => {
  it('rejects bad options at construction and bad subclass fields at the first run', async () => {
    expect(() => new ThrottledParallelBatchNode({ timeoutMs: 0 })).toThrow(
      'timeoutMs must be a positive number, got 0',
    );
    expect(() => new ThrottledParallelBatchNode({ circuitBreaker: {} as CircuitBreaker })).toThrow(
      /circuitBreaker must be a CircuitBreaker/,
    );
    expect(
      () => new ThrottledParallelBatchNode({ cache: { get() {} } as unknown as Cache<unknown> }),
    ).toThrow(/cache must be a Cache with get\(\) and set\(\)/);
    expect(() => new AdaptiveThrottledNode({ timeoutMs: -1 })).toThrow(/timeoutMs must be a positive number/);
    class Bad extends ThrottledParallelBatchNode<unknown, number, number> {
      override timeoutMs = -5;
      override async prep() {
        return [1];
      }
    }
    await expect(new Bad().run({})).rejects.toThrow('timeoutMs must be a positive number, got -5');
  });
});
