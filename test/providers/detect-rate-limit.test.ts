import { APICallError } from '@ai-sdk/provider';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { QuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { RateLimitHit } from '../../src/errors/rate-limit-hit';
import { detectRateLimit } from '../../src/providers/detect-rate-limit';

const NOW_MS = Date.parse('2025-01-01T00:00:00Z');
const detect = (error: unknown) => detectRateLimit(error, { nowMs: NOW_MS });

const openAiBody = (type: string, code: string) => ({
  message: 'Rate limit reached',
  type,
  param: null,
  code,
});

describe('detectRateLimit: RateLimitHit and QuotaExhaustedError', () => {
  it('reads a RateLimitHit', () => {
    const signal = detect(
      new RateLimitHit('slow down', { retryAfterMs: 2000, source: 'my_api', scope: 'tokens' }),
    );
    expect(signal).toEqual({
      kind: 'rate_limit',
      retryable: true,
      retryAfterMs: 2000,
      source: 'my_api',
      scope: 'tokens',
    });
  });

  it('reads an overloaded RateLimitHit and the positional form', () => {
    expect(detect(new RateLimitHit('busy', { kind: 'overloaded' }))).toMatchObject({
      kind: 'overloaded',
      source: 'RateLimitHit',
    });
    expect(detect(new RateLimitHit('x', 1500, 'svc'))).toMatchObject({ retryAfterMs: 1500, source: 'svc' });
  });

  it('reads a QuotaExhaustedError as not retryable', () => {
    const signal = detect(
      new QuotaExhaustedError(undefined, { kind: 'spend_limit', source: 'anthropic', quotaId: 'q' }),
    );
    expect(signal).toEqual({ kind: 'spend_limit', retryable: false, source: 'anthropic', quotaId: 'q' });
  });
});

describe('detectRateLimit: openai-node', () => {
  it('RateLimitError with retry-after-ms, scope from the body type', () => {
    const headers = new Headers({
      'retry-after': '2',
      'retry-after-ms': '1500',
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
      'x-request-id': 'req_1',
    });
    const error = new OpenAI.RateLimitError(
      429,
      openAiBody('requests', 'rate_limit_exceeded'),
      undefined,
      headers,
    );
    const signal = detect(error);
    expect(signal).toMatchObject({
      kind: 'rate_limit',
      retryable: true,
      retryAfterMs: 1500,
      scope: 'requests',
      source: 'openai',
      status: 429,
      code: 'rate_limit_exceeded',
    });
    expect(signal?.headers?.['x-request-id']).toBe('req_1');
    expect(signal?.rateLimits?.requests).toEqual({ limit: 60, remaining: 0, resetMs: 1000 });
  });

  it('APIError.generate(429) with only retry-after seconds', () => {
    const error = OpenAI.APIError.generate(
      429,
      { error: openAiBody('tokens', 'rate_limit_exceeded') },
      undefined,
      new Headers({ 'retry-after': '3' }),
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryAfterMs: 3000,
      scope: 'tokens',
      source: 'openai',
    });
  });

  it('scope from which x-ratelimit-remaining-* is 0, and the reset as the wait when no retry-after', () => {
    const headers = new Headers({
      'x-ratelimit-remaining-requests': '12',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    const error = new OpenAI.RateLimitError(429, undefined, 'no body', headers);
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      scope: 'tokens',
      retryAfterMs: 360_000,
      source: 'openai',
    });
  });

  it('insufficient_quota is a spend limit, not retryable', () => {
    const error = new OpenAI.RateLimitError(
      429,
      openAiBody('insufficient_quota', 'insufficient_quota'),
      undefined,
      new Headers(),
    );
    expect(detect(error)).toMatchObject({
      kind: 'spend_limit',
      retryable: false,
      code: 'insufficient_quota',
      source: 'openai',
    });
  });

  it('older openai (v4) errors with plain-object headers', () => {
    const error = Object.assign(new Error('429 Rate limit'), {
      status: 429,
      headers: { 'Retry-After-Ms': '250', 'X-RateLimit-Remaining-Requests': '0' },
      error: openAiBody('requests', 'rate_limit_exceeded'),
      code: 'rate_limit_exceeded',
      param: null,
      type: 'requests',
    });
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryAfterMs: 250,
      scope: 'requests',
      source: 'openai',
    });
  });

  it('x-should-retry: false on a 429 means stop', () => {
    const error = new OpenAI.RateLimitError(
      429,
      openAiBody('requests', 'rate_limit_exceeded'),
      undefined,
      new Headers({ 'x-should-retry': 'false' }),
    );
    expect(detect(error)).toMatchObject({ kind: 'quota_exhausted', retryable: false });
  });

  it('ignores 400, 401, plain 500 and connection errors', () => {
    expect(
      detect(
        OpenAI.APIError.generate(
          400,
          { error: openAiBody('invalid_request_error', 'x') },
          undefined,
          new Headers(),
        ),
      ),
    ).toBeUndefined();
    expect(detect(OpenAI.APIError.generate(401, undefined, 'bad key', new Headers()))).toBeUndefined();
    expect(detect(OpenAI.APIError.generate(500, undefined, 'oops', new Headers()))).toBeUndefined();
    expect(detect(new OpenAI.APIConnectionError({ message: 'socket hang up' }))).toBeUndefined();
  });

  it('never reads the message: "rate limit" words on a 400 are not a rate limit', () => {
    const error = OpenAI.APIError.generate(
      400,
      {
        error: {
          message: 'Rate limit exceeded, too many requests (429)',
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      },
      undefined,
      new Headers(),
    );
    expect(detect(error)).toBeUndefined();
    expect(detect(new Error('429 Too Many Requests: rate limit exceeded'))).toBeUndefined();
  });
});

describe('detectRateLimit: @anthropic-ai/sdk', () => {
  const body = (type: string, details?: object) => ({
    type: 'error',
    error: { type, message: 'whatever', ...(details ? { details } : {}) },
    request_id: 'req_1',
  });

  it('429 rate_limit_error with retry-after and anthropic-ratelimit headers', () => {
    const headers = new Headers({
      'retry-after': '7',
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2025-01-01T00:00:05Z',
      'anthropic-ratelimit-tokens-remaining': '1000',
    });
    const error = Anthropic.APIError.generate(429, body('rate_limit_error'), undefined, headers);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryable: true,
      retryAfterMs: 7000,
      scope: 'requests',
      source: 'anthropic',
      code: 'rate_limit_error',
    });
  });

  it('uses the exhausted budget reset (RFC 3339) when there is no retry-after', () => {
    const headers = new Headers({
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-input-tokens-reset': '2025-01-01T00:00:12.5Z',
    });
    const error = new Anthropic.RateLimitError(429, body('rate_limit_error'), undefined, headers);
    expect(detect(error)).toMatchObject({ kind: 'rate_limit', scope: 'tokens', retryAfterMs: 12_500 });
  });

  it('529 overloaded_error', () => {
    const error = Anthropic.APIError.generate(529, body('overloaded_error'), undefined, new Headers());
    expect(error).toBeInstanceOf(Anthropic.OverloadedError);
    expect(detect(error)).toMatchObject({
      kind: 'overloaded',
      retryable: true,
      status: 529,
      source: 'anthropic',
    });
  });

  it('overloaded_error type without a 529 (e.g. a streamed error event)', () => {
    const error = new Anthropic.APIError(undefined, body('overloaded_error'), 'stream error', undefined);
    expect(detect(error)).toMatchObject({ kind: 'overloaded', source: 'anthropic' });
  });

  it('429 spend limits are spend_limit, not retryable', () => {
    for (const code of ['enforced_spend_limit_reached', 'contract_spend_limit_reached']) {
      const error = new Anthropic.ContractSpendLimitReachedError(
        429,
        body('rate_limit_error', { error_code: code }),
        undefined,
        new Headers({ 'x-should-retry': 'false' }),
      );
      expect(detect(error)).toMatchObject({
        kind: 'spend_limit',
        retryable: false,
        code,
        source: 'anthropic',
      });
    }
  });

  it('429 billing_error type is a spend limit', () => {
    const error = Anthropic.APIError.generate(429, body('billing_error'), undefined, new Headers());
    expect(detect(error)).toMatchObject({ kind: 'spend_limit', code: 'billing_error' });
  });

  it('429 with x-should-retry: false is not retried', () => {
    const error = Anthropic.APIError.generate(
      429,
      body('rate_limit_error'),
      undefined,
      new Headers({ 'x-should-retry': 'false' }),
    );
    expect(detect(error)).toMatchObject({ kind: 'quota_exhausted', retryable: false });
  });

  it('ramp_limit_exceeded stays a retryable rate limit', () => {
    const error = new Anthropic.RateLimitError(
      429,
      body('rate_limit_error', { error_code: 'ramp_limit_exceeded' }),
      undefined,
      new Headers({ 'retry-after': '1' }),
    );
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryable: true,
      retryAfterMs: 1000,
      code: 'ramp_limit_exceeded',
    });
  });

  it('ignores 400, 401 and plain 500 (api_error)', () => {
    expect(
      detect(Anthropic.APIError.generate(400, body('invalid_request_error'), undefined, new Headers())),
    ).toBeUndefined();
    expect(
      detect(Anthropic.APIError.generate(401, body('authentication_error'), undefined, new Headers())),
    ).toBeUndefined();
    expect(
      detect(Anthropic.APIError.generate(500, body('api_error'), undefined, new Headers())),
    ).toBeUndefined();
  });
});

describe('detectRateLimit: Vercel AI APICallError', () => {
  const make = (statusCode: number, extra: Partial<ConstructorParameters<typeof APICallError>[0]> = {}) =>
    new APICallError({
      message: 'call failed',
      url: 'https://api.example.com/v1',
      requestBodyValues: {},
      statusCode,
      ...extra,
    });

  it('429 with responseHeaders', () => {
    const error = make(429, { responseHeaders: { 'retry-after': '4', 'x-ratelimit-remaining-tokens': '0' } });
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryAfterMs: 4000,
      scope: 'tokens',
      source: 'openai',
      status: 429,
    });
  });

  it('429 without provider headers is named vercel-ai', () => {
    expect(detect(make(429))).toMatchObject({ kind: 'rate_limit', source: 'vercel-ai' });
  });

  it('reads the JSON responseBody (openai insufficient_quota)', () => {
    const error = make(429, {
      responseBody: JSON.stringify({ error: openAiBody('insufficient_quota', 'insufficient_quota') }),
    });
    expect(detect(error)).toMatchObject({ kind: 'spend_limit', retryable: false });
  });

  it('isRetryable: false on a 429 is not retried', () => {
    expect(detect(make(429, { isRetryable: false }))).toMatchObject({
      kind: 'quota_exhausted',
      retryable: false,
    });
  });

  it('529 is overloaded; 400 and 500 are not detected', () => {
    expect(detect(make(529))).toMatchObject({ kind: 'overloaded' });
    expect(detect(make(400, { responseBody: '{"error":{"message":"rate limit"}}' }))).toBeUndefined();
    expect(detect(make(500))).toBeUndefined();
  });

  it('unwraps a RetryError-shaped lastError and a cause chain', () => {
    const retryError = Object.assign(new Error('Failed after 3 attempts'), {
      name: 'AI_RetryError',
      reason: 'maxRetriesExceeded',
      lastError: make(429),
    });
    expect(detect(retryError)).toMatchObject({ kind: 'rate_limit', status: 429 });
    expect(detect(new Error('wrapped', { cause: new Error('middle', { cause: make(529) }) }))).toMatchObject({
      kind: 'overloaded',
    });
  });
});

describe('detectRateLimit: Google GenAI', () => {
  const googleBody = (details: object[]) =>
    JSON.stringify({
      error: {
        code: 429,
        message: 'You exceeded your current quota.',
        status: 'RESOURCE_EXHAUSTED',
        details,
      },
    });
  const retryInfo = { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '46s' };
  const quotaFailure = (quotaId: string) => ({
    '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
    violations: [
      {
        quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
        quotaId,
        quotaValue: '15',
      },
    ],
  });

  it('per-minute quota: a rate limit with RetryInfo delay', () => {
    const error = new ApiError({
      message: googleBody([quotaFailure('GenerateRequestsPerMinutePerProjectPerModel-FreeTier'), retryInfo]),
      status: 429,
    });
    expect(detect(error)).toMatchObject({
      kind: 'rate_limit',
      retryable: true,
      retryAfterMs: 46_000,
      scope: 'requests',
      quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
      source: 'google',
      status: 429,
    });
  });

  it('per-minute token quota has scope tokens', () => {
    const error = new ApiError({
      message: googleBody([quotaFailure('GenerateContentInputTokensPerModelPerMinute-FreeTier')]),
      status: 429,
    });
    expect(detect(error)).toMatchObject({ kind: 'rate_limit', scope: 'tokens' });
  });

  it('per-day quota: quota_exhausted, scope daily, not retryable', () => {
    const error = new ApiError({
      message: googleBody([quotaFailure('GenerateRequestsPerDayPerProjectPerModel-FreeTier'), retryInfo]),
      status: 429,
    });
    expect(detect(error)).toMatchObject({
      kind: 'quota_exhausted',
      retryable: false,
      scope: 'daily',
      quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
      retryAfterMs: 46_000,
    });
  });

  it('a streamed error chunk ("got status: …" + JSON) and a bare RESOURCE_EXHAUSTED', () => {
    const streamed = new ApiError({
      message: `got status: RESOURCE_EXHAUSTED. ${googleBody([retryInfo])}`,
      status: 429,
    });
    expect(detect(streamed)).toMatchObject({ kind: 'rate_limit', retryAfterMs: 46_000, source: 'google' });
    const grpcStyle = Object.assign(new Error('quota'), { code: 'RESOURCE_EXHAUSTED' });
    expect(detect(grpcStyle)).toMatchObject({
      kind: 'rate_limit',
      source: 'google',
      code: 'RESOURCE_EXHAUSTED',
    });
  });

  it('older @google/generative-ai errors with errorDetails', () => {
    const error = Object.assign(new Error('[429 Too Many Requests]'), {
      status: 429,
      statusText: 'Too Many Requests',
      errorDetails: [
        quotaFailure('GenerateRequestsPerDayPerProjectPerModel-FreeTier'),
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' },
      ],
    });
    expect(detect(error)).toMatchObject({ kind: 'quota_exhausted', scope: 'daily', retryAfterMs: 2500 });
  });

  it('503 UNAVAILABLE is overloaded; 400 INVALID_ARGUMENT is not detected', () => {
    const unavailable = new ApiError({
      message: JSON.stringify({
        error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' },
      }),
      status: 503,
    });
    expect(detect(unavailable)).toMatchObject({ kind: 'overloaded', code: 'UNAVAILABLE' });
    const invalid = new ApiError({
      message: JSON.stringify({
        error: { code: 400, message: 'quota rate limit', status: 'INVALID_ARGUMENT' },
      }),
      status: 400,
    });
    expect(detect(invalid)).toBeUndefined();
  });
});

describe('detectRateLimit: fetch Response, axios, bare status', () => {
  it('fetch Responses: 429, 529, 503 detected; 200 and 500 not', () => {
    expect(
      detect(
        new Response('{}', { status: 429, headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' } }),
      ),
    ).toMatchObject({
      kind: 'rate_limit',
      retryAfterMs: 30_000,
      source: 'http',
    });
    expect(detect(new Response(null, { status: 529 }))).toMatchObject({ kind: 'overloaded' });
    expect(detect(new Response(null, { status: 503 }))).toMatchObject({ kind: 'overloaded' });
    expect(detect(new Response(null, { status: 200 }))).toBeUndefined();
    expect(detect(new Response(null, { status: 500 }))).toBeUndefined();
  });

  it('axios-style error.response', () => {
    const axiosError = Object.assign(new Error('Request failed with status code 429'), {
      isAxiosError: true,
      config: { headers: { Authorization: 'x' } },
      response: {
        status: 429,
        headers: { 'retry-after': '10' },
        data: { error: { message: 'slow', type: 'requests', code: 'rate_limit_exceeded' } },
      },
    });
    expect(detect(axiosError)).toMatchObject({
      kind: 'rate_limit',
      retryAfterMs: 10_000,
      scope: 'requests',
      source: 'axios',
    });
    const notLimited = Object.assign(new Error('rate limit'), { response: { status: 404, headers: {} } });
    expect(detect(notLimited)).toBeUndefined();
  });

  it('any error with status or statusCode 429/529', () => {
    expect(detect(Object.assign(new Error('x'), { status: 429 }))).toMatchObject({
      kind: 'rate_limit',
      source: 'unknown',
    });
    expect(detect(Object.assign(new Error('x'), { statusCode: 529 }))).toMatchObject({ kind: 'overloaded' });
    expect(detect({ status: 429 })).toMatchObject({ kind: 'rate_limit' });
  });

  it('503 from an error counts only with a retry-after', () => {
    expect(detect(Object.assign(new Error('x'), { status: 503 }))).toBeUndefined();
    expect(
      detect(Object.assign(new Error('x'), { status: 503, headers: { 'Retry-After': '5' } })),
    ).toMatchObject({ kind: 'overloaded', retryAfterMs: 5000 });
  });

  it('returns undefined for non-errors and hostile objects, never throws', () => {
    for (const value of [
      undefined,
      null,
      0,
      '429',
      'rate limit',
      Symbol('x'),
      [],
      {},
      new Error('rate limited (429)'),
    ]) {
      expect(detect(value)).toBeUndefined();
    }
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        has() {
          throw new Error('boom');
        },
      },
    );
    expect(detect(hostile)).toBeUndefined();
    const cyclic: { cause?: unknown } = {};
    cyclic.cause = cyclic;
    expect(detect(cyclic)).toBeUndefined();
  });
});
