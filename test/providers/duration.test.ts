import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectRateLimit } from '../../src/providers/detect-rate-limit';
import { formatDuration } from '../../src/providers/format-duration';
import { readHeaders } from '../../src/providers/header-source';
import { parseDuration } from '../../src/providers/parse-duration';
import { parseRateLimitHeaders } from '../../src/providers/parse-rate-limit-headers';
import { parseRetryAfter } from '../../src/providers/parse-retry-after';

describe('parseDuration', () => {
  it.each([
    ['6m0s', 360_000],
    ['1s', 1000],
    ['12ms', 12],
    ['1h2m3.5s', 3_723_500],
    ['0.5s', 500],
    ['0s', 0],
    ['20ms', 20],
    ['1m30s', 90_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['500us', 0.5],
    ['250µs', 0.25],
    ['1000000ns', 1],
    ['.5s', 500],
    ['  7s  ', 7000],
    ['2', 2000],
    ['0.25', 250],
  ])('parseDuration(%j) = %j', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each(['', 's', '-1s', '1x', '1s2', 'ms', '1.2.3s', 'abc', '1 s', 'NaNs', `${'9'.repeat(400)}s`])(
    'rejects %j',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('rejects non-strings except non-negative numbers (seconds)', () => {
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration(null)).toBeUndefined();
    expect(parseDuration({})).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(1.5)).toBe(1500);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [12, '12ms'],
    [1000, '1s'],
    [360_000, '6m0s'],
    [3_723_500, '1h2m3.5s'],
    [3_600_000, '1h0m0s'],
    [61_001, '1m1.001s'],
  ])('formatDuration(%j) = %j', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('properties', () => {
  it('parseDuration(formatDuration(ms)) === ms for whole milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000 * 3_600_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('Go-style terms sum correctly', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 99 }),
        fc.nat({ max: 59 }),
        fc.nat({ max: 59 }),
        fc.nat({ max: 999 }),
        (h, m, s, ms) => {
          const text = `${h}h${m}m${s}.${String(ms).padStart(3, '0')}s`;
          expect(parseDuration(text)).toBe(h * 3_600_000 + m * 60_000 + s * 1000 + ms);
        },
      ),
    );
  });

  it('the parsers never throw and return undefined or a non-negative finite number', () => {
    const durationish = fc.stringMatching(/^[0-9.hmsuµn ]{0,12}$/);
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), durationish), (input) => {
        for (const result of [parseDuration(input), parseRetryAfter(input, 0)]) {
          if (result !== undefined) {
            expect(Number.isFinite(result)).toBe(true);
            expect(result).toBeGreaterThanOrEqual(0);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('header reading and detection never throw on arbitrary input', () => {
    const headerRecord = fc.dictionary(
      fc.constantFrom(
        'x-ratelimit-remaining-requests',
        'x-ratelimit-reset-tokens',
        'anthropic-ratelimit-tokens-reset',
        'retry-after',
        'retry-after-ms',
        'x-should-retry',
      ),
      fc.oneof(fc.string(), fc.integer(), fc.anything()),
    );
    const errorLike = fc.record(
      {
        status: fc.oneof(fc.constantFrom(429, 529, 503, 400), fc.anything()),
        statusCode: fc.anything(),
        headers: fc.oneof(headerRecord, fc.anything()),
        error: fc.anything(),
        message: fc.string(),
        cause: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), headerRecord, errorLike), (input) => {
        readHeaders(input);
        const info = parseRateLimitHeaders(input, { nowMs: 0 });
        expect(['openai', 'anthropic', 'unknown']).toContain(info.provider);
        const signal = detectRateLimit(input, { nowMs: 0 });
        if (signal?.retryAfterMs !== undefined) expect(signal.retryAfterMs).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
  });
});
