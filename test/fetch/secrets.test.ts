import { inspect } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { throttledFetch } from '../../src/fetch/throttled-fetch';
import { Limiter } from '../../src/limits/limiter';
import { instrument } from '../../src/observability/otel';
import { addEventHook } from '../../src/observability/throttle-event';
import { startProviderSimulator } from '../../src/testing/provider-simulator';
import type { ProviderSimulator } from '../../src/testing/provider-simulator-types';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';

/** A key no real provider issues, easy to find in any output. */
const KEY = 'sk-throttleflow-FAKE-0b5e1d93c7a4';

let sim: ProviderSimulator | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  cleanups.splice(0).forEach((fn) => fn());
  await sim?.close();
  sim = undefined;
});

/** Everything an emitted value could show: its JSON (errors with every own field and cause) and a deep inspect. */
function render(value: unknown): string {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[seen]';
      seen.add(v);
    }
    if (v instanceof Error) {
      const own: Record<string, unknown> = {
        name: v.name,
        message: v.message,
        stack: v.stack,
        cause: v.cause,
      };
      for (const key of Object.getOwnPropertyNames(v))
        own[key] = (v as unknown as Record<string, unknown>)[key];
      return own;
    }
    if (v instanceof Headers) {
      const fields: Record<string, string> = {};
      v.forEach((field, name) => (fields[name] = field));
      return fields;
    }
    return v;
  });
  return `${json}\n${inspect(value, { depth: 12, showHidden: true, getters: true })}`;
}

describe('secrets stay secret', () => {
  it('an API key sent through throttledFetch appears in no event, error, stat, log line or span (success, 429, 5xx, abort, stream)', async () => {
    sim = await startProviderSimulator({ requestsPerWindow: 3, windowMs: 1000, latencyMs: 20 });
    const url = sim.url;
    const emitted: unknown[] = [];

    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
      't',
    );
    const instrumentation = instrument({ tracer, meter: null });
    cleanups.push(() => instrumentation.stop());
    cleanups.push(addEventHook((event) => emitted.push(event)));
    const consoleLines: unknown[][] = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleLines.push(args);
      });
      cleanups.push(() => spy.mockRestore());
    }

    const limiter = new Limiter({ name: 'openai', maxConcurrent: 4, maxTokensPerMinute: 1_000_000 });
    const realEmit = limiter.emit.bind(limiter);
    limiter.emit = ((event: string, ...args: unknown[]) => {
      emitted.push({ event, args });
      return (realEmit as (name: string, ...rest: unknown[]) => boolean)(event, ...args);
    });
    const fetch = throttledFetch(limiter);
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, fetch });
    const impatient = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, fetch, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: url, apiKey: KEY, fetch });
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'hello' }],
      max_tokens: 8,
    };

    type Step = 'ok' | 'stream' | 'anthropic-stream' | '429' | '5xx' | 'abort';
    class Calls extends ThrottledParallelBatchNode<{ steps: Step[] }, Step, unknown> {
      override async exec(step: Step): Promise<unknown> {
        switch (step) {
          case 'ok':
            return openai.chat.completions.create(request);
          case 'stream': {
            const stream = await openai.chat.completions.create({
              ...request,
              stream: true,
              stream_options: { include_usage: true },
            });
            for await (const chunk of stream) void chunk;
            return 'streamed';
          }
          case 'anthropic-stream':
            return anthropic.messages.stream({ ...request, model: 'claude-test' }).finalMessage();
          case '429':
            return impatient.chat.completions.create(request);
          case '5xx':
            sim!.setOptions({ p500: 1 });
            try {
              return await openai.chat.completions.create(request);
            } finally {
              sim!.setOptions({ p500: 0 });
            }
          case 'abort': {
            const controller = new AbortController();
            setTimeout(() => controller.abort(), 5);
            return openai.chat.completions.create(request, { signal: controller.signal });
          }
        }
      }
    }
    const errors: unknown[] = [];
    const runNode = async (steps: Step[]) => {
      const node = new Calls({ limiter, maxRetries: 1 });
      node.prep = async (shared) => shared.steps;
      try {
        await node.run({ steps });
      } catch (error) {
        errors.push(error);
      }
      emitted.push(node.stats);
    };
    await runNode(['ok', 'stream', 'anthropic-stream']);
    await runNode(['429', '429', '429', '429']);
    await runNode(['5xx']);
    await runNode(['abort']);
    // Outside any node too: the errors the clients throw through throttledFetch.
    for (const call of [
      () => impatient.chat.completions.create(request),
      () => openai.chat.completions.create(request, { signal: AbortSignal.abort() }),
    ]) {
      await call().catch((error: unknown) => errors.push(error));
    }

    expect(errors.length).toBeGreaterThan(2);
    expect(limiter.stats().totalRateLimits).toBeGreaterThan(0);
    const spans = exporter
      .getFinishedSpans()
      .map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status }));
    expect(spans.length).toBeGreaterThan(0);
    const everything = [...emitted, ...errors, limiter.stats(), ...consoleLines, ...spans];
    const text = everything.map(render).join('\n');
    // The search works: the same rendering finds the key where it is.
    expect(render({ headers: new Headers({ authorization: `Bearer ${KEY}` }) })).toContain(KEY);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(KEY.slice(-12));
  }, 60_000);
});
