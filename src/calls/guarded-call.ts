import type { Clock } from '../util/clock';
import type { Lease } from '../limits/lease';
import type { AcquireOptions, Limiter } from '../limits/limiter';
import { BrokenCircuitError } from '../resilience/broken-circuit-error';
import type { CircuitBreaker } from '../resilience/circuit-breaker';
import { withTimeout } from '../resilience/with-timeout';

/** The protections around one call: a circuit breaker and a per-call timeout, both optional. */
export interface CallGuards {
  /**
   * Every call goes through `breaker.run`; an open circuit refuses it with `BrokenCircuitError`.
   * @default undefined
   */
  circuitBreaker?: CircuitBreaker;
  /**
   * Longest one call may take, in milliseconds; then its signal aborts and it rejects with `TimeoutError`.
   * @default undefined (no timeout)
   */
  timeoutMs?: number;
}

/**
 * The error a call gets when `breaker` is open right now, or `undefined` when it may be tried.
 * Checked before taking limiter capacity, so a call the breaker would refuse costs nothing
 * (a half-open breaker with no free trial slot is only found out by `breaker.run` itself).
 * Emits the breaker's `rejected` event, as a refusal by `breaker.run` would.
 */
export function openCircuitError(breaker: CircuitBreaker | undefined): BrokenCircuitError | undefined {
  if (!breaker || breaker.state !== 'open') return undefined;
  const error = new BrokenCircuitError(breaker.name, {
    retryAfterMs: breaker.retryAfterMs,
    isolated: breaker.isolated,
  });
  breaker.emit('rejected', error);
  return error;
}

/**
 * `limiter.acquire(options)`, unless `breaker` is open: then it rejects with `BrokenCircuitError`
 * at once, and a wait in the queue is given up the moment the breaker opens. So a call the
 * breaker will refuse takes no limiter capacity (except when a half-open breaker refuses it for
 * want of a trial slot, which only `breaker.run` finds out).
 */
export async function acquireWhileClosed(
  limiter: Limiter,
  options: AcquireOptions,
  breaker: CircuitBreaker | undefined,
): Promise<Lease> {
  const refused = openCircuitError(breaker);
  if (refused) throw refused;
  if (!breaker) return await limiter.acquire(options);
  const opened = new AbortController();
  const onOpen = () => opened.abort(openCircuitError(breaker) ?? new BrokenCircuitError(breaker.name));
  breaker.on('open', onOpen);
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, opened.signal]) : opened.signal;
    return await limiter.acquire({ ...options, signal });
  } finally {
    breaker.off('open', onOpen);
  }
}

/**
 * Runs `call` under `guards`: the breaker outside, the timeout inside it (so a timeout counts as a
 * failure of the call). `call` gets the signal to hand to the SDK: it aborts when `signal` (the
 * caller's cancellation) aborts or the timeout passes. Without guards it is `signal` itself.
 */
export function guardedCall<T>(
  call: (signal: AbortSignal | undefined) => T | PromiseLike<T>,
  guards: CallGuards,
  signal: AbortSignal | undefined,
  clock: Clock,
): Promise<T> {
  const { circuitBreaker, timeoutMs } = guards;
  const timed =
    timeoutMs === undefined
      ? (outer: AbortSignal | undefined) => new Promise<T>((resolve) => resolve(call(outer)))
      : (outer: AbortSignal | undefined) =>
          withTimeout((inner) => Promise.resolve(call(inner)), { timeoutMs, signal: outer, clock });
  if (!circuitBreaker) return timed(signal);
  return circuitBreaker.run((outer) => timed(outer), { signal });
}
