import { abortReason, systemClock } from '../util/clock';

/** Rejects with the signal's reason (an `AbortError` DOMException by default) when it has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Real-time sleep that an abort cuts short. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return systemClock.sleep(ms, signal);
}
