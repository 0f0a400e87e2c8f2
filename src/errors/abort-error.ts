import { isRecord } from '../util/is-record';

/**
 * Whether `error` is an abort: the platform's `AbortError` (a `DOMException` named `AbortError`,
 * what an aborted acquire rejects with unless the signal carries its own reason) or any error
 * named so.
 * @category Errors
 */
export function isAbortError(error: unknown): error is Error {
  return isRecord(error) && error.name === 'AbortError';
}
