import { describe, expect, it } from 'vitest';
import { callThroughLimiter, type Attempt, type AttemptOutcome } from '../../src/calls/call-loop';
import { QuotaExhaustedError, isQuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { isRateLimitHit } from '../../src/errors/rate-limit-hit';
import { isLimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { Limiter } from '../../src/limits/limiter';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker';
import { isBrokenCircuitError } from '../../src/resilience/broken-circuit-error';
import { isTimeoutError } from '../../src/resilience/timeout-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { runOnFakeClock } from '../throttled/support';
import { countReleases, LeaseLog, rateLimitError } from './support';

function setup(options: ConstructorParameters<typeof Limiter>[0] = {}) {
  const clock = new FakeClock();
  const limiter = new Limiter({ clock, maxConcurrent: 2, ...options });
  const leases = new LeaseLog();
  const released = countReleases(limiter);
  return { clock, limiter, leases, released };
}

/** Lets promise chains run without moving the clock. */
const flush = (clock: FakeClock) => clock.advance(0);

describe('callThroughLimiter: releases every lease exactly once', () => {
  it('on success: observes the result while the lease is held, then releases it with the real usage', async () => {
    const { clock, limiter, leases, released } = setup({ maxTokensPerMinute: 1000 });
    const seen: { response: unknown; heldThen: boolean }[] = [];
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        async ({ lease }: Attempt) => {
          leases.watch(lease);
          await clock.sleep(100);
          return { usage: { total_tokens: 70 } };
        },
        {
          acquire: { tokens: 20 },
          observe: (response, lease) => seen.push({ response, heldThen: !lease.isReleased }),
        },
      ),
    );
    expect(outcome).toMatchObject({
      kind: 'ok',
      value: { usage: { total_tokens: 70 } },
      tokensUsed: 70,
      attempts: 1,
    });
    expect(outcome.kind === 'ok' && outcome.timing).toEqual({ waitMs: 0, durationMs: 100 });
    expect(seen).toEqual([{ response: { usage: { total_tokens: 70 } }, heldThen: true }]);
    expect(leases.counts()).toEqual([1]);
    expect(released.count).toBe(1);
    // Charged 20 up front, reconciled up to the 70 the response reported.
    expect(limiter.stats()).toMatchObject({ active: 0, tokensInWindow: 70 });
  });

  it('on throw: an ordinary failure, observed before the release', async () => {
    const { clock, limiter, leases, released } = setup();
    const boom = new Error('boom');
    const order: string[] = [];
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        ({ lease }) => {
          leases.watch(lease);
          const release = lease.release.bind(lease);
          lease.release = (usage) => {
            order.push('release');
            release(usage);
          };
          throw boom;
        },
        { observe: (response) => order.push(response === boom ? 'observe error' : 'observe ?') },
      ),
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: boom, attempts: 1, failures: 1, rateLimits: 0 });
    expect(order).toEqual(['observe error', 'release']);
    expect(leases.counts()).toEqual([1]);
    expect(released.count).toBe(1);
    expect(limiter.stats().active).toBe(0);
  });

  it('on abort while queued: the acquire is given up, the call never runs, nothing is held', async () => {
    const { clock, limiter, released } = setup({ maxConcurrent: 1 });
    const blocker = await limiter.acquire();
    const controller = new AbortController();
    let calls = 0;
    const pending = callThroughLimiter(limiter, () => ++calls, { signal: controller.signal });
    await flush(clock);
    expect(limiter.stats().queued).toBe(1);
    controller.abort(new Error('cancelled'));
    const outcome = await pending;
    expect(outcome).toMatchObject({ kind: 'aborted', timing: undefined, attempts: 1 });
    expect((outcome as { error: Error }).error.message).toBe('cancelled');
    expect(calls).toBe(0);
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
    blocker.release();
    expect(released.count).toBe(1);
    expect(limiter.stats().active).toBe(0);
  });

  it('on abort while running: the call gets the abort through its signal, the lease is released once', async () => {
    const { clock, limiter, leases, released } = setup();
    const controller = new AbortController();
    const pending = callThroughLimiter(
      limiter,
      async ({ lease, signal }) => {
        leases.watch(lease);
        await clock.sleep(10_000, signal);
        return 'late';
      },
      { signal: controller.signal, retry: { maxFailureRetries: 3 } },
    );
    await clock.advance(250);
    expect(limiter.stats().active).toBe(1);
    controller.abort(new Error('cancelled'));
    const outcome = await pending;
    // Never retried, and not counted as a failure.
    expect(outcome).toMatchObject({
      kind: 'aborted',
      attempts: 1,
      failures: 0,
      timing: { waitMs: 0, durationMs: 250 },
    });
    expect(leases.counts()).toEqual([1]);
    expect(released.count).toBe(1);
    expect(limiter.stats().active).toBe(0);
  });

  it('on abort while running a call that ignores its signal: with a timeout guard the lease is freed at the abort', async () => {
    const { clock, limiter, leases } = setup();
    const controller = new AbortController();
    let finishedLate = false;
    const pending = callThroughLimiter(
      limiter,
      async ({ lease }) => {
        leases.watch(lease);
        await clock.sleep(10_000);
        finishedLate = true;
        return 'late';
      },
      { signal: controller.signal, guards: { timeoutMs: 60_000 } },
    );
    await clock.advance(100);
    controller.abort(new Error('cancelled'));
    expect(await pending).toMatchObject({ kind: 'aborted' });
    expect(limiter.stats().active).toBe(0);
    await clock.advance(20_000);
    expect(finishedLate).toBe(true);
    expect(leases.counts()).toEqual([1]);
  });

  it('on timeout: the call signal aborts and the lease is freed at the deadline; a late answer changes nothing', async () => {
    const { clock, limiter, leases, released } = setup();
    let callSignal: AbortSignal | undefined;
    let freedAtMs: number | undefined;
    limiter.on('release', () => (freedAtMs = clock.now()));
    const pending = callThroughLimiter(
      limiter,
      async ({ lease, signal }) => {
        leases.watch(lease);
        callSignal = signal;
        await clock.sleep(5000); // ignores its signal
        return 'late';
      },
      { guards: { timeoutMs: 1000 } },
    );
    const outcome = await runOnFakeClock(clock, pending);
    expect(outcome.kind).toBe('failed');
    expect(isTimeoutError((outcome as { error: unknown }).error)).toBe(true);
    expect(callSignal?.aborted).toBe(true);
    expect(freedAtMs).toBe(1000);
    expect(leases.counts()).toEqual([1]);
    expect(released.count).toBe(1);
    expect(limiter.stats().active).toBe(0);
  });

  it('when a hook throws: the error propagates and nothing is held', async () => {
    const { clock, limiter, released } = setup();
    const fromAcquire = callThroughLimiter(limiter, () => 1, {
      acquire: () => {
        throw new Error('no estimate');
      },
    });
    await expect(fromAcquire).rejects.toThrow('no estimate');
    const fromOnAttempt = callThroughLimiter(limiter, () => 1, {
      onAttempt: () => {
        throw new Error('stop here');
      },
    });
    await expect(runOnFakeClock(clock, fromOnAttempt)).rejects.toThrow('stop here');
    expect(released.count).toBe(1);
    expect(limiter.stats()).toMatchObject({ active: 0, totalRequests: 1 });
  });

  it('a throwing observe or usageOf neither loses the result nor skips the release', async () => {
    const { clock, limiter, released } = setup();
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(limiter, () => 'served', {
        observe: () => {
          throw new Error('bad observer');
        },
        usageOf: () => {
          throw new Error('bad usage');
        },
      }),
    );
    expect(outcome).toMatchObject({ kind: 'ok', value: 'served', tokensUsed: undefined });
    expect(released.count).toBe(1);
  });
});

describe('callThroughLimiter: classifies failures', () => {
  it('a rate limit is reported to the limiter once, pauses it, and is retried after the pause', async () => {
    const { clock, limiter, leases, released } = setup();
    const outcomes: AttemptOutcome<string>[] = [];
    let first = true;
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        async ({ lease }) => {
          leases.watch(lease);
          await clock.sleep(10);
          if (first) {
            first = false;
            throw rateLimitError(500);
          }
          return 'ok';
        },
        { source: 'test', onAttempt: (o) => outcomes.push(o), retry: { maxRateLimitRetries: 1 } },
      ),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['rateLimited', 'ok']);
    const hit = outcomes[0] as Extract<AttemptOutcome<string>, { kind: 'rateLimited' }>;
    expect(isRateLimitHit(hit.error)).toBe(true);
    expect(hit.pauseMs).toBe(500);
    expect((hit.thrown as Error).message).toBe('429 Too Many Requests');
    // The retry waited out the pause in the limiter's queue.
    expect(outcome).toMatchObject({ kind: 'ok', attempts: 2, rateLimits: 1, timing: { waitMs: 500 } });
    expect(limiter.stats().totalRateLimits).toBe(1);
    expect(leases.counts()).toEqual([1, 1]);
    expect(released.count).toBe(2);
  });

  it('past maxRateLimitRetries the rate limit is the outcome (reported once per attempt)', async () => {
    const { clock, limiter } = setup();
    let calls = 0;
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        () => {
          calls++;
          throw rateLimitError(100);
        },
        { retry: { maxRateLimitRetries: 0 } },
      ),
    );
    expect(outcome).toMatchObject({ kind: 'rateLimited', attempts: 1, rateLimits: 1 });
    expect(calls).toBe(1);
    expect(limiter.stats()).toMatchObject({ totalRateLimits: 1, active: 0, pausedUntil: 100 });
  });

  it('a rate limit without retry-after pauses for the backoff', async () => {
    const { clock, limiter } = setup();
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        () => {
          throw Object.assign(new Error('429'), { status: 429 });
        },
        { retry: { maxRateLimitRetries: 0, rateLimitBackoffMs: 400, maxRateLimitBackoffMs: 400 } },
      ),
    );
    expect(outcome.kind).toBe('rateLimited');
    const pauseMs = (outcome as { pauseMs: number }).pauseMs;
    // Equal jitter: between half and all of the backoff.
    expect(pauseMs).toBeGreaterThanOrEqual(200);
    expect(pauseMs).toBeLessThanOrEqual(400);
  });

  it('a quota or spend limit is a rate limit that is never retried', async () => {
    const { clock, limiter } = setup();
    let calls = 0;
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        () => {
          calls++;
          throw new QuotaExhaustedError('out of credit', { kind: 'spend_limit', source: 'openai' });
        },
        { retry: { maxRateLimitRetries: 5 } },
      ),
    );
    expect(outcome).toMatchObject({ kind: 'quotaExhausted', rateLimits: 1, attempts: 1 });
    expect(isQuotaExhaustedError((outcome as { error: unknown }).error)).toBe(true);
    expect(calls).toBe(1);
  });

  it('retries ordinary failures up to maxFailureRetries, failureRetryDelayMs apart', async () => {
    const { clock, limiter, released } = setup();
    const startsMs: number[] = [];
    const failuresSeen: number[] = [];
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        ({ failures }) => {
          startsMs.push(clock.now());
          failuresSeen.push(failures);
          throw new Error('flaky');
        },
        { retry: { maxFailureRetries: 2, failureRetryDelayMs: 300 } },
      ),
    );
    expect(outcome).toMatchObject({ kind: 'failed', attempts: 3, failures: 3 });
    expect(startsMs).toEqual([0, 300, 600]);
    expect(failuresSeen).toEqual([0, 1, 2]);
    expect(released.count).toBe(3);
  });

  it('an abort during the wait between tries ends the call as aborted', async () => {
    const { clock, limiter } = setup();
    const controller = new AbortController();
    const pending = callThroughLimiter(
      limiter,
      () => {
        throw new Error('flaky');
      },
      { signal: controller.signal, retry: { maxFailureRetries: 5, failureRetryDelayMs: 1000 } },
    );
    await clock.advance(500);
    controller.abort(new Error('cancelled'));
    expect(await pending).toMatchObject({ kind: 'aborted', timing: undefined, attempts: 1, failures: 1 });
  });

  it('an open circuit refuses the call before it takes capacity', async () => {
    const { clock, limiter } = setup();
    const breaker = new CircuitBreaker({ consecutiveFailures: 1, clock });
    breaker.isolate();
    let calls = 0;
    const outcome = await callThroughLimiter(limiter, () => ++calls, { guards: { circuitBreaker: breaker } });
    expect(outcome).toMatchObject({ kind: 'refused', timing: undefined });
    expect(isBrokenCircuitError((outcome as { error: unknown }).error)).toBe(true);
    expect(calls).toBe(0);
    expect(limiter.stats().totalRequests).toBe(0);
  });

  it('a limiter that has no room within the acquire timeout refuses the call', async () => {
    const { clock, limiter } = setup({ maxConcurrent: 1 });
    const blocker = await limiter.acquire();
    const pending = callThroughLimiter(limiter, () => 1, { acquire: { timeoutMs: 200 } });
    const outcome = await runOnFakeClock(clock, pending);
    expect(outcome).toMatchObject({ kind: 'refused', timing: undefined });
    expect(isLimiterTimeoutError((outcome as { error: unknown }).error)).toBe(true);
    blocker.release();
    expect(limiter.stats().active).toBe(0);
  });

  it('asks for the acquire options before each attempt, with the counts so far', async () => {
    const { clock, limiter } = setup({ maxTokensPerMinute: 10_000 });
    const asked: unknown[] = [];
    const charged: number[] = [];
    let first = true;
    await runOnFakeClock(
      clock,
      callThroughLimiter(
        limiter,
        ({ lease }) => {
          charged.push(lease.tokens);
          if (first) {
            first = false;
            throw rateLimitError(50);
          }
          return 'ok';
        },
        {
          acquire: async (counts) => {
            asked.push(counts);
            await clock.sleep(5);
            return { tokens: 100 + counts.index };
          },
        },
      ),
    );
    expect(asked).toEqual([
      { index: 0, failures: 0, rateLimits: 0 },
      { index: 1, failures: 0, rateLimits: 1 },
    ]);
    expect(charged).toEqual([100, 101]);
  });
});
