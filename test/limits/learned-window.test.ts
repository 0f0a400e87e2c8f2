import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';

/** What the provider says: `remaining` of `limit`, full again in `resetMs`. */
const budget = (limit: number, remaining: number, resetMs: number) => ({
  headers: new Headers({
    'x-ratelimit-limit-requests': String(limit),
    'x-ratelimit-remaining-requests': String(remaining),
    'x-ratelimit-reset-requests': `${resetMs}ms`,
  }),
});

describe('a requests limit we do not enforce, learned from the headers', () => {
  it('pauses until the oldest of our last `limit` starts leaves the window, not for the full reset', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxConcurrent: 5, clock });
    // Five starts a second apart against 5 per 10 s; each response says what is left.
    for (let i = 0; i < 5; i++) {
      const lease = await limiter.acquire();
      limiter.observe(budget(5, 4 - i, 10_000), { lease });
      lease.release();
      if (i < 4) await clock.advance(1000);
    }
    let startedAt = -1;
    const next = limiter.acquire().then((lease) => {
      startedAt = clock.now();
      lease.release();
    });
    await clock.runAll();
    await next;
    // The first start (0 s) leaves the provider's 10 s window at 10 s (+1 % margin); the header's
    // reset would have waited until 14 s.
    expect(startedAt).toBe(10_100);
  });

  it('falls back to the reset while fewer of ours than the limit tell nothing', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock });
    const lease = await limiter.acquire();
    // Someone else spent this key: nothing left, and we started only one.
    limiter.observe(budget(5, 0, 7000), { lease });
    lease.release();
    let startedAt = -1;
    const next = limiter.acquire().then((l) => {
      startedAt = clock.now();
      l.release();
    });
    await clock.runAll();
    await next;
    expect(startedAt).toBe(7000);
  });
});
