import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import {
  BrokenCircuitError,
  CircuitBreaker,
  isBrokenCircuitError,
  type CircuitBreakerOptions,
  type CircuitState,
} from '../../src/resilience/index';
import { InvalidOptionError } from '../../src/validation/options';
import { deferred, httpError, outcome, rateLimitHit } from './helpers';

function setup(options: CircuitBreakerOptions = { consecutiveFailures: 3, halfOpenAfterMs: 30_000 }) {
  const clock = new FakeClock();
  const breaker = new CircuitBreaker({ clock, ...options });
  const changes: string[] = [];
  breaker.on('stateChange', ({ from, to }) => changes.push(`${from}->${to}`));
  const fail = (error: unknown = new Error('boom')) =>
    outcome(
      breaker.run(() => {
        throw error;
      }),
    );
  const succeed = () => outcome(breaker.run(() => 'ok'));
  return { clock, breaker, changes, fail, succeed };
}

async function failTimes(fail: () => Promise<unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fail();
}

describe('CircuitBreaker (consecutive)', () => {
  it('opens after N consecutive failures and not before', async () => {
    const { breaker, fail, changes } = setup();
    await failTimes(fail, 2);
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['closed->open']);
  });

  it('starts the count over after a success', async () => {
    const { breaker, fail, succeed } = setup();
    await failTimes(fail, 2);
    await succeed();
    await failTimes(fail, 2);
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('passes the failure through unchanged', async () => {
    const { fail } = setup();
    const error = new Error('the real one');
    const result = await fail(error);
    expect(result).toEqual({ ok: false, error });
  });

  it('fails fast while open without calling the function, with retryAfterMs and the name', async () => {
    const { clock, breaker, fail } = setup({
      consecutiveFailures: 1,
      halfOpenAfterMs: 30_000,
      name: 'openai',
    });
    await fail();
    await clock.advance(10_000);
    const fn = vi.fn(() => 'never');
    const rejected = vi.fn();
    breaker.on('rejected', rejected);
    const result = await outcome(breaker.run(fn));
    expect(fn).not.toHaveBeenCalled();
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error;
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(error).toMatchObject({
      name: 'BrokenCircuitError',
      breakerName: 'openai',
      retryAfterMs: 20_000,
      isolated: false,
    });
    expect(rejected).toHaveBeenCalledWith(error);
    expect(breaker.retryAfterMs).toBe(20_000);
  });

  it('half-opens exactly halfOpenAfterMs after opening', async () => {
    const { clock, breaker, fail, changes } = setup({ consecutiveFailures: 1, halfOpenAfterMs: 30_000 });
    const halfOpen = vi.fn();
    breaker.on('halfOpen', halfOpen);
    await fail();
    await clock.advance(29_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(halfOpen).toHaveBeenCalledTimes(1);
    expect(changes).toEqual(['closed->open', 'open->half-open']);
  });

  it('lets exactly halfOpenMaxCalls trial calls through and rejects the rest', async () => {
    const { clock, breaker, fail } = setup({
      consecutiveFailures: 1,
      halfOpenAfterMs: 1000,
      halfOpenMaxCalls: 2,
    });
    await fail();
    await clock.advance(1000);
    const trials = [deferred<string>(), deferred<string>()];
    const fn = vi.fn(() => trials[fn.mock.calls.length - 1]!.promise);
    const first = outcome(breaker.run(fn));
    const second = outcome(breaker.run(fn));
    const third = await outcome(breaker.run(fn));
    expect(fn).toHaveBeenCalledTimes(2);
    expect(third.ok).toBe(false);
    // While trials are in flight nobody knows when a slot frees up.
    expect((third as { error: BrokenCircuitError }).error.retryAfterMs).toBeUndefined();
    trials[0]!.resolve('a');
    trials[1]!.resolve('b');
    expect(await first).toEqual({ ok: true, value: 'a' });
    expect(await second).toEqual({ ok: true, value: 'b' });
  });

  it('closes when a trial succeeds, and counts failures from zero again', async () => {
    const { clock, breaker, fail, succeed, changes } = setup();
    const closed = vi.fn();
    breaker.on('close', closed);
    await failTimes(fail, 3);
    await clock.advance(30_000);
    expect(await succeed()).toEqual({ ok: true, value: 'ok' });
    expect(breaker.state).toBe('closed');
    expect(closed).toHaveBeenCalledTimes(1);
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    await failTimes(fail, 2);
    expect(breaker.state).toBe('closed');
  });

  it('reopens when a trial fails, for another full delay', async () => {
    const { clock, breaker, fail } = setup({ consecutiveFailures: 1, halfOpenAfterMs: 5000 });
    const opened = vi.fn();
    breaker.on('open', opened);
    await fail();
    await clock.advance(5000);
    const error = new Error('still down');
    await fail(error);
    expect(breaker.state).toBe('open');
    expect(opened).toHaveBeenLastCalledWith({ reason: 'trial-failed', error, retryAfterMs: 5000 });
    await clock.advance(4999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('frees the trial slot when a trial ends with a rate limit (neither healthy nor sick)', async () => {
    const { clock, breaker, fail, succeed } = setup({ consecutiveFailures: 1, halfOpenAfterMs: 1000 });
    await fail();
    await clock.advance(1000);
    await fail(httpError(429));
    expect(breaker.state).toBe('half-open');
    expect(await succeed()).toEqual({ ok: true, value: 'ok' });
    expect(breaker.state).toBe('closed');
  });

  it('ignores results of calls that started before the last state change', async () => {
    const { clock, breaker, fail } = setup({ consecutiveFailures: 1, halfOpenAfterMs: 1000 });
    const slow = deferred<string>();
    const slowCall = outcome(breaker.run(() => slow.promise)); // admitted while closed
    await fail(); // opens
    await clock.advance(1000);
    expect(breaker.state).toBe('half-open');
    slow.resolve('late');
    expect(await slowCall).toEqual({ ok: true, value: 'late' });
    // The late success was not a trial: the circuit is still waiting for one.
    expect(breaker.state).toBe('half-open');
  });

  it('a stale failure does not restart the open delay', async () => {
    const { clock, breaker, fail } = setup({ consecutiveFailures: 1, halfOpenAfterMs: 1000 });
    const slow = deferred<string>();
    const slowCall = outcome(breaker.run(() => slow.promise));
    await fail();
    await clock.advance(600);
    slow.reject(new Error('late failure'));
    await slowCall;
    await clock.advance(400);
    expect(breaker.state).toBe('half-open');
  });

  it('emits success and failure with durations from the clock', async () => {
    const { clock, breaker } = setup();
    const success = vi.fn();
    const failure = vi.fn();
    breaker.on('success', success).on('failure', failure);
    const d = deferred<string>();
    const call = breaker.run(() => d.promise);
    await clock.advance(250);
    d.resolve('x');
    await call;
    expect(success).toHaveBeenCalledWith({ durationMs: 250 });
    const error = httpError(500);
    await outcome(breaker.run(() => Promise.reject(error)));
    expect(failure).toHaveBeenCalledWith({ error, durationMs: 0 });
  });
});

describe('CircuitBreaker default failure classification', () => {
  it('does not trip on 429s or RateLimitHit', async () => {
    const { breaker, fail } = setup({ consecutiveFailures: 2 });
    const failure = vi.fn();
    breaker.on('failure', failure);
    for (let i = 0; i < 5; i++) await fail(httpError(429));
    for (let i = 0; i < 5; i++) await fail(rateLimitHit());
    expect(breaker.state).toBe('closed');
    expect(failure).not.toHaveBeenCalled();
  });

  it.each([529, 500, 503])('trips on status %i', async (status) => {
    const { breaker, fail } = setup({ consecutiveFailures: 2 });
    await failTimes(() => fail(httpError(status)), 2);
    expect(breaker.state).toBe('open');
  });

  it('trips on the AI SDK statusCode field', async () => {
    const { breaker, fail } = setup({ consecutiveFailures: 1 });
    await fail(Object.assign(new Error('overloaded'), { statusCode: 529 }));
    expect(breaker.state).toBe('open');
  });

  it('uses a custom isFailure', async () => {
    const { breaker, fail } = setup({ consecutiveFailures: 1, isFailure: (e) => e instanceof TypeError });
    await fail(new Error('not counted'));
    expect(breaker.state).toBe('closed');
    await fail(new TypeError('counted'));
    expect(breaker.state).toBe('open');
  });

  it('counts a failure when isFailure itself throws', async () => {
    const { breaker, fail } = setup({
      consecutiveFailures: 1,
      isFailure: () => {
        throw new Error('classifier bug');
      },
    });
    const result = await fail(new Error('original'));
    expect((result as { error: Error }).error.message).toBe('original');
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker manual control', () => {
  it('isolate() holds it open until reset(), with no retry time', async () => {
    const { clock, breaker, changes } = setup();
    breaker.isolate();
    expect(breaker.state).toBe('open');
    expect(breaker.isolated).toBe(true);
    await clock.advance(24 * 60 * 60_000);
    expect(breaker.state).toBe('open');
    const result = await outcome(breaker.run(() => 'x'));
    expect((result as { error: unknown }).error).toMatchObject({ isolated: true, retryAfterMs: undefined });
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.isolated).toBe(false);
    expect(changes).toEqual(['closed->open', 'open->closed']);
  });

  it('open() opens it as if tripped, half-opening after the delay', async () => {
    const { clock, breaker } = setup({ consecutiveFailures: 3, halfOpenAfterMs: 2000 });
    const opened = vi.fn();
    breaker.on('open', opened);
    breaker.open();
    expect(opened).toHaveBeenCalledWith({ reason: 'manual', error: undefined, retryAfterMs: 2000 });
    await clock.advance(2000);
    expect(breaker.state).toBe('half-open');
  });

  it('reset() after opening counts failures from zero again', async () => {
    const { breaker, fail } = setup();
    await failTimes(fail, 3);
    breaker.reset();
    await failTimes(fail, 2);
    expect(breaker.state).toBe('closed');
  });

  it('open() while open restarts the delay without another event', async () => {
    const { clock, breaker, changes } = setup({ consecutiveFailures: 3, halfOpenAfterMs: 2000 });
    breaker.open();
    await clock.advance(1500);
    breaker.open();
    await clock.advance(1500);
    expect(breaker.state).toBe('open');
    await clock.advance(500);
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual(['closed->open', 'open->half-open']);
  });

  it('reset() forgets failures counted while closed', async () => {
    const { breaker, fail } = setup();
    await failTimes(fail, 2);
    breaker.reset();
    await failTimes(fail, 2);
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker.run signal', () => {
  it('passes the caller signal to the function', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await breaker.run((signal) => (seen = signal), { signal: controller.signal });
    expect(seen).toBe(controller.signal);
  });

  it('rejects with the abort reason before consulting the breaker when already aborted', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    const fn = vi.fn();
    await expect(breaker.run(fn, { signal: controller.signal })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
  });

  it('does not count a caller cancellation as a failure', async () => {
    const { breaker, fail } = setup({ consecutiveFailures: 1 });
    await fail(new DOMException('aborted', 'AbortError'));
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker options', () => {
  it.each<[Record<string, unknown>, string]>([
    [{ consecutiveFailures: 0 }, 'consecutiveFailures must be a positive integer, got 0'],
    [{ consecutiveFailures: 2.5 }, 'consecutiveFailures must be a positive integer, got 2.5'],
    [{ halfOpenAfterMs: -1 }, 'halfOpenAfterMs must be a non-negative number, got -1'],
    [{ halfOpenMaxCalls: 0 }, 'halfOpenMaxCalls must be a positive integer, got 0'],
    [{ failureRate: 1.5 }, 'failureRate must be a number greater than 0 and at most 1, got 1.5'],
    [{ failureRate: 0.5, minimumCalls: 0 }, 'minimumCalls must be a positive integer, got 0'],
    [{ windowMs: 1000 }, 'failureRate must be a number greater than 0 and at most 1, got undefined'],
    [{ isFailure: 'yes' }, "isFailure must be a function, got 'yes'"],
    [
      { consecutiveFailures: 3, failureRate: 0.5 },
      'pass only one of consecutiveFailures, failureRate or policy',
    ],
    [{ halfOpenAfterMS: 10 }, "unknown option 'halfOpenAfterMS' (did you mean 'halfOpenAfterMs'?)"],
  ])('rejects %j', (options, message) => {
    const build = () => new CircuitBreaker(options);
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(message);
  });

  it('defaults to 5 consecutive failures, 30 s, one trial and the name default', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock });
    expect(breaker).toMatchObject({ halfOpenAfterMs: 30_000, halfOpenMaxCalls: 1, name: 'default' });
    for (let i = 0; i < 4; i++) await outcome(breaker.run(() => Promise.reject(new Error('x'))));
    expect(breaker.state).toBe('closed');
    await outcome(breaker.run(() => Promise.reject(new Error('x'))));
    expect(breaker.state).toBe('open');
  });

  it('accepts a policy of its own', async () => {
    const clock = new FakeClock();
    const policy = { recordSuccess: vi.fn(), recordFailure: vi.fn(() => true), reset: vi.fn() };
    const breaker = new CircuitBreaker({ clock, policy });
    await outcome(breaker.run(() => 'ok'));
    expect(policy.recordSuccess).toHaveBeenCalledWith(0);
    await outcome(breaker.run(() => Promise.reject(new Error('x'))));
    expect(breaker.state).toBe<CircuitState>('open');
  });
});

describe('BrokenCircuitError', () => {
  it('is an Error with a message naming the breaker', () => {
    const error = new BrokenCircuitError('anthropic', { retryAfterMs: 1200 });
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("Circuit breaker 'anthropic' is open; it half-opens in 1200 ms");
    expect(isBrokenCircuitError(new Error('x'))).toBe(false);
  });
});
