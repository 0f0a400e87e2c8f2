import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../src/limits/lease';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';
import { resolveSimulatorOptions } from '../../src/testing/provider-simulator-options';
import { SimulatorState } from '../../src/testing/simulator-state';
import { maxInAnyWindow } from '../../src/testing/window-max';

/** A response whose headers say the provider had counted `count` of `limit` requests. */
const counted = (limit: number, count: number, processingMs?: number) => ({
  headers: new Headers({
    'x-ratelimit-limit-requests': String(limit),
    'x-ratelimit-remaining-requests': String(limit - count),
    'x-ratelimit-reset-requests': '1s',
    ...(processingMs === undefined ? {} : { 'openai-processing-ms': String(processingMs) }),
  }),
});

/** How many acquires start at once (each released at once), up to `max`. */
async function startableNow(limiter: Limiter, max: number): Promise<number> {
  let started = 0;
  const controller = new AbortController();
  const attempts = Array.from({ length: max }, () =>
    limiter.acquire({ signal: controller.signal }).then(
      () => {
        started++;
      },
      () => {},
    ),
  );
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  await Promise.all(attempts);
  return started;
}

/** A limiter of 5 per 10 s on the fake clock and a stand-in provider enforcing the same, on that clock. */
function limiterAndStandIn() {
  const clock = new FakeClock();
  const limit = 5;
  const windowMs = 10_000;
  const provider = new SimulatorState(resolveSimulatorOptions({ requestsPerWindow: limit, windowMs }), () =>
    clock.now(),
  );
  const limiter = new Limiter({ maxPerWindow: limit, windowMs, clock, warnings: false });
  return { clock, limit, windowMs, provider, limiter };
}
type StandIn = ReturnType<typeof limiterAndStandIn>;

/** The stand-in admits the lease's request now; after `latencyMs` its count is observed and the lease released. */
async function answer(env: StandIn, lease: Lease, latencyMs: number, processingMs?: number): Promise<void> {
  const admission = env.provider.admit(1);
  await env.clock.sleep(latencyMs);
  const budget = admission.budgets.requests!;
  env.limiter.observe(counted(env.limit, budget.limit - budget.remaining, processingMs), { lease });
  lease.release();
}

/** Runs `tasks` out; the stand-in rejected nothing and never held more than its limit. Returns its arrivals. */
async function expectWindowHeld(env: StandIn, tasks: Promise<void>[]): Promise<number[]> {
  await env.clock.runAll();
  await Promise.all(tasks);
  const { acceptedAtMs, rejectedAtMs } = env.provider.log();
  expect(rejectedAtMs).toEqual([]);
  expect(maxInAnyWindow(acceptedAtMs, env.windowMs)).toBeLessThanOrEqual(env.limit);
  return acceptedAtMs;
}

describe('lining the requests window up with the provider counter', () => {
  /**
   * Window 1: one request, counted. Window 2: an attempt that ends with `outcome` (a failure or a
   * response, no rate-limit headers), then a request whose headers say the provider had counted
   * `countedAfter` of 3. Returns how many start now.
   */
  async function startableAfterAttempt(outcome: unknown, countedAfter: number): Promise<number> {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 3, windowMs: 10_000, windowMarginMs: 0, clock });
    const first = await limiter.acquire();
    limiter.observe(counted(3, 1), { lease: first });
    first.release();
    await clock.advance(10_000);
    const attempt = await limiter.acquire();
    limiter.observe(outcome, { lease: attempt });
    attempt.release();
    const next = await limiter.acquire();
    limiter.observe(counted(3, countedAfter), { lease: next });
    next.release();
    return startableNow(limiter, 5);
  }

  it('an attempt the provider did not count (no count in its failure) frees its unit', async () => {
    // A connection reset: the request never reached the provider, and no header says so. The
    // provider counted only the next one: without the alignment one more would fit
    // (3 − reset − next); with it, two.
    expect(await startableAfterAttempt(new Error('socket hang up'), 1)).toBe(2);
  });

  it('keeps the unit when the provider counted the failed attempt after all', async () => {
    expect(await startableAfterAttempt(new Error('500 without headers'), 2)).toBe(1);
  });

  it('never frees the unit of an attempt the provider answered, even without rate-limit headers', async () => {
    // A result whose headers the SDK hid: the provider answered it, so it counted it, whatever a
    // later (stale or lying) count of 1 says.
    expect(await startableAfterAttempt({ status: 200, headers: new Headers() }, 1)).toBe(1);
    expect(await startableAfterAttempt({ choices: [] }, 1)).toBe(1);
  });

  it('a request the provider counted later than we started it is moved', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 4, windowMs: 10_000, windowMarginMs: 0, clock });
    const first = await limiter.acquire();
    limiter.observe(counted(4, 1), { lease: first });
    first.release();
    await clock.advanceTo(10_000);
    const late = await limiter.acquire();
    await clock.advanceTo(10_500);
    const second = await limiter.acquire();
    await clock.advanceTo(11_000);
    const third = await limiter.acquire();
    await clock.advanceTo(11_200);
    // Three counted when `late` arrived: it came after the two started after it, so after 11 s.
    limiter.observe(counted(4, 3), { lease: late });
    for (const lease of [late, second, third]) lease.release();
    await clock.advanceTo(12_000);
    (await limiter.acquire()).release();
    await clock.advanceTo(20_000);
    let startedAt = -1;
    const waiting = limiter.acquire().then((lease) => {
      startedAt = clock.now();
      lease.release();
    });
    await clock.runAll();
    await waiting;
    // Not at 20 s (where `late` would have left, counted from its start) but once it leaves from
    // 11 s (the log lets an entry leave after those started before it: `second` waits for it too).
    expect(startedAt).toBe(21_000);
  });

  /** One call of the property below: answered with any count at all (lying, stale or true), or failed. */
  interface HeaderCall {
    fails: boolean;
    limit: number;
    count: number;
    holdMs: number;
    gapMs: number;
  }

  /** Runs `calls` through a limiter of 4 per 5 s; returns the start times of the answered ones, sorted. */
  async function answeredStarts(calls: readonly HeaderCall[]): Promise<number[]> {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 4, windowMs: 5000, windowMarginMs: 0, clock });
    const starts: number[] = [];
    const tasks: Promise<void>[] = [];
    for (const c of calls) {
      tasks.push(
        limiter.acquire().then(async (lease) => {
          // The grant's own time (the callback may run after the fake clock moved on).
          const start = lease.startedAtMs;
          await clock.sleep(c.holdMs);
          if (c.fails) {
            limiter.observe(new Error('reset'), { lease });
          } else {
            starts.push(start);
            limiter.observe(counted(c.limit, c.count), { lease });
          }
          lease.release();
        }),
      );
      await clock.advance(c.gapMs);
    }
    await clock.runAll();
    await Promise.all(tasks);
    return starts.sort((a, b) => a - b);
  }

  it('an answered request whose header has no readable count is never refunded (a count above the limit)', async () => {
    // Found by the property below: the second response's count of 5 > 4 is a negative `remaining`,
    // which the parser drops, so it left that answered request a refund suspect; the fourth's
    // count of 1 then refunded it and a fifth request started inside the same window.
    const answered = (limit: number, count: number, holdMs = 0): HeaderCall => ({
      fails: false,
      limit,
      count,
      holdMs,
      gapMs: 0,
    });
    const calls = [answered(4, 0), answered(4, 5), answered(4, 0), answered(1, 1, 1), answered(1, 0)];
    expect(maxInAnyWindow(await answeredStarts(calls), 5000)).toBe(4);
  });

  it('whatever the headers say, the requests the provider answered never exceed the limit (property)', async () => {
    const call = fc.record({
      fails: fc.boolean(),
      limit: fc.integer({ min: 1, max: 12 }),
      count: fc.integer({ min: 0, max: 12 }),
      holdMs: fc.integer({ min: 0, max: 3000 }),
      gapMs: fc.integer({ min: 0, max: 1500 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 40 }), async (calls) => {
        expect(maxInAnyWindow(await answeredStarts(calls), 5000)).toBeLessThanOrEqual(4);
      }),
      { numRuns: 60 },
    );
  });

  it("the provider's window, rebuilt from its arrivals, never goes over its limit (property)", async () => {
    const request = fc.record({
      /**
       * How late it reaches the provider; the response tells (openai-processing-ms). Up to a tenth
       * of the window, the most one response may move an entry (a response read long after its
       * headers, a stream, must not stall the window).
       */
      lagMs: fc.integer({ min: 0, max: 1000 }),
      latencyMs: fc.integer({ min: 0, max: 4000 }),
      /** Lost on the way (a reset before it arrived): no answer with a count. */
      lost: fc.boolean(),
      gapMs: fc.integer({ min: 0, max: 800 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 60 }), async (requests) => {
        const env = limiterAndStandIn();
        const { clock, limiter } = env;
        const tasks: Promise<void>[] = [];
        for (const r of requests) {
          tasks.push(
            limiter.acquire().then(async (lease) => {
              await clock.sleep(r.lagMs);
              if (r.lost) {
                limiter.observe(new Error('socket hang up'), { lease });
                lease.release();
                return;
              }
              await answer(env, lease, r.latencyMs, r.latencyMs);
            }),
          );
          await clock.advance(r.gapMs);
        }
        await expectWindowHeld(env, tasks);
      }),
      { numRuns: 60 },
    );
  });
});

describe('failures providers do not count (refundFailedAttempts)', () => {
  const http = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });
  const dropped = () =>
    new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });

  /** A window of 2, both units taken; one attempt ends with `failure` and is released. How many start now? */
  async function startableAfterFailure(failure: unknown, options: { refundFailedAttempts?: boolean } = {}) {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 2, windowMs: 10_000, windowMarginMs: 0, clock, ...options });
    const failing = await limiter.acquire();
    const held = await limiter.acquire();
    limiter.observe(failure, { lease: failing });
    failing.release();
    const started = await startableNow(limiter, 5);
    held.release();
    return started;
  }

  it('a 5xx or a dropped connection without a count gives its unit back at its release', async () => {
    for (const failure of [http(500), http(503), http(529), dropped()]) {
      expect(await startableAfterFailure(failure)).toBe(1);
    }
  });

  it("keeps the unit of a timeout, a 4xx, a 504 or an error of the caller's own code", async () => {
    const timeout = Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
    for (const failure of [timeout, http(400), http(504), new SyntaxError('output is not JSON')]) {
      expect(await startableAfterFailure(failure)).toBe(0);
    }
  });

  it('keeps it with refundFailedAttempts: false, or when the error carries the provider count', async () => {
    expect(await startableAfterFailure(http(500), { refundFailedAttempts: false })).toBe(0);
    const withCount = Object.assign(http(500), { headers: counted(2, 1).headers });
    expect(await startableAfterFailure(withCount)).toBe(0);
  });

  it('a provider that counts its 5xx: one 429 after a refund stops the refunds for good, with a warning', async () => {
    const clock = new FakeClock();
    const limit = 3;
    const windowMs = 10_000;
    const provider = new SimulatorState(resolveSimulatorOptions({ requestsPerWindow: limit, windowMs }), () =>
      clock.now(),
    );
    const limiter = new Limiter({ maxPerWindow: limit, windowMs, clock });
    const warnings: string[] = [];
    limiter.on('warning', (w) => warnings.push(w.code));
    /** One attempt: the provider counts it, then answers 500 (`fails`) or 200; a 429 when it is full. */
    const attempt = async (fails: boolean) => {
      const lease = await limiter.acquire();
      const admission = provider.admit(1);
      if (!admission.ok) {
        limiter.reportRateLimit({ retryAfterMs: admission.retryAfterMs, kind: 'rate_limit' });
        lease.release();
        return 429;
      }
      limiter.observe(fails ? http(500) : { status: 200, headers: new Headers() }, { lease });
      lease.release();
      return fails ? 500 : 200;
    };
    const firstWindow = [
      await attempt(true),
      await attempt(false),
      await attempt(false),
      await attempt(false),
    ];
    // The 500 was presumed uncounted, so a fourth request went out and met the provider's full window.
    expect(firstWindow).toEqual([500, 200, 200, 429]);
    expect(warnings).toEqual(['FAILURES_COUNTED']);
    await clock.advance(2 * windowMs);
    // From now on a failure keeps its unit: the window holds three attempts, the fourth waits for the next window.
    const secondWindow = [await attempt(true), await attempt(false), await attempt(false)];
    expect(secondWindow).toEqual([500, 200, 200]);
    expect(await startableNow(limiter, 5)).toBe(0);
    expect(provider.log().rejectedAtMs).toHaveLength(1);
  });

  it('a 429 more than a window after the last refund, or a 529, does not stop the refunds', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 2, windowMs: 10_000, windowMarginMs: 0, clock });
    const warnings: string[] = [];
    limiter.on('warning', (w) => warnings.push(w.code));
    const fail = async () => {
      const lease = await limiter.acquire();
      limiter.observe(http(503), { lease });
      lease.release();
    };
    await fail();
    limiter.reportRateLimit({ retryAfterMs: 10, kind: 'overloaded' });
    await clock.advance(10_001);
    limiter.reportRateLimit({ retryAfterMs: 10, kind: 'rate_limit' });
    await clock.advance(20);
    await fail();
    expect(await startableNow(limiter, 5)).toBe(2);
    expect(warnings).not.toContain('FAILURES_COUNTED');
  });

  it('a provider that never counts its failures: its window, rebuilt from its arrivals, never goes over (property)', async () => {
    const request = fc.record({
      /** 'ok' is counted and answered; the provider never counts the others. */
      outcome: fc.constantFrom('ok', 'ok', 'ok', '500', '529', 'reset'),
      latencyMs: fc.integer({ min: 0, max: 4000 }),
      gapMs: fc.integer({ min: 0, max: 800 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 60 }), async (requests) => {
        const env = limiterAndStandIn();
        const { clock, limiter } = env;
        let failures = 0;
        const tasks: Promise<void>[] = [];
        for (const r of requests) {
          tasks.push(
            limiter.acquire().then(async (lease) => {
              if (r.outcome !== 'ok') {
                failures++;
                await clock.sleep(r.outcome === '529' ? 0 : r.latencyMs);
                limiter.observe(r.outcome === 'reset' ? dropped() : http(Number(r.outcome)), { lease });
                lease.release();
                return;
              }
              await answer(env, lease, r.latencyMs);
            }),
          );
          await clock.advance(r.gapMs);
        }
        const acceptedAtMs = await expectWindowHeld(env, tasks);
        expect(acceptedAtMs.length + failures).toBe(requests.length);
      }),
      { numRuns: 60 },
    );
  });
});
