import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders } from '../../src/providers/parse-rate-limit-headers';
import { simulatorPerTest } from './simulator-per-test';

const { start, current } = simulatorPerTest();

function post(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** The server-sent events of a body: `{ event?, data }` with `data` parsed as JSON unless `[DONE]`. */
async function readEvents(response: Response): Promise<{ event?: string; data: unknown }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
      const data = lines.find((line) => line.startsWith('data: '))!.slice('data: '.length);
      return { ...(event === undefined ? {} : { event }), data: data === '[DONE]' ? data : JSON.parse(data) };
    });
}

const openaiStreamBody = (includeUsage: boolean) => ({
  model: 'gpt-test',
  messages: [{ role: 'user', content: 'x'.repeat(40) }],
  max_tokens: 50,
  stream: true,
  ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
});

describe('startProviderSimulator: streaming (stream: true)', () => {
  it('OpenAI: chunks as SSE, a final usage chunk with include_usage, then [DONE]; same limit headers', async () => {
    const { url } = await start({ requestsPerWindow: 5, tokensPerWindow: 1000, completionTokens: 7 });
    const response = await post(`${url}/v1/chat/completions`, openaiStreamBody(true));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(parseRateLimitHeaders(response, { nowMs: Date.now() })).toMatchObject({
      provider: 'openai',
      requests: { limit: 5, remaining: 4 },
      tokens: { limit: 1000, remaining: 1000 - 60 },
    });
    const events = await readEvents(response);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => e.data as Record<string, unknown>);
    for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual({ prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 });
    // Every other chunk says usage: null, as OpenAI does with include_usage.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    const text = chunks
      .flatMap((c) => c.choices as { delta: { content?: string } }[])
      .map((c) => c.delta.content ?? '')
      .join('');
    expect(text).toBe(`sim: ${'x'.repeat(40)}`);
    expect(chunks.at(-2)!.choices).toMatchObject([{ finish_reason: 'stop' }]);
    expect(current().stats()).toMatchObject({ accepted: 1, inFlight: 0 });
  });

  it('OpenAI without include_usage: no usage anywhere, still ends with [DONE]', async () => {
    const { url } = await start({});
    const events = await readEvents(await post(`${url}/v1/chat/completions`, openaiStreamBody(false)));
    expect(events.at(-1)!.data).toBe('[DONE]');
    for (const { data } of events.slice(0, -1)) expect(data).not.toHaveProperty('usage');
  });

  it('a stream over the limit gets the same JSON 429 with retry-after (no stream)', async () => {
    const { url } = await start({ requestsPerWindow: 1, windowMs: 60_000 });
    await (await post(`${url}/v1/chat/completions`, openaiStreamBody(true))).text();
    const refused = await post(`${url}/v1/chat/completions`, openaiStreamBody(true));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/json');
    expect(Number(refused.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('Anthropic: message_start … message_stop, output tokens in message_delta', async () => {
    const { url } = await start({ requestsPerWindow: 5, completionTokens: 3 });
    const response = await post(`${url}/v1/messages`, {
      model: 'claude-test',
      max_tokens: 20,
      stream: true,
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(parseRateLimitHeaders(response)).toMatchObject({
      provider: 'anthropic',
      requests: { limit: 5, remaining: 4 },
    });
    const events = await readEvents(response);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
    expect(names).toContain('content_block_start');
    expect(names).toContain('content_block_delta');
    expect(names).toContain('content_block_stop');
    for (const { event, data } of events) expect((data as { type: string }).type).toBe(event);
    expect(events[0]!.data).toMatchObject({ message: { usage: { input_tokens: 2 } } });
    expect(events.find((e) => e.event === 'message_delta')!.data).toMatchObject({
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 3 },
    });
  });

  it('the real openai SDK reads the stream and its usage chunk', async () => {
    const { url } = await start({ completionTokens: 5 });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sim', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('sim: hello there');
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
  });

  it('the real Anthropic SDK streams a message with its usage', async () => {
    const { url } = await start({ completionTokens: 4 });
    const client = new Anthropic({ baseURL: url, apiKey: 'sim', maxRetries: 0 });
    const message = await client.messages
      .stream({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi there' }] })
      .finalMessage();
    expect(message.content).toMatchObject([{ type: 'text', text: 'sim: hi there' }]);
    expect(message.usage).toMatchObject({ input_tokens: 2, output_tokens: 4 });
    expect(message.stop_reason).toBe('end_turn');
  });

  it('a stream is in flight until its body ends; a client that hangs up ends it', async () => {
    // The body's last event is due after 60 s, far longer than this test runs.
    const { url } = await start({ latencyMs: 60_000 });
    const controller = new AbortController();
    const response = await post(`${url}/v1/chat/completions`, openaiStreamBody(true), controller.signal);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    expect(current().stats().inFlight).toBe(1);
    controller.abort();
    await reader.read().catch(() => undefined);
    await expect.poll(() => current().stats().inFlight).toBe(0);
  });
});
