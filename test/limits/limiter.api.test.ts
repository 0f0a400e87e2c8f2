/**
 * The limiter's public surface as a user types it: every event name with its payload type and a
 * scenario that emits each one, the stats keys of the design, and `wrap`'s promise contract.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import type { Lease } from '../../src/limits/lease';
import { Limiter, type LimiterStats } from '../../src/limits/limiter';
import type {
  AcquireEvent,
  LimitChangeEvent,
  LimiterEvents,
  PauseEvent,
  QueuedEvent,
  RateLimitEvent,
  ReleaseEvent,
  ResizeEvent,
  ResumeEvent,
} from '../../src/limits/limiter-events';

describe('Limiter events', () => {
  it('are typed: each name carries its own payload', () => {
    expectTypeOf<LimiterEvents['queued']>().toEqualTypeOf<[info: QueuedEvent]>();
    expectTypeOf<LimiterEvents['acquire']>().toEqualTypeOf<[info: AcquireEvent]>();
    expectTypeOf<LimiterEvents['release']>().toEqualTypeOf<[info: ReleaseEvent]>();
    expectTypeOf<LimiterEvents['pause']>().toEqualTypeOf<[info: PauseEvent]>();
    expectTypeOf<LimiterEvents['resume']>().toEqualTypeOf<[info: ResumeEvent]>();
    expectTypeOf<LimiterEvents['resize']>().toEqualTypeOf<[info: ResizeEvent]>();
    expectTypeOf<LimiterEvents['ratelimit']>().toEqualTypeOf<[info: RateLimitEvent]>();
    expectTypeOf<LimiterEvents['idle']>().toEqualTypeOf<[]>();
    expectTypeOf<LimiterEvents['limit']>().toEqualTypeOf<[info: LimitChangeEvent]>();
    const limiter = new Limiter();
    limiter.on('acquire', (info) => expectTypeOf(info).toEqualTypeOf<AcquireEvent>());
    limiter.on('idle', (...args) => expectTypeOf(args).toEqualTypeOf<[]>());
    // @ts-expect-error an unknown event name does not type-check
    limiter.on('acquired', () => {});
  });

  it('every event is emitted, with its payload, in one run', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1, maxPerMinute: 100, windowMarginMs: 0 });
    const seen: [string, unknown][] = [];
    const names: (keyof LimiterEvents)[] = [
      'queued',
      'acquire',
      'release',
      'pause',
      'resume',
      'resize',
      'ratelimit',
      'idle',
      'limit',
    ];
    for (const name of names) limiter.on(name, (info?: unknown) => seen.push([name, info]));

    const first = await limiter.acquire({ tokens: 3, priority: 2 });
    const second = limiter.acquire({ priority: 1 });
    await clock.advance(40);
    first.release();
    const lease: Lease = await second;
    limiter.setMaxConcurrent(3);
    limiter.reportRateLimit({ retryAfterMs: 500, source: 'openai', kind: 'overloaded' });
    limiter.observe(new Response(null, { headers: { 'x-ratelimit-limit-requests': '50' } }));
    lease.release();
    await clock.advance(500);

    const byName = (name: string) => seen.filter(([n]) => n === name).map(([, info]) => info);
    expect(byName('acquire')).toEqual([
      { active: 1, waitedMs: 0, priority: 2, tokens: 3 },
      { active: 1, waitedMs: 40, priority: 1, tokens: 0 },
    ]);
    expect(byName('queued')).toEqual([{ queued: 1, priority: 1, tokens: 0 }]);
    expect(byName('release')).toEqual([
      { active: 0, heldMs: 40, tokens: 3, usedTokens: undefined },
      { active: 0, heldMs: 0, tokens: 0, usedTokens: undefined },
    ]);
    expect(byName('resize')).toEqual([{ from: 1, to: 3 }]);
    expect(byName('pause')).toEqual([{ durationMs: 500, untilMs: 540, origin: 'local' }]);
    expect(byName('ratelimit')).toEqual([
      { retryAfterMs: 500, source: 'openai', kind: 'overloaded', pausedUntil: 540 },
    ]);
    expect(byName('limit')).toEqual([
      { resource: 'requests', windowMs: 60_000, from: 100, to: 50, reason: 'lowered' },
    ]);
    expect(byName('resume')).toEqual([{ atMs: 540 }]);
    expect(byName('idle').length).toBeGreaterThanOrEqual(1);
    expect(new Set(seen.map(([n]) => n))).toEqual(new Set(names));
  });
});

describe('Limiter stats', () => {
  it('has the design keys (plus name and totalRateLimits), all numbers', () => {
    const stats = new Limiter({ maxConcurrent: 2 }).stats();
    const designKeys = [
      'maxConcurrent',
      'active',
      'queued',
      'totalRequests',
      'availableSlots',
      'requestsInWindow',
      'tokensInWindow',
      'utilization',
      'pausedUntil',
    ] as const;
    for (const key of designKeys) expect(typeof stats[key], key).toBe('number');
    expect(Object.keys(stats).sort()).toEqual([...designKeys, 'name', 'totalRateLimits'].sort());
    expectTypeOf(stats).toEqualTypeOf<LimiterStats>();
  });
});

describe('Limiter.wrap', () => {
  it('charges tokensFor(args), passes the arguments through and returns the result', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxTokensPerMinute: 1000, windowMarginMs: 0 });
    const add = limiter.wrap(async (a: number, b: number) => a + b, { tokensFor: (a, b) => a * 100 + b });
    expectTypeOf(add).toEqualTypeOf<(a: number, b: number) => Promise<number>>();
    expect(await add(3, 4)).toBe(7);
    expect(limiter.stats().tokensInWindow).toBe(304);
  });

  it('a throwing tokensFor rejects the returned promise (it used to throw synchronously) and takes no slot', async () => {
    const limiter = new Limiter({ maxConcurrent: 1, maxTokensPerMinute: 1000 });
    const call = limiter.wrap(async (n: number) => n, {
      tokensFor: (n) => {
        if (n < 0) throw new Error('negative');
        return n;
      },
    });
    let result: Promise<number> | undefined;
    expect(() => (result = call(-1))).not.toThrow();
    await expect(result).rejects.toThrow('negative');
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 0 });
    expect(await call(5)).toBe(5);
  });

  it('an invalid estimate from tokensFor rejects with the option error', async () => {
    const limiter = new Limiter({ maxTokensPerMinute: 1000 });
    const call = limiter.wrap(async () => 1, { tokensFor: () => -5 });
    await expect(call()).rejects.toThrow('tokens must be a non-negative number, got -5');
  });
});
