import { isRateLimitHit } from '../errors/rate-limit-hit';
import { isRecord } from '../util/is-record';

/** How deep {@link shouldTripBreaker} follows `cause` / `lastError` links of wrapping errors. */
const MAX_WRAP_DEPTH = 3;

type ErrorLike = {
  name?: unknown;
  status?: unknown;
  statusCode?: unknown;
  response?: { status?: unknown } | null;
  cause?: unknown;
  lastError?: unknown;
};

/** gRPC-style status that Gemini reports for quota exhaustion (its 429). */
const RESOURCE_EXHAUSTED = 'RESOURCE_EXHAUSTED';

function toStatus(value: unknown): number | string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') return /^\d{3}$/.test(value) ? Number(value) : value;
  return undefined;
}

/** The HTTP status carried by an SDK error: `status` (openai, anthropic, genai), `statusCode` (AI SDK), `response.status` (fetch/axios style). */
function statusOf(error: ErrorLike): number | string | undefined {
  return toStatus(error.status) ?? toStatus(error.statusCode) ?? toStatus(error.response?.status);
}

/**
 * The error's name, or its class name: openai-node and anthropic-sdk errors keep `name === 'Error'`
 * and are only told apart by class.
 */
function namesOf(error: object): string[] {
  const names: string[] = [];
  const own = (error as ErrorLike).name;
  if (typeof own === 'string') names.push(own);
  const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === 'string' && ctor !== own) names.push(ctor);
  return names;
}

type Verdict = 'rate-limit' | 'cancelled' | 'failure' | 'not-failure' | 'unknown';

function classify(error: unknown, depth: number): Verdict {
  if (!isRecord(error)) return 'unknown';
  const names = namesOf(error);
  // Ours (from any copy of the package) by its brand; anyone else's by its name.
  if (isRateLimitHit(error) || names.includes('RateLimitHit')) return 'rate-limit';
  // The caller cancelled: says nothing about the provider's health.
  if (names.includes('AbortError') || names.includes('APIUserAbortError')) return 'cancelled';
  const status = statusOf(error);
  if (status === 429 || status === RESOURCE_EXHAUSTED) return 'rate-limit';
  if (typeof status === 'number') {
    if (status >= 500 || status === 408) return 'failure';
    // Other 4xx are the request's fault (bad input, auth): they must not block good requests.
    if (status >= 400) return 'not-failure';
  }
  if (depth < MAX_WRAP_DEPTH) {
    // Wrappers like the AI SDK's RetryError (`lastError`) or `new Error(msg, { cause })` keep the real reason inside.
    const e = error as ErrorLike;
    for (const inner of [e.lastError, e.cause]) {
      const verdict = classify(inner, depth + 1);
      if (verdict !== 'unknown') return verdict;
    }
  }
  return 'unknown';
}

/**
 * The default `isFailure` of a {@link CircuitBreaker}: whether an error is evidence that the
 * provider is unhealthy.
 *
 * - Rate limits do NOT count (status 429, gRPC `RESOURCE_EXHAUSTED`, or an error named `RateLimitHit`):
 *   the provider is healthy, we are just too fast, and the limiter handles that.
 * - Cancellation by the caller does not count (`AbortError`, the SDKs' `APIUserAbortError`).
 * - Overloads (529), other 5xx and 408 count; other 4xx (bad request, auth) do not.
 * - Everything else counts, including {@link TimeoutError}, connection errors and plain thrown errors.
 *
 * The status is read from `status`, `statusCode` or `response.status`; wrapped errors are followed
 * through `lastError` and `cause`. Messages are never inspected.
 */
export function shouldTripBreaker(error: unknown): boolean {
  const verdict = classify(error, 0);
  return verdict === 'failure' || verdict === 'unknown';
}
