import { z } from 'zod';
import { abortReason, systemClock, type Clock } from '../util/clock';
import { opt, parseOptions } from '../validation/options';
import { isClock } from '../util/is-clock';
import { TimeoutError } from './timeout-error';

/** Options of {@link withTimeout}. */
export interface WithTimeoutOptions {
  /** Longest the call may take, in milliseconds; then it is aborted and rejects with {@link TimeoutError}. */
  timeoutMs: number;
  /**
   * An outer signal (the caller's cancellation): when it aborts, the call is aborted too and the
   * promise rejects with the signal's reason.
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Source of time for the deadline (inject a `FakeClock` in tests).
   * @default systemClock
   */
  clock?: Clock;
}

const isAbortSignal = (v: unknown): v is AbortSignal =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as AbortSignal).aborted === 'boolean' &&
  typeof (v as AbortSignal).addEventListener === 'function';

const schema = z.strictObject({
  timeoutMs: opt.positiveNumber(),
  signal: opt.instance(isAbortSignal, 'an AbortSignal').optional(),
  clock: opt.instance(isClock, 'a Clock with now() and sleep()').optional(),
});

/**
 * Runs `fn` with a signal that aborts after `timeoutMs` (or when the outer `signal` aborts), so an
 * SDK call given that signal is really cancelled. Rejects with {@link TimeoutError} at the deadline
 * without waiting for `fn` to notice; what `fn` settles with afterwards is ignored. The deadline's
 * timer is cancelled on every path, so nothing is left pending.
 *
 * @example
 * const reply = await withTimeout((signal) => client.chat.completions.create(body, { signal }), { timeoutMs: 30_000 });
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => T | Promise<T>,
  options: WithTimeoutOptions,
): Promise<T> {
  let parsed: z.output<typeof schema>;
  try {
    parsed = parseOptions(schema, options, 'withTimeout');
  } catch (error) {
    return Promise.reject(error);
  }
  const { timeoutMs, signal: outer } = parsed;
  const clock = parsed.clock ?? systemClock;
  if (outer?.aborted) return Promise.reject(abortReason(outer));

  const inner = new AbortController();
  const deadline = new AbortController(); // cancels the clock's sleep
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    /** Settles once: stops the deadline, detaches from the outer signal, then reports. */
    const settle = (report: () => void, abortWith?: unknown) => {
      if (settled) return;
      settled = true;
      deadline.abort();
      outer?.removeEventListener('abort', onOuterAbort);
      if (abortWith !== undefined) inner.abort(abortWith);
      report();
    };
    const onOuterAbort = () => {
      const reason = abortReason(outer!);
      settle(() => reject(reason), reason);
    };
    outer?.addEventListener('abort', onOuterAbort, { once: true });

    clock.sleep(timeoutMs, deadline.signal).then(
      () => {
        const error = new TimeoutError(timeoutMs);
        settle(() => reject(error), error);
      },
      () => {}, // the deadline was cancelled because the call settled first
    );

    let pending: Promise<T>;
    try {
      pending = Promise.resolve(fn(inner.signal));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
