import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { isTimeoutError, shouldTripBreaker, TimeoutError, withTimeout } from '../../src/resilience/index';
import { InvalidOptionError } from '../../src/validation/options';
import { deferred, flush, httpError, outcome, rateLimitHit } from './helpers';

describe('withTimeout', () => {
  it('resolves with the value and cancels its timer', async () => {
    const clock = new FakeClock();
    const gate = deferred<string>();
    const result = outcome(withTimeout(() => gate.promise, { timeoutMs: 1000, clock }));
    await clock.advance(500);
    gate.resolve('done');
    expect(await result).toEqual({ ok: true, value: 'done' });
    expect(clock.pendingSleeps).toBe(0);
  });

  it('rejects with TimeoutError at timeoutMs and aborts the signal given to the call', async () => {
    const clock = new FakeClock();
    let inner: AbortSignal | undefined;
    const result = outcome(
      withTimeout(
        (signal) => {
          inner = signal;
          return new Promise<string>(() => {}); // a call that ignores its signal still times out
        },
        { timeoutMs: 1000, clock },
      ),
    );
    let settled = false;
    void result.then(() => (settled = true));
    await clock.advance(999);
    expect(settled).toBe(false);
    expect(inner!.aborted).toBe(false);
    await clock.advance(1);
    const r = await result;
    expect(r.ok).toBe(false);
    const error = (r as { error: unknown }).error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ name: 'TimeoutError', timeoutMs: 1000 });
    expect(inner!.aborted).toBe(true);
    expect(inner!.reason).toBe(error); // SDKs that rethrow signal.reason surface the TimeoutError
    expect(clock.pendingSleeps).toBe(0);
  });

  it('cancels an SDK-style call that honours the signal, leaving no sleep behind', async () => {
    const clock = new FakeClock();
    const call = (signal: AbortSignal) => clock.sleep(5000, signal).then(() => 'late');
    const result = outcome(withTimeout(call, { timeoutMs: 1000, clock }));
    await clock.advance(1000);
    expect(isTimeoutError(((await result) as { error: unknown }).error)).toBe(true);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('passes a rejection through and cancels its timer', async () => {
    const clock = new FakeClock();
    const error = httpError(500);
    await expect(withTimeout(() => Promise.reject(error), { timeoutMs: 1000, clock })).rejects.toBe(error);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('passes a synchronous throw through and cancels its timer', async () => {
    const clock = new FakeClock();
    const error = new Error('sync');
    const fn = () => {
      throw error;
    };
    await expect(withTimeout(fn, { timeoutMs: 1000, clock })).rejects.toBe(error);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('aborts the call when the outer signal aborts, rejecting with its reason', async () => {
    const clock = new FakeClock();
    const outer = new AbortController();
    const removeListener = vi.spyOn(outer.signal, 'removeEventListener');
    let inner: AbortSignal | undefined;
    const result = outcome(
      withTimeout(
        (signal) => {
          inner = signal;
          return new Promise<string>(() => {});
        },
        { timeoutMs: 1000, clock, signal: outer.signal },
      ),
    );
    await clock.advance(100);
    const reason = new Error('user cancelled');
    outer.abort(reason);
    expect(await result).toEqual({ ok: false, error: reason });
    expect(inner!.reason).toBe(reason);
    expect(clock.pendingSleeps).toBe(0);
    expect(removeListener).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('detaches from the outer signal when the call finishes first', async () => {
    const clock = new FakeClock();
    const outer = new AbortController();
    let inner: AbortSignal | undefined;
    await withTimeout(
      (signal) => {
        inner = signal;
        return 'ok';
      },
      { timeoutMs: 1000, clock, signal: outer.signal },
    );
    outer.abort();
    await flush();
    expect(inner!.aborted).toBe(false);
  });

  it('rejects at once, without calling, when the outer signal is already aborted', async () => {
    const clock = new FakeClock();
    const outer = new AbortController();
    outer.abort(new Error('too late'));
    const fn = vi.fn(async () => 'x');
    await expect(withTimeout(fn, { timeoutMs: 1000, clock, signal: outer.signal })).rejects.toThrow(
      'too late',
    );
    expect(fn).not.toHaveBeenCalled();
    expect(clock.pendingSleeps).toBe(0);
  });

  it('rejects bad options with a named error', async () => {
    const result = await outcome(withTimeout(async () => 1, { timeoutMs: 0 }));
    expect((result as { error: unknown }).error).toBeInstanceOf(InvalidOptionError);
    expect((result as { error: Error }).error.message).toBe('timeoutMs must be a positive number, got 0');
  });

  it('settles exactly as the earlier of call and deadline, and never leaks a sleep (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            timeoutMs: fc.integer({ min: 1, max: 1000 }),
            callMs: fc.integer({ min: 0, max: 1500 }),
            abortAtMs: fc.option(fc.integer({ min: 0, max: 1500 })),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (calls) => {
          const clock = new FakeClock();
          const runs = calls.map(({ timeoutMs, callMs, abortAtMs }) => {
            const outer = new AbortController();
            if (abortAtMs !== null) void clock.sleep(abortAtMs).then(() => outer.abort(new Error('aborted')));
            const result = outcome(
              withTimeout((signal) => clock.sleep(callMs, signal).then(() => 'value'), {
                timeoutMs,
                clock,
                signal: outer.signal,
              }),
            );
            return { timeoutMs, callMs, abortAtMs, result };
          });
          await clock.runAll();
          for (const { timeoutMs, callMs, abortAtMs, result } of runs) {
            const r = await result;
            // Ties: the sleep registered first wakes first (abort timer, then deadline, then call).
            const abortAt = abortAtMs ?? Infinity;
            const expected =
              abortAt <= Math.min(timeoutMs, callMs) ? 'aborted' : timeoutMs <= callMs ? 'timeout' : 'value';
            if (expected === 'value') expect(r).toEqual({ ok: true, value: 'value' });
            else if (expected === 'timeout')
              expect(isTimeoutError((r as { error: unknown }).error)).toBe(true);
            else expect((r as { error: Error }).error.message).toBe('aborted');
          }
          expect(clock.pendingSleeps).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('isTimeoutError', () => {
  it('tells a timeout apart from rate limits and other errors', () => {
    expect(isTimeoutError(new TimeoutError(5))).toBe(true);
    expect(isTimeoutError(httpError(429))).toBe(false);
    expect(isTimeoutError(rateLimitHit())).toBe(false);
    expect(isTimeoutError(new DOMException('t', 'TimeoutError'))).toBe(false);
    // Only the brand counts (see test/errors): a look-alike by name and fields is someone else's timeout.
    expect(isTimeoutError(Object.assign(new Error('x'), { name: 'TimeoutError', timeoutMs: 3 }))).toBe(false);
  });

  it('a timeout counts as a breaker failure, not a rate limit', () => {
    expect(shouldTripBreaker(new TimeoutError(1000))).toBe(true);
  });
});
