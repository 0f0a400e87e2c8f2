import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { instrument } from '../../src/observability/otel';
import { addEventHook, type CallEvent, type ThrottleEvent } from '../../src/observability/throttle-event';
import { withFallback } from '../../src/routing/fallback-chain';

const tooMany = () => Object.assign(new Error('429'), { status: 429, headers: { 'retry-after-ms': '50' } });

describe('routing in events and spans', () => {
  it('reports each attempt as a call event naming the target, and the OTel call spans carry it', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const otel = instrument({ tracer: provider.getTracer('test'), meter: null });
    const events: CallEvent[] = [];
    const removeHook = addEventHook((e: ThrottleEvent) => {
      if (e.type === 'call') events.push(e);
    });
    try {
      const chain = withFallback<number, string>(
        [
          {
            name: 'east',
            limiter: new Limiter({ name: 'east-limiter', warnings: false }),
            model: 'gpt-4o',
            call: () => Promise.reject(tooMany()),
          },
          {
            name: 'west',
            limiter: new Limiter({ name: 'west-limiter', warnings: false }),
            call: (n) => `west:${n}`,
          },
        ],
        { name: 'regions', strategy: 'soonest' },
      );
      expect(await chain.call(1)).toBe('west:1');
    } finally {
      removeHook();
      otel.stop();
    }
    expect(events.map((e) => [e.node, e.target, e.limiter, e.outcome])).toEqual([
      ['regions', 'east', 'east-limiter', 'rate_limited'],
      ['regions', 'west', 'west-limiter', 'ok'],
    ]);
    expect(events[0]!.model).toBe('gpt-4o');
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'throttleflow.call');
    expect(spans.map((s) => s.attributes['throttleflow.target'])).toEqual(['east', 'west']);
    expect(spans.map((s) => s.attributes['throttleflow.rate_limited'])).toEqual([true, false]);
  });
});
