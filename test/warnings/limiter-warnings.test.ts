import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { callThroughLimiter } from '../../src/calls/call-loop';
import { Limiter, type LimiterOptions } from '../../src/limits/limiter';
import type { LimiterWarningCode, LimiterWarningEvent } from '../../src/limits/limiter-events';
import { HEADERS_CHECK_AFTER, TOKENS_CHECK_AFTER } from '../../src/limits/limiter-warnings';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { runOnFakeClock } from '../throttled/support';

let warn: MockInstance<typeof console.warn>;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  warn.mockRestore();
});

/** A limiter on a fake clock, with its warning events recorded. */
function setup(options: LimiterOptions) {
  const clock = new FakeClock();
  const limiter = new Limiter({ clock, ...options });
  const events: LimiterWarningEvent[] = [];
  limiter.on('warning', (e) => events.push(e));
  const codes = (): LimiterWarningCode[] => events.map((e) => e.code);
  return { clock, limiter, events, codes };
}

/** `n` calls that start at once (the windows have room), each running `fn` with its lease held. */
async function calls(
  limiter: Limiter,
  n: number,
  fn: (limiter: Limiter, lease: Parameters<Parameters<Limiter['run']>[0]>[0]) => unknown = () => 'ok',
  options = {},
): Promise<void> {
  for (let i = 0; i < n; i++) await limiter.run((lease) => fn(limiter, lease), options);
}

const providerHeaders = {
  'x-ratelimit-limit-requests': '20',
  'x-ratelimit-remaining-requests': '0',
  'x-ratelimit-reset-requests': '30s',
};
const observeHeaders = (limiter: Limiter, lease: Parameters<Parameters<Limiter['run']>[0]>[0]) =>
  limiter.observe({ data: 'ok', headers: { 'x-ratelimit-limit-requests': '10000' } }, { lease });

/** A 429 as an SDK throws it, with the provider's rate-limit headers. */
function rateLimited(headers: Record<string, string> = {}): Error {
  return Object.assign(new Error('429 Too Many Requests'), {
    status: 429,
    headers: { 'retry-after-ms': '1000', ...headers },
  });
}

/** One call through the call loop (observe before release, 429 reported once) that fails with `error`. */
function failingCall(clock: FakeClock, limiter: Limiter, error: unknown) {
  return runOnFakeClock(
    clock,
    callThroughLimiter(limiter, () => Promise.reject(error), { retry: { maxRateLimitRetries: 0 } }),
  );
}

describe('NO_TOKENS_CHARGED: a token window nothing is charged to', () => {
  it(`warns once, after ${TOKENS_CHECK_AFTER} calls with no tokens, naming the fix and the guide`, async () => {
    const { limiter, events, codes } = setup({ name: 'openai', maxTokensPerMinute: 100_000 });
    await calls(limiter, TOKENS_CHECK_AFTER - 1, observeHeaders);
    expect(events).toEqual([]);
    await calls(limiter, 1, observeHeaders);
    expect(codes()).toEqual(['NO_TOKENS_CHARGED']);
    await calls(limiter, 100, observeHeaders);
    expect(codes()).toEqual(['NO_TOKENS_CHARGED']);
    const [event] = events;
    expect(event).toMatchObject({ limiter: 'openai', docs: 'docs/provider-feedback.md#no_tokens_charged' });
    expect(event!.message).toContain("Limiter 'openai' has a token limit (100000 tokens per minute)");
    expect(event!.message).toContain('the token limit is not enforced');
    expect(event!.message).toContain('tokensFor(item)');
    expect(event!.message).toContain('{ tokens }');
    expect(event!.message).toContain('docs/provider-feedback.md#no_tokens_charged');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(`[throttleflow] ${event!.message}`);
  });

  it('does not warn when acquires carry tokens', async () => {
    const { limiter, events } = setup({ maxTokensPerMinute: 100_000 });
    await calls(limiter, 100, observeHeaders, { tokens: 50 });
    expect(events).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('does not warn when the real usage is reported at release', async () => {
    const { limiter, events } = setup({ maxTokensPerMinute: 100_000 });
    for (let i = 0; i < 100; i++) {
      await limiter.run((lease) => observeHeaders(limiter, lease), { usageOf: () => 30 });
    }
    expect(events).toEqual([]);
  });

  it('does not apply without a token window', async () => {
    const { limiter, events } = setup({ maxPerMinute: 1000 });
    await calls(limiter, 100, observeHeaders);
    expect(events).toEqual([]);
  });
});

describe('NO_PROVIDER_HEADERS: results and errors never carry headers', () => {
  it(`warns once, after ${HEADERS_CHECK_AFTER} calls without headers, naming the fix and the guide`, async () => {
    const { limiter, events, codes } = setup({ name: 'my-api', maxPerMinute: 1000 });
    await calls(limiter, HEADERS_CHECK_AFTER - 1);
    expect(events).toEqual([]);
    await calls(limiter, 1);
    expect(codes()).toEqual(['NO_PROVIDER_HEADERS']);
    await calls(limiter, 100);
    expect(codes()).toEqual(['NO_PROVIDER_HEADERS']);
    const message = events[0]!.message;
    expect(message).toContain(
      `Limiter 'my-api' has served ${HEADERS_CHECK_AFTER} calls without seeing the headers`,
    );
    expect(message).toContain('withResponse()');
    expect(message).toContain('{ data, headers }');
    expect(message).toContain('limiter.observe(response, { lease })');
    expect(message).toContain('docs/provider-feedback.md#no_provider_headers');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('does not warn once a response with headers was observed', async () => {
    const { limiter, events } = setup({ maxPerMinute: 1000 });
    await calls(limiter, 1, observeHeaders);
    await calls(limiter, 200);
    expect(events).toEqual([]);
  });

  it('counts an error with headers (a 429) as seen', async () => {
    const { clock, limiter, codes } = setup({ maxPerMinute: 1000 });
    await failingCall(clock, limiter, rateLimited());
    await runOnFakeClock(clock, calls(limiter, 2 * HEADERS_CHECK_AFTER));
    expect(codes()).toEqual(['LIMIT_ABOVE_PROVIDER']);
  });

  it('does not apply to a limiter without windows', async () => {
    const { limiter, events } = setup({ maxConcurrent: 5 });
    await calls(limiter, 200);
    expect(events).toEqual([]);
  });
});

describe('LIMIT_ABOVE_PROVIDER: a 429 while the windows had room', () => {
  it("warns once, quoting the room left and the provider's numbers from its headers", async () => {
    const { clock, limiter, events, codes } = setup({ name: 'openai', maxPerMinute: 60 });
    await calls(limiter, 2, observeHeaders);
    await failingCall(clock, limiter, rateLimited(providerHeaders));
    expect(codes()).toEqual(['LIMIT_ABOVE_PROVIDER']);
    const message = events[0]!.message;
    // The headers lowered the window to the provider's 20 before the 429 was reported.
    expect(message).toContain(
      "Limiter 'openai' was rate limited by openai (429) while its own windows had room (3 of 20 requests per minute used)",
    );
    expect(message).toContain("its limits are probably above the provider's");
    expect(message).toContain(
      "The provider's last rate-limit headers said: requests: limit 20, 0 remaining, resets in 30s",
    );
    expect(message).toContain('docs/provider-feedback.md#limit_above_provider');
    expect(warn).toHaveBeenCalledTimes(1);

    await clock.advance(60_000);
    await failingCall(clock, limiter, rateLimited(providerHeaders));
    expect(codes()).toEqual(['LIMIT_ABOVE_PROVIDER']);
  });

  it("says so when no headers told the provider's numbers", async () => {
    const { clock, limiter, events } = setup({ maxPerMinute: 60 });
    await failingCall(clock, limiter, Object.assign(new Error('429'), { status: 429 }));
    expect(events[0]!.message).toContain('No rate-limit headers were observed');
  });

  it('does not warn for a 429 at the limit', async () => {
    const { clock, limiter, events } = setup({ maxPerMinute: 3 });
    await calls(limiter, 2, observeHeaders);
    await failingCall(clock, limiter, rateLimited(providerHeaders)); // the third of 3
    expect(events).toEqual([]);
    expect(limiter.stats().totalRateLimits).toBe(1);
  });

  it('does not warn for an overload (529) or without windows', async () => {
    const overloaded = setup({ maxPerMinute: 60 });
    await failingCall(overloaded.clock, overloaded.limiter, Object.assign(new Error('529'), { status: 529 }));
    expect(overloaded.events).toEqual([]);
    const concurrencyOnly = setup({ maxConcurrent: 5 });
    await failingCall(concurrencyOnly.clock, concurrencyOnly.limiter, rateLimited());
    expect(concurrencyOnly.events).toEqual([]);
  });
});

describe('the channel', () => {
  it('warnings: false silences console.warn; the event still fires', async () => {
    const { clock, limiter, codes } = setup({
      maxPerMinute: 1000,
      maxTokensPerMinute: 100_000,
      warnings: false,
    });
    await calls(limiter, HEADERS_CHECK_AFTER);
    await failingCall(clock, limiter, rateLimited());
    expect(codes()).toEqual(['NO_TOKENS_CHARGED', 'NO_PROVIDER_HEADERS', 'LIMIT_ABOVE_PROVIDER']);
    expect(warn).not.toHaveBeenCalled();
  });

  it('warnings must be a boolean', () => {
    expect(() => new Limiter({ warnings: 'no' as never })).toThrow('warnings must be a boolean');
  });

  it('a listener that throws does not break the release', async () => {
    const { limiter } = setup({ maxPerMinute: 1000 });
    limiter.on('warning', () => {
      throw new Error('listener bug');
    });
    await calls(limiter, HEADERS_CHECK_AFTER + 5);
    expect(limiter.stats()).toMatchObject({ active: 0, totalRequests: HEADERS_CHECK_AFTER + 5 });
  });

  it('a tenant limiter leaves the warnings to its global limiter (once, not once per tenant)', async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry();
    const global = registry.register('api', { clock, maxPerMinute: 1000 });
    const events: LimiterWarningEvent[] = [];
    global.on('warning', (e) => events.push(e));
    for (const tenant of ['a', 'b', 'c']) {
      const limiter = registry.forTenant('api', tenant, { maxPerMinute: 500 });
      limiter.on('warning', (e) => events.push(e));
      await calls(limiter, HEADERS_CHECK_AFTER);
    }
    expect(events.map((e) => [e.code, e.limiter])).toEqual([['NO_PROVIDER_HEADERS', 'api']]);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
