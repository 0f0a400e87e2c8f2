/**
 * The source of time for everything that waits. Injected so tests can run limiter logic on a
 * `FakeClock` (from `throttleflow/testing`) instead of sleeping for real.
 * @category Limiters
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

/** Longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
      // setTimeout fires at once for delays above 2^31-1 ms, so long sleeps go in chunks.
      let timer: ReturnType<typeof setTimeout>;
      const deadline = performance.now() + Math.max(0, ms);
      const arm = () => {
        const left = deadline - performance.now();
        timer = setTimeout(
          () => {
            if (deadline - performance.now() > 1) return arm();
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.min(Math.max(0, left), MAX_TIMER_MS),
        );
      };
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
