/**
 * A property of throttleMiddleware under the AI SDK's retry loop, on the fake clock: whatever
 * each attempt meets (a success, a 429 with or without retry-after, a 500, a reset connection, the
 * caller's abort), no window of the limiter is ever exceeded at the provider (by the attempts it
 * counts: a 500's unit comes back at once, `refundFailedAttempts`), no more calls are in
 * flight than allowed, every attempt takes exactly one slot, and no slot is left held.
 */
import { APICallError } from '@ai-sdk/provider';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { throttleMiddleware, type AiSdkModel } from '../../src/ai-sdk/index';
import { Limiter } from '../../src/index';
import { FakeClock } from '../../src/testing/index';
import { runOnFakeClock } from '../throttled/support';

const LIMIT = 4;
const WINDOW_MS = 1_000;
const MAX_CONCURRENT = 3;
const model: AiSdkModel = { provider: 'test', modelId: 'test-model' };

const attemptArb = fc.record({
  kind: fc.constantFrom('ok', 'rateLimit', 'rateLimitRetryAfter', 'serverError', 'reset'),
  latencyMs: fc.integer({ min: 1, max: 400 }),
  retryAfterMs: fc.integer({ min: 1, max: 800 }),
});
const callArb = fc.record({
  startAtMs: fc.integer({ min: 0, max: 1500 }),
  /** The SDK's attempts: its first, then a retry after each failure, up to the list's end. */
  attempts: fc.array(attemptArb, { minLength: 1, maxLength: 4 }),
  abortAtMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
  promptChars: fc.integer({ min: 0, max: 400 }),
});

type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

function errorFor(kind: string, retryAfterMs: number): Error {
  if (kind === 'reset') return new TypeError('fetch failed: socket hang up');
  const statusCode = kind === 'serverError' ? 500 : 429;
  const responseHeaders: Record<string, string> =
    kind === 'rateLimitRetryAfter' ? { 'retry-after-ms': String(retryAfterMs) } : {};
  return new APICallError({
    message: `status ${statusCode}`,
    url: 'https://api.example/v1/chat/completions',
    requestBodyValues: {},
    statusCode,
    responseHeaders,
    isRetryable: true,
  });
}

describe('throttleMiddleware: property', () => {
  it('random retry sequences never exceed a window (but for 500s, given back) or the concurrency, and never leak a slot', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 8 }), async (calls) => {
        const clock = new FakeClock();
        const limiter = new Limiter({
          clock,
          maxConcurrent: MAX_CONCURRENT,
          maxPerWindow: LIMIT,
          windowMs: WINDOW_MS,
          warnings: false,
        });
        const middleware = throttleMiddleware({ limiter });
        const sentAtMs: number[] = [];
        /** Attempts the provider counts: all but its 500s. */
        const countedAtMs: number[] = [];
        let inFlight = 0;
        let maxInFlight = 0;

        const runCall = async (call: Call): Promise<string> => {
          await clock.sleep(call.startAtMs);
          const controller = new AbortController();
          if (call.abortAtMs !== undefined) {
            void clock.sleep(call.abortAtMs).then(() => controller.abort(new Error('caller aborted')));
          }
          const params = {
            prompt: [{ role: 'user', content: 'x'.repeat(call.promptChars) }],
            maxOutputTokens: 10,
            abortSignal: controller.signal,
          };
          for (const attempt of call.attempts) {
            try {
              await middleware.wrapGenerate({
                doGenerate: async () => {
                  sentAtMs.push(clock.now());
                  if (attempt.kind !== 'serverError') countedAtMs.push(clock.now());
                  inFlight++;
                  maxInFlight = Math.max(maxInFlight, inFlight);
                  try {
                    await clock.sleep(attempt.latencyMs, controller.signal);
                  } finally {
                    inFlight--;
                  }
                  if (attempt.kind !== 'ok') throw errorFor(attempt.kind, attempt.retryAfterMs);
                  return { usage: { inputTokens: 5, outputTokens: 5, totalTokens: 10 } };
                },
                doStream: () => Promise.reject(new Error('not called')),
                params,
                model,
              });
              return 'ok';
            } catch {
              if (controller.signal.aborted) return 'aborted';
              // The SDK's own retry delay before its next attempt.
              await clock.sleep(attempt.kind === 'rateLimitRetryAfter' ? attempt.retryAfterMs : 200);
            }
          }
          return 'gave up';
        };

        const outcomes = await runOnFakeClock(clock, Promise.all(calls.map(runCall)));
        expect(outcomes).toHaveLength(calls.length);
        const stats = limiter.stats();
        expect(stats.active).toBe(0);
        expect(stats.queued).toBe(0);
        // Every attempt that reached the provider took one slot (an abort may end a wait first).
        expect(stats.totalRequests).toBe(sentAtMs.length);
        expect(maxInFlight).toBeLessThanOrEqual(MAX_CONCURRENT);
        for (const start of countedAtMs) {
          const inWindow = countedAtMs.filter((t) => t >= start && t < start + WINDOW_MS).length;
          expect(inWindow).toBeLessThanOrEqual(LIMIT);
        }
      }),
      { numRuns: 60 },
    );
  });
});
