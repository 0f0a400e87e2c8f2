import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { resolveWindows } from '../../src/limits/limiter-options';
import { Presets } from '../../src/presets/presets';
import { FakeClock } from '../../src/testing/fake-clock';
import { maxInAnyWindow } from '../../src/testing/window-max';
import { InvalidOptionError } from '../../src/validation/options';

/** Acquires `n` leases as fast as the limiter allows on the fake clock; returns their start times. */
async function startTimes(limiter: Limiter, clock: FakeClock, n: number): Promise<number[]> {
  const starts: number[] = [];
  const all = Array.from({ length: n }, () =>
    limiter.acquire().then((lease) => {
      starts.push(clock.now());
      lease.release();
    }),
  );
  await clock.runAll();
  await Promise.all(all);
  return starts;
}

describe('pacingMs (a pro-rata sub-window)', () => {
  it('adds a requests sub-window holding the budget pro rata, with the margin scaled', () => {
    expect(resolveWindows({ maxPerWindow: 3000, windowMs: 10_000, pacingMs: 500 })).toEqual([
      { resource: 'requests', limit: 3000, configuredWindowMs: 10_000, windowMs: 10_100 },
      // The long window's margin scaled (5 ms), at least 3 % of the sub-window (15 ms).
      { resource: 'requests', limit: 150, configuredWindowMs: 500, windowMs: 515, pacedFrom: 0 },
      // A share of 10 or more is also spread over tenths, each 90 % of a tenth long, without a
      // margin (no provider enforces them: `smoothing`).
      {
        resource: 'requests',
        limit: 15,
        configuredWindowMs: 45,
        windowMs: 45,
        pacedFrom: 0,
        smoothing: true,
      },
    ]);
    // At least one per sub-window; token windows are not paced; a window no longer than the pace is left alone.
    expect(
      resolveWindows({ maxPerMinute: 3, maxTokensPerMinute: 1000, pacingMs: 1000, windowMarginMs: 0 }),
    ).toEqual([
      { resource: 'requests', limit: 3, configuredWindowMs: 60_000, windowMs: 60_000 },
      { resource: 'tokens', limit: 1000, configuredWindowMs: 60_000, windowMs: 60_000 },
      { resource: 'requests', limit: 1, configuredWindowMs: 1000, windowMs: 1000, pacedFrom: 0 },
    ]);
    expect(resolveWindows({ maxPerWindow: 10, windowMs: 500, pacingMs: 1000 })).toHaveLength(1);
  });

  it('refuses a negative pacingMs; 0 turns pacing off', () => {
    expect(() => new Limiter({ maxPerMinute: 60, pacingMs: -1 })).toThrow(InvalidOptionError);
    expect(() => new Limiter({ maxPerMinute: 60, pacingMs: -1 })).toThrow(/pacingMs/);
    expect(new Limiter({ ...Presets.OPENAI_TIER2, pacingMs: 0 }).windows).toHaveLength(1);
  });

  it('spreads a window: never more than the share in any sub-window, the same long-run rate', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      maxPerWindow: 100,
      windowMs: 10_000,
      pacingMs: 1000,
      windowMarginMs: 0,
      clock,
    });
    const starts = await startTimes(limiter, clock, 200);
    expect(maxInAnyWindow(starts, 1000)).toBe(10);
    // Tenths of 90 ms: two in 100 ms, three in 200 ms.
    expect(maxInAnyWindow(starts, 200)).toBe(3);
    expect(maxInAnyWindow(starts, 100)).toBe(2);
    expect(maxInAnyWindow(starts, 90)).toBe(1);
    expect(maxInAnyWindow(starts, 10_000)).toBe(100);
    // 20 sub-windows of 10, each in tenths of 1 (90 ms apart), after the first request's 100 ms:
    // it found no connection open, so it counts in the sub-window from a tenth of it (see
    // cold-start-arrival): the last starts at 19 × 1000 + 100 + 9 × 90.
    expect(starts[starts.length - 1]).toBe(19_910);
  });

  it('holds for any limits and paces (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 2, max: 20 }),
        fc.integer({ min: 1, max: 9 }),
        async (limit, windowSeconds, paceTenths) => {
          const windowMs = windowSeconds * 1000;
          const pacingMs = (windowMs * paceTenths) / 10;
          const clock = new FakeClock();
          const limiter = new Limiter({ maxPerWindow: limit, windowMs, pacingMs, windowMarginMs: 0, clock });
          const starts = await startTimes(limiter, clock, limit * 2 + 1);
          expect(maxInAnyWindow(starts, windowMs)).toBeLessThanOrEqual(limit);
          expect(maxInAnyWindow(starts, pacingMs)).toBeLessThanOrEqual(Math.ceil((limit * paceTenths) / 10));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('follows a limit the provider lowers, pro rata', () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxPerMinute: 6000, pacingMs: 1000, clock });
    limiter.observe({ headers: { 'x-ratelimit-limit-requests': '600' } });
    expect(limiter.windows.map((w) => w.limit)).toEqual([600, 10, 1]);
    // Stats report the minute, not the sub-window.
    expect(limiter.stats().requestsInWindow).toBe(0);
  });

  it('is on in the OpenAI and Anthropic presets and in forProvider for both', () => {
    expect(Presets.OPENAI_TIER5.pacingMs).toBe(1000);
    expect(Presets.ANTHROPIC_BUILD_TIER4.pacingMs).toBe(1000);
    expect(Limiter.forProvider('openai').windows.some((w) => w.pacedFrom !== undefined)).toBe(true);
    expect(Limiter.forProvider('anthropic').windows.some((w) => w.pacedFrom !== undefined)).toBe(true);
    expect(Limiter.forProvider('generic').windows.some((w) => w.pacedFrom !== undefined)).toBe(false);
    expect(
      Limiter.forProvider('openai', { pacingMs: 250 }).windows.find((w) => w.pacedFrom !== undefined)
        ?.configuredWindowMs,
    ).toBe(250);
  });
});
