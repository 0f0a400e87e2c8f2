import { describe, expect, it, vi } from 'vitest';
import { isAbortError } from '../../src/errors/abort-error';
import { isLimitExceededError, LimitExceededError } from '../../src/errors/limit-exceeded-error';
import { isLimiterTimeoutError, LimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { isQueueFullError } from '../../src/errors/queue-full-error';
import { isShutdownError } from '../../src/errors/shutdown-error';
import { FakeClock } from '../../src/testing/fake-clock';
import type { Lease } from '../../src/limits/lease';
import { Limiter } from '../../src/limits/limiter';
import { MemoryStore } from '../../src/stores/memory-store';
import { isInvalidOptionError } from '../../src/validation/options';
import { AsyncMemoryStore, flush, setup, track } from './helpers';

describe('Limiter: concurrency', () => {
  it('starts up to maxConcurrent at once and the next one the moment a slot frees', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 2 });
    const a = track(limiter.acquire());
    const b = track(limiter.acquire());
    const c = track(limiter.acquire());
    await flush(clock);
    expect([a.settled, b.settled, c.settled]).toEqual([true, true, false]);
    expect(limiter.stats()).toMatchObject({ active: 2, queued: 1, availableSlots: 0 });
    a.lease!.release();
    await flush(clock);
    expect(c.settled).toBe(true);
    expect(clock.now()).toBe(0);
    expect(limiter.stats()).toMatchObject({ active: 2, queued: 0 });
  });

  it('omitting maxConcurrent means unlimited', async () => {
    const { limiter } = setup();
    const leases = await Promise.all(Array.from({ length: 1000 }, () => limiter.acquire()));
    expect(limiter.stats()).toMatchObject({
      active: 1000,
      maxConcurrent: Infinity,
      availableSlots: Infinity,
    });
    for (const l of leases) l.release();
    expect(limiter.stats().active).toBe(0);
  });

  it('releasing twice is a no-op', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const a = await limiter.acquire();
    const b = track(limiter.acquire());
    const c = track(limiter.acquire());
    a.release();
    a.release();
    await flush(clock);
    expect(b.settled).toBe(true);
    expect(c.settled).toBe(false);
    expect(limiter.stats().active).toBe(1);
    expect(a.isReleased).toBe(true);
  });

  it('`using` and `await using` release the lease', async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    {
      await using lease = await limiter.acquire();
      expect(lease.isReleased).toBe(false);
      expect(limiter.stats().active).toBe(1);
    }
    expect(limiter.stats().active).toBe(0);
    {
      using lease = await limiter.acquire();
      expect(lease.isReleased).toBe(false);
    }
    expect(limiter.stats().active).toBe(0);
  });
});

describe('Limiter: sliding windows', () => {
  it('admits maxPerWindow, then wakes the next waiter exactly when the first start leaves the window', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 2, windowMs: 1000, windowMarginMs: 0 });
    const starts: number[] = [];
    const all = Array.from({ length: 5 }, () => limiter.acquire().then((l) => starts.push(clock.now()) && l));
    await clock.runAll();
    await Promise.all(all);
    expect(starts).toEqual([0, 0, 1000, 1000, 2000]);
  });

  it('adds the default safety margin of 1 % of the window', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 1, windowMs: 1000 });
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) void limiter.acquire().then(() => starts.push(clock.now()));
    await clock.runAll();
    expect(starts).toEqual([0, 1010, 2020]);
  });

  it('maxPerMinute is a 60 s window and maxPerDay a 24 h one', async () => {
    const { clock, limiter } = setup({ maxPerMinute: 1, maxPerDay: 2, windowMarginMs: 0 });
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) void limiter.acquire().then(() => starts.push(clock.now()));
    await clock.runAll();
    expect(starts).toEqual([0, 60_000, 86_400_000]);
  });

  it('counts a token cost in full at its start and wakes when enough tokens have left', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    const starts: Record<string, number> = {};
    const go = (name: string, tokens: number) =>
      limiter.acquire({ tokens }).then(() => (starts[name] = clock.now()));
    void go('a', 400);
    await clock.advance(10_000);
    void go('b', 500);
    await clock.advance(10_000);
    void go('c', 300); // 400 + 500 + 300 > 1000: waits for a (400) to leave at 60 000
    await clock.runAll();
    expect(starts).toEqual({ a: 0, b: 10_000, c: 60_000 });
  });

  it('a general windows entry limits a custom resource charged through units', async () => {
    const { clock, limiter } = setup({
      windows: [{ resource: 'images', limit: 3, windowMs: 1000 }],
      windowMarginMs: 0,
    });
    const starts: number[] = [];
    void limiter.acquire({ units: { images: 2 } }).then(() => starts.push(clock.now()));
    void limiter.acquire({ units: { images: 2 } }).then(() => starts.push(clock.now()));
    void limiter.acquire().then(() => starts.push(clock.now())); // charges no images
    await clock.runAll();
    expect(starts).toEqual([0, 1000, 1000]);
  });

  it('several windows at once: the tightest decides', async () => {
    const { clock, limiter } = setup({
      windows: [
        { resource: 'requests', limit: 3, windowMs: 1000 },
        { resource: 'requests', limit: 4, windowMs: 10_000 },
      ],
      windowMarginMs: 0,
    });
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) void limiter.acquire().then(() => starts.push(clock.now()));
    await clock.runAll();
    expect(starts).toEqual([0, 0, 0, 1000, 10_000, 10_000]);
  });

  it('a cost larger than a window can ever hold rejects at once with LimitExceededError', async () => {
    const { limiter } = setup({ maxTokensPerMinute: 1000, name: 'openai' });
    const error = await limiter.acquire({ tokens: 5000 }).catch((e: unknown) => e);
    expect(isLimitExceededError(error)).toBe(true);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error).toMatchObject({
      name: 'LimitExceededError',
      code: 'LIMIT_EXCEEDED',
      resource: 'tokens',
      cost: 5000,
      limit: 1000,
      limiter: 'openai',
    });
    expect((error as Error).message).toContain('5000 tokens');
    expect((error as Error).message).toContain('1000 tokens');
    expect(limiter.stats().queued).toBe(0);
    await expect(limiter.acquire({ cost: 2 })).resolves.toBeDefined(); // no request window: any cost fits
  });

  it('rejects invalid acquire options with a message naming them', async () => {
    const { limiter } = setup({
      maxTokensPerMinute: 1000,
      windows: [{ resource: 'images', limit: 5, windowMs: 1000 }],
    });
    const messages = await Promise.all(
      [
        { tokens: -1 },
        { tokens: Number.NaN },
        { cost: -2 },
        { priority: Number.POSITIVE_INFINITY },
        { timeoutMs: -5 },
        { units: { images: -1 } },
      ].map((o) =>
        limiter.acquire(o).then(
          () => 'granted',
          (e: unknown) => (isInvalidOptionError(e) ? e.message : 'other'),
        ),
      ),
    );
    expect(messages).toEqual([
      'tokens must be a non-negative number, got -1',
      'tokens must be a non-negative number, got NaN',
      'cost must be a non-negative number, got -2',
      'priority must be a finite number, got Infinity',
      'timeoutMs must be a non-negative number, got -5',
      'units.images must be a non-negative number, got -1',
    ]);
  });
});

describe('Limiter: reconcile', () => {
  it("'up' (default) charges extra usage at the lease's start, and never refunds", async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    const a = await limiter.acquire({ tokens: 300 });
    a.release({ tokens: 700 }); // 400 more, counted at t=0
    expect(limiter.stats().tokensInWindow).toBe(700);
    const b = await limiter.acquire({ tokens: 300 });
    b.release({ tokens: 100 }); // no refund
    expect(limiter.stats().tokensInWindow).toBe(1000);
    const c = track(limiter.acquire({ tokens: 1 }));
    await clock.advance(59_999);
    expect(c.settled).toBe(false);
    await clock.advance(1);
    expect(c.settled).toBe(true);
  });

  it("'both' refunds unused tokens and wakes a waiter that now fits", async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, reconcile: 'both', windowMarginMs: 0 });
    const a = await limiter.acquire({ tokens: 900 });
    const b = track(limiter.acquire({ tokens: 500 }));
    await flush(clock);
    expect(b.settled).toBe(false);
    a.release({ tokens: 200 });
    await flush(clock);
    expect(b.settled).toBe(true);
    expect(clock.now()).toBe(0);
    expect(limiter.stats().tokensInWindow).toBe(700);
  });

  it('a lease that charged no tokens owes its usage from the release on', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    const a = await limiter.acquire();
    await clock.advance(5000);
    a.release({ tokens: 1000 });
    const b = track(limiter.acquire({ tokens: 1 }));
    await clock.advance(59_999);
    expect(b.settled).toBe(false);
    await clock.advance(1);
    expect(b.settled).toBe(true);
    expect(clock.now()).toBe(65_000);
  });

  it('usage is ignored when it is not a finite non-negative number', async () => {
    const { limiter } = setup({ maxTokensPerMinute: 1000, reconcile: 'both' });
    const a = await limiter.acquire({ tokens: 300 });
    a.release({ tokens: Number.NaN });
    expect(limiter.stats().tokensInWindow).toBe(300);
  });
});

describe('Limiter: priority and order', () => {
  it('serves higher priority first, first-in first-out within a priority', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const first = await limiter.acquire();
    const order: string[] = [];
    const go = (name: string, priority: number) =>
      limiter.acquire({ priority }).then((l) => {
        order.push(name);
        l.release();
      });
    const all = [
      go('low-1', -1),
      go('mid-1', 0),
      go('high-1', 5),
      go('mid-2', 0),
      go('high-2', 5),
      go('low-2', -1),
    ];
    await flush(clock);
    first.release();
    await Promise.all(all);
    expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
  });

  it('a large head request is not starved by small ones behind it (strict order)', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    await limiter.acquire({ tokens: 600 });
    const starts: Record<string, number> = {};
    void limiter.acquire({ tokens: 900 }).then(() => (starts.big = clock.now()));
    void limiter.acquire({ tokens: 100 }).then(() => (starts.small = clock.now()));
    await clock.advance(1);
    expect(starts).toEqual({}); // the small one would fit, but waits behind the head
    await clock.runAll();
    expect(starts).toEqual({ big: 60_000, small: 60_000 });
  });

  it('a higher-priority arrival goes ahead of a blocked head and starts at once when it fits', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    await limiter.acquire({ tokens: 600 });
    const big = track(limiter.acquire({ tokens: 900 }));
    const urgent = track(limiter.acquire({ tokens: 100, priority: 1 }));
    await flush(clock);
    expect(urgent.settled).toBe(true);
    expect(big.settled).toBe(false);
    await clock.advance(59_999);
    expect(big.settled).toBe(false); // 600 + 100 leave only at 60 000; 900 fits then
    await clock.advance(1);
    expect(big.settled).toBe(true);
  });
});

describe('Limiter: timeouts and aborts', () => {
  it('timeoutMs rejects with LimiterTimeoutError exactly then and frees the queue for the next', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 1, windowMs: 1000, windowMarginMs: 0, name: 'api' });
    await limiter.acquire();
    const timed = track(limiter.acquire({ timeoutMs: 300 }));
    const patient = track(limiter.acquire());
    await clock.advance(299);
    expect(timed.settled).toBe(false);
    await clock.advance(1);
    expect(timed.settled).toBe(true);
    expect(isLimiterTimeoutError(timed.error)).toBe(true);
    expect(timed.error).toBeInstanceOf(LimiterTimeoutError);
    expect(timed.error).toMatchObject({
      name: 'LimiterTimeoutError',
      code: 'LIMITER_TIMEOUT',
      timeoutMs: 300,
      limiter: 'api',
    });
    expect(limiter.stats().queued).toBe(1);
    await clock.advance(700);
    expect(patient.settled && patient.lease !== undefined).toBe(true);
  });

  it('a waiter at its deadline does not start even when room appears at that instant', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 1, windowMs: 1000, windowMarginMs: 0 });
    await limiter.acquire();
    const timed = track(limiter.acquire({ timeoutMs: 1000 }));
    await clock.advance(1000);
    expect(isLimiterTimeoutError(timed.error)).toBe(true);
    expect(limiter.stats().requestsInWindow).toBe(0);
  });

  it('timeoutMs: 0 starts when there is room now and rejects at once otherwise', async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    const lease = await limiter.acquire({ timeoutMs: 0 });
    const error = await limiter.acquire({ timeoutMs: 0 }).catch((e: unknown) => e);
    expect(isLimiterTimeoutError(error)).toBe(true);
    expect(limiter.stats().queued).toBe(0);
    lease.release();
  });

  it('an abort rejects with an AbortError and removes the waiter', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    const aborted = track(limiter.acquire({ signal: controller.signal }));
    const next = track(limiter.acquire());
    await flush(clock);
    controller.abort();
    await flush(clock);
    expect(isAbortError(aborted.error)).toBe(true);
    expect(aborted.error).toBeInstanceOf(DOMException);
    expect(limiter.stats().queued).toBe(1);
    held.release();
    await flush(clock);
    expect(next.settled).toBe(true);
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
  });

  it("rejects with the signal's own reason, and at once for a signal aborted before the call", async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    const reason = new Error('user cancelled');
    await expect(limiter.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('takes its abort listener off the signal once the waiter is settled', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const waiter = limiter.acquire({ signal: controller.signal });
    held.release();
    (await waiter).release();
    await flush(clock);
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledWith('abort', add.mock.calls[0]![1]);
  });

  it('an aborted head lets the waiter behind it start at once when it fits', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 1000, windowMarginMs: 0 });
    await limiter.acquire({ tokens: 600 });
    const controller = new AbortController();
    void limiter.acquire({ tokens: 900, signal: controller.signal }).catch(() => undefined);
    const small = track(limiter.acquire({ tokens: 100 }));
    await flush(clock);
    expect(small.settled).toBe(false);
    controller.abort();
    await flush(clock);
    expect(small.settled).toBe(true);
  });

  it('thousands of aborted waiters leave nothing behind: no queue, no timers', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 1, windowMs: 1000 });
    await limiter.acquire();
    const controllers = Array.from({ length: 2000 }, () => new AbortController());
    const all = controllers.map((c, i) =>
      limiter.acquire({ signal: c.signal, timeoutMs: 10_000 + i }).catch(() => 'x'),
    );
    await flush(clock);
    expect(clock.pendingSleeps).toBe(1); // one timer for all of them
    for (const c of controllers) c.abort();
    expect(await Promise.all(all)).toEqual(controllers.map(() => 'x'));
    expect(limiter.stats().queued).toBe(0);
    expect(clock.pendingSleeps).toBe(0);
  });
});

describe('Limiter: one timer', () => {
  it('many waiters blocked by a window share one pending sleep, and it is due exactly when room appears', async () => {
    const { clock, limiter } = setup({ maxPerWindow: 10, windowMs: 1000, windowMarginMs: 0 });
    for (let i = 0; i < 100; i++) void limiter.acquire({ timeoutMs: 5000 + i });
    await flush(clock);
    expect(clock.pendingSleeps).toBe(1);
    await clock.advance(999);
    expect(limiter.stats().totalRequests).toBe(10);
    await clock.advance(1);
    expect(limiter.stats().totalRequests).toBe(20);
    expect(clock.pendingSleeps).toBe(1);
  });

  it('no timer is left behind once nothing waits', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const waiter = limiter.acquire({ timeoutMs: 60_000 });
    await flush(clock);
    expect(clock.pendingSleeps).toBe(1);
    held.release();
    (await waiter).release();
    await flush(clock);
    expect(clock.pendingSleeps).toBe(0);
  });
});

describe('Limiter: pause gate', () => {
  it('nobody starts during a pause; waiters start when it ends; pause and resume are announced', async () => {
    const { clock, limiter } = setup();
    const events: string[] = [];
    limiter.on('pause', (e) => events.push(`pause ${e.durationMs} until ${e.untilMs} (${e.origin})`));
    limiter.on('resume', (e) => events.push(`resume at ${e.atMs} / now ${clock.now()}`));
    limiter.pause(500);
    const a = track(limiter.acquire());
    await clock.advance(499);
    expect(a.settled).toBe(false);
    expect(limiter.stats().pausedUntil).toBe(500);
    await clock.advance(1);
    expect(a.settled).toBe(true);
    expect(limiter.stats().pausedUntil).toBe(0);
    expect(events).toEqual(['pause 500 until 500 (local)', 'resume at 500 / now 500']);
  });

  it('a pause extends but never shortens the one in force', async () => {
    const { clock, limiter } = setup();
    const pauses: number[] = [];
    limiter.on('pause', (e) => pauses.push(e.untilMs));
    limiter.pause(1000);
    await clock.advance(100);
    limiter.pause(200); // ends at 300 < 1000: no change
    expect(limiter.stats().pausedUntil).toBe(1000);
    limiter.pause(2000);
    expect(limiter.stats().pausedUntil).toBe(2100);
    expect(pauses).toEqual([1000, 2100]);
    const a = track(limiter.acquire());
    await clock.advance(1999);
    expect(a.settled).toBe(false);
    await clock.advance(1);
    expect(a.settled).toBe(true);
  });

  it('announces resume at the end of a pause even when nobody waits', async () => {
    const { clock, limiter } = setup();
    const resumed: number[] = [];
    limiter.on('resume', () => resumed.push(clock.now()));
    limiter.pause(250);
    await clock.runAll();
    expect(resumed).toEqual([250]);
  });

  it('reportRateLimit pauses for the retry-after and emits ratelimit', async () => {
    const { clock, limiter } = setup();
    const seen: unknown[] = [];
    limiter.on('ratelimit', (e) => seen.push(e));
    limiter.reportRateLimit({ retryAfterMs: 2000, source: 'openai', kind: 'rate_limit' });
    expect(seen).toEqual([{ retryAfterMs: 2000, source: 'openai', kind: 'rate_limit', pausedUntil: 2000 }]);
    const a = track(limiter.acquire());
    await clock.advance(1999);
    expect(a.settled).toBe(false);
    await clock.advance(1);
    expect(a.settled).toBe(true);
    limiter.reportRateLimit({ source: 'x' });
    expect(limiter.stats()).toMatchObject({ totalRateLimits: 2, pausedUntil: 0 });
  });

  it('rejects a negative or non-finite pause', () => {
    const { limiter } = setup();
    expect(() => limiter.pause(-1)).toThrow('pause ms must be a non-negative number, got -1');
    expect(() => limiter.pause(Number.POSITIVE_INFINITY)).toThrow(/got Infinity/);
  });
});

describe('Limiter: resize', () => {
  it('shrinking lets in-flight work finish; nobody starts until active is below the new limit', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 3 });
    const leases = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    const waiter = track(limiter.acquire());
    limiter.setMaxConcurrent(1);
    leases[0].release();
    leases[1].release();
    await flush(clock);
    expect(waiter.settled).toBe(false);
    expect(limiter.stats()).toMatchObject({ active: 1, maxConcurrent: 1 });
    leases[2].release();
    await flush(clock);
    expect(waiter.settled).toBe(true);
  });

  it('growing starts waiters at once and emits resize; windows and waiters are untouched', async () => {
    const { clock, limiter } = setup({
      maxConcurrent: 1,
      maxPerWindow: 3,
      windowMs: 1000,
      windowMarginMs: 0,
    });
    const resizes: unknown[] = [];
    limiter.on('resize', (e) => resizes.push(e));
    await limiter.acquire();
    const waiters = Array.from({ length: 4 }, () => track(limiter.acquire()));
    await flush(clock);
    limiter.setMaxConcurrent(10);
    await flush(clock);
    expect(waiters.map((w) => w.settled)).toEqual([true, true, false, false]); // the window still holds 3
    expect(resizes).toEqual([{ from: 1, to: 10 }]);
    expect(limiter.stats().requestsInWindow).toBe(3);
    await clock.advance(1000);
    expect(waiters.map((w) => w.settled)).toEqual([true, true, true, true]);
  });

  it('validates the new limit and ignores a no-op resize', () => {
    const { limiter } = setup({ maxConcurrent: 2 });
    const resize = vi.fn();
    limiter.on('resize', resize);
    limiter.setMaxConcurrent(2);
    expect(resize).not.toHaveBeenCalled();
    expect(() => limiter.setMaxConcurrent(0)).toThrow('maxConcurrent must be a positive integer, got 0');
    expect(() => limiter.setMaxConcurrent(1.5)).toThrow('maxConcurrent must be a positive integer, got 1.5');
    limiter.setMaxConcurrent(Infinity);
    expect(limiter.maxConcurrent).toBe(Infinity);
  });
});

describe('Limiter: run and wrap', () => {
  it('run passes the lease, returns the result and releases', async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    let seen: Lease | undefined;
    const result = await limiter.run((lease) => {
      seen = lease;
      expect(limiter.stats().active).toBe(1);
      return 42;
    });
    expect(result).toBe(42);
    expect(seen!.isReleased).toBe(true);
    expect(limiter.stats().active).toBe(0);
  });

  it('run releases when fn throws or rejects', async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    await expect(
      limiter.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(limiter.run(async () => Promise.reject(new Error('async')))).rejects.toThrow('async');
    expect(limiter.stats().active).toBe(0);
  });

  it('run reconciles with usageOf, or with what fn passed to lease.release', async () => {
    const { limiter } = setup({ maxTokensPerMinute: 10_000 });
    await limiter.run(() => ({ usage: 700 }), { tokens: 100, usageOf: (r) => r.usage });
    expect(limiter.stats().tokensInWindow).toBe(700);
    await limiter.run((lease) => lease.release({ tokens: 300 }), { tokens: 100 });
    expect(limiter.stats().tokensInWindow).toBe(1000);
  });

  it('run still releases when usageOf throws', async () => {
    const { limiter } = setup({ maxConcurrent: 1 });
    await expect(
      limiter.run(() => 1, {
        usageOf: () => {
          throw new Error('bad usage');
        },
      }),
    ).rejects.toThrow('bad usage');
    expect(limiter.stats().active).toBe(0);
  });

  it('wrap limits every call and charges tokensFor(args)', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1, maxTokensPerMinute: 1000, windowMarginMs: 0 });
    const calls: string[] = [];
    const limited = limiter.wrap(
      async (text: string) => {
        calls.push(`${text}@${clock.now()}`);
        return text.length;
      },
      { tokensFor: (text) => text.length * 100 },
    );
    const results = Promise.all([limited('abcde'), limited('abcdef')]);
    await clock.runAll();
    expect(await results).toEqual([5, 6]);
    expect(calls).toEqual(['abcde@0', 'abcdef@60000']);
  });
});

describe('Limiter: drain', () => {
  it('by default rejects queued acquires with ShutdownError, lets leases held finish, and refuses new work', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1, name: 'svc' });
    const held = await limiter.acquire();
    const waiters = [track(limiter.acquire()), track(limiter.acquire({ priority: 5 }))];
    let drained = false;
    const draining = limiter.drain().then(() => (drained = true));
    await flush(clock);
    for (const w of waiters) {
      expect(isShutdownError(w.error)).toBe(true);
      expect((w.error as Error).message).toBe(
        "Limiter 'svc' accepts no new work: it was drained while this acquire waited",
      );
    }
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
    const late = await limiter.acquire().catch((e: unknown) => e);
    expect(late).toMatchObject({ name: 'ShutdownError', code: 'SHUTDOWN', limiter: 'svc' });
    expect((late as Error).message).toBe("Limiter 'svc' accepts no new work: it is draining");
    expect(limiter.isDraining).toBe(true);
    // The lease held is still good: drain waits for it.
    expect(held.isReleased).toBe(false);
    expect(drained).toBe(false);
    held.release();
    await draining;
    expect(drained).toBe(true);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 1 });
  });

  it("queued: 'serve' serves queued acquires first, waits for in-flight and queued work, and refuses new work", async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1, name: 'svc' });
    const held = await limiter.acquire();
    const queued = track(limiter.acquire());
    let drained = false;
    const draining = limiter.drain({ queued: 'serve' }).then(() => (drained = true));
    const late = await limiter.acquire().catch((e: unknown) => e);
    expect(isShutdownError(late)).toBe(true);
    expect(late).toMatchObject({ name: 'ShutdownError', code: 'SHUTDOWN', limiter: 'svc' });
    expect((late as Error).message).toBe("Limiter 'svc' accepts no new work: it is draining");
    expect(limiter.isDraining).toBe(true);
    held.release();
    await flush(clock);
    expect(queued.settled).toBe(true);
    expect(queued.lease).toBeDefined();
    expect(drained).toBe(false);
    queued.lease!.release();
    await draining;
    expect(drained).toBe(true);
  });

  it("queued: 'serve' serves a waiter blocked by a window when the window has room again", async () => {
    const { clock, limiter } = setup({ maxPerWindow: 1, windowMs: 1000, windowMarginMs: 0 });
    const first = await limiter.acquire();
    const queued = track(limiter.acquire());
    let drained = false;
    const draining = limiter.drain({ queued: 'serve' }).then(() => (drained = true));
    first.release();
    await clock.advance(999);
    expect(queued.settled).toBe(false);
    await clock.advance(1);
    expect(queued.lease).toBeDefined();
    expect(drained).toBe(false);
    queued.lease!.release();
    await draining;
    expect(drained).toBe(true);
  });

  it("queued: 'reject' rejects the waiters instead of serving them", async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const waiters = [track(limiter.acquire()), track(limiter.acquire())];
    const draining = limiter.drain({ queued: 'reject' });
    await flush(clock);
    expect(waiters.every((w) => isShutdownError(w.error))).toBe(true);
    held.release();
    await draining;
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('on a store that answers later: rejecting hands back grants still on their way; serving grants them', async () => {
    for (const queued of ['reject', 'serve'] as const) {
      const clock = new FakeClock();
      const store = new AsyncMemoryStore(clock, 10);
      const limiter = new Limiter({ clock, store, maxConcurrent: 2, name: `remote-${queued}` });
      const held = track(limiter.acquire());
      await clock.advance(10);
      expect(held.lease).toBeDefined();
      // One slot left: the first waiter's try-acquire is in flight when the drain starts, the second waits behind it.
      const waiters = [track(limiter.acquire()), track(limiter.acquire())];
      await clock.advance(5);
      let drained = false;
      const draining = limiter.drain({ queued }).then(() => (drained = true));
      await clock.advance(0);
      if (queued === 'reject') {
        expect(waiters.every((w) => isShutdownError(w.error))).toBe(true);
        await clock.advance(20);
        // The grant that arrived for the rejected waiter went back to the store.
        expect(store.inner.bind(limiter.name, limiter.windows).snapshot(clock.now())).toMatchObject({
          active: 1,
        });
      } else {
        await clock.advance(10);
        expect(waiters[0]!.lease).toBeDefined();
        expect(waiters[1]!.settled).toBe(false);
        waiters[0]!.lease!.release();
        await clock.advance(30);
        expect(waiters[1]!.lease).toBeDefined();
        waiters[1]!.lease!.release();
      }
      expect(drained).toBe(false);
      held.lease!.release();
      await clock.advance(20);
      await draining;
      expect(drained).toBe(true);
      expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
    }
  });

  it('refuses a queued option it does not know with InvalidOptionError, and does not start draining', async () => {
    const { limiter } = setup();
    const error = await limiter.drain({ queued: 'finish' as never }).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error).toMatchObject({ option: 'queued' });
    expect((error as Error).message).toBe("drain queued must be 'reject' or 'serve', got finish");
    expect(limiter.isDraining).toBe(false);
    (await limiter.acquire()).release();
  });

  it('resolves at once when idle', async () => {
    const { limiter } = setup();
    await expect(limiter.drain()).resolves.toBeUndefined();
    await expect(limiter.drain({ queued: 'serve' })).resolves.toBeUndefined();
  });
});

describe('Limiter: maxQueued', () => {
  it('refuses an acquire past maxQueued with QueueFullError', async () => {
    const { limiter } = setup({ maxConcurrent: 1, maxQueued: 2, name: 'q' });
    await limiter.acquire();
    void limiter.acquire();
    void limiter.acquire();
    const error = await limiter.acquire().catch((e: unknown) => e);
    expect(isQueueFullError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'QUEUE_FULL', maxQueued: 2, limiter: 'q' });
    expect(limiter.stats().queued).toBe(2);
  });
});

describe('Limiter: events and stats', () => {
  it('emits queued, acquire, release and idle with their payloads', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const events: unknown[] = [];
    limiter.on('queued', (e) => events.push(['queued', e]));
    limiter.on('acquire', (e) => events.push(['acquire', e]));
    limiter.on('release', (e) => events.push(['release', e]));
    limiter.on('idle', () => events.push(['idle']));
    const a = await limiter.acquire({ tokens: 10 });
    const b = limiter.acquire({ priority: 2, tokens: 20 });
    await clock.advance(100);
    a.release({ tokens: 15 });
    const lease = await b;
    await clock.advance(50);
    lease.release();
    expect(events).toEqual([
      ['acquire', { active: 1, waitedMs: 0, priority: 0, tokens: 10 }],
      ['queued', { queued: 1, priority: 2, tokens: 20 }],
      ['release', { active: 0, heldMs: 100, tokens: 10, usedTokens: 15 }],
      ['acquire', { active: 1, waitedMs: 100, priority: 2, tokens: 20 }],
      ['release', { active: 0, heldMs: 50, tokens: 20, usedTokens: undefined }],
      ['idle'],
    ]);
  });

  it('stats reports limits, usage and utilization', async () => {
    const { limiter } = setup({ name: 'x', maxConcurrent: 4, maxPerMinute: 10, maxTokensPerMinute: 1000 });
    await limiter.acquire({ tokens: 500 });
    await limiter.acquire({ tokens: 100 });
    expect(limiter.stats()).toEqual({
      name: 'x',
      maxConcurrent: 4,
      active: 2,
      queued: 0,
      totalRequests: 2,
      totalRateLimits: 0,
      availableSlots: 2,
      requestsInWindow: 2,
      tokensInWindow: 600,
      utilization: 0.6,
      pausedUntil: 0,
    });
  });
});

describe('Limiter: stores', () => {
  it('limiters sharing a MemoryStore and a name share one budget', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = new Limiter({ name: 'api', maxPerWindow: 2, windowMs: 1000, windowMarginMs: 0, clock, store });
    const b = new Limiter({ name: 'api', maxPerWindow: 2, windowMs: 1000, windowMarginMs: 0, clock, store });
    const c = new Limiter({
      name: 'other',
      maxPerWindow: 2,
      windowMs: 1000,
      windowMarginMs: 0,
      clock,
      store,
    });
    await a.acquire();
    await b.acquire();
    const blocked = track(b.acquire());
    await c.acquire();
    await flush(clock);
    expect(blocked.settled).toBe(false);
    await clock.advance(1000);
    expect(blocked.settled).toBe(true);
  });

  it('works the same on a store that answers with promises', async () => {
    const clock = new FakeClock();
    const store = new AsyncMemoryStore();
    const limiter = new Limiter({
      clock,
      store,
      maxConcurrent: 2,
      maxPerWindow: 3,
      windowMs: 1000,
      windowMarginMs: 0,
    });
    const starts: number[] = [];
    const run = (ms: number) =>
      limiter.run(async () => {
        starts.push(clock.now());
        await clock.sleep(ms);
      });
    const all = Promise.all([run(100), run(100), run(100), run(100), run(100)]);
    await clock.runAll();
    await all;
    expect(starts).toEqual([0, 0, 100, 1000, 1000]);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 5 });
  });

  it('on an async store, a waiter that gives up while the store answers hands its grant back', async () => {
    const clock = new FakeClock();
    const store = new AsyncMemoryStore(clock, 10);
    const limiter = new Limiter({
      clock,
      store,
      maxConcurrent: 1,
      maxPerWindow: 5,
      windowMs: 1000,
      windowMarginMs: 0,
    });
    const controller = new AbortController();
    const p = limiter.acquire({ signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(5); // the store is deciding
    controller.abort();
    expect(isAbortError(await p)).toBe(true);
    await clock.advance(10);
    const second = track(limiter.acquire({ timeoutMs: 100 }));
    await clock.advance(20);
    expect(second.lease).toBeDefined();
    // The abandoned grant was handed back: only the second one holds a slot and a window unit.
    expect(store.inner.bind('limiter', limiter.windows).snapshot(clock.now())).toMatchObject({
      active: 1,
      used: [1],
    });
  });
});
