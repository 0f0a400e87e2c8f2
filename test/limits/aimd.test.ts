import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aimd } from '../../src/limits/aimd';
import { InvalidOptionError } from '../../src/validation/options';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('Aimd: defaults and stats', () => {
  it('starts at 5 within [1, 20] with backoff 0.5, threshold 10, factor 1.2', () => {
    const aimd = new Aimd();
    expect([
      aimd.current,
      aimd.min,
      aimd.max,
      aimd.backoffFactor,
      aimd.recoveryThreshold,
      aimd.recoveryFactor,
    ]).toEqual([5, 1, 20, 0.5, 10, 1.2]);
    expect(aimd.stats()).toEqual({
      currentConcurrent: 5,
      totalSuccesses: 0,
      totalRateLimits: 0,
      consecutiveSuccesses: 0,
      totalBackoffs: 0,
    });
  });

  it('counts successes, rate limits and the run of consecutive successes', () => {
    const aimd = new Aimd({ initial: 4, recoveryThreshold: 5 });
    for (let i = 0; i < 3; i++) aimd.onSuccess();
    expect(aimd.stats()).toMatchObject({ totalSuccesses: 3, consecutiveSuccesses: 3, totalRateLimits: 0 });
    aimd.onRateLimit();
    expect(aimd.stats()).toMatchObject({
      totalSuccesses: 3,
      consecutiveSuccesses: 0,
      totalRateLimits: 1,
      currentConcurrent: 2,
    });
  });
});

describe('Aimd: growth', () => {
  it('grows only at the threshold, to min(max, max(cur + 1, ceil(cur × factor))), and the run restarts', () => {
    const aimd = new Aimd({ initial: 10, max: 100, recoveryThreshold: 3, recoveryFactor: 1.5 });
    expect(aimd.onSuccess()).toBe(false);
    expect(aimd.onSuccess()).toBe(false);
    expect(aimd.current).toBe(10);
    expect(aimd.onSuccess()).toBe(true);
    expect(aimd.current).toBe(15); // ceil(10 × 1.5)
    expect(aimd.stats().consecutiveSuccesses).toBe(0);
    for (let i = 0; i < 3; i++) aimd.onSuccess();
    expect(aimd.current).toBe(23); // ceil(15 × 1.5 = 22.5)
  });

  it('grows by at least one where ceil(cur × factor) would not move (the reference bug: floor(1 × 1.2) = 1)', () => {
    const aimd = new Aimd({ initial: 1, min: 1, max: 50, recoveryThreshold: 1, recoveryFactor: 1.01 });
    aimd.onSuccess();
    expect(aimd.current).toBe(2); // ceil(1.01) = 2 anyway; next: ceil(2.02) = 3
    aimd.onSuccess();
    expect(aimd.current).toBe(3);
    const slow = new Aimd({ initial: 3, max: 50, recoveryThreshold: 1, recoveryFactor: 1.0001 });
    slow.onSuccess();
    expect(slow.current).toBe(4); // max(3 + 1, ceil(3.0003) = 4)
  });

  it('recovery from 1 reaches max, step by step exactly as the formula says, and stays there', () => {
    const aimd = new Aimd({ initial: 1, min: 1, max: 20, recoveryThreshold: 10, recoveryFactor: 1.2 });
    const levels = [aimd.current];
    for (let i = 0; i < 10 * 30; i++) if (aimd.onSuccess()) levels.push(aimd.current);
    // 1 → 2 (ceil 1.2) → 3 (ceil 2.4) → 4 (ceil 3.6) → 5 (ceil 4.8) → 6 → 8 (ceil 7.2) → 10 (ceil 9.6) → 12 → 15 (ceil 14.4) → 18 → 20 (capped 21.6)
    expect(levels).toEqual([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 20]);
    expect(aimd.current).toBe(20);
    expect(aimd.onSuccess()).toBe(false);
  });

  it('property: every growth step follows the formula, for any options', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 5 }),
        fc.double({ min: 1.0001, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 300 }),
        (min, span, threshold, factor, successes) => {
          const max = min + span;
          const aimd = new Aimd({
            initial: min,
            min,
            max,
            recoveryThreshold: threshold,
            recoveryFactor: factor,
          });
          let expected = min;
          for (let i = 1; i <= successes; i++) {
            aimd.onSuccess();
            if (i % threshold === 0)
              expected = Math.min(max, Math.max(expected + 1, Math.ceil(expected * factor)));
            expect(aimd.current).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Aimd: backoff', () => {
  it('a rate limit cuts to max(min, floor(cur × backoff)) and resets the run of successes', () => {
    const aimd = new Aimd({ initial: 15, min: 2, max: 20, backoffFactor: 0.6, recoveryThreshold: 3 });
    aimd.onSuccess();
    aimd.onSuccess();
    expect(aimd.onRateLimit()).toBe(true);
    expect(aimd.current).toBe(9); // floor(15 × 0.6)
    aimd.onSuccess();
    aimd.onSuccess();
    expect(aimd.current).toBe(9); // the two earlier successes no longer count
    expect(aimd.onRateLimit()).toBe(true);
    expect(aimd.current).toBe(5); // floor(5.4)
    aimd.onRateLimit();
    expect(aimd.current).toBe(3);
    aimd.onRateLimit();
    expect(aimd.current).toBe(2); // floor(1.8) = 1, held at min 2
    expect(aimd.onRateLimit()).toBe(false); // at min: nothing to cut
    expect(aimd.current).toBe(2);
    expect(aimd.stats()).toMatchObject({ totalRateLimits: 5, totalBackoffs: 5 });
  });

  it('a burst of 10 simultaneous 429s from one in-flight cohort cuts once', () => {
    const aimd = new Aimd({ initial: 16, min: 1, max: 32 });
    // Ten calls start together, all tagged with the epoch in force when they started.
    const cohort = Array.from({ length: 10 }, () => aimd.epoch);
    const cuts = cohort.map((epoch) => aimd.onRateLimit(epoch));
    expect(cuts).toEqual([true, false, false, false, false, false, false, false, false, false]);
    expect(aimd.current).toBe(8);
    expect(aimd.stats()).toMatchObject({ totalRateLimits: 10, totalBackoffs: 1, currentConcurrent: 8 });
  });

  it('a call started after the cut is a new congestion event and cuts again', () => {
    const aimd = new Aimd({ initial: 16 });
    const before = aimd.epoch;
    aimd.onRateLimit(before);
    const after = aimd.epoch;
    expect(after).toBe(before + 1);
    expect(aimd.onRateLimit(before)).toBe(false); // straggler of the first cohort
    expect(aimd.current).toBe(8);
    expect(aimd.onRateLimit(after)).toBe(true);
    expect(aimd.current).toBe(4);
  });

  it('without an epoch every rate limit is its own event', () => {
    const aimd = new Aimd({ initial: 16 });
    aimd.onRateLimit();
    aimd.onRateLimit();
    expect(aimd.current).toBe(4);
  });

  it('a straggler of an old cohort still breaks the run of successes', () => {
    const aimd = new Aimd({ initial: 4, recoveryThreshold: 3 });
    const old = aimd.epoch;
    aimd.onRateLimit(old);
    aimd.onSuccess();
    aimd.onSuccess();
    aimd.onRateLimit(old);
    aimd.onSuccess();
    expect(aimd.current).toBe(2);
    expect(aimd.stats().consecutiveSuccesses).toBe(1);
  });

  it('adopt clamps a shared level to [min, max]', () => {
    const aimd = new Aimd({ initial: 5, min: 2, max: 10 });
    aimd.adopt(7.4);
    expect(aimd.current).toBe(7);
    aimd.adopt(100);
    expect(aimd.current).toBe(10);
    aimd.adopt(0);
    expect(aimd.current).toBe(2);
  });
});

describe('Aimd: validation', () => {
  it.each([
    [{ initial: 0 }, 'initial must be a positive integer, got 0'],
    [{ min: -1 }, 'min must be a positive integer, got -1'],
    [{ max: 2.5 }, 'max must be a positive integer, got 2.5'],
    [{ recoveryThreshold: 0 }, 'recoveryThreshold must be a positive integer, got 0'],
    [{ backoffFactor: 1 }, 'backoffFactor must be a number between 0 and 1 (exclusive), got 1'],
    [{ backoffFactor: 0 }, 'backoffFactor must be a number between 0 and 1 (exclusive), got 0'],
    [{ recoveryFactor: 1 }, 'recoveryFactor must be a number greater than 1, got 1'],
    [{ recoveryFactor: '2' }, "recoveryFactor must be a number greater than 1, got '2'"],
    [{ min: 8, max: 4 }, 'min must be at most max (4), got 8'],
    [{ initial: 30, max: 20 }, 'initial must be between min (1) and max (20), got 30'],
    [{ initial: 1, min: 2 }, 'initial must be between min (2) and max (20), got 1'],
  ])('%o → %s', (options, message) => {
    expect(messageOf(() => new Aimd(options as never))).toBe(message);
  });

  it('names an unknown option and suggests the right one', () => {
    expect(messageOf(() => new Aimd({ recoverFactor: 1.5 } as never))).toMatch(
      /unknown option 'recoverFactor'.*did you mean 'recoveryFactor'/,
    );
  });

  it('defaults initial into a narrow [min, max] instead of failing', () => {
    expect(new Aimd({ min: 8, max: 12 }).current).toBe(8);
    expect(new Aimd({ max: 3 }).current).toBe(3);
    expect(new Aimd({ min: 30 }).max).toBe(30);
  });
});
