/**
 * The real `generateText` and `streamText` of AI SDK 5, 6 and 7 through `throttleMiddleware`,
 * against the provider simulator (OpenAI chat completions through `@ai-sdk/openai`; streams as
 * server-sent events).
 */
import { APICallError } from '@ai-sdk/provider';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { throttleMiddleware } from '../../src/ai-sdk/index';
import { Limiter, throttledFetch } from '../../src/index';
import { startProviderSimulator } from '../../src/testing/index';
import type { ProviderSimulator } from '../../src/testing/index';
import { SDK_MAJORS } from './sdk-majors';

let sim: ProviderSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const tokenWindow = (limit: number) => [{ resource: 'tokens', limit, windowMs: 60_000 }];

describe.each(SDK_MAJORS)('AI SDK $major: generateText through throttleMiddleware', (sdk) => {
  it('sends each call through the limiter and reconciles its tokens from the reported usage', async () => {
    // 10 output tokens answered, 60 allowed: the estimate (prompt + 60) is well above the usage.
    sim = await startProviderSimulator({ completionTokens: 10 });
    const limiter = new Limiter({ windows: tokenWindow(1_000_000), reconcile: 'both', warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const prompts = ['one small sentence', 'a second, somewhat longer sentence to translate', 'three'];
    const answers = await Promise.all(
      prompts.map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, maxOutputTokens: 60 })),
    );
    expect(answers.map((a) => a.text)).toEqual(prompts.map((p) => `sim: ${p}`));
    expect(sim.stats().accepted).toBe(3);
    const stats = limiter.stats();
    expect(stats.totalRequests).toBe(3);
    expect(stats.active).toBe(0);
    // Refunded down to exactly what the provider reported, in whichever usage shape the major has.
    const reported = answers.reduce((sum, a) => sum + (a.totalTokens ?? Number.NaN), 0);
    expect(reported).toBeLessThan(3 * 60);
    expect(stats.tokensInWindow).toBe(reported);
  });

  it('wraps a whole provider with wrapProvider', async () => {
    sim = await startProviderSimulator({});
    const limiter = new Limiter({ maxConcurrent: 1, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const answers = await Promise.all(
      ['a', 'b'].map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, viaProvider: true })),
    );
    expect(answers.map((a) => a.text)).toEqual(['sim: a', 'sim: b']);
    expect(limiter.stats().totalRequests).toBe(2);
    expect(sim.stats().maxInFlight).toBe(1);
  });

  it("passes a 429 back to the SDK unchanged and pauses the limiter; the SDK's retries each pass once", async () => {
    // The limiter does not know the provider's 2 requests/s: the first burst meets 429s.
    sim = await startProviderSimulator({ requestsPerWindow: 2, windowMs: 1000 });
    const limiter = new Limiter({ warnings: false });
    const pauses: number[] = [];
    limiter.on('ratelimit', (event) => pauses.push(event.retryAfterMs ?? 0));
    // A tokensFor of its own skips the default estimate's first lone call: all four go at once.
    const middleware = throttleMiddleware({ limiter, tokensFor: () => 0 });
    const prompts = ['p1', 'p2', 'p3', 'p4'];
    const answers = await Promise.all(
      prompts.map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, maxRetries: 4 })),
    );
    expect(answers.map((a) => a.text)).toEqual(prompts.map((p) => `sim: ${p}`));
    const { accepted, rejected } = sim.stats();
    expect(accepted).toBe(4);
    expect(rejected).toBeGreaterThan(0);
    // Every HTTP attempt, the SDK's retries included, went through the limiter exactly once.
    expect(limiter.stats().totalRequests).toBe(accepted + rejected);
    expect(limiter.stats().totalRateLimits).toBe(rejected);
    expect(pauses).toHaveLength(rejected);
    for (const pauseMs of pauses) expect(pauseMs).toBeGreaterThan(0);
  });

  it('with maxRetries: 0 the caller gets the provider’s APICallError itself', async () => {
    // Two calls at once on a provider allowing one: one of them is answered 429.
    sim = await startProviderSimulator({ requestsPerWindow: 1, windowMs: 1000 });
    const limiter = new Limiter({ warnings: false });
    const middleware = throttleMiddleware({ limiter, tokensFor: () => 0 });
    const settled = await Promise.allSettled(
      ['first', 'second'].map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, maxRetries: 0 })),
    );
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    expect(failures).toHaveLength(1);
    const error = failures[0];
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).statusCode).toBe(429);
    expect((error as APICallError).responseHeaders?.['retry-after-ms']).toBeDefined();
    expect(limiter.stats().totalRateLimits).toBe(1);
    expect(limiter.stats().pausedUntil).toBeGreaterThan(0);
    expect(limiter.stats().active).toBe(0);
  });
});

describe.each(SDK_MAJORS)('AI SDK $major: streamText through throttleMiddleware', (sdk) => {
  it('holds the slot while the answer streams and reconciles from the usage of its finish part', async () => {
    // Events spread over the latency: the stream is still open when its first text arrives.
    sim = await startProviderSimulator({ completionTokens: 10, latencyMs: 200 });
    const limiter = new Limiter({ windows: tokenWindow(1_000_000), reconcile: 'both', warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const activeAtFirstText: number[] = [];
    const answer = await sdk.stream({
      url: sim.url,
      middleware,
      prompt: 'stream me a sentence, please',
      maxOutputTokens: 60,
      onText: () => activeAtFirstText.push(limiter.stats().active),
    });
    expect(answer.text).toBe('sim: stream me a sentence, please');
    expect(activeAtFirstText[0]).toBe(1);
    const stats = limiter.stats();
    expect(stats).toMatchObject({ active: 0, totalRequests: 1 });
    expect(answer.totalTokens).toBeLessThan(60);
    expect(stats.tokensInWindow).toBe(answer.totalTokens);
    expect(sim.stats().accepted).toBe(1);
  });

  it('a stream the caller aborts midway releases its slot', async () => {
    sim = await startProviderSimulator({ latencyMs: 400 });
    const limiter = new Limiter({ maxConcurrent: 1, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const controller = new AbortController();
    const outcome = await sdk
      .stream({
        url: sim.url,
        middleware,
        prompt: 'a long answer that the caller stops reading',
        abortSignal: controller.signal,
        onText: () => controller.abort(new Error('stop')),
      })
      .then(
        (answer) => answer.text,
        (error: unknown) => error,
      );
    // However the major reports it (a rejection, or a cut-short text), the slot is free again.
    expect(outcome).not.toBe('sim: a long answer that the caller stops reading');
    await vi.waitFor(() => expect(limiter.stats().active).toBe(0));
    expect(limiter.stats().totalRequests).toBe(1);
  });

  it('streams through a wrapped provider, one slot per stream', async () => {
    sim = await startProviderSimulator({ latencyMs: 50 });
    const limiter = new Limiter({ maxConcurrent: 1, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const answers = await Promise.all(
      ['x', 'y', 'z'].map((prompt) => sdk.stream({ url: sim!.url, middleware, prompt, viaProvider: true })),
    );
    expect(answers.map((a) => a.text)).toEqual(['sim: x', 'sim: y', 'sim: z']);
    // The slot of a stream is held until its end: never two streams at the provider at once.
    expect(sim.stats().maxInFlight).toBe(1);
    expect(limiter.stats()).toMatchObject({ active: 0, totalRequests: 3 });
  });

  it('with the provider on throttledFetch(limiter) too, each call takes one slot: counted once, never waiting on itself', async () => {
    sim = await startProviderSimulator({ latencyMs: 20, completionTokens: 10 });
    // One slot: a second acquire inside the call would wait for ever on the middleware's own.
    const limiter = new Limiter({ maxConcurrent: 1, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const fetch = throttledFetch(limiter);
    const generated = await Promise.all(
      ['g1', 'g2'].map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, fetch })),
    );
    const streamed = await Promise.all(
      ['s1', 's2'].map((prompt) => sdk.stream({ url: sim!.url, middleware, prompt, fetch })),
    );
    expect([...generated, ...streamed].map((a) => a.text)).toEqual([
      'sim: g1',
      'sim: g2',
      'sim: s1',
      'sim: s2',
    ]);
    expect(sim.stats().accepted).toBe(4);
    expect(sim.stats().maxInFlight).toBe(1);
    await vi.waitFor(() => expect(limiter.stats().active).toBe(0));
    expect(limiter.stats().totalRequests).toBe(4);
  });

  it('with the provider on throttledFetch(limiter) too, a 429 is reported once', async () => {
    sim = await startProviderSimulator({ requestsPerWindow: 2, windowMs: 1000 });
    const limiter = new Limiter({ warnings: false });
    const middleware = throttleMiddleware({ limiter, tokensFor: () => 0 });
    const fetch = throttledFetch(limiter);
    const prompts = ['p1', 'p2', 'p3', 'p4'];
    const answers = await Promise.all(
      prompts.map((prompt) => sdk.generate({ url: sim!.url, middleware, prompt, maxRetries: 4, fetch })),
    );
    expect(answers.map((a) => a.text)).toEqual(prompts.map((p) => `sim: ${p}`));
    const { accepted, rejected } = sim.stats();
    expect(rejected).toBeGreaterThan(0);
    expect(limiter.stats()).toMatchObject({
      active: 0,
      totalRequests: accepted + rejected,
      totalRateLimits: rejected,
    });
  });
});

describe.each(SDK_MAJORS)('AI SDK $major: @ai-sdk/anthropic through throttleMiddleware', (sdk) => {
  it('generateText and streamText on the messages API, reconciled from its usage', async () => {
    sim = await startProviderSimulator({ completionTokens: 10, latencyMs: 50 });
    const limiter = new Limiter({ windows: tokenWindow(1_000_000), reconcile: 'both', warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const call = { url: sim.url, middleware, anthropic: true, maxOutputTokens: 60 };
    const generated = await sdk.generate({ ...call, prompt: 'hello from generateText' });
    const streamed = await sdk.stream({ ...call, prompt: 'hello from streamText' });
    expect(generated.text).toBe('sim: hello from generateText');
    expect(streamed.text).toBe('sim: hello from streamText');
    expect(sim.stats().accepted).toBe(2);
    const stats = limiter.stats();
    expect(stats).toMatchObject({ active: 0, totalRequests: 2 });
    expect(stats.tokensInWindow).toBe(
      (generated.totalTokens ?? Number.NaN) + (streamed.totalTokens ?? Number.NaN),
    );
  });
});
