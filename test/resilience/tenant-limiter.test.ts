import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { ShutdownError } from '../../src/errors/shutdown-error';
import { FakeClock } from '../../src/testing/fake-clock';
import type { Lease } from '../../src/limits/lease';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { TenantLimiter } from '../../src/registry/tenant-limiter';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { CallLog, runOnFakeClock } from '../throttled/support';

afterEach(() => {
  LimiterRegistry.clear();
  vi.restoreAllMocks();
});

/** Lets promise chains run without moving the clock. */
const flush = (clock: FakeClock) => clock.advance(0);

function settled<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
}

describe('TenantLimiter', () => {
  it('takes a tenant slot and a global slot; the lease releases both', async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    const global = registry.register('api', { clock, maxConcurrent: 3 });
    const acme = registry.forTenant('api', 'acme', { maxConcurrent: 2 });
    expect(acme).toBeInstanceOf(TenantLimiter);
    expect(acme.name).toBe('api/acme');
    const lease = await acme.acquire();
    expect(acme.stats().active).toBe(1);
    expect(global.stats().active).toBe(1);
    lease.release();
    lease.release();
    expect(acme.stats().active).toBe(0);
    expect(global.stats().active).toBe(0);
    // Like registered limiters, tenant limiters report latency percentiles.
    expect(acme.stats().latency).toBeDefined();
  });

  it('a tenant at its own limit waits in its own queue, leaving the global slots to others', async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    const global = registry.register('api', { clock, maxConcurrent: 3 });
    const a = registry.forTenant('api', 'a', { maxConcurrent: 2 });
    const b = registry.forTenant('api', 'b', { maxConcurrent: 2 });
    const held = [await a.acquire(), await a.acquire()];
    const third = settled(a.acquire());
    await flush(clock);
    expect(third.done).toBe(false);
    expect(a.stats().queued).toBe(1);
    expect(global.stats()).toMatchObject({ active: 2, queued: 0 });
    const fromB = settled(b.acquire());
    await flush(clock);
    expect(fromB.done).toBe(true);
    // The global limit binds now: b's second call waits for a global slot while holding its tenant slot.
    const moreB = settled(b.acquire());
    await flush(clock);
    expect(moreB.done).toBe(false);
    expect(b.stats().active).toBe(2);
    expect(global.stats().queued).toBe(1);
    held[0]!.release();
    await flush(clock);
    // The freed global slot goes to b (queued globally); a's third still waits for its tenant slot.
    expect(moreB.done).toBe(true);
    expect(third.done).toBe(false);
    held[1]!.release();
    (fromB.value as Lease).release();
    await flush(clock);
    expect(third.done).toBe(true);
  });

  it('an abort, a timeout or a drained global while waiting for the global slot frees the tenant slot', async () => {
    const clock = new FakeClock();
    const global = new Limiter({ clock, maxConcurrent: 1, name: 'api' });
    const tenant = new TenantLimiter(global, 't', { maxConcurrent: 5 });
    const blocker = await global.acquire();

    const controller = new AbortController();
    const aborted = settled(tenant.acquire({ signal: controller.signal }));
    await flush(clock);
    expect(tenant.stats().active).toBe(1);
    controller.abort();
    await flush(clock);
    expect(aborted.error).toMatchObject({ name: 'AbortError' });
    expect(tenant.stats().active).toBe(0);

    const timedOut = settled(tenant.acquire({ timeoutMs: 500 }));
    await clock.advance(499);
    expect(timedOut.done).toBe(false);
    await clock.advance(1);
    expect(timedOut.error).toBeInstanceOf(LimiterTimeoutError);
    expect(tenant.stats().active).toBe(0);

    const refused = settled(tenant.acquire());
    await flush(clock);
    void global.drain({ queued: 'reject' });
    await flush(clock);
    expect(refused.error).toBeInstanceOf(ShutdownError);
    expect(tenant.stats()).toMatchObject({ active: 0, queued: 0 });
    blocker.release();
  });

  it('charges and reconciles tokens in both limiters, and run/wrap release both', async () => {
    const clock = new FakeClock();
    const global = new Limiter({ clock, maxTokensPerMinute: 10_000, reconcile: 'both' });
    const tenant = new TenantLimiter(global, 't', { maxTokensPerMinute: 1000, reconcile: 'both' });
    const answer = await tenant.run(async () => ({ usage: { total_tokens: 120 } }), {
      tokens: 300,
      usageOf: (r) => r.usage.total_tokens,
    });
    expect(answer.usage.total_tokens).toBe(120);
    expect(tenant.stats().tokensInWindow).toBe(120);
    expect(global.stats().tokensInWindow).toBe(120);
    const wrapped = tenant.wrap(async (n: number) => n * 2);
    expect(await wrapped(21)).toBe(42);
    await expect(
      tenant.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(tenant.stats().active).toBe(0);
    expect(global.stats().active).toBe(0);
  });

  it('a rate limit reported by a tenant pauses the global limiter (the key every tenant shares)', async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    const global = registry.register('api', { clock });
    const a = registry.forTenant('api', 'a');
    const b = registry.forTenant('api', 'b');
    a.reportRateLimit({ retryAfterMs: 2000, source: 'openai' });
    expect(global.stats()).toMatchObject({ pausedUntil: 2000, totalRateLimits: 1 });
    expect(a.stats()).toMatchObject({ pausedUntil: 2000, totalRateLimits: 1 });
    expect(b.stats().pausedUntil).toBe(2000);
    const waiting = settled(b.acquire());
    await clock.advance(1999);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.done).toBe(true);
  });

  it('works as the limiter of a throttled node', async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    registry.register('api', { clock, maxConcurrent: 4 });
    const log = new CallLog(clock);
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return Array.from({ length: 10 }, (_, i) => i);
      }
      override async exec(i: number) {
        return log.track(async () => {
          await clock.sleep(100);
          return i;
        });
      }
    }
    const node = new N({ limiter: registry.forTenant('api', 'acme', { maxConcurrent: 2 }) });
    await runOnFakeClock(clock, node.run({}));
    expect(log.maxInFlight).toBe(2);
    expect(node.stats).toMatchObject({ totalSuccesses: 10, active: 0 });
  });

  it('registry: same tenant, same limiter (warning once on other limits); remove and clear forget tenants', () => {
    const registry = new LimiterRegistry();
    registry.register('api', { maxConcurrent: 3 });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const first = registry.forTenant('api', 'x', { maxConcurrent: 1 });
    expect(registry.forTenant('api', 'x', { maxConcurrent: 1 })).toBe(first);
    expect(registry.forTenant('api', 'x', { maxConcurrent: 2 })).toBe(first);
    expect(registry.forTenant('api', 'x', { maxConcurrent: 3 })).toBe(first);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(registry.forTenant('api', 'y')).not.toBe(first);
    registry.register('api', { maxConcurrent: 9 }, { replace: true });
    const renewed = registry.forTenant('api', 'x', { maxConcurrent: 1 });
    expect(renewed).not.toBe(first);
    expect(renewed.global).toBe(registry.get('api'));
    expect(registry.removeTenant('api', 'x')).toBe(true);
    expect(registry.forTenant('api', 'x', { maxConcurrent: 1 })).not.toBe(renewed);
    expect(() => registry.forTenant('nope', 'x')).toThrow(/No limiter named 'nope'/);
    expect(() => registry.forTenant('api', '')).toThrow('tenantId must be a non-empty string');
    expect(() => registry.forTenant('api', 'z', { maxConcurrent: 0 })).toThrow(
      'maxConcurrent must be a positive integer, got 0',
    );
    LimiterRegistry.register('shared', {});
    expect(LimiterRegistry.forTenant('shared', 't')).toBe(LimiterRegistry.forTenant('shared', 't'));
  });

  it('property: tenants A (greedy) and B under one global limit — the global window never exceeds its limit, a tenant never exceeds its own share, nothing leaks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          windowMs: fc.integer({ min: 200, max: 2000 }),
          globalLimit: fc.integer({ min: 2, max: 8 }),
          globalConcurrent: fc.integer({ min: 1, max: 5 }),
          aLimit: fc.integer({ min: 1, max: 6 }),
          aConcurrent: fc.integer({ min: 1, max: 4 }),
          bLimit: fc.integer({ min: 1, max: 6 }),
          /** The greedy tenant sends everything at once. */
          aCalls: fc.array(
            fc.record({
              latencyMs: fc.integer({ min: 0, max: 800 }),
              timeoutMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
            }),
            { maxLength: 25 },
          ),
          bCalls: fc.array(
            fc.record({
              atMs: fc.integer({ min: 0, max: 4000 }),
              latencyMs: fc.integer({ min: 0, max: 800 }),
              abortAtMs: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
            }),
            { maxLength: 10 },
          ),
        }),
        async (s) => {
          const clock = new FakeClock();
          const registry = new LimiterRegistry();
          const global = registry.register('api', {
            clock,
            maxConcurrent: s.globalConcurrent,
            maxPerWindow: s.globalLimit,
            windowMs: s.windowMs,
            windowMarginMs: 0,
          });
          const a = registry.forTenant('api', 'a', {
            maxConcurrent: s.aConcurrent,
            maxPerWindow: s.aLimit,
            windowMs: s.windowMs,
            windowMarginMs: 0,
          });
          const b = registry.forTenant('api', 'b', {
            maxPerWindow: s.bLimit,
            windowMs: s.windowMs,
            windowMarginMs: 0,
          });
          const all = new CallLog(clock);
          const ofA = new CallLog(clock);
          // A's share is counted where its windows count it: when its tenant slot is granted.
          const aGrants = new CallLog(clock);
          a.on('acquire', () => aGrants.starts.push(clock.now()));
          const call = (log: CallLog, latencyMs: number) => () =>
            all.track(() => log.track(() => clock.sleep(latencyMs)));

          const work: Promise<unknown>[] = s.aCalls.map((c) =>
            a.run(call(ofA, c.latencyMs), { timeoutMs: c.timeoutMs }),
          );
          for (const c of s.bCalls) {
            const controller = new AbortController();
            if (c.abortAtMs !== undefined) void clock.sleep(c.abortAtMs).then(() => controller.abort());
            work.push(
              clock
                .sleep(c.atMs)
                .then(() => b.run(call(new CallLog(clock), c.latencyMs), { signal: controller.signal })),
            );
          }
          const results = await runOnFakeClock(clock, Promise.allSettled(work));

          expect(all.maxStartsInWindow(s.windowMs)).toBeLessThanOrEqual(s.globalLimit);
          expect(all.maxInFlight).toBeLessThanOrEqual(s.globalConcurrent);
          expect(ofA.maxInFlight).toBeLessThanOrEqual(s.aConcurrent);
          expect(aGrants.maxStartsInWindow(s.windowMs)).toBeLessThanOrEqual(s.aLimit);
          // Calls without a timeout or abort all ran.
          s.aCalls.forEach(
            (c, i) => c.timeoutMs === undefined && expect(results[i]!.status).toBe('fulfilled'),
          );
          for (const limiter of [global, a, b])
            expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
        },
      ),
      { numRuns: 120 },
    );
  });
});
