import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import type { LimitChangeEvent } from '../../src/limits/limiter-events';
import { MemoryStore } from '../../src/stores/memory-store';
import type { Store } from '../../src/stores/store';

/** Acquires `n` leases now and releases them at once (starts that stay in the window). */
async function startMany(limiter: Limiter, n: number): Promise<void> {
  for (let i = 0; i < n; i++) (await limiter.acquire()).release();
}

/** Whether an acquire is granted within `ms` of fake time. */
async function grantedWithin(clock: FakeClock, limiter: Limiter, ms: number): Promise<boolean> {
  let granted = false;
  const controller = new AbortController();
  const pending = limiter.acquire({ signal: controller.signal }).then(
    (lease) => {
      granted = true;
      lease.release();
    },
    () => {},
  );
  await clock.advance(ms);
  controller.abort();
  await pending;
  return granted;
}

describe('Limiter.observe: provider feedback', () => {
  it("counts a lease's window entry from when its request reached the provider (processing time subtracted)", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 10, windowMs: 10_000, windowMarginMs: 0, clock });
    const leases = await Promise.all(Array.from({ length: 10 }, () => limiter.acquire()));
    // Responses 300 ms after the start, 100 ms of which the provider spent processing: they arrived by 200 ms.
    await clock.advance(300);
    for (const lease of leases) {
      limiter.observe({ headers: new Headers({ 'openai-processing-ms': '100' }) }, { lease });
      lease.release();
    }
    // Counted from the start the window would have room at 10 000 ms; from the arrival not before 10 200.
    expect(await grantedWithin(clock, limiter, 10_190 - 300)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
  });

  it('a known arrival replaces the margin: entries count from the arrival, or for the margin when it is later', async () => {
    for (const [processingMs, roomAtMs] of [
      [0, 10_300],
      [250, 10_100],
    ] as const) {
      const clock = new FakeClock();
      const limiter = new Limiter({ maxPerWindow: 1, windowMs: 10_000, windowMarginMs: 100, clock });
      const lease = await limiter.acquire();
      await clock.advance(300);
      // Arrived by 300 ms (nothing processed) or by 50 ms (250 ms of processing): the margin covers 100.
      limiter.observe({ headers: new Headers({ 'openai-processing-ms': String(processingMs) }) }, { lease });
      lease.release();
      expect(await grantedWithin(clock, limiter, roomAtMs - 300 - 1)).toBe(false);
      expect(await grantedWithin(clock, limiter, 2)).toBe(true);
    }
  });

  it('on a store that answers later, measures the lag from when the acquire was sent (the store charged no earlier)', async () => {
    const clock = new FakeClock();
    const memory = new MemoryStore();
    // Decides at once (its charge is at the send time) but answers 50 ms later, as over a network.
    const store: Store = {
      bind(name, windows) {
        const inner = memory.bind(name, windows);
        const later = <T>(value: T) => clock.sleep(50).then(() => value);
        return {
          tracksLeases: false,
          tryAcquire: (r) => later(inner.tryAcquire({ ...r, costs: [...r.costs] })),
          release: (r) => inner.release(r),
          pause: (nowMs, ms) => inner.pause(nowMs, ms),
          snapshot: (nowMs) => inner.snapshot(nowMs),
          getLevel: () => inner.getLevel(),
          setLevel: (level) => inner.setLevel(level),
        };
      },
    };
    const limiter = new Limiter({ maxPerWindow: 1, windowMs: 10_000, windowMarginMs: 0, clock, store });
    const pending = limiter.acquire();
    await clock.advance(50);
    const lease = await pending;
    expect(lease.startedAtMs).toBe(50);
    await clock.advance(250);
    // Arrived by 300 − 100 = 200 ms: 200 ms after the charge (not 150 after the grant), so room at 10 200.
    limiter.observe({ headers: new Headers({ 'openai-processing-ms': '100' }) }, { lease });
    lease.release();
    await clock.advance(10_190 - 300);
    expect(limiter.stats().requestsInWindow).toBe(1);
    await clock.advance(10);
    expect(limiter.stats().requestsInWindow).toBe(0);
  });

  it("moves only the observed lease's entry", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 2, windowMs: 10_000, windowMarginMs: 0, clock });
    const prompt = await limiter.acquire();
    const late = await limiter.acquire();
    await clock.advance(600);
    limiter.observe({ headers: new Headers({ 'openai-processing-ms': '100' }) }, { lease: late });
    prompt.release();
    late.release();
    // The un-observed lease's entry leaves at 10 000; the late one's only at 10 500.
    await clock.advance(10_000 - 600 - 10);
    expect(await grantedWithin(clock, limiter, 5)).toBe(false);
    await clock.advance(5);
    const first = await limiter.acquire({ timeoutMs: 0 });
    expect(await grantedWithin(clock, limiter, 480)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
    first.release();
  });

  it('believes at most a tenth of the window of lag (a response read long after it came cannot stall the limiter)', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 10, windowMs: 1000, windowMarginMs: 0, clock });
    const leases = await Promise.all(Array.from({ length: 10 }, () => limiter.acquire()));
    await clock.advance(800);
    for (const lease of leases) {
      limiter.observe({ headers: new Headers({ 'openai-processing-ms': '0' }) }, { lease });
      lease.release();
    }
    // 800 ms of apparent lag is capped at 100 ms: room again 1100 ms after these starts.
    expect(await grantedWithin(clock, limiter, 1090 - 800)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
  });

  it('does not move entries for responses without processing time, without a lease, or after the release', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 3, windowMs: 1000, windowMarginMs: 0, clock });
    const [a, b, c] = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    await clock.advance(500);
    limiter.observe({ headers: new Headers({ 'x-request-id': 'r1' }) }, { lease: a });
    limiter.observe({ headers: new Headers({ 'openai-processing-ms': '10' }) });
    a.release();
    b.release();
    c.release();
    limiter.observe({ headers: new Headers({ 'openai-processing-ms': '10' }) }, { lease: c });
    await clock.advance(499);
    expect(await grantedWithin(clock, limiter, 0)).toBe(false);
    await clock.advance(1);
    const all = await Promise.all([
      limiter.acquire({ timeoutMs: 0 }),
      limiter.acquire({ timeoutMs: 0 }),
      limiter.acquire({ timeoutMs: 0 }),
    ]);
    expect(all).toHaveLength(3);
    for (const lease of all) lease.release();
  });

  it('lowers a limit when the provider reports a lower one, and says so in an event', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerMinute: 100, clock });
    const events: LimitChangeEvent[] = [];
    limiter.on('limit', (e) => events.push(e));
    limiter.observe(
      new Headers({
        'x-ratelimit-limit-requests': '50',
        'x-ratelimit-remaining-requests': '49',
        'x-ratelimit-reset-requests': '1.2s',
      }),
    );
    expect(events).toEqual([
      { resource: 'requests', windowMs: 60_000, from: 100, to: 50, reason: 'lowered' },
    ]);
    await startMany(limiter, 50);
    expect(await grantedWithin(clock, limiter, 1000)).toBe(false);
    // A higher provider limit does not raise a configured one.
    limiter.observe(new Headers({ 'x-ratelimit-limit-requests': '500' }));
    expect(events).toHaveLength(1);
  });

  it("forProvider starts conservative and adopts the provider's limits from the first response", async () => {
    const clock = new FakeClock();
    const limiter = Limiter.forProvider('openai', { clock });
    // forProvider('openai') paces (1 a second for 3 a minute): three starts take two seconds.
    const started = startMany(limiter, 3);
    await clock.advance(3000);
    await started;
    expect(await grantedWithin(clock, limiter, 100)).toBe(false);
    const events: LimitChangeEvent[] = [];
    limiter.on('limit', (e) => events.push(e));
    limiter.observe({
      headers: new Headers({
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '497',
        'x-ratelimit-reset-requests': '360ms',
        'x-ratelimit-limit-tokens': '200000',
        'x-ratelimit-remaining-tokens': '199000',
        'x-ratelimit-reset-tokens': '300ms',
      }),
    });
    expect(events.map((e) => [e.resource, e.to, e.reason])).toEqual([
      ['requests', 500, 'learned'],
      ['tokens', 200_000, 'learned'],
    ]);
    expect(await grantedWithin(clock, limiter, 1)).toBe(true);
  });

  it('pauses until the reset when the provider has nothing left although our windows have room', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerMinute: 100, clock });
    limiter.observe(
      new Headers({
        'x-ratelimit-limit-requests': '100',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '2s',
      }),
    );
    expect(limiter.stats().pausedUntil).toBe(2000);
    expect(await grantedWithin(clock, limiter, 1990)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
  });

  it('with unknown limits, pauses once our starts since the observed request have used up what the provider had left', async () => {
    for (const [remaining, paused] of [
      [3, true],
      [4, false],
    ] as const) {
      const clock = new FakeClock();
      const limiter = new Limiter({ maxConcurrent: 10, clock });
      const observed = await limiter.acquire();
      const later = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
      await clock.advance(100);
      const headers = new Headers({
        'x-ratelimit-limit-requests': '50',
        'x-ratelimit-remaining-requests': String(remaining),
        'x-ratelimit-reset-requests': '5s',
      });
      limiter.observe(headers, { lease: observed });
      observed.release();
      // Three started after the observed one: remaining 3 is spent, 4 is not. The pause ends at the
      // reset counted from when the request was sent (it was read when the request arrived, at
      // 0–100 ms), plus 1 %: 5050, not 100 ms later.
      expect(limiter.stats().pausedUntil).toBe(paused ? 5050 : 0);
      expect(await grantedWithin(clock, limiter, 10)).toBe(!paused);
      for (const lease of later) lease.release();
    }
  });

  it("with unknown limits, an error's reset counts from now (an SDK may have retried inside the lease)", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxConcurrent: 10, clock });
    const observed = await limiter.acquire();
    await clock.advance(2000);
    const headers = new Headers({
      'x-ratelimit-limit-requests': '50',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '5s',
    });
    limiter.observe(Object.assign(new Error('upstream'), { status: 503, headers }), { lease: observed });
    observed.release();
    // Its last attempt may have left just now: 2000 + 5000, not 0 + 5050.
    expect(limiter.stats().pausedUntil).toBe(7000);
  });

  it("with a window of our own, starts since the observed request do not count against the provider's remaining", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 10, windowMs: 10_000, clock });
    const observed = await limiter.acquire();
    const later = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    // Our window frees slots the header could not know of yet: starting in them is right, so no pause.
    limiter.observe(
      new Headers({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '5s' }),
      { lease: observed },
    );
    observed.release();
    expect(limiter.stats().pausedUntil).toBe(0);
    // Only "nothing left although our window has room" pauses (someone else spends the budget).
    limiter.observe(
      new Headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '5s' }),
    );
    expect(limiter.stats().pausedUntil).toBe(5000);
    for (const lease of later) lease.release();
  });

  it("a 429 with nothing left pauses for its retry-after, not the window's reset (a sliding window has room sooner)", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 10, windowMs: 10_000, clock });
    const lease = await limiter.acquire();
    // A sliding window's reset is a whole window after its newest request; the 429 says when the oldest leaves.
    const headers = new Headers({
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '10s',
      'retry-after-ms': '400',
    });
    limiter.observe(Object.assign(new Error('rate limited'), { status: 429, headers }), { lease });
    lease.release();
    expect(limiter.stats().pausedUntil).toBe(400);
  });

  it("never lowers a daily window to the provider's per-minute number, nor adopts one for a one-second window", async () => {
    const events: LimitChangeEvent[] = [];
    const daily = new Limiter({ maxPerDay: 10_000 });
    daily.on('limit', (e) => events.push(e));
    daily.observe(
      new Headers({
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
      }),
    );
    const perSecond = Limiter.forProvider('openai', {
      maxPerMinute: undefined,
      maxPerWindow: 5,
      windowMs: 1000,
    });
    perSecond.on('limit', (e) => events.push(e));
    perSecond.observe(new Headers({ 'x-ratelimit-limit-requests': '500' }));
    expect(events).toEqual([]);
    // A lower per-minute number does lower a shorter window (never wrong).
    perSecond.observe(new Headers({ 'x-ratelimit-limit-requests': '3' }));
    expect(events).toEqual([{ resource: 'requests', windowMs: 1000, from: 5, to: 3, reason: 'lowered' }]);
  });

  it('the widening after a 429 ends once a window has passed without another', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 5, windowMs: 1000, windowMarginMs: 0, clock });
    limiter.reportRateLimit({ retryAfterMs: 80 });
    await clock.advance(1001);
    // The next response narrows the windows again: entries count 1000 ms, not 1080.
    limiter.observe(new Headers({ 'x-request-id': 'r' }));
    await startMany(limiter, 5);
    expect(await grantedWithin(clock, limiter, 990)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
  });

  it('a 429 whose retry-after outlasts the window pauses without widening it', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 5, windowMs: 1000, windowMarginMs: 0, clock });
    await startMany(limiter, 5);
    await clock.advance(1000);
    // A key suspended for 3 s: both windows have emptied by the time the pause ends.
    limiter.reportRateLimit({ retryAfterMs: 3000, source: 'openai' });
    await clock.advance(3000);
    await startMany(limiter, 5);
    // Entries count the plain 1000 ms: room again at 4000 + 1000.
    expect(await grantedWithin(clock, limiter, 990)).toBe(false);
    expect(await grantedWithin(clock, limiter, 10)).toBe(true);
  });

  it('a 429 that our windows allowed extends them by its retry-after', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerWindow: 5, windowMs: 1000, windowMarginMs: 0, clock });
    await startMany(limiter, 5);
    await clock.advance(1000);
    // Our window has room again, but the provider says: not for another 80 ms.
    limiter.reportRateLimit({ retryAfterMs: 80, source: 'openai' });
    expect(limiter.stats().pausedUntil).toBe(1080);
    await clock.advance(80);
    await startMany(limiter, 5);
    // Entries now count 80 ms longer: room at 1080 + 1080 rather than 1080 + 1000.
    expect(await grantedWithin(clock, limiter, 1070)).toBe(false);
    expect(await grantedWithin(clock, limiter, 20)).toBe(true);
  });
});
