/**
 * Every example of the reference cookbook (shared/reference/004), in TypeScript, on the fake clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Flow, Node } from '../../src/index';
import { RateLimitHit } from '../../src/errors/rate-limit-hit';
import { FakeClock } from '../../src/testing/fake-clock';
import { FlowPresets, Presets } from '../../src/index';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { AdaptiveThrottledBatchFlow } from '../../src/throttled/adaptive-throttled-batch-flow';
import { AdaptiveThrottledNode } from '../../src/throttled/adaptive-throttled-node';
import {
  ThrottledAsyncParallelBatchFlow,
  ThrottledBatchFlow,
} from '../../src/throttled/throttled-batch-flow';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { CallLog, runOnFakeClock } from './support';

afterEach(() => {
  LimiterRegistry.clear();
  vi.restoreAllMocks();
});

describe('node-level throttling', () => {
  it('basic translation: subclass fields limit concurrency and starts per minute, results keep order', async () => {
    const clock = new FakeClock();
    const log = new CallLog(clock);
    interface Shared {
      texts: string[];
      translations?: string[];
    }
    class TranslateNode extends ThrottledParallelBatchNode<Shared, string, string> {
      override maxConcurrent = 5;
      override maxPerMinute = 60;
      override clock = clock;
      override async prep(shared: Shared) {
        return shared.texts;
      }
      override async exec(text: string) {
        return log.track(async () => {
          await clock.sleep(300 + (text.length % 7) * 100);
          return `fr:${text}`;
        });
      }
      override async post(shared: Shared, _t: string[], out: string[]) {
        shared.translations = out;
        return 'default';
      }
    }
    const texts = Array.from({ length: 150 }, (_, i) => `text ${i}`);
    const shared: Shared = { texts };
    const node = new TranslateNode();
    await runOnFakeClock(clock, node.run(shared));
    expect(shared.translations).toEqual(texts.map((t) => `fr:${t}`));
    expect(log.maxInFlight).toBeLessThanOrEqual(5);
    expect(log.maxInFlight).toBe(5);
    expect(log.maxStartsInWindow(60_000)).toBeLessThanOrEqual(60);
    expect(node.stats.totalSuccesses).toBe(150);
    // 150 starts at 60 per minute need at least two full windows.
    expect(clock.now()).toBeGreaterThanOrEqual(120_000);
  });

  it('adaptive node: subclass fields set the AIMD range', async () => {
    const clock = new FakeClock();
    class SmartTranslateNode extends AdaptiveThrottledNode<unknown, string, string> {
      override initialConcurrent = 10;
      override minConcurrent = 2;
      override maxConcurrent = 50;
      override backoffFactor = 0.5;
      override recoveryThreshold = 10;
      override recoveryFactor = 1.2;
      override clock = clock;
      override async prep() {
        return Array.from({ length: 40 }, (_, i) => `t${i}`);
      }
      override async exec(text: string) {
        await clock.sleep(100);
        return text.toUpperCase();
      }
    }
    const node = new SmartTranslateNode();
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats.totalSuccesses).toBe(40);
    // 40 successes, threshold 10: the level grew from 10 each time, never past 50.
    expect(node.stats.currentConcurrent).toBeGreaterThan(10);
    expect(node.stats.currentConcurrent).toBeLessThanOrEqual(50);
  });

  it('presets by spread and as subclass fields', async () => {
    const byOptions = new ThrottledParallelBatchNode({ ...Presets.OPENAI_TIER1 });
    expect(byOptions.stats.maxConcurrent).toBe(5);
    class MyNode extends ThrottledParallelBatchNode {
      override maxConcurrent = Presets.ANTHROPIC_STANDARD.maxConcurrent;
      override maxPerMinute = Presets.ANTHROPIC_STANDARD.maxPerMinute;
    }
    const byFields = new MyNode();
    expect(byFields.stats.maxConcurrent).toBe(5);
    expect(() => new ThrottledParallelBatchNode({ maxPerMinute: -3 })).toThrow(
      'maxPerMinute must be a positive integer, got -3',
    );
  });
});

describe('flow-level throttling', () => {
  it('flow throttle over 1000 user ids: 10 at a time, 60 starts per minute, every user done', async () => {
    const clock = new FakeClock();
    const log = new CallLog(clock);
    interface Shared {
      userIds: number[];
      users?: Record<number, string>;
      processed?: number[];
    }
    class FetchUserNode extends Node<Shared, { userId: number }> {
      override async exec() {
        return log.track(async () => {
          await clock.sleep(200);
          return `user-${this.params.userId}`;
        });
      }
      override async post(shared: Shared, _p: unknown, user: unknown) {
        (shared.users ??= {})[this.params.userId] = user as string;
        return 'process';
      }
    }
    class ProcessUserNode extends Node<Shared, { userId: number }> {
      override async exec() {
        await clock.sleep(300);
      }
      override async post(shared: Shared) {
        (shared.processed ??= []).push(this.params.userId);
        return undefined;
      }
    }
    const fetch = new FetchUserNode();
    fetch.on('process', new ProcessUserNode());
    class UserProcessingFlow extends ThrottledAsyncParallelBatchFlow<Shared> {
      override maxConcurrentFlows = 10;
      override maxFlowsPerMinute = 60;
      override clock = clock;
      override async prep(shared: Shared) {
        return shared.userIds.map((userId) => ({ userId }));
      }
    }
    const flow = new UserProcessingFlow(fetch);
    const shared: Shared = { userIds: Array.from({ length: 1000 }, (_, i) => i) };
    await runOnFakeClock(clock, flow.run(shared));
    expect(Object.keys(shared.users!)).toHaveLength(1000);
    expect(new Set(shared.processed)).toEqual(new Set(shared.userIds));
    expect(log.maxInFlight).toBeLessThanOrEqual(10);
    expect(log.maxStartsInWindow(60_000)).toBeLessThanOrEqual(60);
    expect(flow.stats).toMatchObject({
      maxConcurrentFlows: 10,
      maxFlowsPerMinute: 60,
      completedFlows: 1000,
      failedFlows: 0,
      currentConcurrentFlows: 0,
    });
  });

  it('parameterized flows: each sub-flow sees the flow params merged with its own', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    class Greet extends Node<unknown, { lang: string; userId: number }> {
      override async exec() {
        seen.push(`${this.params.lang}:${this.params.userId}`);
      }
    }
    const flow = new ThrottledBatchFlow<unknown, { lang: string }, { userId: number }>(new Greet(), {
      ...FlowPresets.BATCH_PROCESSING,
      clock,
    });
    flow.prep = async () => [{ userId: 1 }, { userId: 2 }, { userId: 3 }];
    flow.setParams({ lang: 'fr' });
    await runOnFakeClock(clock, flow.run({}));
    expect(seen.sort()).toEqual(['fr:1', 'fr:2', 'fr:3']);
  });

  it('adaptive flow: sub-flows that raise RateLimitHit are retried after the retry-after and counted', async () => {
    const clock = new FakeClock();
    const attempts = new Map<number, number>();
    const done = new Set<number>();
    class APINode extends Node<unknown, { userId: number }> {
      override async exec() {
        const id = this.params.userId;
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        await clock.sleep(100);
        if (id % 10 === 0 && n === 1)
          throw new RateLimitHit('API rate limit exceeded', { retryAfterMs: 2000, source: 'my_api' });
        done.add(id);
      }
    }
    class SmartUserFlow extends AdaptiveThrottledBatchFlow<{ userIds: number[] }> {
      override initialConcurrentFlows = 20;
      override minConcurrentFlows = 2;
      override maxConcurrentFlows = 50;
      override backoffFactor = 0.5;
      override recoveryThreshold = 15;
      override recoveryFactor = 1.3;
      override clock = clock;
      override async prep(shared: { userIds: number[] }) {
        return shared.userIds.map((userId) => ({ userId }));
      }
    }
    const flow = new SmartUserFlow(new APINode());
    await runOnFakeClock(clock, flow.run({ userIds: Array.from({ length: 500 }, (_, i) => i) }));
    expect(done.size).toBe(500);
    expect(flow.stats.totalRateLimits).toBe(50);
    expect(flow.stats.completedFlows).toBe(500);
    expect(flow.stats.failedFlows).toBe(0);
  });

  it('nested flow + node: 5 flows × 3 calls each = at most 15 in flight, at most 3 per user', async () => {
    const clock = new FakeClock();
    const log = new CallLog(clock);
    const perUser = new Map<number, { now: number; max: number }>();
    class FetchUserDataNode extends ThrottledParallelBatchNode<unknown, string, string, { userId: number }> {
      override maxConcurrent = 3;
      override maxPerMinute = 30;
      override clock = clock;
      override async prep() {
        const id = this.params.userId;
        return ['profile', 'orders', 'preferences', 'invoices', 'tickets'].map((p) => `/users/${id}/${p}`);
      }
      override async exec(endpoint: string) {
        const id = this.params.userId;
        const u = perUser.get(id) ?? { now: 0, max: 0 };
        perUser.set(id, u);
        u.now++;
        u.max = Math.max(u.max, u.now);
        try {
          return await log.track(async () => {
            await clock.sleep(250);
            return endpoint;
          });
        } finally {
          u.now--;
        }
      }
    }
    class UserBatchFlow extends ThrottledBatchFlow<{ userIds: number[] }> {
      override maxConcurrentFlows = 5;
      override clock = clock;
      override async prep(shared: { userIds: number[] }) {
        return shared.userIds.map((userId) => ({ userId }));
      }
    }
    const flow = new UserBatchFlow(new FetchUserDataNode());
    await runOnFakeClock(clock, flow.run({ userIds: Array.from({ length: 100 }, (_, i) => i) }));
    expect(log.starts).toHaveLength(500);
    expect(log.maxInFlight).toBe(15);
    expect(Math.max(...[...perUser.values()].map((u) => u.max))).toBe(3);
    expect(flow.stats.completedFlows).toBe(100);
  });

  it('a throttled flow nested in a plain Flow returns an action the parent branches on', async () => {
    const clock = new FakeClock();
    const trail: string[] = [];
    class Work extends Node {
      override async exec() {
        await clock.sleep(10);
      }
    }
    class Batch extends ThrottledBatchFlow<{ n: number }> {
      override clock = clock;
      override async prep(shared: { n: number }) {
        return Array.from({ length: shared.n }, (_, i) => ({ i }));
      }
      override async post() {
        return 'batched';
      }
    }
    class Mark extends Node {
      constructor(private readonly label: string) {
        super();
      }
      override async post() {
        trail.push(this.label);
        return undefined;
      }
    }
    const batch = new Batch(new Work());
    batch.on('batched', new Mark('after-batch'));
    batch.on('default', new Mark('wrong'));
    await runOnFakeClock(clock, new Flow(batch).run({ n: 7 }));
    expect(trail).toEqual(['after-batch']);
    expect(batch.stats.completedFlows).toBe(7);
  });
});

describe('shared limiters', () => {
  it('two nodes on one registered limiter never exceed its concurrency together', async () => {
    const clock = new FakeClock();
    LimiterRegistry.register('openai', { maxConcurrent: 10, maxPerWindow: 60, windowMs: 60_000, clock });
    const log = new CallLog(clock);
    class Caller extends ThrottledParallelBatchNode<unknown, number, number> {
      override limiter = 'openai';
      override async prep() {
        return Array.from({ length: 50 }, (_, i) => i);
      }
      override async exec(i: number) {
        return log.track(async () => {
          await clock.sleep(500 + (i % 5) * 100);
          return i;
        });
      }
    }
    const a = new Caller();
    const b = new Caller();
    await runOnFakeClock(clock, Promise.all([a.run({}), b.run({})]));
    expect(log.starts).toHaveLength(100);
    expect(log.maxInFlight).toBe(10);
    expect(log.maxStartsInWindow(60_000)).toBeLessThanOrEqual(60);
    expect(LimiterRegistry.get('openai').stats().totalRequests).toBe(100);
  });

  it("the reference cookbook's `async with` form: limiter.run around a call in a plain node", async () => {
    const clock = new FakeClock();
    LimiterRegistry.register('openai', { maxConcurrent: 2, maxPerWindow: 60, clock });
    LimiterRegistry.register('anthropic', { maxConcurrent: 1, maxPerWindow: 50, clock });
    const log = new CallLog(clock);
    class MultiAPINode extends Node<unknown, { i: number }> {
      override async exec() {
        const a = await LimiterRegistry.get('openai').run(() => log.track(() => clock.sleep(100)));
        const b = await LimiterRegistry.get('anthropic').run(() => clock.sleep(100));
        return [a, b];
      }
    }
    const flow = new ThrottledBatchFlow(new MultiAPINode(), { clock, maxConcurrentFlows: 10 });
    flow.prep = async () => Array.from({ length: 12 }, (_, i) => ({ i }));
    await runOnFakeClock(clock, flow.run({}));
    expect(log.maxInFlight).toBe(2);
    expect(LimiterRegistry.get('anthropic').stats().totalRequests).toBe(12);
  });

  it('lazy registration: getOrCreate makes one limiter and warns once when options differ', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const first = LimiterRegistry.getOrCreate('my_api', { maxConcurrent: 10, maxPerWindow: 100 });
    expect(LimiterRegistry.getOrCreate('my_api', { maxConcurrent: 10, maxPerWindow: 100 })).toBe(first);
    expect(warn).not.toHaveBeenCalled();
    expect(LimiterRegistry.getOrCreate('my_api', { maxConcurrent: 3 })).toBe(first);
    expect(LimiterRegistry.getOrCreate('my_api', { maxConcurrent: 4 })).toBe(first);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("'my_api'");
  });
});
