import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { detectRateLimit } from '../../src/providers/detect-rate-limit';
import { parseDuration } from '../../src/providers/parse-duration';
import { parseRateLimitHeaders } from '../../src/providers/parse-rate-limit-headers';
import { simulatorPerTest } from './simulator-per-test';

const { start, current } = simulatorPerTest();

const chatBody = (content = 'hello', maxTokens = 16) => ({
  model: 'gpt-test',
  messages: [{ role: 'user', content }],
  max_tokens: maxTokens,
});

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('startProviderSimulator: OpenAI chat completions', () => {
  it('answers with choices, usage and real-looking rate-limit headers', async () => {
    const { url } = await start({
      requestsPerWindow: 60,
      tokensPerWindow: 10_000,
      windowMs: 60_000,
      completionTokens: 7,
    });
    const response = await post(`${url}/v1/chat/completions`, chatBody('x'.repeat(40), 50));
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      choices: { message: { content: string } }[];
      usage: Record<string, number>;
    };
    expect(body.choices[0]!.message.content).toContain('xxxx');
    expect(body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 });
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('59');
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - 60));
    expect(parseDuration(response.headers.get('x-ratelimit-reset-requests'))).toBe(60_000);
    expect(parseRateLimitHeaders(response, { nowMs: Date.now() })).toMatchObject({
      provider: 'openai',
      requests: { limit: 60, remaining: 59 },
      tokens: { limit: 10_000, remaining: 9940 },
    });
  });

  it('limit + 5 requests at once: exactly 5 are refused, each with retry-after', async () => {
    const limit = 20;
    const { url } = await start({ requestsPerWindow: limit, windowMs: 30_000 });
    const responses = await Promise.all(
      Array.from({ length: limit + 5 }, () => post(`${url}/v1/chat/completions`, chatBody())),
    );
    const refused = responses.filter((r) => r.status === 429);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(limit);
    expect(refused).toHaveLength(5);
    for (const response of refused) {
      const retryAfterMs = Number(response.headers.get('retry-after-ms'));
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(30_000);
      expect(Number(response.headers.get('retry-after'))).toBe(Math.ceil(retryAfterMs / 1000));
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(await response.json()).toMatchObject({
        error: { type: 'requests', code: 'rate_limit_exceeded' },
      });
    }
    expect(current().stats()).toMatchObject({ accepted: limit, rejected: 5, maxRequestsInAnyWindow: limit });
  });

  it('a refused request that waits its retry-after-ms gets in', async () => {
    const { url } = await start({ requestsPerWindow: 2, windowMs: 300 });
    await Promise.all([
      post(`${url}/v1/chat/completions`, chatBody()),
      post(`${url}/v1/chat/completions`, chatBody()),
    ]);
    const refused = await post(`${url}/v1/chat/completions`, chatBody());
    expect(refused.status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get('retry-after-ms'))));
    expect((await post(`${url}/v1/chat/completions`, chatBody())).status).toBe(200);
    expect(current().stats().maxRequestsInAnyWindow).toBeLessThanOrEqual(2);
  });

  it('countRejected: the refused request counts itself, so its retry-after is a full window', async () => {
    const { url } = await start({ requestsPerWindow: 1, windowMs: 2000, countRejected: true });
    expect((await post(`${url}/v1/chat/completions`, chatBody())).status).toBe(200);
    const refused = await post(`${url}/v1/chat/completions`, chatBody());
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after-ms')).toBe('2000');
  });

  it('token limit: refuses by tokens (prompt estimate + max_tokens), and a request above the whole limit must not retry', async () => {
    const { url } = await start({ tokensPerWindow: 1000, windowMs: 30_000 });
    const cost300 = chatBody('x'.repeat(400), 200);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(`${url}/v1/chat/completions`, cost300)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await post(`${url}/v1/chat/completions`, cost300);
    expect(await refused.json()).toMatchObject({ error: { type: 'tokens' } });
    expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('100');
    const tooLarge = await post(`${url}/v1/chat/completions`, chatBody('x', 5000));
    expect(tooLarge.status).toBe(429);
    expect(tooLarge.headers.get('x-should-retry')).toBe('false');
    expect(tooLarge.headers.get('retry-after')).toBeNull();
    expect(current().stats()).toMatchObject({ accepted: 3, maxTokensInAnyWindow: 900 });
  });

  it('bucket mode: bursts to the limit, refuses with the refill time', async () => {
    // One token per second: the 11 requests must all land within a refill (with one per 100 ms,
    // a loaded machine spread them wider and the 11th found a fresh token).
    const { url } = await start({ requestsPerWindow: 10, windowMs: 10_000, mode: 'bucket' });
    const responses = await Promise.all(
      Array.from({ length: 11 }, () => post(`${url}/v1/chat/completions`, chatBody())),
    );
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(1);
    const retryAfterMs = Number(refused[0]!.headers.get('retry-after-ms'));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1000);
  });

  it('works with the real openai SDK, and detectRateLimit reads its RateLimitError', async () => {
    const { url } = await start({ requestsPerWindow: 1, windowMs: 60_000 });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sim', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 })
      .withResponse();
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(parseRateLimitHeaders({ data, response }).requests?.remaining).toBe(0);
    const error = await client.chat.completions
      .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const signal = detectRateLimit(error);
    expect(signal).toMatchObject({ kind: 'rate_limit', source: 'openai', scope: 'requests', status: 429 });
    expect(signal!.retryAfterMs).toBeGreaterThan(59_000);
  });
});

describe('startProviderSimulator: Anthropic messages', () => {
  it('answers like Anthropic, with anthropic-ratelimit headers', async () => {
    const { url } = await start({
      requestsPerWindow: 5,
      tokensPerWindow: 1000,
      windowMs: 60_000,
      completionTokens: 3,
    });
    const response = await post(`${url}/v1/messages`, {
      model: 'claude-test',
      max_tokens: 20,
      system: 'abcd',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'abcdefgh' }] }],
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 3 },
    });
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const info = parseRateLimitHeaders(response);
    expect(info).toMatchObject({
      provider: 'anthropic',
      requests: { limit: 5, remaining: 4 },
      tokens: { limit: 1000, remaining: 977 },
    });
    expect(info.requests!.resetMs).toBeGreaterThan(55_000);
  });

  it('429 rate_limit_error and 529 overloaded_error bodies, read by the real SDK', async () => {
    const { url } = await start({ requestsPerWindow: 1, windowMs: 60_000 });
    const client = new Anthropic({ baseURL: url, apiKey: 'sim', maxRetries: 0 });
    const ask = () =>
      client.messages.create({
        model: 'claude-test',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      });
    expect((await ask()).usage.output_tokens).toBe(10);
    const limited = await ask().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    expect(detectRateLimit(limited)).toMatchObject({
      kind: 'rate_limit',
      source: 'anthropic',
      scope: 'requests',
    });

    current().setOptions({ p529: 1 });
    const overloaded = await ask().catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect(detectRateLimit(overloaded)).toMatchObject({ kind: 'overloaded', source: 'anthropic' });
  });
});

describe('startProviderSimulator: faults, latency, control', () => {
  async function run(url: string, count: number): Promise<string[]> {
    const outcomes: string[] = [];
    for (let i = 0; i < count; i++) {
      try {
        outcomes.push(String((await post(`${url}/v1/chat/completions`, chatBody())).status));
      } catch {
        outcomes.push('reset');
      }
    }
    return outcomes;
  }

  it('injects seeded faults, repeatably; faults never spend capacity', async () => {
    const { url } = await start({
      p500: 0.2,
      p529: 0.1,
      pReset: 0.1,
      seed: 42,
      requestsPerWindow: 1000,
      windowMs: 60_000,
    });
    const first = await run(url, 60);
    const stats = current().stats();
    const count = (what: string) => first.filter((o) => o === what).length;
    expect(stats.faults).toEqual({ p500: count('500'), p529: count('529'), reset: count('reset') });
    expect(stats.accepted).toBe(count('200'));
    expect(stats.faults.p500).toBeGreaterThan(0);
    expect(stats.faults.p529).toBeGreaterThan(0);
    expect(stats.faults.reset).toBeGreaterThan(0);
    current().reset();
    expect(await run(url, 60)).toEqual(first);
  });

  it('draws latency from latencyMs ± jitterMs (reported as openai-processing-ms)', async () => {
    const { url } = await start({ latencyMs: 60, jitterMs: 40, seed: 1 });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(`${url}/v1/chat/completions`, chatBody())),
    );
    const latencies = responses.map((r) => Number(r.headers.get('openai-processing-ms')));
    for (const latency of latencies) {
      expect(latency).toBeGreaterThanOrEqual(20);
      expect(latency).toBeLessThanOrEqual(100);
    }
    expect(new Set(latencies).size).toBeGreaterThan(1);
    expect(current().stats().inFlight).toBe(0);
  });

  it('sends no openai-processing-ms with processingMsHeader: false, the rate-limit headers still', async () => {
    const { url } = await start({ requestsPerWindow: 5, windowMs: 60_000, processingMsHeader: false });
    const response = await post(`${url}/v1/chat/completions`, chatBody());
    expect(response.status).toBe(200);
    expect(response.headers.get('openai-processing-ms')).toBeNull();
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('4');
  });

  it('control endpoints: GET /stats, POST /options (validated), POST /reset, 404', async () => {
    const { url } = await start({ requestsPerWindow: 2, windowMs: 60_000 });
    await post(`${url}/v1/chat/completions`, chatBody());
    expect(await (await fetch(`${url}/stats`)).json()).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await (await fetch(`${url}/log`)).json()).toMatchObject({
      acceptedAtMs: [expect.any(Number)],
      rejectedAtMs: [],
    });
    const updated = await post(`${url}/options`, { requestsPerWindow: 1, tokensPerWindow: null });
    expect(await updated.json()).toMatchObject({ requestsPerWindow: 1, windowMs: 60_000 });
    expect((await post(`${url}/v1/chat/completions`, chatBody())).status).toBe(429);
    const invalid = await post(`${url}/options`, { windowMs: -1 });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      error: { message: expect.stringMatching(/windowMs must be a positive number/) },
    });
    expect((await post(`${url}/reset`, {})).status).toBe(200);
    expect(current().stats()).toMatchObject({ accepted: 0, rejected: 0 });
    expect(current().log()).toEqual({ acceptedAtMs: [], acceptedTokens: [], rejectedAtMs: [] });
    expect((await post(`${url}/v1/chat/completions`, chatBody())).status).toBe(200);
    expect((await fetch(`${url}/v1/nope`)).status).toBe(404);
    expect((await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{nope' })).status).toBe(400);
  });

  it('close() stops a server that has a request in flight', async () => {
    const { url } = await start({ latencyMs: 10_000 });
    const pending = post(`${url}/v1/chat/completions`, chatBody()).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await current().close(); // the afterEach closes it again, which resolves at once
    expect(await pending).toBeInstanceOf(Error);
  });
});
