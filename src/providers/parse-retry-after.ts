import type { HeaderMap } from './header-source';

const SECONDS = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*$/;

/**
 * Parses a `Retry-After` value into milliseconds from `nowMs`: delay-seconds (`"30"`, also
 * `"1.5"`) or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, a date in the past gives 0).
 * Returns `undefined` when the value is neither; never throws.
 *
 * @param nowMs The current wall-clock time (`Date.now()`), used only for HTTP dates.
 */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  if (typeof value === 'number')
    return value >= 0 && Number.isFinite(value * 1000) ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const seconds = SECONDS.exec(value);
  if (seconds) {
    const ms = Number(seconds[1]) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  // Date.parse is lenient ("1" parses as a year), so only letters-bearing values count as dates.
  if (!/[a-z]/i.test(value)) return undefined;
  const atMs = Date.parse(value);
  if (!Number.isFinite(atMs) || !Number.isFinite(nowMs)) return undefined;
  return Math.max(0, atMs - nowMs);
}

/**
 * Parses a `retry-after-ms` value (OpenAI's and Anthropic's non-standard, more precise header).
 * Returns `undefined` unless it is a non-negative number.
 */
export function parseRetryAfterMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !SECONDS.test(value)) return undefined;
  const ms = Number(value.trim());
  return Number.isFinite(ms) ? ms : undefined;
}

/** The wait the headers ask for: `retry-after-ms` when present (it is more precise), else `retry-after`. */
export function retryAfterFromHeaders(headers: HeaderMap, nowMs: number = Date.now()): number | undefined {
  return (
    parseRetryAfterMs(headers.get('retry-after-ms')) ?? parseRetryAfter(headers.get('retry-after'), nowMs)
  );
}
