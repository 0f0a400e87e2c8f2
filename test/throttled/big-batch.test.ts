import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Node } from '../../src/core/node';
import { AbortFanOut } from '../../src/core/abort-fan-out';
import { isBatchFlowError } from '../../src/errors/batch-flow-error';
import { Limiter } from '../../src/limits/limiter';
import type { ProgressEvent, ThrottleEvent } from '../../src/observability/throttle-event';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledBatchFlow } from '../../src/throttled/throttled-batch-flow';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { lookAheadFor } from '../../src/core/lazy-dispatch';
import { FallbackNode } from '../../src/routing/fallback-node';
import { runOnFakeClock } from './support';

/** A node over `items` whose exec is `exec`; its results land in `out`. */
function batchNode<Item, Result>(items: Item[], exec: (item: Item) => Promise<Result>) {
  const out: { results?: Result[] } = {};
  class Batch extends ThrottledParallelBatchNode<unknown, Item, Result> {
    override async prep() {
      return items;
    }
    override async exec(item: Item) {
      return exec(item);
    }
    override async post(_s: unknown, _p: unknown, results: Result[]) {
      out.results = results;
      return undefined;
    }
  }
  return { Batch, out };
}

/** A flow over `count` param sets whose one node counts its runs. */
function countingFlow(count: number, onRun: (i: number) => Promise<void> | void = () => {}) {
  const params = Array.from({ length: count }, (_, i) => ({ i }));
  const seen = { runs: 0 };
  class Leaf extends Node {
    override async prep() {
      return (this.params as { i: number }).i;
    }
    override async exec(i: number) {
      seen.runs++;
      await onRun(i);
    }
  }
  class Users extends ThrottledBatchFlow {
    override async prep() {
      return params;
    }
  }
  return { Users, Leaf, seen };
}

/** Every process warning emitted while a test runs (MaxListenersExceededWarning and any other). */
let warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});
/** Warnings are emitted on a later tick: let them arrive before looking. */
const settleWarnings = () => new Promise((resolve) => setImmediate(resolve));

describe('lazy dispatch', () => {
  it('a node over 100k items never has more than concurrency + look-ahead waiters in its limiter queue', async () => {
    const limiter = new Limiter({ maxConcurrent: 50, warnings: false });
    let maxQueued = 0;
    limiter.on('queued', (e) => (maxQueued = Math.max(maxQueued, e.queued)));
    const n = 100_000;
    // Each call yields twice, so slots stay taken long enough for items to queue behind them.
    const { Batch, out } = batchNode(
      Array.from({ length: n }, (_, i) => i),
      async (i) => {
        await Promise.resolve();
        await Promise.resolve();
        return i * 2;
      },
    );
    await new Batch({ limiter }).run({});
    expect(out.results).toHaveLength(n);
    expect(out.results!.every((r, i) => r === i * 2)).toBe(true);
    // The queue was used (else the bound says nothing) and stayed within the look-ahead.
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(50 + lookAheadFor(50));
    expect(maxQueued).toBeLessThanOrEqual(lookAheadFor(50));
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0, totalRequests: n });
  });

  it('a flow over 100k param sets keeps its queue of sub-flows just as short', async () => {
    const { Users, Leaf, seen } = countingFlow(100_000, () => Promise.resolve());
    const flow = new Users(new Leaf(), { maxConcurrentFlows: 100 });
    let maxQueued = 0;
    flow.getLimiter().on('queued', (e) => (maxQueued = Math.max(maxQueued, e.queued)));
    await flow.run({});
    expect(seen.runs).toBe(100_000);
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(100 + lookAheadFor(100));
    expect(flow.stats).toMatchObject({ completedFlows: 100_000, currentConcurrentFlows: 0, queuedFlows: 0 });
  });

  it("a FallbackNode over 100k items keeps its targets' queues within the look-ahead", async () => {
    const a = new Limiter({ maxConcurrent: 20, warnings: false, name: 'a' });
    const b = new Limiter({ maxConcurrent: 30, warnings: false, name: 'b' });
    let maxQueued = 0;
    for (const limiter of [a, b])
      limiter.on('queued', () => (maxQueued = Math.max(maxQueued, a.stats().queued + b.stats().queued)));
    const n = 100_000;
    // Every 5th item fails on `a` and moves on to `b`; each call yields so slots stay taken a while.
    const call = (name: string) => async (i: number) => {
      await Promise.resolve();
      await Promise.resolve();
      if (name === 'a' && i % 5 === 0) throw new Error(`a cannot do ${i}`);
      return `${name}:${i}`;
    };
    let out: string[] = [];
    class Route extends FallbackNode<unknown, number, string> {
      override async prep() {
        return Array.from({ length: n }, (_, i) => i);
      }
      override async post(_s: unknown, _p: unknown, results: string[]) {
        out = results;
        return undefined;
      }
    }
    const node = new Route({
      targets: [
        { name: 'a', limiter: a, call: call('a') },
        { name: 'b', limiter: b, call: call('b') },
      ],
    });
    await node.run({});
    expect(out).toHaveLength(n);
    expect(out.every((r, i) => r === (i % 5 === 0 ? `b:${i}` : `a:${i}`))).toBe(true);
    // Without lazy dispatch all 100k would queue at `a` at once.
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(lookAheadFor(50));
    expect(node.stats).toMatchObject({ calls: n, served: n, fellBack: n / 5 });
    for (const limiter of [a, b]) expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
    // Every slot taken was given back: nothing of this chain holds one now.
    expect(node.chain.watchSlots({ hold() {}, unhold() {} })).toBe(0);
  });

  it('a FallbackNode run waits for every item, then rejects with the first failure in input order', async () => {
    const limiter = new Limiter({ maxConcurrent: 10, warnings: false });
    let running = 0;
    let ended = 0;
    class Route extends FallbackNode<unknown, number, number> {
      override async prep() {
        return Array.from({ length: 2_000 }, (_, i) => i);
      }
    }
    const call = async (i: number) => {
      running++;
      await Promise.resolve();
      running--;
      ended++;
      if (i === 1_500 || i === 700) throw new Error(`bad ${i}`);
      return i;
    };
    const node = new Route({ targets: [{ name: 'only', limiter, call }] });
    await expect(node.run({})).rejects.toThrow('bad 700');
    expect(running).toBe(0);
    expect(ended).toBe(2_000);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('keeps input order and ends every item as a result or an error', async () => {
    const { Batch, out } = batchNode(
      Array.from({ length: 5_000 }, (_, i) => i),
      async (i) => {
        if (i % 7 === 3) throw new Error(`bad ${i}`);
        return `ok ${i}`;
      },
    );
    class WithFallback extends Batch {
      override async execFallback(item: number, error: Error) {
        return `fallback ${item}: ${error.message}`;
      }
    }
    const node = new WithFallback({ maxConcurrent: 20, maxRetries: 2 });
    await node.run({});
    expect(out.results).toEqual(
      Array.from({ length: 5_000 }, (_, i) => (i % 7 === 3 ? `fallback ${i}: bad ${i}` : `ok ${i}`)),
    );
    expect(node.stats).toMatchObject({ active: 0, queued: 0 });
  });

  it('a run that fails rejects with the first failure in input order, after every item settled', async () => {
    let running = 0;
    const { Batch } = batchNode(
      Array.from({ length: 2_000 }, (_, i) => i),
      async (i) => {
        running++;
        await Promise.resolve();
        running--;
        if (i === 1_500 || i === 700) throw new Error(`bad ${i}`);
        return i;
      },
    );
    const node = new Batch({ maxConcurrent: 10 });
    await expect(node.run({})).rejects.toThrow('bad 700');
    expect(running).toBe(0);
    expect(node.stats).toMatchObject({ active: 0, queued: 0, totalSuccesses: 1_998 });
  });

  it('priorities still count: a high-priority node sharing the limiter is served ahead of a low one', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ maxConcurrent: 2, clock, warnings: false });
    const order: string[] = [];
    const make = (tag: string) =>
      batchNode(
        Array.from({ length: 300 }, (_, i) => i),
        async () => {
          await clock.sleep(10);
          order.push(tag);
        },
      ).Batch;
    const Low = make('low');
    const High = make('high');
    const low = new Low({ limiter, priority: 0 }).run({});
    const high = new High({ limiter, priority: 10 }).run({});
    await runOnFakeClock(clock, Promise.all([low, high]));
    const lastHigh = order.lastIndexOf('high');
    const lowBeforeLastHigh = order.slice(0, lastHigh).filter((t) => t === 'low').length;
    // Only the low calls already holding slots when the high node queued ran before it finished.
    expect(lowBeforeLastHigh).toBeLessThanOrEqual(2);
    expect(order).toHaveLength(600);
  });
});

describe('cancellation of big runs', () => {
  it('an abort settles a node of 50k items: the run rejects, nothing is held or queued', async () => {
    const controller = new AbortController();
    let calls = 0;
    const { Batch } = batchNode(
      Array.from({ length: 50_000 }, (_, i) => i),
      async (i) => {
        if (++calls === 1_000) controller.abort(new Error('cancelled by the user'));
        await Promise.resolve();
        return i;
      },
    );
    const node = new Batch({ maxConcurrent: 100 });
    await expect(node.run({}, { signal: controller.signal })).rejects.toThrow('cancelled by the user');
    expect(calls).toBeLessThan(50_000);
    expect(node.stats).toMatchObject({ active: 0, queued: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('stop() settles a flow of 50k param sets: running ones finish, the rest are skipped', async () => {
    const holder: { flow?: ThrottledBatchFlow } = {};
    const { Users, Leaf, seen } = countingFlow(50_000, async (i) => {
      if (i === 2_000) void holder.flow!.stop();
      await Promise.resolve();
    });
    const flow = (holder.flow = new Users(new Leaf(), { maxConcurrentFlows: 100, onError: 'collect' }));
    await flow.run({});
    const completed = flow.stats.completedFlows;
    expect(completed).toBe(seen.runs);
    expect(completed + flow.skipped.length).toBe(50_000);
    expect(flow.skipped.length).toBeGreaterThan(40_000);
    expect(flow.skipped.map((s) => s.index)).toEqual(
      [...flow.skipped.map((s) => s.index)].sort((a, b) => a - b),
    );
    expect(flow.stats).toMatchObject({ currentConcurrentFlows: 0, queuedFlows: 0, failedFlows: 0 });
  });

  it('failFast leaves the param sets after a failure unstarted and lists them as skipped', async () => {
    const { Users, Leaf, seen } = countingFlow(20_000, (i) => {
      if (i === 500) throw new Error('user 500 failed');
    });
    const flow = new Users(new Leaf(), { maxConcurrentFlows: 50, failFast: true });
    const error = await flow.run({}).catch((e: unknown) => e);
    expect(isBatchFlowError(error)).toBe(true);
    if (!isBatchFlowError(error)) return;
    expect(error.failures.map((f) => f.index)).toEqual([500]);
    expect(seen.runs + error.skipped.length).toBe(20_000);
    expect(seen.runs).toBeLessThan(1_000);
  });
});

describe('no process warning at any size', () => {
  it('a node of 20k items with a run signal, 1,000 at once', async () => {
    const controller = new AbortController();
    const { Batch, out } = batchNode(
      Array.from({ length: 20_000 }, (_, i) => i),
      async (i) => i,
    );
    await new Batch({ maxConcurrent: 1_000, timeoutMs: 60_000 }).run({}, { signal: controller.signal });
    await settleWarnings();
    expect(out.results).toHaveLength(20_000);
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a flow of 20k param sets, 1,000 at once, with and without a run signal', async () => {
    const { Users, Leaf, seen } = countingFlow(20_000, () => Promise.resolve());
    await new Users(new Leaf(), { maxConcurrentFlows: 1_000 }).run({});
    const controller = new AbortController();
    await new Users(new Leaf(), { maxConcurrentFlows: 1_000 }).run({}, { signal: controller.signal });
    await settleWarnings();
    expect(seen.runs).toBe(40_000);
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a flow of 5k param sets whose sub-flow is a throttled node with a run signal', async () => {
    const { Batch } = batchNode([1, 2, 3], async (i) => i);
    class Users extends ThrottledBatchFlow {
      override async prep() {
        return Array.from({ length: 5_000 }, (_, i) => ({ i }));
      }
    }
    const controller = new AbortController();
    await new Users(new Batch({ maxConcurrent: 3 }), { maxConcurrentFlows: 1_000 }).run(
      {},
      { signal: controller.signal },
    );
    await settleWarnings();
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a FallbackNode of 5k items with a run signal (one listener on it, removed at the end)', async () => {
    const limiter = new Limiter({ maxConcurrent: 100, warnings: false });
    let out: number[] = [];
    class Route extends FallbackNode<unknown, number, number> {
      override async prep() {
        return Array.from({ length: 5_000 }, (_, i) => i);
      }
      override async post(_s: unknown, _p: unknown, results: number[]) {
        out = results;
        return undefined;
      }
    }
    const node = new Route({ targets: [{ name: 'only', limiter, call: async (i: number) => i * 3 }] });
    const controller = new AbortController();
    await node.run({}, { signal: controller.signal });
    await settleWarnings();
    expect(out).toEqual(Array.from({ length: 5_000 }, (_, i) => i * 3));
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a FallbackNode run still aborts its items', async () => {
    const limiter = new Limiter({ maxConcurrent: 2, warnings: false });
    const controller = new AbortController();
    let calls = 0;
    class Route extends FallbackNode<unknown, number, number> {
      override async prep() {
        return Array.from({ length: 1_000 }, (_, i) => i);
      }
    }
    const call = async (i: number) => {
      if (++calls === 10) controller.abort(new Error('cancelled'));
      await Promise.resolve();
      return i;
    };
    const node = new Route({ targets: [{ name: 'only', limiter, call }] });
    await expect(node.run({}, { signal: controller.signal })).rejects.toThrow('cancelled');
    expect(calls).toBeLessThan(1_000);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });
});

describe('sub-flows without a copy of the flow per param set', () => {
  it("each sub-flow gets its own throttle scope and the run's cancellation", async () => {
    const seen: { scope: object | undefined; signal: AbortSignal | undefined }[] = [];
    class Leaf extends Node {
      override async exec() {
        seen.push({ scope: this.throttleScope, signal: this.signal });
      }
    }
    class Users extends ThrottledBatchFlow {
      override async prep() {
        return Array.from({ length: 50 }, (_, i) => ({ i }));
      }
    }
    const controller = new AbortController();
    await new Users(new Leaf(), { maxConcurrentFlows: 5 }).run({}, { signal: controller.signal });
    expect(seen).toHaveLength(50);
    expect(new Set(seen.map((s) => s.scope)).size).toBe(50);
    expect(seen.every((s) => s.signal !== undefined && s.signal !== controller.signal)).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a subclass that overrides _orchestrate still has it called per param set, on a copy carrying scope and signal', async () => {
    const calls: {
      scope: object | undefined;
      signal: AbortSignal | undefined;
      params: object | undefined;
    }[] = [];
    const leafScopes: (object | undefined)[] = [];
    class Leaf extends Node {
      override async exec() {
        leafScopes.push(this.throttleScope);
      }
    }
    class Users extends ThrottledBatchFlow {
      override async prep() {
        return Array.from({ length: 20 }, (_, i) => ({ i }));
      }
      protected override async _orchestrate(shared: unknown, params?: Record<string, unknown>) {
        calls.push({ scope: this.throttleScope, signal: this.signal, params });
        return await super._orchestrate(shared, params);
      }
    }
    const controller = new AbortController();
    const flow = new Users(new Leaf(), { maxConcurrentFlows: 4 });
    await flow.run({}, { signal: controller.signal });
    expect(calls.map((c) => (c.params as { i: number }).i).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(new Set(calls.map((c) => c.scope)).size).toBe(20);
    expect(calls.every((c) => c.signal !== undefined && c.signal !== controller.signal)).toBe(true);
    expect(new Set(leafScopes)).toEqual(new Set(calls.map((c) => c.scope)));
    // The flow the user holds was not changed by its sub-flows.
    expect(flow.throttleScope).toBeUndefined();
    expect(flow.signal).toBeUndefined();
  });
});

describe('AbortFanOut', () => {
  it('adds one listener per parent, aborts live children with the parent reason, removes its listeners', () => {
    const parent = new AbortController();
    const fanOut = new AbortFanOut([parent.signal, undefined]);
    const children = Array.from({ length: 100 }, () => fanOut.child()!);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    fanOut.release(children[0]);
    parent.abort(new Error('stop'));
    expect(children[0]!.signal.aborted).toBe(false);
    expect(
      children.slice(1).every((c) => c.signal.aborted && (c.signal.reason as Error).message === 'stop'),
    ).toBe(true);
    expect(fanOut.aborted).toBe(true);
    expect(fanOut.child()!.signal.aborted).toBe(true);
    fanOut.dispose();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(new AbortFanOut([]).child()).toBeUndefined();
  });

  it('with reuse, hands out a released child again, never an aborted one, and still aborts the live ones', () => {
    const parent = new AbortController();
    const fanOut = new AbortFanOut([parent.signal], true);
    const first = fanOut.child()!;
    fanOut.release(first);
    const second = fanOut.child()!;
    expect(second).toBe(first);
    second.abort(new Error('its own'));
    fanOut.release(second);
    const third = fanOut.child()!;
    expect(third).not.toBe(second);
    expect(third.signal.aborted).toBe(false);
    // Releasing twice does not put it in the spares twice.
    fanOut.release(third);
    fanOut.release(third);
    const [a, b] = [fanOut.child()!, fanOut.child()!];
    expect(a).toBe(third);
    expect(b).not.toBe(third);
    parent.abort(new Error('stop'));
    expect([a, b].every((c) => (c.signal.reason as Error).message === 'stop')).toBe(true);
    // After the parent's abort every child is born aborted.
    expect(fanOut.child()!.signal.aborted).toBe(true);
    fanOut.dispose();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it("a flow's waits for a slot leave no listener on a reused signal: the run still stops and aborts", async () => {
    const controller = new AbortController();
    const { Users, Leaf, seen } = countingFlow(10_000, async (i) => {
      if (i === 5_000) controller.abort(new Error('cancelled'));
      await Promise.resolve();
    });
    const flow = new Users(new Leaf(), { maxConcurrentFlows: 10, onError: 'collect' });
    await expect(flow.run({}, { signal: controller.signal })).resolves.toBeUndefined();
    // Param sets up to the abort ran, the rest failed or were never started; nothing stays queued.
    expect(seen.runs).toBeGreaterThanOrEqual(5_000);
    expect(seen.runs).toBeLessThan(10_000);
    expect(flow.stats).toMatchObject({ currentConcurrentFlows: 0, queuedFlows: 0 });
    expect(flow.getLimiter().stats()).toMatchObject({ active: 0, queued: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('progress events', () => {
  const isProgress = (e: ThrottleEvent): e is ProgressEvent => e.type === 'progress';

  it('a node reports done, failed, in flight and queued a few times per second, and a final event', async () => {
    const clock = new FakeClock();
    const events: ThrottleEvent[] = [];
    const { Batch } = batchNode(
      Array.from({ length: 100 }, (_, i) => i),
      async (i) => {
        await clock.sleep(100);
        if (i % 10 === 9) throw new Error('bad');
        return i;
      },
    );
    class Tolerant extends Batch {
      override async execFallback(): Promise<number> {
        return -1;
      }
    }
    const node = new Tolerant({ maxConcurrent: 5, clock, onEvent: (e) => events.push(e) });
    await runOnFakeClock(clock, node.run({}));
    const progress = events.filter(isProgress);
    // 100 items, 5 at a time, 100 ms each: 2 s of fake time, so about 8 events at 250 ms, plus the final one.
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.length).toBeLessThanOrEqual(10);
    for (const p of progress) {
      expect(p.done + p.failed + p.inFlight + p.queued).toBe(100);
      expect(p).toMatchObject({ kind: 'node', node: 'Tolerant', total: 100 });
      expect(p.inFlight).toBeLessThanOrEqual(5);
    }
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.elapsedMs - progress[i - 1]!.elapsedMs).toBeGreaterThanOrEqual(
        progress[i]!.final ? 0 : 250,
      );
      expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
    }
    const last = progress.at(-1)!;
    // execFallback's results count as done: the node ended every item with a result.
    expect(last).toMatchObject({
      final: true,
      done: 100,
      failed: 0,
      inFlight: 0,
      queued: 0,
      elapsedMs: 2_000,
    });
    expect(last.ratePerSec).toBeCloseTo(50, 5);
    expect(progress.slice(0, -1).every((p) => !p.final)).toBe(true);
    const runIds = new Set(events.map((e) => e.runId));
    expect(runIds.size).toBe(1);
  });

  it('a flow reports its param sets; failed and skipped ones count as failed', async () => {
    const clock = new FakeClock();
    const events: ThrottleEvent[] = [];
    const { Users, Leaf } = countingFlow(40, async (i) => {
      await clock.sleep(100);
      if (i === 3) throw new Error('bad');
    });
    const flow = new Users(new Leaf(), {
      maxConcurrentFlows: 4,
      clock,
      onError: 'collect',
      onEvent: (e) => events.push(e),
    });
    await runOnFakeClock(clock, flow.run({}));
    const progress = events.filter(isProgress);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({
      kind: 'flow',
      node: 'Users',
      total: 40,
      done: 39,
      failed: 1,
      inFlight: 0,
      queued: 0,
      final: true,
    });
    for (const p of progress) expect(p.done + p.failed + p.inFlight + p.queued).toBe(40);
  });

  it('a flow rejects a misspelt onEvent like any other option', () => {
    const { Users, Leaf } = countingFlow(1);
    expect(() => new Users(new Leaf(), { onEvent: 'log' as never })).toThrow(/onEvent/);
  });
});
