/**
 * Whether `error` is an abort: the platform's `AbortError` (a `DOMException` named `AbortError`,
 * what an aborted acquire rejects with unless the signal carries its own reason) or any error
 * named so.
 */
export function isAbortError(error: unknown): error is Error {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
