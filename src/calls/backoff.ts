/**
 * How long to pause after a rate limit that came without a retry-after: exponential in the
 * number of consecutive rate limits, capped, with "equal jitter" (half fixed, half random) so
 * clients that were rejected together do not come back together.
 */
export function rateLimitBackoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return ceiling / 2 + random() * (ceiling / 2);
}
