import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { CircuitBreaker, ConsecutivePolicy, SamplingPolicy } from '../../src/resilience/index';
import { outcome } from './helpers';

function samplingBreaker() {
  const clock = new FakeClock();
  const breaker = new CircuitBreaker({
    failureRate: 0.5,
    windowMs: 10_000,
    minimumCalls: 4,
    halfOpenAfterMs: 5000,
    clock,
  });
  const fail = () => outcome(breaker.run(() => Promise.reject(new Error('down'))));
  const succeed = () => outcome(breaker.run(() => 'ok'));
  return { clock, breaker, fail, succeed };
}

describe('CircuitBreaker (sampling)', () => {
  it('does not open below minimumCalls, even at a 100 % failure rate', async () => {
    const { breaker, fail } = samplingBreaker();
    for (let i = 0; i < 3; i++) await fail();
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('opens when the failure rate reaches failureRate, not before', async () => {
    const { breaker, fail, succeed } = samplingBreaker();
    for (let i = 0; i < 3; i++) await succeed();
    await fail(); // 1 / 4
    await fail(); // 2 / 5
    expect(breaker.state).toBe('closed');
    await fail(); // 3 / 6 = 0.5
    expect(breaker.state).toBe('open');
  });

  it('forgets calls once they are windowMs old', async () => {
    const { clock, breaker, fail } = samplingBreaker();
    for (let i = 0; i < 3; i++) await fail();
    await clock.advance(10_000);
    await fail(); // the three earlier failures have left the window: 1 call
    expect(breaker.state).toBe('closed');
  });

  it('starts from an empty window after a successful trial closes it', async () => {
    const { clock, breaker, fail, succeed } = samplingBreaker();
    for (let i = 0; i < 4; i++) await fail();
    await clock.advance(5000);
    await succeed();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 3; i++) await fail();
    expect(breaker.state).toBe('closed');
  });
});

describe('SamplingPolicy', () => {
  it('handles rates that are not exact in floating point (7 of 10 at 0.7)', () => {
    const policy = new SamplingPolicy({ failureRate: 0.7, windowMs: 1000, minimumCalls: 10 });
    for (let i = 0; i < 3; i++) policy.recordSuccess(0);
    const opens = Array.from({ length: 7 }, () => policy.recordFailure(0));
    expect(opens.slice(0, 6).some(Boolean)).toBe(false);
    expect(opens[6]).toBe(true);
  });

  it('agrees with a naive recount of the window at every failure (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.boolean()), { maxLength: 300 }),
        (failureRate, windowMs, minimumCalls, steps) => {
          const policy = new SamplingPolicy({ failureRate, windowMs, minimumCalls });
          const history: { at: number; failed: boolean }[] = [];
          let now = 0;
          for (const [dt, failed] of steps) {
            now += dt;
            history.push({ at: now, failed });
            const inWindow = history.filter((h) => h.at > now - windowMs);
            const failures = inWindow.filter((h) => h.failed).length;
            if (failed) {
              const expected = inWindow.length >= minimumCalls && failures / inWindow.length >= failureRate;
              expect(policy.recordFailure(now)).toBe(expected);
            } else {
              policy.recordSuccess(now);
            }
            expect(policy.calls).toBe(inWindow.length);
            expect(policy.failedCalls).toBe(failures);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stays exact over long runs (past its internal buffer compaction)', () => {
    const policy = new SamplingPolicy({ failureRate: 0.5, windowMs: 1000, minimumCalls: 1 });
    const history: { at: number; failed: boolean }[] = [];
    for (let i = 0; i < 10_000; i++) {
      const now = i * 3;
      const failed = i % 3 === 0;
      history.push({ at: now, failed });
      if (failed) policy.recordFailure(now);
      else policy.recordSuccess(now);
      if (i % 997 === 0 || i === 9_999) {
        const inWindow = history.filter((h) => h.at > now - 1000);
        expect(policy.calls).toBe(inWindow.length);
        expect(policy.failedCalls).toBe(inWindow.filter((h) => h.failed).length);
      }
    }
  });

  it('validates its options when built directly', () => {
    expect(() => new SamplingPolicy({ failureRate: 0 })).toThrow(
      'failureRate must be a number greater than 0 and at most 1, got 0',
    );
    expect(() => new SamplingPolicy({ failureRate: 0.5, windowMs: 0 })).toThrow(
      'windowMs must be a positive number, got 0',
    );
    expect(() => new ConsecutivePolicy(-1)).toThrow('consecutiveFailures must be a positive integer, got -1');
    expect(new SamplingPolicy({ failureRate: 0.5 })).toMatchObject({ windowMs: 60_000, minimumCalls: 10 });
  });
});
