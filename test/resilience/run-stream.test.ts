import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { runStream } from '../../src/calls/run-stream';
import { StreamUsage } from '../../src/calls/stream-usage';

/** A streaming response: yields `chunks`, `gapMs` apart on the fake clock; records whether it was closed early. */
function fakeStream<C>(clock: FakeClock, chunks: C[], gapMs = 100, failAfter?: number) {
  const state = { closed: false, yielded: 0 };
  const iterable: AsyncIterable<C> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        async next() {
          await clock.sleep(gapMs);
          if (failAfter !== undefined && i === failAfter) throw new Error('connection reset');
          if (i >= chunks.length) return { done: true, value: undefined };
          state.yielded++;
          return { done: false, value: chunks[i++]! };
        },
        async return() {
          state.closed = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, state };
}

const openAiChunks = (usage: number) => [
  { choices: [{ delta: { content: 'Hel' } }], usage: null },
  { choices: [{ delta: { content: 'lo' } }], usage: null },
  { choices: [], usage: { prompt_tokens: usage - 10, completion_tokens: 10, total_tokens: usage } },
];

describe('runStream', () => {
  it('holds its slot until the stream ends, then reconciles tokens from the final usage chunk', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1, maxTokensPerMinute: 10_000 });
    const { iterable } = fakeStream(clock, openAiChunks(250));
    const stream = await runStream(limiter, () => iterable, { tokens: 100 });
    let nextGranted: number | undefined;
    void limiter.acquire().then((lease) => {
      nextGranted = clock.now();
      lease.release();
    });
    const seen: unknown[] = [];
    const consume = (async () => {
      for await (const chunk of stream) {
        seen.push(chunk);
        expect(limiter.stats().active).toBe(1);
      }
    })();
    await clock.advance(399);
    expect(seen).toHaveLength(3);
    expect(nextGranted).toBeUndefined();
    await clock.advance(1);
    await consume;
    expect(nextGranted).toBe(400);
    expect(stream.tokensUsed).toBe(250);
    expect(stream.lease.isReleased).toBe(true);
    // 'up' reconcile: the estimate of 100 grew to the 250 really used.
    expect(limiter.stats().tokensInWindow).toBe(250);
  });

  it('reads Anthropic usage: message_start input tokens plus the last message_delta output total', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxTokensPerMinute: 10_000, reconcile: 'both' });
    const events = [
      { type: 'message_start', message: { usage: { input_tokens: 20, output_tokens: 1 } } },
      { type: 'content_block_delta', delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 35 } },
      { type: 'message_stop' },
    ];
    const stream = await runStream(limiter, async () => fakeStream(clock, events, 10).iterable, {
      tokens: 500,
    });
    const drained = (async () => {
      for await (const _ of stream);
    })();
    await clock.runAll();
    await drained;
    expect(stream.tokensUsed).toBe(55);
    expect(limiter.stats().tokensInWindow).toBe(55);
  });

  it('releases the slot when the stream fails, with the usage seen so far, and rethrows', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const stream = await runStream(limiter, () => fakeStream(clock, [1, 2, 3], 10, 2).iterable);
    const consumed = (async () => {
      for await (const _ of stream);
    })();
    const failed = expect(consumed).rejects.toThrow('connection reset');
    await clock.runAll();
    await failed;
    expect(limiter.stats().active).toBe(0);
  });

  it('releases the slot and closes the response when the consumer leaves early or cancels', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const early = fakeStream(clock, [1, 2, 3, 4], 10);
    const stream = await runStream(limiter, () => early.iterable);
    const consumed = (async () => {
      for await (const n of stream) if (n === 2) break;
    })();
    await clock.runAll();
    await consumed;
    expect(early.state).toEqual({ closed: true, yielded: 2 });
    expect(limiter.stats().active).toBe(0);

    const unread = fakeStream(clock, [1], 10);
    const never = await runStream(limiter, () => unread.iterable);
    expect(limiter.stats().active).toBe(1);
    await never.cancel();
    await never.cancel();
    expect(unread.state.closed).toBe(true);
    expect(limiter.stats().active).toBe(0);
    expect(await never[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });

    const disposed = fakeStream(clock, [1], 10);
    {
      await using held = await runStream(limiter, () => disposed.iterable);
      expect(held.lease.isReleased).toBe(false);
    }
    expect(disposed.state.closed).toBe(true);
    expect(limiter.stats().active).toBe(0);
  });

  it('releases the slot when fn throws or returns no stream, and can be iterated only once', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    await expect(
      runStream(limiter, async () => {
        throw new Error('400');
      }),
    ).rejects.toThrow('400');
    await expect(
      runStream(limiter, () => ({ text: 'no' }) as unknown as AsyncIterable<string>),
    ).rejects.toThrow('runStream: fn must return an async iterable (a streaming response), got Object');
    expect(limiter.stats().active).toBe(0);
    const stream = await runStream(limiter, () => fakeStream(clock, ['a'], 0).iterable);
    stream[Symbol.asyncIterator]();
    expect(() => stream[Symbol.asyncIterator]()).toThrow('a stream can be iterated only once');
    await stream.cancel();
  });

  it('passes acquire options through (a timeout while the slot is busy) and takes a custom usageOf', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1, maxTokensPerMinute: 1000 });
    const busy = await limiter.acquire();
    const waiting = runStream(limiter, () => fakeStream(clock, [1], 0).iterable, { timeoutMs: 50 });
    const timedOut = expect(waiting).rejects.toMatchObject({ name: 'LimiterTimeoutError' });
    await clock.advance(50);
    await timedOut;
    busy.release();
    const counted = await runStream(limiter, () => fakeStream(clock, [{ n: 3 }, { n: 7 }], 0).iterable, {
      usageOf: (c) => c.n * 10,
    });
    const done = (async () => {
      for await (const _ of counted);
    })();
    await clock.runAll();
    await done;
    expect(counted.tokensUsed).toBe(70);
    expect(limiter.stats().tokensInWindow).toBe(70);
  });
});

describe('StreamUsage', () => {
  it('reads the usage chunks of each provider', () => {
    const read = (chunks: unknown[]) => {
      const usage = new StreamUsage();
      chunks.forEach((c) => usage.add(c));
      return usage.tokens;
    };
    expect(read([{ choices: [] }, 'text', null])).toBeUndefined();
    expect(read(openAiChunks(42))).toBe(42);
    expect(
      read([
        { type: 'response.output_text.delta', delta: 'x' },
        {
          type: 'response.completed',
          response: { usage: { input_tokens: 5, output_tokens: 6, total_tokens: 11 } },
        },
      ]),
    ).toBe(11);
    expect(
      read([
        { type: 'message_start', message: { usage: { input_tokens: 9, output_tokens: 1 } } },
        { type: 'message_delta', usage: { output_tokens: 4, input_tokens: null } },
      ]),
    ).toBe(13);
    expect(
      read([
        { usageMetadata: { promptTokenCount: 3 } },
        { usageMetadata: { promptTokenCount: 3, totalTokenCount: 17 } },
      ]),
    ).toBe(17);
    expect(
      read([
        { type: 'text-delta', text: 'x' },
        { type: 'finish', totalUsage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } },
      ]),
    ).toBe(5);
    expect(read([{ type: 'finish', usage: { promptTokens: 2, completionTokens: 3, totalTokens: 5 } }])).toBe(
      5,
    );
  });
});
