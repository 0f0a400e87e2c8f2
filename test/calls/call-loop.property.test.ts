import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callThroughLimiter, type Attempt, type CallOutcome } from '../../src/calls/call-loop';
import { QuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { Limiter } from '../../src/limits/limiter';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { FakeClock } from '../../src/testing/fake-clock';
import { runOnFakeClock } from '../throttled/support';
import { countReleases, LeaseLog, rateLimitError } from './support';

/** What one attempt of a scripted call does, after `durationMs` of work. */
const stepArb = fc.record({
  kind: fc.constantFrom('ok', 'throw', 'rateLimit', 'quota', 'syncThrow'),
  durationMs: fc.integer({ min: 0, max: 400 }),
  retryAfterMs: fc.integer({ min: 0, max: 300 }),
  // A call that ignores its signal keeps working after a timeout or an abort.
  honoursSignal: fc.boolean(),
});

const callArb = fc.record(
  {
    startAtMs: fc.integer({ min: 0, max: 500 }),
    abortAtMs: fc.integer({ min: 0, max: 2000 }),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 5 }),
    tokens: fc.integer({ min: 0, max: 50 }),
    timeoutMs: fc.integer({ min: 50, max: 500 }),
    acquireTimeoutMs: fc.integer({ min: 0, max: 600 }),
    maxRateLimitRetries: fc.integer({ min: 0, max: 3 }),
    maxFailureRetries: fc.integer({ min: 0, max: 2 }),
    failureRetryDelayMs: fc.integer({ min: 0, max: 200 }),
    observeThrows: fc.boolean(),
  },
  {
    requiredKeys: [
      'startAtMs',
      'steps',
      'tokens',
      'maxRateLimitRetries',
      'maxFailureRetries',
      'failureRetryDelayMs',
      'observeThrows',
    ],
  },
);

type ScriptedCall = typeof callArb extends fc.Arbitrary<infer C> ? C : never;

const scenarioArb = fc.record({
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  maxPerWindow: fc.integer({ min: 1, max: 6 }),
  withBreaker: fc.boolean(),
  calls: fc.array(callArb, { minLength: 1, maxLength: 8 }),
});

/** The work of one attempt, as its step says. */
async function runStep(
  clock: FakeClock,
  call: ScriptedCall,
  attempt: Attempt,
): Promise<{ usage: { total_tokens: number } }> {
  const step = call.steps[Math.min(attempt.index, call.steps.length - 1)]!;
  if (step.kind === 'syncThrow') throw new Error('sync');
  await clock.sleep(step.durationMs, step.honoursSignal ? attempt.signal : undefined);
  if (step.kind === 'throw') throw new Error('failed');
  if (step.kind === 'rateLimit') throw rateLimitError(step.retryAfterMs);
  if (step.kind === 'quota') throw new QuotaExhaustedError('quota', { source: 'test' });
  return { usage: { total_tokens: call.tokens + step.durationMs } };
}

describe('callThroughLimiter (property)', () => {
  it('random sequences of outcomes, timeouts and aborts never leak a lease, and every call settles', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const clock = new FakeClock();
        const limiter = new Limiter({
          clock,
          maxConcurrent: scenario.maxConcurrent,
          maxPerWindow: scenario.maxPerWindow,
          windowMs: 1000,
        });
        const breaker = scenario.withBreaker
          ? new CircuitBreaker({ consecutiveFailures: 3, halfOpenAfterMs: 200, clock })
          : undefined;
        const leases = new LeaseLog();
        const released = countReleases(limiter);
        let attemptsRun = 0;
        const runs = scenario.calls.map(async (call): Promise<CallOutcome<unknown>> => {
          const controller = new AbortController();
          if (call.abortAtMs !== undefined) {
            void clock.sleep(call.abortAtMs).then(() => controller.abort(new Error('cancelled')));
          }
          await clock.sleep(call.startAtMs);
          return callThroughLimiter(
            limiter,
            (attempt) => {
              attemptsRun++;
              leases.watch(attempt.lease);
              return runStep(clock, call, attempt);
            },
            {
              signal: controller.signal,
              acquire: { tokens: call.tokens, timeoutMs: call.acquireTimeoutMs },
              guards: { circuitBreaker: breaker, timeoutMs: call.timeoutMs },
              observe: call.observeThrows
                ? () => {
                    throw new Error('bad observer');
                  }
                : undefined,
              retry: {
                maxRateLimitRetries: call.maxRateLimitRetries,
                maxFailureRetries: call.maxFailureRetries,
                failureRetryDelayMs: call.failureRetryDelayMs,
                rateLimitBackoffMs: 100,
                maxRateLimitBackoffMs: 400,
              },
            },
          );
        });
        const outcomes = await runOnFakeClock(clock, Promise.all(runs));
        // Calls that ignore their signal may still be working: let them finish too.
        await clock.runAll();

        expect(outcomes).toHaveLength(scenario.calls.length);
        for (const outcome of outcomes) {
          expect(outcome.attempts).toBeGreaterThanOrEqual(1);
          expect(outcome.failures + outcome.rateLimits).toBeLessThanOrEqual(outcome.attempts);
        }
        const stats = limiter.stats();
        expect(stats.active).toBe(0);
        expect(stats.queued).toBe(0);
        // Every lease granted was given back once, and the loop released each lease a call saw once.
        expect(released.count).toBe(stats.totalRequests);
        expect(leases.counts().every((n) => n === 1)).toBe(true);
        expect(attemptsRun).toBeLessThanOrEqual(stats.totalRequests);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
