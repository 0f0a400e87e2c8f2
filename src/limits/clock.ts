/**
 * The source of time for everything that waits. Injected so tests can run limiter logic on a
 * {@link FakeClock} instead of sleeping for real.
 */
export interface Clock {
  /** Milliseconds since an arbitrary, fixed origin (must never go backwards). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. Rejects with the signal's reason when `signal` aborts first,
   * and clears its timer so an aborted sleep holds nothing alive.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Builds the rejection reason for an aborted signal (the signal's own reason when it has one). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** The real clock: `performance.now()`-based so wall-clock jumps cannot reorder events. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
