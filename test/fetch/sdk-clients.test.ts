import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { throttledFetch } from '../../src/fetch/throttled-fetch';
import { Limiter } from '../../src/limits/limiter';
import type { ProviderSimulator } from '../../src/testing/provider-simulator-types';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { simulatorPerTest } from '../testing/simulator-per-test';

const { start } = simulatorPerTest();

const ask = (client: OpenAI, content: string) =>
  client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    max_tokens: 20,
  });

/** Every HTTP attempt the simulator decided. */
const attempts = (s: ProviderSimulator) => s.stats().accepted + s.stats().rejected;

describe('throttledFetch with the official clients at their default settings', () => {
  it('openai-node (maxRetries 2), limits known: every attempt admitted, none refused', async () => {
    const s = await start({ requestsPerWindow: 4, windowMs: 500, countRejected: true });
    // A margin wide enough for a loaded test machine, where a request may reach the simulator late.
    const limiter = new Limiter({ maxPerWindow: 4, windowMs: 500, windowMarginMs: 150, warnings: false });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sim', fetch: throttledFetch(limiter) });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(client, `q${i}`)));
    expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(
      Array.from({ length: 10 }, (_, i) => `sim: q${i}`),
    );
    expect(s.stats()).toMatchObject({ accepted: 10, rejected: 0 });
    expect(limiter.stats()).toMatchObject({ totalRequests: 10, active: 0 });
  });

  it('openai-node, limits unknown: its retries after 429s each acquire again, and the 429s pause the limiter', async () => {
    const s = await start({ requestsPerWindow: 3, windowMs: 600 });
    const limiter = new Limiter({ maxConcurrent: 20, warnings: false });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sim', fetch: throttledFetch(limiter) });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(client, `q${i}`)));
    expect(answers).toHaveLength(6);
    const { accepted, rejected } = s.stats();
    expect(accepted).toBe(6);
    expect(rejected).toBeGreaterThan(0);
    // One lease per HTTP attempt, and each 429 reported once.
    expect(limiter.stats()).toMatchObject({
      totalRequests: accepted + rejected,
      totalRateLimits: rejected,
      active: 0,
    });
  });

  it('@anthropic-ai/sdk: create and stream; a stream holds its slot until it ends and reconciles its usage', async () => {
    const s = await start({ requestsPerWindow: 10, windowMs: 60_000, completionTokens: 6, latencyMs: 100 });
    const limiter = new Limiter({ maxConcurrent: 1, maxTokensPerMinute: 100_000, warnings: false });
    const used: (number | undefined)[] = [];
    limiter.on('release', (e) => used.push(e.usedTokens));
    const client = new Anthropic({ baseURL: s.url, apiKey: 'sim', fetch: throttledFetch(limiter) });
    const request = {
      model: 'claude-test',
      max_tokens: 30,
      messages: [{ role: 'user' as const, content: 'hi there' }],
    };
    const message = await client.messages.create(request);
    expect(message.usage).toMatchObject({ input_tokens: 2, output_tokens: 6 });
    const stream = client.messages.stream(request);
    let sawHeldSlot = false;
    stream.on('text', () => {
      if (limiter.stats().active === 1) sawHeldSlot = true;
    });
    const streamed = await stream.finalMessage();
    expect(streamed.content).toMatchObject([{ type: 'text', text: 'sim: hi there' }]);
    await expect.poll(() => limiter.stats().active).toBe(0);
    expect(sawHeldSlot).toBe(true);
    expect(used).toEqual([8, 8]);
  });

  it('openai-node streaming with include_usage: the slot is released with the final chunk’s usage', async () => {
    const s = await start({ completionTokens: 4 });
    const limiter = new Limiter({ maxTokensPerMinute: 100_000, warnings: false });
    const used: (number | undefined)[] = [];
    limiter.on('release', (e) => used.push(e.usedTokens));
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sim', fetch: throttledFetch(limiter) });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) void chunk;
    await expect.poll(() => used).toEqual([7]);
  });

  it('nested: a ThrottledParallelBatchNode whose exec calls openai-node on throttledFetch(its limiter) counts each attempt once', async () => {
    const s = await start({ requestsPerWindow: 3, windowMs: 500 });
    const limiter = new Limiter({ maxConcurrent: 2, maxPerWindow: 5, windowMs: 500, warnings: false });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sim', fetch: throttledFetch(limiter) });
    class Ask extends ThrottledParallelBatchNode<{ items: string[] }, string, string> {
      override async exec(item: string): Promise<string> {
        return (await ask(client, item)).choices[0]!.message.content ?? '';
      }
      override async post(
        shared: { items: string[] },
        _prep: unknown,
        results: string[],
      ): Promise<undefined> {
        shared.items = results;
        return undefined;
      }
    }
    const shared = { items: Array.from({ length: 8 }, (_, i) => `q${i}`) };
    const node = new Ask({ limiter });
    node.prep = async (sh) => sh.items;
    await node.run(shared);
    expect(shared.items).toEqual(Array.from({ length: 8 }, (_, i) => `sim: q${i}`));
    expect(s.stats().accepted).toBe(8);
    expect(limiter.stats()).toMatchObject({ totalRequests: attempts(s), active: 0 });
  });
});

describe('throttledFetch with LangChain.js', () => {
  it('ChatOpenAI at its default settings through configuration.fetch', async () => {
    const s = await start({ requestsPerWindow: 2, windowMs: 400, completionTokens: 3 });
    const limiter = new Limiter({ maxPerWindow: 2, windowMs: 400, windowMarginMs: 150, warnings: false });
    const model = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sim',
      maxTokens: 10,
      configuration: { baseURL: `${s.url}/v1`, fetch: throttledFetch(limiter) },
    });
    const replies = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((q) => model.invoke(q)));
    expect(replies.map((r) => r.content)).toEqual(['sim: a', 'sim: b', 'sim: c', 'sim: d', 'sim: e']);
    expect(replies[0]!.usage_metadata).toMatchObject({ output_tokens: 3 });
    expect(s.stats()).toMatchObject({ accepted: 5, rejected: 0 });
    expect(limiter.stats().totalRequests).toBe(5);
  });

  it('a header-less 429: LangChain gives up (RateLimitCapacityError) unless retryAfterWhenMissing adds the pause as retry-after', async () => {
    const s = await start({ requestsPerWindow: 1, windowMs: 1000 });
    // A gateway in between that hides the provider's rate-limit headers and answers 429s with no
    // hint of when to come back (header or message).
    const stripping = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      const headers = new Headers({ 'content-type': 'application/json' });
      if (response.status !== 429) return new Response(response.body, { status: response.status, headers });
      await response.body?.cancel();
      const body = { error: { message: 'Too many requests', type: 'requests', code: 'rate_limit_exceeded' } };
      return new Response(JSON.stringify(body), { status: 429, headers });
    };
    const modelWith = (retryAfterWhenMissing: boolean) =>
      new ChatOpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'sim',
        configuration: {
          baseURL: `${s.url}/v1`,
          fetch: throttledFetch(new Limiter({ warnings: false }), {
            fetch: stripping,
            retryAfterWhenMissing,
            rateLimitBackoffMs: 1000,
          }),
        },
      });
    const plain = modelWith(false);
    await plain.invoke('first');
    const failed = await plain.invoke('second').catch((e: unknown) => e);
    expect((failed as Error).name).toBe('RateLimitCapacityError');

    s.reset();
    const helped = modelWith(true);
    await helped.invoke('first');
    expect((await helped.invoke('second')).content).toBe('sim: second');
    expect(s.stats().rejected).toBeGreaterThan(0);
  });
});
