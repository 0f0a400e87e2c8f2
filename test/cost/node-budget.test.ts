import { afterEach, describe, expect, it, vi } from 'vitest';
import { Budget } from '../../src/cost/budget';
import { BudgetExceededError, isBudgetExceededError } from '../../src/cost/budget-exceeded-error';
import { costOf } from '../../src/cost/cost-of';
import { estimateTokens } from '../../src/cost/estimate-tokens';
import { isUnknownModelError } from '../../src/cost/unknown-model-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { Flow } from '../../src/core/flow';
import type { CallEvent, ThrottleEvent } from '../../src/observability/throttle-event';
import {
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
} from '../../src/throttled/throttled-parallel-batch-node';
import { isInvalidOptionError } from '../../src/validation/options';
import { runOnFakeClock } from '../throttled/support';

// A type alias (not an interface), so it fits estimateTokens' index-signature parameter.
type ChatRequest = {
  model?: string;
  messages: { role: string; content: string }[];
  max_tokens?: number;
};
interface ChatResponse {
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const request = (i: number, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [
    { role: 'system', content: 'You summarise support tickets in one sentence.' },
    {
      role: 'user',
      content: `Ticket ${i}: the invoice page shows the wrong currency after I changed my billing country.`,
    },
  ],
  max_tokens: 200,
  ...extra,
});

const response = (prompt: number, completion: number): ChatResponse => ({
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

/**
 * A chat node on the fake clock whose fake provider answers after `latencyMs(i)` with the usage
 * `usageFor` gives; records which items were really sent.
 */
function chatNode(
  clock: FakeClock,
  options: ThrottledNodeOptions,
  items: ChatRequest[],
  usageFor: (req: ChatRequest) => ChatResponse,
  latencyMs: (i: number) => number = () => 100,
) {
  const sent: number[] = [];
  const finished: number[] = [];
  class Summarise extends ThrottledParallelBatchNode<{ out?: ChatResponse[] }, ChatRequest, ChatResponse> {
    override async prep() {
      return items;
    }
    override async exec(req: ChatRequest) {
      const i = items.indexOf(req);
      sent.push(i);
      await clock.sleep(latencyMs(i));
      finished.push(i);
      return usageFor(req);
    }
    override async post(shared: { out?: ChatResponse[] }, _p: unknown, out: ChatResponse[]) {
      shared.out = out;
      return undefined;
    }
  }
  return { node: new Summarise({ clock, ...options }), sent, finished };
}

afterEach(() => vi.restoreAllMocks());

describe('budget in throttled nodes', () => {
  it('a budget of $0.01 stops the pipeline before the call that would pass it; the error says spent vs cap', async () => {
    const clock = new FakeClock();
    const budget = new Budget({ maxUsd: 0.01 });
    const items = Array.from({ length: 8 }, (_, i) => request(i, { model: 'gpt-4o' }));
    // The provider bills exactly what the node estimated: the prompt estimate and all of max_tokens.
    const { node, sent } = chatNode(clock, { budget, maxConcurrent: 2 }, items, (req) =>
      response(estimateTokens(req), 200),
    );
    const perCall = costOf('gpt-4o', { inputTokens: estimateTokens(items[0]!), outputTokens: 200 });
    const affordable = Math.floor(0.01 / perCall);
    expect(affordable).toBeGreaterThan(1);
    expect(affordable).toBeLessThan(items.length);

    const error = await runOnFakeClock(clock, node.run({})).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBudgetExceededError(error)).toBe(true);
    const refused = error as BudgetExceededError;
    // Every call that fit was made, the one that would pass the cap was not.
    expect(sent).toHaveLength(affordable);
    expect(refused.spent).toBeCloseTo(affordable * perCall, 12);
    expect(refused.spent + refused.estimated).toBeGreaterThan(0.01);
    expect(refused.cap).toBe(0.01);
    expect(refused.message).toMatch(
      /^Budget exceeded: spent \$0\.00\d\d \+ estimated \$0\.00\d\d > cap \$0\.0100$/,
    );
    expect(refused.message).toContain(`spent $${(affordable * perCall).toFixed(4)}`);
    expect(budget.stats().spentUsd).toBeLessThanOrEqual(0.01);
    expect(budget.stats().reservedUsd).toBe(0);
    expect(node.stats.totalSuccesses).toBe(affordable);
    expect(node.stats.totalFailures).toBe(items.length - affordable);
  });

  it('in a Flow: the refused items go through execFallback, and the flow goes on', async () => {
    const clock = new FakeClock();
    const budget = new Budget({ maxUsd: 0.01 });
    const items = Array.from({ length: 6 }, (_, i) => request(i));
    const perCall = costOf('gpt-4o', { inputTokens: estimateTokens(items[0]!), outputTokens: 200 });
    const results: unknown[] = [];
    class Summarise extends ThrottledParallelBatchNode<unknown, ChatRequest, ChatResponse | string> {
      override async prep() {
        return items;
      }
      override async exec(req: ChatRequest) {
        await clock.sleep(50);
        return response(estimateTokens(req), 200);
      }
      override async execFallback(_req: ChatRequest, error: Error) {
        return isBudgetExceededError(error) ? 'skipped: over budget' : Promise.reject(error);
      }
      override async post(_s: unknown, _p: unknown, out: (ChatResponse | string)[]) {
        results.push(...out);
        return undefined;
      }
    }
    const node = new Summarise({ clock, budget, model: 'gpt-4o', maxConcurrent: 1 });
    await runOnFakeClock(clock, new Flow(node).run({}));
    const affordable = Math.floor(0.01 / perCall);
    expect(results.filter((r) => typeof r === 'object')).toHaveLength(affordable);
    expect(results.filter((r) => r === 'skipped: over budget')).toHaveLength(items.length - affordable);
    // Results keep input order: the first items were paid for.
    expect(results.slice(0, affordable).every((r) => typeof r === 'object')).toBe(true);
  });

  it('calls in flight finish (and are booked) when a new one is refused', async () => {
    const clock = new FakeClock();
    const budget = new Budget({ maxUsd: 0.01 });
    // Three estimates fit under the cap, but the prompts are far longer than estimated (say,
    // attachments the estimate cannot see): each call really costs about twice its estimate.
    const items = Array.from({ length: 5 }, (_, i) => request(i, { model: 'gpt-4o', max_tokens: 290 }));
    const realUsage = (req: ChatRequest) => response(estimateTokens(req) + 1200, 290);
    const estimate = costOf('gpt-4o', { inputTokens: estimateTokens(items[0]!), outputTokens: 290 });
    const actual = costOf('gpt-4o', { inputTokens: estimateTokens(items[0]!) + 1200, outputTokens: 290 });
    expect(3 * estimate).toBeLessThan(0.01);
    expect(4 * estimate).toBeGreaterThan(0.01);
    expect(actual + estimate).toBeLessThan(0.01);
    expect(2 * actual).toBeGreaterThan(0.01);
    const { node, sent, finished } = chatNode(
      clock,
      { budget, maxConcurrent: 5 },
      items,
      realUsage,
      (i) => 100 * (i + 1),
    );
    const error = await runOnFakeClock(clock, node.run({})).catch((e: unknown) => e);
    expect(isBudgetExceededError(error)).toBe(true);
    // Three start at once; the fourth waits for the budget. After the first answer it still waits
    // (spent + its estimate fit, the third's reservation is in the way); after the second the spend
    // is past the cap, so it and the fifth are refused while the third is still running. The third
    // finishes and is booked.
    expect(sent).toEqual([0, 1, 2]);
    expect(finished).toEqual([0, 1, 2]);
    expect(budget.stats().spentUsd).toBeCloseTo(3 * actual, 12);
    expect(budget.stats().reservedUsd).toBe(0);
    expect((error as BudgetExceededError).spent).toBeCloseTo(2 * actual, 12);
    expect((error as BudgetExceededError).reserved).toBeCloseTo(estimate, 12);
  });

  it('failed calls cost nothing: their reservation is released', async () => {
    const clock = new FakeClock();
    const budget = new Budget({ maxUsd: 1 });
    let calls = 0;
    class Flaky extends ThrottledParallelBatchNode<unknown, ChatRequest, ChatResponse> {
      override async prep() {
        return [request(1)];
      }
      override async exec(req: ChatRequest) {
        if (++calls === 1) throw new Error('boom');
        return response(estimateTokens(req), 10);
      }
    }
    await runOnFakeClock(clock, new Flaky({ clock, budget, model: 'gpt-4o-mini', maxRetries: 2 }).run({}));
    expect(calls).toBe(2);
    const one = costOf('gpt-4o-mini', { inputTokens: estimateTokens(request(1)), outputTokens: 10 });
    expect(budget.stats().spentUsd).toBeCloseTo(one, 12);
    expect(budget.stats().reservedUsd).toBe(0);
  });

  it('a token budget works without a model; a dollar budget without one fails the item naming `model`', async () => {
    const clock = new FakeClock();
    const tokens = new Budget({ maxTokens: 1_000 });
    const items = [request(1), request(2)];
    const ok = chatNode(clock, { budget: tokens }, items, () => response(100, 50));
    await runOnFakeClock(clock, ok.node.run({}));
    expect(tokens.stats().spentTokens).toBe(300);

    const dollars = new Budget({ maxUsd: 1 });
    const bad = chatNode(clock, { budget: dollars }, items, () => response(100, 50));
    const error = await runOnFakeClock(clock, bad.node.run({})).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /Summarise: its budget caps dollars, but no model is known.*`model`/,
    );
    expect(bad.sent).toEqual([]);
  });

  it('a dollar budget and a model missing from the price table fail the item with UnknownModelError', async () => {
    const clock = new FakeClock();
    const { node, sent } = chatNode(
      clock,
      { budget: new Budget({ maxUsd: 1 }), model: 'my-finetune-xyz' },
      [request(1)],
      () => response(1, 1),
    );
    const error = await runOnFakeClock(clock, node.run({})).catch((e: unknown) => e);
    expect(isUnknownModelError(error)).toBe(true);
    expect(sent).toEqual([]);
  });

  it('validates the options', () => {
    expect(() => new ThrottledParallelBatchNode({ budget: 0.01 as never })).toThrow(
      'budget must be a Budget, got 0.01',
    );
    expect(() => new ThrottledParallelBatchNode({ model: '' })).toThrow(
      "model must be a non-empty string, got ''",
    );
    expect(() => new ThrottledParallelBatchNode({ model: 4 as never })).toThrow(
      'model must be a non-empty string, got 4',
    );
  });

  it('validates subclass fields at the first run', async () => {
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override budget = 'lots' as never;
      override async prep() {
        return [1];
      }
      override async exec(i: number) {
        return i;
      }
    }
    await expect(new N().run({})).rejects.toThrow("budget must be a Budget, got 'lots'");
  });

  it('an aborted run stops waiting for the budget', async () => {
    const clock = new FakeClock();
    const budget = new Budget({ maxTokens: 700 });
    const controller = new AbortController();
    const items = [request(1), request(2), request(3)];
    // Each estimate is over 200 tokens: two fit, the third waits for one to settle.
    const { node, sent } = chatNode(
      clock,
      { budget, maxConcurrent: 5 },
      items,
      () => response(10, 10),
      () => 1_000,
    );
    const run = node.run({}, { signal: controller.signal });
    await clock.advance(10);
    expect(3 * (estimateTokens(items[0]!) + 200)).toBeGreaterThan(700);
    expect(sent).toEqual([0, 1]);
    controller.abort();
    await expect(runOnFakeClock(clock, run)).rejects.toThrow();
    expect(sent).toEqual([0, 1]);
    // The two calls in flight finished and were booked; the waiting one never reserved anything.
    expect(budget.stats()).toMatchObject({ spentTokens: 40, reservedTokens: 0 });
  });
});

describe('token-aware tokensFor default', () => {
  const events = () => {
    const seen: ThrottleEvent[] = [];
    return {
      seen,
      onEvent: (e: ThrottleEvent) => seen.push(e),
      calls: () => seen.filter((e): e is CallEvent => e.type === 'call'),
    };
  };

  it('charges prompt estimate + max_tokens for chat requests when the limiter has a token window', async () => {
    const clock = new FakeClock();
    const items = [request(1), request(2, { max_tokens: 50 })];
    const log = events();
    const { node } = chatNode(clock, { maxTokensPerMinute: 100_000, onEvent: log.onEvent }, items, () =>
      response(10, 10),
    );
    await runOnFakeClock(clock, node.run({}));
    expect(log.calls().map((e) => e.tokensEstimated)).toEqual([
      estimateTokens(items[0]!) + 200,
      estimateTokens(items[1]!) + 50,
    ]);
    expect(node.tokensFor(items[0]!)).toBe(estimateTokens(items[0]!) + 200);
  });

  it('a messages array counts its prompt; a shared limiter with a token window counts too', async () => {
    const clock = new FakeClock();
    const messages = request(1).messages;
    const log = events();
    class N extends ThrottledParallelBatchNode<unknown, typeof messages, string> {
      override async prep() {
        return [messages];
      }
      override async exec() {
        return 'ok';
      }
    }
    const limiter = new Limiter({ clock, maxTokensPerMinute: 10_000 });
    await runOnFakeClock(clock, new N({ limiter, onEvent: log.onEvent }).run({}));
    expect(log.calls()[0]!.tokensEstimated).toBe(estimateTokens(messages));
  });

  it('charges nothing without a token window, or for items that are not chat', async () => {
    const clock = new FakeClock();
    const log = events();
    const { node } = chatNode(clock, { maxPerMinute: 100, onEvent: log.onEvent }, [request(1)], () =>
      response(1, 1),
    );
    await runOnFakeClock(clock, node.run({}));
    expect(log.calls()[0]!.tokensEstimated).toBeUndefined();

    class Strings extends ThrottledParallelBatchNode<unknown, string, string> {
      override async prep() {
        return ['hello'];
      }
      override async exec(s: string) {
        return s;
      }
    }
    const log2 = events();
    await runOnFakeClock(
      clock,
      new Strings({ clock, maxTokensPerMinute: 1000, onEvent: log2.onEvent }).run({}),
    );
    expect(log2.calls()[0]!.tokensEstimated).toBeUndefined();
  });

  it("a subclass's tokensFor wins", async () => {
    const clock = new FakeClock();
    const log = events();
    class Own extends ThrottledParallelBatchNode<unknown, ChatRequest, string> {
      override async prep() {
        return [request(1)];
      }
      override tokensFor() {
        return 7;
      }
      override async exec() {
        return 'ok';
      }
    }
    await runOnFakeClock(clock, new Own({ clock, maxTokensPerMinute: 1000, onEvent: log.onEvent }).run({}));
    expect(log.calls()[0]!.tokensEstimated).toBe(7);
  });
});

describe('tokens and cost in node stats and events', () => {
  it('totals tokens and cost when the model is known (option, or the item that says otherwise)', async () => {
    const clock = new FakeClock();
    const seen: ThrottleEvent[] = [];
    const items = [request(1), request(2, { model: 'gpt-4o' })];
    const { node } = chatNode(clock, { model: 'gpt-4o-mini', onEvent: (e) => seen.push(e) }, items, () =>
      response(1000, 500),
    );
    await runOnFakeClock(clock, node.run({}));
    const mini = costOf('gpt-4o-mini', { prompt_tokens: 1000, completion_tokens: 500 });
    const big = costOf('gpt-4o', { prompt_tokens: 1000, completion_tokens: 500 });
    expect(node.stats.tokens).toBe(3000);
    expect(node.stats.costUsd).toBeCloseTo(mini + big, 12);
    expect(node.stats.unpricedCalls).toBe(0);
    const calls = seen.filter((e): e is CallEvent => e.type === 'call');
    expect(calls.map((e) => [e.model, e.costUsd])).toEqual([
      ['gpt-4o-mini', mini],
      ['gpt-4o', big],
    ]);
  });

  it('without a model: tokens only, no cost and no warning', async () => {
    const clock = new FakeClock();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { node } = chatNode(clock, {}, [request(1)], () => response(10, 5));
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats).toMatchObject({ tokens: 15, costUsd: undefined, unpricedCalls: 0 });
    expect(warn).not.toHaveBeenCalled();
  });

  it('an unknown model does not crash the run: its cost is undefined and one warning is printed', async () => {
    const clock = new FakeClock();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const seen: ThrottleEvent[] = [];
    const items = [request(1), request(2), request(3)];
    const { node } = chatNode(
      clock,
      { model: 'acme-llm-unknown-7b', onEvent: (e) => seen.push(e) },
      items,
      () => response(10, 5),
    );
    await runOnFakeClock(clock, node.run({}));
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats).toMatchObject({ totalSuccesses: 6, tokens: 90, costUsd: undefined, unpricedCalls: 6 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("Unknown model 'acme-llm-unknown-7b'");
    const call = seen.find((e): e is CallEvent => e.type === 'call')!;
    expect(call.model).toBe('acme-llm-unknown-7b');
    expect(call.costUsd).toBeUndefined();
  });

  it('run events: node_start before the calls, runId shared by the run and its calls', async () => {
    const clock = new FakeClock();
    const seen: ThrottleEvent[] = [];
    const { node } = chatNode(clock, { onEvent: (e) => seen.push(e) }, [request(1), request(2)], () =>
      response(1, 1),
    );
    await runOnFakeClock(clock, node.run({}));
    expect(seen.map((e) => e.type)).toEqual(['node_start', 'call', 'call', 'progress', 'node_run']);
    const ids = new Set(seen.map((e) => e.runId));
    expect(ids.size).toBe(1);
    expect(seen[0]).toMatchObject({ type: 'node_start', node: 'Summarise', items: 2 });
  });
});
