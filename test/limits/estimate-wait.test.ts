import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';

const limiterOn = (clock: FakeClock, extra: object = {}) =>
  new Limiter({ clock, maxPerWindow: 3, windowMs: 1000, windowMarginMs: 0, warnings: false, ...extra });

describe('Limiter.estimateWaitMs (read-only)', () => {
  it('is exact for the memory store: 0 with room, then when the oldest entries leave', async () => {
    const clock = new FakeClock();
    const limiter = limiterOn(clock);
    expect(limiter.estimateWaitMs()).toBe(0);
    (await limiter.acquire()).release();
    await clock.advance(200);
    (await limiter.acquire()).release();
    (await limiter.acquire()).release();
    expect(limiter.estimateWaitMs()).toBe(800); // the entry of t=0 leaves at 1000
    expect(limiter.estimateWaitMs({ cost: 2 })).toBe(1000); // two must leave: the second at 1200
    expect(limiter.estimateWaitMs({ cost: 4 })).toBe(Infinity); // never fits a limit of 3
    // Asking charged nothing and queued nothing.
    expect(limiter.stats()).toMatchObject({ totalRequests: 3, queued: 0, requestsInWindow: 3 });
  });

  it('counts the demand queued ahead: a window later per window of demand', async () => {
    const clock = new FakeClock();
    const limiter = limiterOn(clock);
    for (let i = 0; i < 3; i++) (await limiter.acquire()).release();
    const waiting = Array.from({ length: 4 }, () => limiter.acquire());
    // 4 queued + this one = 5: three fit at 1000, the other two a window after those, at 2000.
    expect(limiter.estimateWaitMs()).toBe(2000);
    await clock.advance(1000);
    for (const lease of await Promise.all(waiting.slice(0, 3))) lease.release();
    expect(limiter.estimateWaitMs()).toBe(1000);
    await clock.advance(1000);
    (await waiting[3]!).release();
  });

  it('includes a pause, and is Infinity once draining', async () => {
    const clock = new FakeClock();
    const limiter = limiterOn(clock);
    limiter.pause(1500);
    expect(limiter.estimateWaitMs()).toBe(1500);
    await clock.advance(1500);
    expect(limiter.estimateWaitMs()).toBe(0);
    await limiter.drain();
    expect(limiter.estimateWaitMs()).toBe(Infinity);
  });

  it('charges tokens against token windows', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      clock,
      windows: [{ resource: 'tokens', limit: 1000, windowMs: 1000 }],
      windowMarginMs: 0,
      warnings: false,
    });
    (await limiter.acquire({ tokens: 800 })).release();
    expect(limiter.estimateWaitMs({ tokens: 200 })).toBe(0);
    expect(limiter.estimateWaitMs({ tokens: 201 })).toBe(1000);
  });
});
