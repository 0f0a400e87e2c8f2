/**
 * throttleMiddleware's wrapStream: the slot is held while the answer streams and released at
 * its `finish` part (with that part's usage), an `error` part, a failed read, the end of the
 * stream, or a cancel. Driven with streams the test controls, on the fake clock, and through the
 * real `streamText` of AI SDK 5.
 */
import { streamText, wrapLanguageModel } from 'ai-v5';
import { describe, expect, it } from 'vitest';
import { throttleMiddleware, type AiSdkModel } from '../../src/ai-sdk/index';
import { Limiter } from '../../src/index';
import { FakeClock } from '../../src/testing/index';

/** AI SDK 5's model type (its @ai-sdk/provider 2 is not installed at the top level). */
type LanguageModelV2 = Parameters<typeof wrapLanguageModel>[0]['model'];
type StreamPartV2 = Awaited<ReturnType<LanguageModelV2['doStream']>>['stream'];

const model: AiSdkModel = { provider: 'test', modelId: 'test-model' };
const params = { prompt: [{ role: 'user', content: 'Tell me a story' }], maxOutputTokens: 400 };

/** A source stream whose parts, end and failure the test decides. */
function controlledSource() {
  let controller!: ReadableStreamDefaultController<unknown>;
  const state = { cancelledWith: undefined as unknown, cancelled: false };
  const stream = new ReadableStream<unknown>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      state.cancelled = true;
      state.cancelledWith = reason;
    },
  });
  return {
    stream,
    state,
    push: (part: unknown) => controller.enqueue(part),
    close: () => controller.close(),
    fail: (error: unknown) => controller.error(error),
  };
}

function tokenLimiter() {
  return new Limiter({
    clock: new FakeClock(),
    maxConcurrent: 4,
    windows: [{ resource: 'tokens', limit: 100_000, windowMs: 60_000 }],
    reconcile: 'both',
    warnings: false,
  });
}

async function openStream(limiter: Limiter, source: ReadableStream<unknown>) {
  const result = await throttleMiddleware({ limiter }).wrapStream({
    doGenerate: () => Promise.reject(new Error('not called')),
    doStream: async () => ({ stream: source, response: { headers: { 'x-request-id': 'r1' } } }),
    params,
    model,
  });
  return { result, reader: result.stream.getReader() };
}

const delta = (text: string) => ({ type: 'text-delta', id: '1', delta: text });

describe('throttleMiddleware: wrapStream', () => {
  for (const [shape, usage] of [
    ['flat (AI SDK 5)', { inputTokens: 12, outputTokens: 30, totalTokens: 42 }],
    ['nested (AI SDK 6, 7)', { inputTokens: { total: 12 }, outputTokens: { total: 30 } }],
  ] as const) {
    it(`holds the slot until the finish part and reconciles from its ${shape} usage`, async () => {
      const limiter = tokenLimiter();
      const source = controlledSource();
      const { result, reader } = await openStream(limiter, source.stream);
      expect(result.response?.headers?.['x-request-id']).toBe('r1');
      expect(limiter.stats().active).toBe(1);
      // Charged the estimate (prompt + 400) while streaming.
      expect(limiter.stats().tokensInWindow).toBeGreaterThan(400);
      source.push(delta('Once'));
      expect(await reader.read()).toEqual({ done: false, value: delta('Once') });
      expect(limiter.stats().active).toBe(1);
      source.push({ type: 'finish', finishReason: 'stop', usage });
      expect((await reader.read()).value).toMatchObject({ type: 'finish' });
      expect(limiter.stats().active).toBe(0);
      expect(limiter.stats().tokensInWindow).toBe(42);
      source.close();
      expect((await reader.read()).done).toBe(true);
      expect(limiter.stats().totalRequests).toBe(1);
    });
  }

  it('a cancel by the reader releases the slot and cancels the source', async () => {
    const limiter = tokenLimiter();
    const source = controlledSource();
    const { reader } = await openStream(limiter, source.stream);
    source.push(delta('Once'));
    await reader.read();
    await reader.cancel('reader left');
    expect(limiter.stats().active).toBe(0);
    expect(source.state).toEqual({ cancelled: true, cancelledWith: 'reader left' });
  });

  it('an error part releases the slot and is passed on', async () => {
    const limiter = tokenLimiter();
    const source = controlledSource();
    const { reader } = await openStream(limiter, source.stream);
    const error = new Error('provider error event');
    source.push({ type: 'error', error });
    expect((await reader.read()).value).toEqual({ type: 'error', error });
    expect(limiter.stats().active).toBe(0);
  });

  it('a failed read releases the slot and reaches the reader', async () => {
    const limiter = tokenLimiter();
    const source = controlledSource();
    const { reader } = await openStream(limiter, source.stream);
    const error = new TypeError('terminated');
    source.fail(error);
    await expect(reader.read()).rejects.toBe(error);
    expect(limiter.stats().active).toBe(0);
  });

  it('a stream that ends without a finish part releases at its end, keeping the estimate', async () => {
    const limiter = tokenLimiter();
    const source = controlledSource();
    const { reader } = await openStream(limiter, source.stream);
    const estimate = limiter.stats().tokensInWindow;
    source.push(delta('x'));
    source.close();
    await reader.read();
    expect(limiter.stats().active).toBe(1);
    expect((await reader.read()).done).toBe(true);
    expect(limiter.stats().active).toBe(0);
    expect(limiter.stats().tokensInWindow).toBe(estimate);
  });

  it('doStream failing releases at once and rethrows', async () => {
    const limiter = tokenLimiter();
    const error = new Error('connect ECONNREFUSED');
    await expect(
      throttleMiddleware({ limiter }).wrapStream({
        doGenerate: () => Promise.reject(new Error('not called')),
        doStream: () => Promise.reject(error),
        params,
        model,
      }),
    ).rejects.toBe(error);
    expect(limiter.stats().active).toBe(0);
  });
});

describe('throttleMiddleware under the real streamText (AI SDK 5)', () => {
  it('holds the slot while the text streams and releases it with the usage of the finish part', async () => {
    const limiter = tokenLimiter();
    const source = controlledSource();
    const streamingModel: LanguageModelV2 = {
      specificationVersion: 'v2',
      provider: 'test',
      modelId: 'test-model',
      supportedUrls: {},
      doGenerate: () => Promise.reject(new Error('not called')),
      doStream: async () => ({ stream: source.stream as StreamPartV2 }),
    };
    const result = streamText({
      model: wrapLanguageModel({ model: streamingModel, middleware: throttleMiddleware({ limiter }) }),
      prompt: 'Tell me a story',
      maxOutputTokens: 400,
    });
    const activeWhileStreaming: number[] = [];
    source.push({ type: 'stream-start', warnings: [] });
    source.push({ type: 'text-start', id: '1' });
    source.push(delta('Once upon'));
    const texts = result.textStream[Symbol.asyncIterator]();
    expect((await texts.next()).value).toBe('Once upon');
    activeWhileStreaming.push(limiter.stats().active);
    source.push(delta(' a time'));
    expect((await texts.next()).value).toBe(' a time');
    activeWhileStreaming.push(limiter.stats().active);
    source.push({ type: 'text-end', id: '1' });
    source.push({
      type: 'finish',
      finishReason: 'stop',
      usage: { inputTokens: 5, outputTokens: 4, totalTokens: 9 },
    });
    source.close();
    expect((await texts.next()).done).toBe(true);
    expect(activeWhileStreaming).toEqual([1, 1]);
    expect(limiter.stats().active).toBe(0);
    expect(limiter.stats().tokensInWindow).toBe(9);
    expect((await result.usage).totalTokens).toBe(9);
  });
});
