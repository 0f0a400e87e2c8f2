import { describe, expect, it } from 'vitest';
import { readHeaders } from '../../src/providers/header-source';
import { parseRateLimitHeaders } from '../../src/providers/parse-rate-limit-headers';
import {
  parseRetryAfter,
  parseRetryAfterMs,
  retryAfterFromHeaders,
} from '../../src/providers/parse-retry-after';

const NOW_MS = Date.parse('2025-06-01T12:00:00Z');

const OPENAI_HEADERS = {
  'x-ratelimit-limit-requests': '500',
  'x-ratelimit-limit-tokens': '200000',
  'x-ratelimit-remaining-requests': '499',
  'x-ratelimit-remaining-tokens': '199000',
  'x-ratelimit-reset-requests': '120ms',
  'x-ratelimit-reset-tokens': '6m0s',
};

describe('readHeaders', () => {
  it('reads Headers, records in any case, Maps, and entry arrays', () => {
    expect(readHeaders(new Headers({ 'Retry-After': '1' }))?.get('retry-after')).toBe('1');
    expect(readHeaders({ 'RETRY-AFTER': 2, 'Set-Cookie': ['a', 'b'] })).toEqual(
      new Map([
        ['retry-after', '2'],
        ['set-cookie', 'a, b'],
      ]),
    );
    expect(readHeaders(new Map([['Retry-After', '3']]))?.get('retry-after')).toBe('3');
    expect(readHeaders([['Retry-After', '4']])?.get('retry-after')).toBe('4');
  });

  it('reads carriers: Response, SDK error, withResponse() result, axios error, Vercel error', () => {
    const response = new Response(null, { headers: { 'x-ratelimit-remaining-requests': '7' } });
    expect(readHeaders(response)?.get('x-ratelimit-remaining-requests')).toBe('7');
    expect(readHeaders({ data: { id: 'x' }, response })?.get('x-ratelimit-remaining-requests')).toBe('7');
    expect(readHeaders({ status: 429, headers: new Headers({ a: '1' }) })?.get('a')).toBe('1');
    expect(readHeaders({ response: { status: 429, headers: { A: '1' } } })?.get('a')).toBe('1');
    expect(readHeaders({ statusCode: 429, responseHeaders: { A: '1' } })?.get('a')).toBe('1');
  });

  it('probes known names on a get-only object', () => {
    const getOnly = { get: (name: string) => (name === 'retry-after' ? '9' : null) };
    expect(readHeaders(getOnly)?.get('retry-after')).toBe('9');
    // The processing time too: it tells the limiter when a request reached the provider.
    const processing = { get: (name: string) => (name === 'openai-processing-ms' ? '120' : null) };
    expect(readHeaders(processing)?.get('openai-processing-ms')).toBe('120');
  });

  it('gives undefined for non-objects and survives hostile input', () => {
    expect(readHeaders(undefined)).toBeUndefined();
    expect(readHeaders('retry-after: 1')).toBeUndefined();
    expect(
      readHeaders(
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('x');
            },
          },
        ),
      ),
    ).toBeUndefined();
    const cyclic: Record<string, unknown> = {};
    cyclic.headers = cyclic;
    expect(() => readHeaders(cyclic)).not.toThrow();
  });
});

describe('parseRetryAfter / parseRetryAfterMs', () => {
  it.each([
    ['30', 30_000],
    ['0', 0],
    ['1.5', 1500],
    [' 2 ', 2000],
    [5, 5000],
    ['Sun, 01 Jun 2025 12:00:10 GMT', 10_000],
    ['Sun, 01 Jun 2025 11:00:00 GMT', 0],
    ['-1', undefined],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
    [Number.NaN, undefined],
  ])('parseRetryAfter(%j) = %j', (value, expected) => {
    expect(parseRetryAfter(value, NOW_MS)).toBe(expected);
  });

  it.each([
    ['1500', 1500],
    ['12.5', 12.5],
    ['x', undefined],
    ['-3', undefined],
  ])('parseRetryAfterMs(%j) = %j', (value, expected) => {
    expect(parseRetryAfterMs(value)).toBe(expected);
  });

  it('prefers retry-after-ms over retry-after', () => {
    expect(
      retryAfterFromHeaders(
        new Map([
          ['retry-after', '2'],
          ['retry-after-ms', '1234'],
        ]),
        NOW_MS,
      ),
    ).toBe(1234);
    expect(retryAfterFromHeaders(new Map([['retry-after', '2']]), NOW_MS)).toBe(2000);
    expect(retryAfterFromHeaders(new Map(), NOW_MS)).toBeUndefined();
  });
});

describe('parseRateLimitHeaders', () => {
  it('OpenAI x-ratelimit-* headers', () => {
    expect(parseRateLimitHeaders(new Headers(OPENAI_HEADERS), { nowMs: NOW_MS })).toEqual({
      provider: 'openai',
      requests: { limit: 500, remaining: 499, resetMs: 120 },
      tokens: { limit: 200_000, remaining: 199_000, resetMs: 360_000 },
    });
  });

  it('OpenAI headers in a plain upper-case record, with retry-after', () => {
    const record = Object.fromEntries(Object.entries(OPENAI_HEADERS).map(([k, v]) => [k.toUpperCase(), v]));
    const info = parseRateLimitHeaders({ ...record, 'Retry-After': '3' }, { nowMs: NOW_MS });
    expect(info.provider).toBe('openai');
    expect(info.retryAfterMs).toBe(3000);
    expect(info.requests?.limit).toBe(500);
  });

  it('Anthropic anthropic-ratelimit-* headers with RFC 3339 resets', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2025-06-01T12:00:01Z',
      'anthropic-ratelimit-tokens-limit': '90000',
      'anthropic-ratelimit-tokens-remaining': '0',
      'anthropic-ratelimit-tokens-reset': '2025-06-01T12:00:30.250Z',
      'anthropic-ratelimit-input-tokens-limit': '80000',
      'anthropic-ratelimit-input-tokens-remaining': '1000',
      'anthropic-ratelimit-input-tokens-reset': '2025-06-01T14:00:00+02:00',
      'anthropic-ratelimit-output-tokens-limit': '10000',
      'anthropic-ratelimit-output-tokens-remaining': '10000',
      'anthropic-ratelimit-output-tokens-reset': '2025-06-01T11:59:00Z',
      'retry-after': '30',
    });
    expect(parseRateLimitHeaders(headers, { nowMs: NOW_MS })).toEqual({
      provider: 'anthropic',
      requests: { limit: 50, remaining: 49, resetMs: 1000 },
      tokens: { limit: 90_000, remaining: 0, resetMs: 30_250 },
      inputTokens: { limit: 80_000, remaining: 1000, resetMs: 0 },
      outputTokens: { limit: 10_000, remaining: 10_000, resetMs: 0 },
      retryAfterMs: 30_000,
    });
  });

  it('a withResponse() result and a fetch Response', () => {
    const response = new Response('{}', { headers: OPENAI_HEADERS });
    expect(parseRateLimitHeaders({ data: {}, response }, { nowMs: NOW_MS }).requests?.remaining).toBe(499);
    expect(parseRateLimitHeaders(response, { nowMs: NOW_MS }).tokens?.resetMs).toBe(360_000);
  });

  it('skips malformed values instead of guessing', () => {
    const info = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': 'lots',
        'x-ratelimit-remaining-requests': '-1',
        'x-ratelimit-reset-requests': 'soon',
        'x-ratelimit-remaining-tokens': '10',
        'anthropic-ratelimit-requests-reset': 'tomorrow',
      },
      { nowMs: NOW_MS },
    );
    expect(info).toEqual({ provider: 'openai', tokens: { remaining: 10 } });
  });

  it('unknown input gives { provider: "unknown" }', () => {
    expect(parseRateLimitHeaders(undefined)).toEqual({ provider: 'unknown' });
    expect(parseRateLimitHeaders({ 'content-type': 'application/json' })).toEqual({ provider: 'unknown' });
    expect(parseRateLimitHeaders({ 'retry-after': '1' })).toEqual({
      provider: 'unknown',
      retryAfterMs: 1000,
    });
  });
});
