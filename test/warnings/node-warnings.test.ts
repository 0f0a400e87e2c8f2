import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { Node } from '../../src/core/node';
import type { LimiterWarningEvent } from '../../src/limits/limiter-events';
import { HEADERS_CHECK_AFTER, TOKENS_CHECK_AFTER } from '../../src/limits/limiter-warnings';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledBatchFlow } from '../../src/throttled/throttled-batch-flow';
import {
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
} from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from '../throttled/support';

let warn: MockInstance<typeof console.warn>;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  warn.mockRestore();
});

/** The codes printed with console.warn, in order. */
const printed = (): string[] => warn.mock.calls.map((args) => String(args[0]));

interface Shared {
  items: string[];
}

/** A node over `shared.items` whose exec answers with `answer(item)`. */
function nodeOf(
  clock: FakeClock,
  options: ThrottledNodeOptions,
  answer: (item: string, call: number) => unknown,
) {
  let calls = 0;
  class Summarise extends ThrottledParallelBatchNode<Shared, string, unknown> {
    override async prep(shared: Shared) {
      return shared.items;
    }
    override async exec(item: string) {
      return answer(item, calls++);
    }
  }
  return new Summarise({ clock, ...options });
}

const items = (n: number) => Array.from({ length: n }, (_, i) => `text ${i}`);
const withHeaders = (item: string) => ({ data: item, headers: { 'x-ratelimit-limit-requests': '10000' } });

describe('a throttled node warns through its limiter, once', () => {
  it('NO_TOKENS_CHARGED: a token window and items tokensFor cannot estimate', async () => {
    const clock = new FakeClock();
    const node = nodeOf(clock, { maxTokensPerMinute: 100_000 }, withHeaders);
    const events: LimiterWarningEvent[] = [];
    node.getLimiter().on('warning', (e) => events.push(e));
    await runOnFakeClock(clock, node.run({ items: items(TOKENS_CHECK_AFTER * 2) }));
    await runOnFakeClock(clock, node.run({ items: items(TOKENS_CHECK_AFTER) }));
    expect(events.map((e) => e.code)).toEqual(['NO_TOKENS_CHARGED']);
    expect(events[0]!.message).toContain("Limiter 'Summarise' has a token limit");
    expect(events[0]!.message).toContain('override tokensFor(item) on a throttled node');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('no warning when tokensFor charges the calls and the responses carry headers', async () => {
    const clock = new FakeClock();
    class Estimated extends ThrottledParallelBatchNode<Shared, string, unknown> {
      override async prep(shared: Shared) {
        return shared.items;
      }
      override tokensFor(item: string) {
        return item.length;
      }
      override async exec(item: string) {
        return withHeaders(item);
      }
    }
    const node = new Estimated({ clock, maxPerMinute: 1000, maxTokensPerMinute: 100_000 });
    await runOnFakeClock(clock, node.run({ items: items(HEADERS_CHECK_AFTER * 2) }));
    expect(warn).not.toHaveBeenCalled();
  });

  it('NO_PROVIDER_HEADERS once per node, counting the calls of every throttled-flow run', async () => {
    const clock = new FakeClock();
    // Each sub-flow run gets its own limiter of the node's limits, with two calls in it.
    const node = nodeOf(clock, { maxPerMinute: 1000 }, (item) => `summary of ${item}`);
    class PerUser extends ThrottledBatchFlow<Shared> {
      override async prep() {
        return Array.from({ length: HEADERS_CHECK_AFTER }, () => ({}));
      }
    }
    const flow = new PerUser(node, { maxConcurrentFlows: HEADERS_CHECK_AFTER });
    await runOnFakeClock(clock, flow.run({ items: items(2) }));
    expect(printed()).toHaveLength(1);
    expect(printed()[0]).toContain(
      `Limiter 'Summarise' has served ${HEADERS_CHECK_AFTER} calls without seeing the headers`,
    );
  });

  it('LIMIT_ABOVE_PROVIDER once per node, however many calls meet a 429', async () => {
    const clock = new FakeClock();
    const node = nodeOf(clock, { maxPerMinute: 100 }, (item, call) => {
      if (call < 3) {
        throw Object.assign(new Error('429'), {
          status: 429,
          headers: {
            'retry-after-ms': '500',
            'x-ratelimit-limit-requests': '50',
            'x-ratelimit-remaining-requests': '0',
          },
        });
      }
      return withHeaders(item);
    });
    await runOnFakeClock(clock, node.run({ items: items(5) }));
    expect(node.stats.totalRateLimits).toBe(3);
    expect(printed()).toHaveLength(1);
    expect(printed()[0]).toContain(
      "Limiter 'Summarise' was rate limited by openai (429) while its own windows had room (5 of 50 requests per minute used)",
    );
    expect(printed()[0]).toContain('requests: limit 50, 0 remaining');
  });

  it('warnings: false on the node silences console.warn; its limiter still emits the event', async () => {
    const clock = new FakeClock();
    const node = nodeOf(clock, { maxPerMinute: 1000, warnings: false }, (item) => item);
    const events: LimiterWarningEvent[] = [];
    node.getLimiter().on('warning', (e) => events.push(e));
    await runOnFakeClock(clock, node.run({ items: items(HEADERS_CHECK_AFTER) }));
    expect(events.map((e) => e.code)).toEqual(['NO_PROVIDER_HEADERS']);
    expect(warn).not.toHaveBeenCalled();
  });

  it("a throttled flow's own limiter counts sub-flow starts, not provider calls: no warnings", async () => {
    const clock = new FakeClock();
    class Step extends Node {
      override async exec() {
        return 'done';
      }
    }
    class Many extends ThrottledBatchFlow {
      override async prep() {
        return Array.from({ length: HEADERS_CHECK_AFTER * 2 }, () => ({}));
      }
    }
    const flow = new Many(new Step(), {
      maxConcurrentFlows: HEADERS_CHECK_AFTER * 2,
      maxFlowsPerMinute: 1000,
      clock,
    });
    await runOnFakeClock(clock, flow.run({}));
    expect(flow.stats.completedFlows).toBe(HEADERS_CHECK_AFTER * 2);
    expect(warn).not.toHaveBeenCalled();
  });
});
