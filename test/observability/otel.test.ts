import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { instrument, type Instrumentation } from '../../src/observability/otel';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { costOf } from '../../src/cost/cost-of';
import { runOnFakeClock } from '../throttled/support';

/** Records what instrument() reports through the metrics API (the metrics SDK is not installed). */
class RecordingMeter {
  readonly added: { name: string; value: number; attributes: Attributes }[] = [];
  readonly recorded: { name: string; value: number; attributes: Attributes }[] = [];
  readonly callbacks: BatchObservableCallback[] = [];

  createCounter(name: string) {
    return {
      add: (value: number, attributes: Attributes = {}) => this.added.push({ name, value, attributes }),
    };
  }
  createHistogram(name: string) {
    return {
      record: (value: number, attributes: Attributes = {}) => this.recorded.push({ name, value, attributes }),
    };
  }
  createObservableGauge(name: string) {
    return { name, addCallback() {}, removeCallback() {} };
  }
  createObservableCounter(name: string) {
    return this.createObservableGauge(name);
  }
  addBatchObservableCallback(callback: BatchObservableCallback) {
    this.callbacks.push(callback);
  }
  removeBatchObservableCallback(callback: BatchObservableCallback) {
    this.callbacks.splice(this.callbacks.indexOf(callback), 1);
  }

  /** Runs the observable callbacks, as a collection would: name → [value, attributes][]. */
  collect(): Map<string, [number, Attributes][]> {
    const out = new Map<string, [number, Attributes][]>();
    for (const cb of this.callbacks) {
      void cb({
        observe: (observable: Observable, value: number, attributes: Attributes = {}) => {
          const name = (observable as unknown as { name: string }).name;
          out.set(name, [...(out.get(name) ?? []), [value, attributes]]);
        },
      });
    }
    return out;
  }

  sum(name: string, where: Attributes = {}): number {
    return this.added
      .filter((r) => r.name === name && Object.entries(where).every(([k, v]) => r.attributes[k] === v))
      .reduce((a, r) => a + r.value, 0);
  }
}

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const meter = new RecordingMeter();
  return { exporter, tracer: provider.getTracer('test'), meter };
}

const running: Instrumentation[] = [];
afterEach(() => running.splice(0).forEach((i) => i.stop()));

type Req = { id: number; model: string; messages: { role: string; content: string }[] };
type Res = { usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };

describe('instrument(): OpenTelemetry spans and metrics', () => {
  it('emits a span per node run and per call, with node, limiter, wait, tokens, cost and 429 attributes', async () => {
    const { exporter, tracer, meter } = setup();
    running.push(instrument({ tracer, meter: meter as unknown as Meter }));
    const clock = new FakeClock();
    let first429 = true;
    class Summarise extends ThrottledParallelBatchNode<unknown, Req, Res> {
      override async prep() {
        return [1, 2].map((id) => ({
          id,
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: `ticket ${id}` }],
        }));
      }
      override async exec(req: Req) {
        await clock.sleep(100);
        if (req.id === 2 && first429) {
          first429 = false;
          throw Object.assign(new Error('Rate limit reached'), {
            status: 429,
            headers: { 'retry-after-ms': '50' },
          });
        }
        return { usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 } };
      }
    }
    const limiter = new Limiter({ clock, name: 'openai', maxConcurrent: 1, maxTokensPerMinute: 100_000 });
    await runOnFakeClock(clock, new Summarise({ limiter }).run({}));

    const spans = exporter.getFinishedSpans();
    const run = spans.find((s) => s.name === 'throttleflow.node_run')!;
    const calls = spans.filter((s) => s.name === 'throttleflow.call');
    expect(run).toBeDefined();
    expect(calls).toHaveLength(3);
    // Every call span is a child of the run span, in the same trace.
    for (const call of calls) {
      expect(call.spanContext().traceId).toBe(run.spanContext().traceId);
      expect(parentId(call)).toBe(run.spanContext().spanId);
    }
    const price = costOf('gpt-4o-mini', { prompt_tokens: 1000, completion_tokens: 500 });
    const ok = calls.filter((s) => s.attributes['throttleflow.outcome'] === 'ok');
    expect(ok).toHaveLength(2);
    expect(ok[0]!.attributes).toMatchObject({
      'throttleflow.node': 'Summarise',
      'throttleflow.limiter': 'openai',
      'throttleflow.wait_ms': 0,
      'throttleflow.duration_ms': 100,
      'throttleflow.tokens.used': 1500,
      'throttleflow.cost_usd': price,
      'throttleflow.rate_limited': false,
      'throttleflow.attempt': 0,
      'gen_ai.request.model': 'gpt-4o-mini',
    });
    expect(ok[0]!.attributes['throttleflow.tokens.estimated']).toBeGreaterThan(0);
    const limited = calls.find((s) => s.attributes['throttleflow.outcome'] === 'rate_limited')!;
    expect(limited.attributes).toMatchObject({
      'throttleflow.rate_limited': true,
      'throttleflow.wait_ms': 100,
      'throttleflow.node': 'Summarise',
    });
    expect(limited.attributes['throttleflow.cost_usd']).toBeUndefined();
    expect(limited.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(limited.events.map((e) => e.name)).toEqual(['throttleflow.acquired', 'exception']);
    expect(run.attributes).toMatchObject({
      'throttleflow.node': 'Summarise',
      'throttleflow.limiter': 'openai',
      'throttleflow.items': 2,
      'throttleflow.calls': 3,
      'throttleflow.rate_limits': 1,
      'throttleflow.tokens.used': 3000,
      'throttleflow.cost_usd': 2 * price,
      'throttleflow.duration_ms': 350,
    });
    expect(run.status.code).toBe(0);

    // Metrics
    expect(meter.sum('throttleflow.calls')).toBe(3);
    expect(meter.sum('throttleflow.calls', { 'throttleflow.outcome': 'rate_limited' })).toBe(1);
    expect(
      meter.sum('throttleflow.rate_limits', {
        'throttleflow.node': 'Summarise',
        'throttleflow.limiter': 'openai',
      }),
    ).toBe(1);
    expect(meter.sum('throttleflow.tokens', { 'gen_ai.request.model': 'gpt-4o-mini' })).toBe(3000);
    expect(meter.sum('throttleflow.cost')).toBeCloseTo(2 * price, 12);
    expect(meter.recorded.filter((r) => r.name === 'throttleflow.call.duration').map((r) => r.value)).toEqual(
      [100, 100, 100],
    );
    expect(meter.recorded.filter((r) => r.name === 'throttleflow.queue.wait').map((r) => r.value)).toEqual([
      0, 100, 50,
    ]);
  });

  it('observes queue length, calls in flight, rate limits and tokens per minute of each limiter', async () => {
    const { tracer, meter } = setup();
    const clock = new FakeClock();
    const limiter = new Limiter({ clock, name: 'anthropic', maxConcurrent: 2 });
    running.push(instrument({ tracer, meter: meter as unknown as Meter, limiters: [limiter] }));
    class N extends ThrottledParallelBatchNode<unknown, number, Res> {
      override async prep() {
        return [1, 2, 3, 4, 5];
      }
      override async exec() {
        await clock.sleep(100);
        return { usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } };
      }
    }
    const run = new N({ limiter }).run({});
    await clock.advance(10);
    const during = meter.collect();
    const value = (m: Map<string, [number, Attributes][]>, name: string) =>
      m.get(name)?.find(([, a]) => a['throttleflow.limiter'] === 'anthropic')?.[0];
    expect(value(during, 'throttleflow.limiter.active')).toBe(2);
    expect(value(during, 'throttleflow.limiter.queued')).toBe(3);
    expect(value(during, 'throttleflow.limiter.utilization')).toBe(1);
    limiter.reportRateLimit({ retryAfterMs: 1 });
    await runOnFakeClock(clock, run);
    const after = meter.collect();
    expect(value(after, 'throttleflow.limiter.active')).toBe(0);
    expect(value(after, 'throttleflow.limiter.queued')).toBe(0);
    expect(value(after, 'throttleflow.limiter.rate_limits')).toBe(1);
    // Wall-clock minute: the fake-clock run took no real time.
    expect(value(after, 'throttleflow.tokens_per_minute')).toBe(75);
  });

  it('by default observes the limiters with metrics attached (nodes and the registry attach them)', async () => {
    const { meter } = setup();
    running.push(instrument({ tracer: null, meter: meter as unknown as Meter }));
    const clock = new FakeClock();
    class Own extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1];
      }
      override async exec(i: number) {
        return i;
      }
    }
    const node = new Own({ clock, maxConcurrent: 3 });
    await runOnFakeClock(clock, node.run({}));
    const names = meter
      .collect()
      .get('throttleflow.limiter.active')!
      .map(([, a]) => a['throttleflow.limiter']);
    expect(names).toContain('Own');
  });

  it('a failed run has an error status; stop() unsubscribes', async () => {
    const { exporter, tracer, meter } = setup();
    const otel = instrument({ tracer, meter: meter as unknown as Meter });
    const clock = new FakeClock();
    class Broken extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1];
      }
      override async exec(): Promise<number> {
        throw new Error('bad request');
      }
    }
    await expect(runOnFakeClock(clock, new Broken({ clock }).run({}))).rejects.toThrow('bad request');
    const run = exporter.getFinishedSpans().find((s) => s.name === 'throttleflow.node_run')!;
    expect(run.status).toMatchObject({ code: 2, message: 'bad request' });
    const call = exporter.getFinishedSpans().find((s) => s.name === 'throttleflow.call')!;
    expect(call.attributes['throttleflow.outcome']).toBe('error');

    otel.stop();
    exporter.reset();
    await expect(runOnFakeClock(clock, new Broken({ clock }).run({}))).rejects.toThrow();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(meter.callbacks).toEqual([]);
  });
});

function parentId(span: ReadableSpan): string | undefined {
  const s = span as ReadableSpan & { parentSpanId?: string; parentSpanContext?: { spanId: string } };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}
