import { describe, expect, it } from 'vitest';
import { handleRateLimit } from '../../src/calls/rate-limit-handling';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';

/** A provider error the way SDKs throw them: a status and the response headers. */
function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, headers });
}

describe('handleRateLimit', () => {
  const context = () => ({
    limiter: new Limiter({ maxConcurrent: 1, clock: new FakeClock() }),
    attempt: 0,
    backoffMs: 1000,
    maxBackoffMs: 60_000,
    source: 'test-node',
  });

  it('keeps a 529 an overload in the RateLimitHit it hands back', () => {
    const outcome = handleRateLimit(httpError(529, { 'retry-after': '2' }), context());
    expect(outcome.kind).toBe('retry');
    if (outcome.kind !== 'retry') return;
    expect(outcome.error.kind).toBe('overloaded');
    expect(outcome.pauseMs).toBe(2000);
  });

  it('calls a 429 a rate limit and pauses the limiter for its retry-after', () => {
    const ctx = context();
    const outcome = handleRateLimit(httpError(429, { 'retry-after-ms': '1500' }), ctx);
    expect(outcome.kind).toBe('retry');
    if (outcome.kind !== 'retry') return;
    expect(outcome.error.kind).toBe('rate_limit');
    expect(ctx.limiter.stats().pausedUntil).toBeGreaterThan(0);
  });

  it('leaves ordinary failures alone', () => {
    expect(handleRateLimit(httpError(500), context())).toEqual({ kind: 'none' });
  });
});
