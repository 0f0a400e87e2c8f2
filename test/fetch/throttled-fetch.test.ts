import { describe, expect, it } from 'vitest';
import { callThroughLimiter } from '../../src/calls/call-loop';
import { estimateRequestBody } from '../../src/cost/request-body-estimate';
import { throttledFetch } from '../../src/fetch/throttled-fetch';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { isInvalidOptionError } from '../../src/validation/options';
import { runOnFakeClock } from '../throttled/support';
import { ScriptedProvider, sdkCall, type ScriptedAnswer } from './support';

const chat = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Summarise the plot of Hamlet in one line.' }],
  max_tokens: 40,
};

function script(...answers: ScriptedAnswer[]): () => ScriptedAnswer {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)]!;
}

function releases(limiter: Limiter): { tokens: number; usedTokens: number | undefined }[] {
  const seen: { tokens: number; usedTokens: number | undefined }[] = [];
  limiter.on('release', ({ tokens, usedTokens }) => seen.push({ tokens, usedTokens }));
  return seen;
}

describe('throttledFetch: one attempt', () => {
  it('charges the body estimate, returns the response unchanged, reconciles with the JSON usage', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxTokensPerMinute: 10_000 });
    const released = releases(limiter);
    const provider = new ScriptedProvider(clock, script({ kind: 'ok', usageTokens: 23 }));
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const response = await runOnFakeClock(clock, sdkCall(fetch, clock, chat));
    expect(await response.json()).toEqual({ usage: { total_tokens: 23 } });
    await runOnFakeClock(clock, Promise.resolve());
    expect(released).toEqual([{ tokens: estimateRequestBody(chat), usedTokens: 23 }]);
    expect(estimateRequestBody(chat)).toBeGreaterThan(40);
    expect(limiter.stats().active).toBe(0);
  });

  it('a body that is not JSON passes through untouched: one request, no tokens', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxPerMinute: 10 });
    const released = releases(limiter);
    const seen: (BodyInit | null | undefined)[] = [];
    const form = new FormData();
    form.set('file', 'abc');
    const fetch = throttledFetch(limiter, {
      fetch: async (_input, init) => {
        seen.push(init?.body);
        return new Response('plain text', { headers: { 'content-type': 'text/plain' } });
      },
    });
    const response = await fetch('https://api.example/v1/files', { method: 'POST', body: form });
    expect(await response.text()).toBe('plain text');
    expect(seen).toEqual([form]);
    expect(released).toEqual([{ tokens: 0, usedTokens: undefined }]);
    expect(limiter.stats().requestsInWindow).toBe(1);
  });

  it('a 429 pauses the limiter for its retry-after and goes back to the caller unchanged', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxPerMinute: 100 });
    const provider = new ScriptedProvider(clock, script({ kind: '429', retryAfterMs: 700 }), 0);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const response = await runOnFakeClock(
      clock,
      fetch('https://api.example/v1/chat/completions', { method: 'POST', body: JSON.stringify(chat) }),
    );
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    expect(limiter.stats()).toMatchObject({ active: 0, totalRateLimits: 1, pausedUntil: 700 });
  });

  it('a 429 without retry-after pauses for the backoff of the client retry count', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxPerMinute: 100 });
    const provider = new ScriptedProvider(clock, script({ kind: '429' }), 0);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch, rateLimitBackoffMs: 400 });
    await runOnFakeClock(clock, fetch('https://api.example/x', { method: 'POST', body: '{}' }));
    const paused = limiter.stats().pausedUntil;
    // 400 ms with up to ±50 % jitter (see calls/backoff.ts).
    expect(paused).toBeGreaterThan(0);
    expect(paused).toBeLessThanOrEqual(800);
  });

  it('init.signal while queued: rejects with the signal reason, sends nothing, holds nothing', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const provider = new ScriptedProvider(clock, script({ kind: 'ok' }), 1000);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const first = fetch('https://api.example/a', { method: 'POST', body: JSON.stringify(chat) });
    const controller = new AbortController();
    const second = fetch('https://api.example/b', {
      method: 'POST',
      body: JSON.stringify(chat),
      signal: controller.signal,
    });
    await clock.advance(10);
    expect(limiter.stats().queued).toBe(1);
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    await runOnFakeClock(clock, first);
    await runOnFakeClock(clock, Promise.resolve());
    expect(provider.sentAtMs).toEqual([0]);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: 1 });
  });

  it('a send that fails (connection reset) releases its lease and rejects as fetch does', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const provider = new ScriptedProvider(clock, script({ kind: 'reset' }), 0);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    await expect(
      runOnFakeClock(clock, fetch('https://api.example/a', { method: 'POST', body: '{}' })),
    ).rejects.toThrow('fetch failed');
    expect(limiter.stats().active).toBe(0);
  });
});

describe('throttledFetch: streams hold their slot', () => {
  it('holds the lease until the body ends, then reconciles with the final usage chunk', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1, maxTokensPerMinute: 10_000 });
    const released = releases(limiter);
    const provider = new ScriptedProvider(clock, script({ kind: 'stream', usageTokens: 77, chunks: 3 }), 100);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const response = await runOnFakeClock(clock, sdkCall(fetch, clock, { ...chat, stream: true }));
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(limiter.stats().active).toBe(1);
    const reader = response.body!.getReader();
    const read = (async () => {
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    })();
    await clock.advance(150);
    // Mid-stream: still held.
    expect(limiter.stats().active).toBe(1);
    const text = await runOnFakeClock(clock, read);
    expect(text).toContain('"total_tokens":77');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(limiter.stats().active).toBe(0);
    expect(released).toEqual([{ tokens: estimateRequestBody(chat), usedTokens: 77 }]);
  });

  it('a stream its reader cancels releases at the cancel', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const provider = new ScriptedProvider(clock, script({ kind: 'stream', usageTokens: 5, chunks: 50 }), 100);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const response = await runOnFakeClock(clock, sdkCall(fetch, clock, { ...chat, stream: true }));
    const reader = response.body!.getReader();
    const first = reader.read();
    await runOnFakeClock(clock, first);
    expect(limiter.stats().active).toBe(1);
    await reader.cancel();
    expect(limiter.stats().active).toBe(0);
    expect(provider.inFlight).toBe(0);
  });

  it('a stream whose signal aborts releases at the abort', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1 });
    const provider = new ScriptedProvider(clock, script({ kind: 'stream', usageTokens: 5, chunks: 50 }), 100);
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const controller = new AbortController();
    const response = await runOnFakeClock(
      clock,
      sdkCall(fetch, clock, { ...chat, stream: true }, { signal: controller.signal }),
    );
    expect(response.status).toBe(200);
    expect(limiter.stats().active).toBe(1);
    controller.abort();
    expect(limiter.stats().active).toBe(0);
  });
});

describe('throttledFetch: nested in a throttled call on the same limiter', () => {
  it('the node lease covers the first attempt, each retry acquires its own; no deadlock at maxConcurrent 1', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 1, maxPerMinute: 100 });
    const provider = new ScriptedProvider(
      clock,
      script({ kind: '429', retryAfterMs: 200 }, { kind: '500' }, { kind: 'ok', usageTokens: 9 }),
    );
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    const outcome = await runOnFakeClock(
      clock,
      callThroughLimiter(limiter, async () => (await sdkCall(fetch, clock, chat)).json()),
    );
    expect(outcome).toMatchObject({ kind: 'ok', value: { usage: { total_tokens: 9 } } });
    await runOnFakeClock(clock, Promise.resolve());
    expect(provider.sentAtMs).toHaveLength(3);
    // Exactly one lease per HTTP attempt: the node's for the first, two for the retries.
    expect(limiter.stats()).toMatchObject({ totalRequests: 3, active: 0, totalRateLimits: 1 });
    expect(provider.sentAtMs[1]).toBeGreaterThanOrEqual(200);
  });

  it('a ThrottledParallelBatchNode whose exec calls a throttledFetch client counts each attempt once', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 2, maxPerWindow: 4, windowMs: 1000 });
    let call = 0;
    // Every third attempt is refused once, so the client retries.
    const provider = new ScriptedProvider(clock, () =>
      ++call % 3 === 0 ? { kind: '429', retryAfterMs: 50 } : { kind: 'ok', usageTokens: 3 },
    );
    const fetch = throttledFetch(limiter, { fetch: provider.fetch });
    class Ask extends ThrottledParallelBatchNode<{ items: number[] }, number, unknown> {
      override async exec(): Promise<unknown> {
        return (await sdkCall(fetch, clock, chat)).json();
      }
    }
    const node = new Ask({ limiter, clock });
    const shared = { items: Array.from({ length: 12 }, (_, i) => i) };
    node.prep = async () => shared.items;
    await runOnFakeClock(clock, node.run(shared));
    await runOnFakeClock(clock, Promise.resolve());
    expect(limiter.stats()).toMatchObject({ totalRequests: provider.sentAtMs.length, active: 0 });
    expect(provider.sentAtMs.length).toBe(12 + Math.floor(provider.sentAtMs.length / 3));
    const sorted = [...provider.sentAtMs].sort((a, b) => a - b);
    for (let i = 4; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 4]!).toBeGreaterThanOrEqual(1000);
  });

  it('limiter.run hands its lease down too: a success gives it back to run, a second request acquires its own, another limiter is apart', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, maxConcurrent: 2 });
    const other = new Limiter({ clock, maxConcurrent: 1 });
    const provider = new ScriptedProvider(clock, script({ kind: 'ok' }), 0);
    const same = throttledFetch(limiter, { fetch: provider.fetch });
    const elsewhere = throttledFetch(other, { fetch: provider.fetch });
    const activeBetween: number[] = [];
    await runOnFakeClock(
      clock,
      limiter.run(async () => {
        await (await same('https://api.example/a', { method: 'POST', body: '{}' })).json();
        // The first attempt succeeded: run holds its lease again until it returns.
        activeBetween.push(limiter.stats().active);
        await (await same('https://api.example/b', { method: 'POST', body: '{}' })).json();
        await (await elsewhere('https://api.example/c', { method: 'POST', body: '{}' })).json();
      }),
    );
    await runOnFakeClock(clock, Promise.resolve());
    expect(activeBetween).toEqual([1]);
    expect(limiter.stats()).toMatchObject({ totalRequests: 2, active: 0 });
    expect(other.stats()).toMatchObject({ totalRequests: 1, active: 0 });
  });
});

describe('throttledFetch: bad input', () => {
  it('an unknown registry name fails at creation, naming the registered limiters', () => {
    const registry = new LimiterRegistry();
    registry.register('openai', { maxPerMinute: 10 });
    registry.register('anthropic', { maxPerMinute: 10 });
    expect(() => throttledFetch('nope', { registry })).toThrow(/No limiter named 'nope'.*openai, anthropic/);
    expect(() => throttledFetch('opneai', { registry })).toThrow(/did you mean 'openai'/i);
  });

  it('a registered name resolves at each call (a replaced limiter takes over)', async () => {
    const registry = new LimiterRegistry();
    const first = registry.register('p', { maxPerMinute: 10 });
    const fetch = throttledFetch('p', {
      registry,
      fetch: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }),
    });
    await fetch('https://api.example/a', { method: 'POST', body: '{}' });
    const second = registry.register('p', { maxPerMinute: 10 }, { replace: true });
    await fetch('https://api.example/a', { method: 'POST', body: '{}' });
    expect([first.stats().totalRequests, second.stats().totalRequests]).toEqual([1, 1]);
  });

  it('options are checked: InvalidOptionError naming the option and value', () => {
    const limiter = new Limiter();
    const bad = [
      [{ fetch: 'no' }, 'fetch'],
      [{ priority: 'high' }, 'priority'],
      [{ rateLimitBackoffMs: -1 }, 'rateLimitBackoffMs'],
      [{ registry: {} }, 'registry'],
      [{ tokenFor: () => 1 }, 'tokenFor'],
    ] as const;
    for (const [options, name] of bad) {
      let error: unknown;
      try {
        throttledFetch(limiter, options as never);
      } catch (e) {
        error = e;
      }
      expect(isInvalidOptionError(error)).toBe(true);
      expect((error as Error).message).toContain(name);
    }
    expect(() => throttledFetch(42 as never)).toThrow(/Limiter or a registered limiter's name, got number/);
  });

  it('tokensFor replaces the estimate', async () => {
    const limiter = new Limiter({ maxTokensPerMinute: 1000 });
    const released = releases(limiter);
    const fetch = throttledFetch(limiter, {
      tokensFor: (body) => ((body as { n?: number } | undefined)?.n ?? 0) * 10,
      fetch: async () => new Response('ok'),
    });
    await fetch('https://api.example/a', { method: 'POST', body: JSON.stringify({ n: 7 }) });
    expect(released[0]!.tokens).toBe(70);
  });
});
