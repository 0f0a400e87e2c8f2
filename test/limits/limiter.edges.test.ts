/**
 * Instants where two things happen at once, found by mutation testing the limiter (each test
 * here fails against a mutant that the broader suites let through).
 */
import { describe, expect, it } from 'vitest';
import { isLimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';

describe('Limiter: simultaneous events', () => {
  it('a slot freed by a release at the very instant of a waiter’s deadline does not start it (the release runs first)', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const held = await limiter.acquire();
    // The holder's work ends at 100: its sleep is registered before the limiter's timeout timer,
    // so at 100 the release runs first and finds the waiter exactly at its deadline.
    void clock.sleep(100).then(() => held.release());
    let outcome: unknown;
    limiter.acquire({ timeoutMs: 100 }).then(
      (lease) => (outcome = lease),
      (error: unknown) => (outcome = error),
    );
    await clock.advance(100);
    expect(isLimiterTimeoutError(outcome)).toBe(true);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 1 });
  });

  it('one instant before its deadline the same release does start it', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const held = await limiter.acquire();
    void clock.sleep(99).then(() => held.release());
    let startedAt = -1;
    void limiter.acquire({ timeoutMs: 100 }).then(() => (startedAt = clock.now()));
    await clock.advance(100);
    expect(startedAt).toBe(99);
  });

  it('a refund at the instant a pause ends lets the head start then, once', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      clock,
      windows: [{ resource: 'tokens', limit: 100, windowMs: 10_000 }],
      windowMarginMs: 0,
      reconcile: 'both',
    });
    const big = await limiter.acquire({ tokens: 100 });
    limiter.pause(50);
    void clock.sleep(50).then(() => big.release({ tokens: 10 }));
    const starts: number[] = [];
    void limiter.acquire({ tokens: 80 }).then(() => starts.push(clock.now()));
    await clock.advance(49);
    expect(starts).toEqual([]);
    await clock.advance(1);
    expect(starts).toEqual([50]);
    expect(limiter.stats().tokensInWindow).toBe(90);
  });
});
