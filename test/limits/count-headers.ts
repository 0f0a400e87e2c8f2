/**
 * OpenAI-style response headers saying the provider had counted `count` of `limit` requests in its
 * window (this one included), with no processing time: what the counter alignment reads.
 */
export function countHeaders(limit: number, count: number): Headers {
  return new Headers({
    'x-ratelimit-limit-requests': String(limit),
    'x-ratelimit-remaining-requests': String(limit - count),
    'x-ratelimit-reset-requests': '10s',
  });
}
