/**
 * throttleMiddleware on the fake clock, driven the way the AI SDK drives a middleware (its
 * `wrapGenerate` / `wrapStream` called with `doGenerate` / `doStream`, once per attempt).
 */
import { APICallError } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { throttleMiddleware, type AiSdkCallOptions, type AiSdkModel } from '../../src/ai-sdk/index';
import { estimateCallTokens } from '../../src/ai-sdk/call-estimate';
import { aiSdkUsageTotal } from '../../src/ai-sdk/usage-total';
import { isInvalidOptionError, Limiter, LimiterRegistry } from '../../src/index';
import { FakeClock } from '../../src/testing/index';

const model: AiSdkModel = { provider: 'openai.chat', modelId: 'gpt-4o-mini' };
const params = (text: string, extra: Partial<AiSdkCallOptions> = {}): AiSdkCallOptions => ({
  prompt: [{ role: 'user', content: [{ type: 'text', text } as { type: 'text' }] }],
  ...extra,
});
const v2Usage = (input: number, output: number) => ({
  inputTokens: input,
  outputTokens: output,
  totalTokens: input + output,
});
const v3Usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});
const generated = (usage: unknown, headers: Record<string, string> = {}) => ({
  content: [],
  usage: usage as ReturnType<typeof v2Usage>,
  response: { headers },
});

function rateLimitError(headers: Record<string, string>): APICallError {
  return new APICallError({
    message: 'Rate limit reached',
    url: 'https://api.example/v1/chat/completions',
    requestBodyValues: {},
    statusCode: 429,
    responseHeaders: headers,
    isRetryable: true,
  });
}

/** Lets promise callbacks (and the limiter's wake-ups) run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('throttleMiddleware: options', () => {
  it('throttleMiddleware({}) names the missing limiter', () => {
    const error = captureThrow(() => throttleMiddleware({} as never));
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as { option: string }).option).toBe('limiter');
    expect(String(error)).toContain(
      'limiter must be a Limiter or the name of a registered one, got undefined',
    );
  });

  it('rejects a misspelt option, a tokensFor that is not a function, and a registry that is not one', () => {
    const limiter = new Limiter();
    expect(String(captureThrow(() => throttleMiddleware({ limiter, tokenFor: 1 } as never)))).toContain(
      "unknown option 'tokenFor' (did you mean 'tokensFor'?)",
    );
    expect(
      (captureThrow(() => throttleMiddleware({ limiter, tokensFor: 3 } as never)) as Error).message,
    ).toBe('throttleMiddleware: tokensFor must be a function, got 3');
    expect(captureThrow(() => throttleMiddleware({ limiter, registry: {} } as never))).toMatchObject({
      option: 'registry',
    });
  });

  it('looks a limiter name up at each call; an unknown one fails that call naming the registered ones', async () => {
    const registry = new LimiterRegistry();
    const middleware = throttleMiddleware({ limiter: 'openai', registry });
    let calls = 0;
    const doGenerate = async () => (calls++, generated(v2Usage(1, 1)));
    const call = () => middleware.wrapGenerate({ doGenerate, doStream: never, params: params('x'), model });
    await expect(call()).rejects.toThrow(/No limiter named 'openai'.*registered: \(none\)/);
    registry.register('anthropic', {});
    await expect(call()).rejects.toMatchObject({
      option: 'limiter',
      message: expect.stringContaining('anthropic'),
    });
    const openai = registry.register('openai', { maxConcurrent: 1 });
    await call();
    expect(calls).toBe(1);
    expect(openai.stats().totalRequests).toBe(1);
  });
});

describe('throttleMiddleware: generate', () => {
  it('charges the prompt plus maxOutputTokens, or what tokensFor says', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), warnings: false });
    const charged: number[] = [];
    const acquire = limiter.acquire.bind(limiter);
    limiter.acquire = (options) => (charged.push(options?.tokens ?? 0), acquire(options));
    const doGenerate = async () => generated(undefined);
    const short = params('Hi');
    const long = params('A much longer prompt, with many more words in it than the short one has.', {
      maxOutputTokens: 500,
    });
    await throttleMiddleware({ limiter }).wrapGenerate({ doGenerate, doStream: never, params: short, model });
    await throttleMiddleware({ limiter }).wrapGenerate({ doGenerate, doStream: never, params: long, model });
    const tokensFor = (p: AiSdkCallOptions, m: AiSdkModel) =>
      m.modelId === 'gpt-4o-mini' ? p.prompt.length * 1000 : 0;
    await throttleMiddleware({ limiter, tokensFor }).wrapGenerate({
      doGenerate,
      doStream: never,
      params: long,
      model,
    });
    expect(charged[0]).toBe(estimateCallTokens(short));
    expect(charged[0]).toBeGreaterThan(0);
    expect(charged[1]).toBeGreaterThan(charged[0]! + 500);
    expect(charged[2]).toBe(1000);
  });

  it('counts tool definitions, tool calls and tool results as prompt tokens', () => {
    const bare = estimateCallTokens(params('What is the weather?'));
    const withTools = estimateCallTokens({
      prompt: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: [{ type: 'text', text: 'What is the weather?' } as { type: 'text' }] },
        {
          role: 'assistant',
          content: [{ type: 'tool-call', toolName: 'weather', input: { city: 'Paris' } } as { type: string }],
        },
        {
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              output: { type: 'json', value: { tempC: 21, sky: 'clear skies all day' } },
            } as {
              type: string;
            },
          ],
        },
      ],
      tools: [{ type: 'function', name: 'weather', description: 'Weather of a city', inputSchema: {} }],
    });
    expect(withTools).toBeGreaterThan(bare + 20);
  });

  it('reconciles with usage in the flat (AI SDK 5) and the nested (6, 7) shape', async () => {
    for (const usage of [v2Usage(40, 2), v3Usage(40, 2)]) {
      const limiter = new Limiter({
        clock: new FakeClock(),
        windows: [{ resource: 'tokens', limit: 10_000, windowMs: 60_000 }],
        reconcile: 'both',
        warnings: false,
      });
      await throttleMiddleware({ limiter }).wrapGenerate({
        doGenerate: async () => generated(usage),
        doStream: never,
        params: params('hello', { maxOutputTokens: 1000 }),
        model,
      });
      expect(limiter.stats().tokensInWindow).toBe(42);
    }
    expect(aiSdkUsageTotal({ inputTokens: undefined, outputTokens: undefined, totalTokens: undefined })).toBe(
      undefined,
    );
    expect(aiSdkUsageTotal({ inputTokens: { total: 7 }, outputTokens: { total: undefined } })).toBe(7);
  });

  it('learns limits from the response headers', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), maxPerMinute: 1000, warnings: false });
    const learned: number[] = [];
    limiter.on('limit', (event) => learned.push(event.to));
    await throttleMiddleware({ limiter }).wrapGenerate({
      doGenerate: async () =>
        generated(v2Usage(1, 1), {
          'x-ratelimit-limit-requests': '60',
          'x-ratelimit-remaining-requests': '59',
        }),
      doStream: never,
      params: params('x'),
      model,
    });
    // The provider's lower limit replaces ours.
    expect(learned).toEqual([60]);
  });

  it('a 429 is rethrown as it came, the limiter paused for its retry-after; the next attempt waits it out', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const error = rateLimitError({ 'retry-after-ms': '1500' });
    await expect(
      middleware.wrapGenerate({
        doGenerate: () => Promise.reject(error),
        doStream: never,
        params: params('x'),
        model,
      }),
    ).rejects.toBe(error);
    expect(limiter.stats().pausedUntil).toBe(1500);
    expect(limiter.stats().active).toBe(0);
    // The SDK's retry: the middleware runs again, and waits for the pause.
    let sent = false;
    const retry = middleware.wrapGenerate({
      doGenerate: async () => ((sent = true), generated(v2Usage(1, 1))),
      doStream: never,
      params: params('x'),
      model,
    });
    await clock.advance(1499);
    await settle();
    expect(sent).toBe(false);
    await clock.advance(1);
    await retry;
    expect(sent).toBe(true);
    expect(limiter.stats().totalRequests).toBe(2);
    expect(limiter.stats().totalRateLimits).toBe(1);
  });

  it('a 429 without retry-after pauses for a backoff that grows with rate limits in a row', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const pauses: number[] = [];
    limiter.on('ratelimit', (e) => pauses.push(e.retryAfterMs ?? 0));
    for (let i = 0; i < 3; i++) {
      const attempt = middleware.wrapGenerate({
        doGenerate: () => Promise.reject(rateLimitError({})),
        doStream: never,
        params: params('x'),
        model,
      });
      const caught = attempt.catch((e: unknown) => e);
      await clock.runAll();
      expect(APICallError.isInstance(await caught)).toBe(true);
    }
    expect(pauses).toHaveLength(3);
    expect(pauses[1]!).toBeGreaterThan(pauses[0]!);
    expect(pauses[2]!).toBeGreaterThan(pauses[1]!);
  });

  it('a 500 is rethrown and releases the slot without pausing', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), maxConcurrent: 1, warnings: false });
    const error = new APICallError({
      message: 'boom',
      url: 'u',
      requestBodyValues: {},
      statusCode: 500,
      isRetryable: true,
    });
    await expect(
      throttleMiddleware({ limiter }).wrapGenerate({
        doGenerate: () => Promise.reject(error),
        doStream: never,
        params: params('x'),
        model,
      }),
    ).rejects.toBe(error);
    expect(limiter.stats()).toMatchObject({ active: 0, pausedUntil: 0, totalRateLimits: 0 });
  });

  it('an abort while queued rejects with the reason, never calls the model and holds no slot', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), maxConcurrent: 1, warnings: false });
    const held = await limiter.acquire();
    const controller = new AbortController();
    let called = false;
    const waiting = throttleMiddleware({ limiter }).wrapGenerate({
      doGenerate: async () => ((called = true), generated(undefined)),
      doStream: never,
      params: params('x', { abortSignal: controller.signal }),
      model,
    });
    await settle();
    expect(limiter.stats().queued).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    held.release();
    expect(called).toBe(false);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });
});

describe('throttleMiddleware: the estimate learns the provider’s count', () => {
  const prose = 'The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill.';

  it("a model's first call goes alone; the rest wait for its usage, then go together", async () => {
    const limiter = new Limiter({ clock: new FakeClock(), warnings: false });
    const middleware = throttleMiddleware({ limiter });
    const answers: (() => void)[] = [];
    const doGenerate = () =>
      new Promise<ReturnType<typeof generated>>((resolve) =>
        answers.push(() => resolve(generated(v2Usage(30, 5)))),
      );
    const calls = [1, 2, 3].map(() =>
      middleware.wrapGenerate({ doGenerate, doStream: never, params: params(prose), model }),
    );
    await settle();
    expect(answers).toHaveLength(1);
    answers[0]!();
    await settle();
    expect(answers).toHaveLength(3);
    answers[1]!();
    answers[2]!();
    await Promise.all(calls);
    // Another model is calibrated on its own.
    const other = middleware.wrapGenerate({
      doGenerate,
      doStream: never,
      params: params(prose),
      model: { ...model, modelId: 'other' },
    });
    await settle();
    expect(answers).toHaveLength(4);
    answers[3]!();
    await other;
  });

  it('waits for a first call at most 15 s; a stream never goes alone', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, warnings: false });
    const middleware = throttleMiddleware({ limiter });
    // A first call that never answers.
    const hanging = middleware.wrapGenerate({
      doGenerate: () => new Promise<never>(() => {}),
      doStream: never,
      params: params(prose),
      model,
    });
    void hanging;
    let sent = false;
    const second = middleware.wrapGenerate({
      doGenerate: async () => ((sent = true), generated(v2Usage(30, 5))),
      doStream: never,
      params: params(prose),
      model,
    });
    await clock.advance(14_999);
    expect(sent).toBe(false);
    await clock.advance(1);
    await second;
    expect(sent).toBe(true);
    // Streams of a model nobody has measured yet go at once, side by side.
    const streamModel = { ...model, modelId: 'stream-only' };
    const sources: ReadableStreamDefaultController<unknown>[] = [];
    const openStream = () =>
      middleware.wrapStream({
        doGenerate: never,
        doStream: async () => ({
          stream: new ReadableStream<unknown>({ start: (c) => void sources.push(c) }),
        }),
        params: params(prose),
        model: streamModel,
      });
    await Promise.all([openStream(), openStream()]);
    expect(sources).toHaveLength(2);
    expect(limiter.stats().active).toBe(3); // the hanging call and both streams
  });

  it('scales the prompt estimate by the ratio the provider reported: up at once, down slowly', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), warnings: false });
    const charged: number[] = [];
    const acquire = limiter.acquire.bind(limiter);
    limiter.acquire = (options) => (charged.push(options?.tokens ?? 0), acquire(options));
    const middleware = throttleMiddleware({ limiter });
    const prompt = estimateCallTokens(params(prose));
    expect(prompt).toBeGreaterThanOrEqual(16);
    const call = (reportedInput: number) =>
      middleware.wrapGenerate({
        doGenerate: async () => generated(v2Usage(reportedInput, 1)),
        doStream: never,
        params: params(prose, { maxOutputTokens: 100 }),
        model,
      });
    await call(2 * prompt); // the provider counts twice what we thought
    await call(prompt); // now as we thought: the factor falls only a little
    await call(prompt);
    expect(charged[0]).toBe(prompt + 100);
    expect(charged[1]).toBe(2 * prompt + 100);
    expect(charged[2]).toBeLessThan(charged[1]!);
    expect(charged[2]).toBeGreaterThan(1.9 * prompt + 100);
  });

  it('a first call that fails lets the next one learn; an abort while waiting for it holds nothing', async () => {
    const limiter = new Limiter({ clock: new FakeClock(), warnings: false });
    const middleware = throttleMiddleware({ limiter });
    let failFirst!: (error: unknown) => void;
    const first = middleware.wrapGenerate({
      doGenerate: () => new Promise<never>((_, reject) => (failFirst = reject)),
      doStream: never,
      params: params(prose),
      model,
    });
    const controller = new AbortController();
    const waiting = middleware.wrapGenerate({
      doGenerate: async () => generated(v2Usage(1, 1)),
      doStream: never,
      params: params(prose, { abortSignal: controller.signal }),
      model,
    });
    let secondSent = false;
    const second = middleware.wrapGenerate({
      doGenerate: async () => ((secondSent = true), generated(v2Usage(1, 1))),
      doStream: never,
      params: params(prose),
      model,
    });
    await settle();
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(secondSent).toBe(false);
    failFirst(new Error('connection reset'));
    await expect(first).rejects.toThrow('connection reset');
    await second;
    expect(secondSent).toBe(true);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 2 });
  });
});

function captureThrow(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function never(): Promise<never> {
  return Promise.reject(new Error('not called in this test'));
}
