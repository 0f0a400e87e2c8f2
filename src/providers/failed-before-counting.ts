import { isRecord } from '../util/is-record';
import { readErrorFacts } from './error-facts';

/** How deep {@link isFailureBeforeCounting} follows `cause` links of wrapping errors. */
const MAX_WRAP_DEPTH = 3;

/**
 * Connection errors (Node's and undici's codes): the request never reached the provider (refused,
 * no such host) or its connection dropped before any answer (a reset, a closed socket).
 */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether an error is a failure that providers typically do not count against a rate limit: an
 * HTTP 5xx (500, 502, 503, 529 overloaded, …; not 504, which a gateway sends after the request
 * may already have run) or a connection that failed or dropped before any answer. Timeouts,
 * cancellations, 4xx and errors thrown by the caller's own code (a validation of the model's
 * output, after the provider answered) are not. Follows `cause` through wrapping errors (openai-node's
 * `APIConnectionError`, fetch's `TypeError: fetch failed`). Never reads messages.
 */
export function isFailureBeforeCounting(value: unknown, depth = 0): boolean {
  if (!isRecord(value)) return false;
  const status = readErrorFacts(value)?.status;
  if (status !== undefined) return status >= 500 && status !== 504 && status < 600;
  if (typeof value.code === 'string' && CONNECTION_ERROR_CODES.has(value.code)) return true;
  return depth < MAX_WRAP_DEPTH && isFailureBeforeCounting(value.cause, depth + 1);
}
