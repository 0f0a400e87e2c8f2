import { describe, expect, it } from 'vitest';
import { QuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { RateLimitHit } from '../../src/errors/rate-limit-hit';

describe('RateLimitHit', () => {
  it('takes an options object', () => {
    const cause = new Error('429');
    const hit = new RateLimitHit('API rate limit exceeded', {
      retryAfterMs: 2000,
      source: 'my_api',
      scope: 'requests',
      cause,
    });
    expect(hit).toBeInstanceOf(Error);
    expect(hit).toMatchObject({
      name: 'RateLimitHit',
      message: 'API rate limit exceeded',
      retryAfterMs: 2000,
      source: 'my_api',
      scope: 'requests',
      kind: 'rate_limit',
    });
    expect(hit.cause).toBe(cause);
    expect(hit.stack).toContain('RateLimitHit');
  });

  it('takes the positional form (message, retryAfterMs, source)', () => {
    const hit = new RateLimitHit('slow', 1500, 'svc');
    expect(hit.retryAfterMs).toBe(1500);
    expect(hit.source).toBe('svc');
    expect(new RateLimitHit('only message')).toMatchObject({ retryAfterMs: undefined, source: undefined });
    expect(new RateLimitHit().message).toBe('Rate limit hit');
  });

  it('drops a meaningless retryAfterMs', () => {
    expect(new RateLimitHit('x', -5).retryAfterMs).toBeUndefined();
    expect(new RateLimitHit('x', { retryAfterMs: Number.NaN }).retryAfterMs).toBeUndefined();
  });
});

describe('QuotaExhaustedError', () => {
  it('has a clear default message naming the quota', () => {
    const error = new QuotaExhaustedError(undefined, {
      kind: 'quota_exhausted',
      quotaId: 'GenerateRequestsPerDay',
      source: 'google',
    });
    expect(error.message).toBe(
      'google: quota exhausted (GenerateRequestsPerDay); retrying will not help until it resets',
    );
    expect(error).toMatchObject({
      name: 'QuotaExhaustedError',
      kind: 'quota_exhausted',
      quotaId: 'GenerateRequestsPerDay',
      source: 'google',
    });
    expect(new QuotaExhaustedError(undefined, { kind: 'spend_limit' }).message).toContain(
      'spend limit reached',
    );
  });

  it('keeps message, cause and retryAfterMs; defaults kind', () => {
    const cause = new Error('429');
    const error = new QuotaExhaustedError('custom', { cause, retryAfterMs: 5 });
    expect(error.message).toBe('custom');
    expect(error.cause).toBe(cause);
    expect(error.kind).toBe('quota_exhausted');
    expect(error.retryAfterMs).toBe(5);
  });
});
