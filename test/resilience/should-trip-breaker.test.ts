import { APICallError } from '@ai-sdk/provider';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError as GenaiApiError } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { shouldTripBreaker, TimeoutError } from '../../src/resilience/index';
import { httpError, rateLimitHit } from './helpers';

const aiSdkError = (statusCode: number) =>
  new APICallError({
    message: `HTTP ${statusCode}`,
    url: 'https://api.example',
    requestBodyValues: {},
    statusCode,
  });

describe('shouldTripBreaker', () => {
  describe('does not count rate limits', () => {
    it.each<[string, unknown]>([
      ['a status 429', httpError(429)],
      ['a status "429" string', Object.assign(new Error('x'), { status: '429' })],
      ['a RateLimitHit by name', rateLimitHit()],
      [
        'a gRPC RESOURCE_EXHAUSTED status',
        Object.assign(new Error('quota'), { status: 'RESOURCE_EXHAUSTED' }),
      ],
      ['openai RateLimitError', new OpenAI.RateLimitError(429, undefined, 'limit', new Headers())],
      ['anthropic 429', new Anthropic.APIError(429, undefined, 'limit', new Headers())],
      ['AI SDK APICallError 429', aiSdkError(429)],
      ['@google/genai ApiError 429', new GenaiApiError({ message: 'quota', status: 429 })],
      ['axios-style response.status 429', Object.assign(new Error('x'), { response: { status: 429 } })],
      ['a 429 wrapped as cause', new Error('call failed', { cause: httpError(429) })],
      [
        'a 429 wrapped as lastError (AI SDK RetryError)',
        Object.assign(new Error('retries'), { name: 'AI_RetryError', lastError: aiSdkError(429) }),
      ],
    ])('%s', (_, error) => {
      expect(shouldTripBreaker(error)).toBe(false);
    });
  });

  describe('counts provider failures', () => {
    it.each<[string, unknown]>([
      ['a 529 overload', httpError(529)],
      ['a 500', httpError(500)],
      ['a 503', httpError(503)],
      ['a 408', httpError(408)],
      ['anthropic 529', new Anthropic.APIError(529, undefined, 'overloaded', new Headers())],
      ['openai InternalServerError', new OpenAI.InternalServerError(500, undefined, 'oops', new Headers())],
      ['openai connection timeout', new OpenAI.APIConnectionTimeoutError()],
      ['AI SDK APICallError 529', aiSdkError(529)],
      ['a TimeoutError', new TimeoutError(1000)],
      ['a plain Error', new Error('socket hang up')],
      ['a thrown string', 'boom'],
      ['undefined', undefined],
    ])('%s', (_, error) => {
      expect(shouldTripBreaker(error)).toBe(true);
    });
  });

  describe("does not count the request's own fault or a cancellation", () => {
    it.each<[string, unknown]>([
      ['a 400', httpError(400)],
      ['a 401', httpError(401)],
      ['an AbortError', new DOMException('aborted', 'AbortError')],
      ['openai APIUserAbortError (name "Error", told apart by class)', new OpenAI.APIUserAbortError()],
    ])('%s', (_, error) => {
      expect(shouldTripBreaker(error)).toBe(false);
    });
  });

  it('never reads the message', () => {
    expect(shouldTripBreaker(new Error('429 rate limit exceeded'))).toBe(true);
    expect(shouldTripBreaker(Object.assign(new Error('overloaded rate'), { status: 429 }))).toBe(false);
  });

  it('stops following causes after a few levels (no endless loops on cycles)', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(shouldTripBreaker(a)).toBe(true);
  });
});
