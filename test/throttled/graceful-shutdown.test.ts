import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Node } from '../../src/index';
import { BatchFlowError } from '../../src/errors/batch-flow-error';
import { isRateLimitHit } from '../../src/errors/rate-limit-hit';
import { ShutdownError } from '../../src/errors/shutdown-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { drainOnShutdown } from '../../src/resilience/drain-on-shutdown';
import type { ShutdownProcess } from '../../src/resilience/shutdown-signals';
import { AdaptiveThrottledBatchFlow } from '../../src/throttled/adaptive-throttled-batch-flow';
import { ThrottledBatchFlow } from '../../src/throttled/throttled-batch-flow';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from './support';

/** Stands in for Node's `process`: the test sends signals and sees exits. */
class FakeProcess implements ShutdownProcess {
  private readonly emitter = new EventEmitter();
  readonly exit = vi.fn<(code?: number) => void>();
  on(event: string, listener: (signal: string) => void) {
    this.emitter.on(event, listener);
    return this;
  }
  removeListener(event: string, listener: (signal: string) => void) {
    this.emitter.removeListener(event, listener);
    return this;
  }
  kill(signal: string): void {
    this.emitter.emit(signal, signal);
  }
}

const uninstalls: (() => void)[] = [];
afterEach(() => {
  uninstalls.splice(0).forEach((u) => u());
  LimiterRegistry.clear();
});

/** A one-node sub-flow that takes `ms` and records the ids it started and finished. */
function step(clock: FakeClock, log: { started: number[]; finished: number[] }, ms = 100) {
  return new (class extends Node<unknown, { id: number }> {
    override async exec() {
      log.started.push(this.params.id);
      await clock.sleep(ms);
      log.finished.push(this.params.id);
    }
  })();
}

const ids = (n: number) => Array.from({ length: n }, (_, id) => ({ id }));

describe('flow.stop()', () => {
  it('starts no more sub-flows, lets running ones finish, and reports the unstarted ones as skipped', async () => {
    const clock = new FakeClock();
    const log = { started: [] as number[], finished: [] as number[] };
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(step(clock, log), {
      clock,
      maxConcurrentFlows: 2,
    });
    flow.prep = async () => ids(6);
    const run = flow.run({}).catch((e: unknown) => e);
    await clock.advance(150);
    expect(log.started).toEqual([0, 1, 2, 3]);
    const stopped = flow.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await clock.advance(0);
    expect(stopDone).toBe(false);
    expect(flow.isStopped).toBe(true);
    const error = (await runOnFakeClock(clock, run)) as BatchFlowError<{ id: number }>;
    await stopped;
    expect(error).toBeInstanceOf(BatchFlowError);
    expect(error.failures).toEqual([]);
    expect(error.skipped.map((s) => s.index)).toEqual([4, 5]);
    // Every sub-flow that started finished; none started after stop().
    expect(log.finished.sort()).toEqual([0, 1, 2, 3]);
    expect(clock.now()).toBe(200);
    expect(flow.stats).toMatchObject({
      completedFlows: 4,
      failedFlows: 0,
      currentConcurrentFlows: 0,
      queuedFlows: 0,
    });
  });

  it('does not wait out a rate window for sub-flows that will never start, and stays stopped', async () => {
    const clock = new FakeClock();
    const log = { started: [] as number[], finished: [] as number[] };
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(step(clock, log, 10), {
      clock,
      maxFlowsPerMinute: 2,
      onError: 'collect',
    });
    flow.prep = async () => ids(5);
    const run = flow.run({});
    await clock.advance(20);
    await flow.stop();
    await run;
    expect(clock.now()).toBe(20);
    expect(log.finished).toEqual([0, 1]);
    expect(flow.skipped.map((s) => s.index)).toEqual([2, 3, 4]);
    expect(await flow.stop()).toBeUndefined();
    await flow.run({});
    expect(flow.skipped).toHaveLength(8);
    expect(log.started).toEqual([0, 1]);
  });

  it('an adaptive flow stopped while a sub-flow waits to be retried after a rate limit reports that sub-flow as failed', async () => {
    const clock = new FakeClock();
    const limited = new (class extends Node<unknown, { id: number }> {
      override async exec() {
        await clock.sleep(10);
        if (this.params.id === 0)
          throw Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '10' } });
      }
    })();
    const flow = new AdaptiveThrottledBatchFlow<unknown, object, { id: number }>(limited, {
      clock,
      initialConcurrentFlows: 1,
      maxConcurrentFlows: 2,
    });
    flow.prep = async () => ids(2);
    const run = flow.run({}).catch((e: unknown) => e);
    await clock.advance(100);
    void flow.stop();
    const error = (await runOnFakeClock(clock, run)) as BatchFlowError<{ id: number }>;
    expect(error.failures.map((f) => f.index)).toEqual([0]);
    expect(isRateLimitHit(error.failures[0]!.error)).toBe(true);
    expect(error.skipped.map((s) => s.index)).toEqual([1]);
  });
});

describe('drainOnShutdown', () => {
  it('on SIGTERM, every call in flight and queued finishes before the process exits; new work is refused', async () => {
    const clock = new FakeClock();
    const proc = new FakeProcess();
    const limiter = new Limiter({ clock, maxConcurrent: 2, name: 'llm' });
    uninstalls.push(drainOnShutdown([limiter], { process: proc, clock }));
    const started: number[] = [];
    const finished: number[] = [];
    class N extends ThrottledParallelBatchNode<{ out?: number[] }, number, number> {
      override async prep() {
        return [1, 2, 3, 4, 5];
      }
      override async exec(i: number) {
        started.push(i);
        await clock.sleep(100);
        finished.push(i);
        return i * 10;
      }
      override async post(shared: { out?: number[] }, _i: number[], out: number[]) {
        shared.out = out;
        return undefined;
      }
    }
    const shared: { out?: number[] } = {};
    const run = new N({ limiter }).run(shared);
    await clock.advance(50);
    proc.kill('SIGTERM');
    await clock.advance(0);
    expect(proc.exit).not.toHaveBeenCalled();
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ShutdownError);
    await runOnFakeClock(clock, run);
    await clock.advance(0);
    expect(shared.out).toEqual([10, 20, 30, 40, 50]);
    expect(finished.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it("with queued: 'reject', the calls in flight finish and the queued ones are refused with ShutdownError", async () => {
    const clock = new FakeClock();
    const proc = new FakeProcess();
    const registry = new LimiterRegistry();
    const limiter = registry.register('llm', { clock, maxConcurrent: 2 });
    uninstalls.push(drainOnShutdown(['llm'], { registry, queued: 'reject', process: proc, clock }));
    const started: number[] = [];
    const finished: number[] = [];
    const calls = [1, 2, 3, 4].map((i) =>
      limiter.run(async () => {
        started.push(i);
        await clock.sleep(100);
        finished.push(i);
        return i;
      }),
    );
    await clock.advance(10);
    proc.kill('SIGINT');
    const results = await runOnFakeClock(clock, Promise.allSettled(calls));
    await clock.advance(0);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ShutdownError);
    expect(finished).toEqual(started);
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(0);
  });

  it('stops flows first: running sub-flows finish through the limiters, then those drain', async () => {
    const clock = new FakeClock();
    const proc = new FakeProcess();
    const registry = new LimiterRegistry();
    registry.register('llm', { clock, maxConcurrent: 3 });
    const started: number[] = [];
    const finished: number[] = [];
    // Each sub-flow makes two calls in a row through the shared limiter: the second comes after SIGTERM.
    class Calls extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [0, 1];
      }
      override async exec(i: number) {
        await clock.sleep(100);
        return i;
      }
    }
    const calls = new Calls({ limiter: 'llm', registry });
    const first = new (class extends Node<unknown, { id: number }> {
      override async exec() {
        started.push(this.params.id);
        await clock.sleep(100);
      }
    })();
    const last = new (class extends Node<unknown, { id: number }> {
      override async exec() {
        finished.push(this.params.id);
      }
    })();
    first.next(calls).next(last);
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(first, {
      clock,
      maxConcurrentFlows: 2,
    });
    flow.prep = async () => ids(5);
    uninstalls.push(drainOnShutdown(registry, { flows: [flow], process: proc, clock }));
    const run = flow.run({}).catch((e: unknown) => e);
    await clock.advance(50);
    proc.kill('SIGTERM');
    const error = (await runOnFakeClock(clock, run)) as BatchFlowError<{ id: number }>;
    await clock.advance(0);
    expect(started).toEqual([0, 1]);
    expect(finished.sort()).toEqual([0, 1]);
    expect(error.failures).toEqual([]);
    expect(error.skipped.map((s) => s.index)).toEqual([2, 3, 4]);
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(registry.get('llm').isDraining).toBe(true);
  });

  it('validates its arguments', () => {
    expect(() => drainOnShutdown([5 as unknown as Limiter])).toThrow(
      'limiters.0 must be a Limiter or a registered name, got 5',
    );
    expect(() => drainOnShutdown([], { queued: 'later' as 'finish' })).toThrow(
      /queued must be one of 'serve', 'reject', 'finish'/,
    );
    expect(() => drainOnShutdown([], { flows: [{}] as never })).toThrow(
      /flows\.0 must be something with stop\(\)/,
    );
    expect(() => drainOnShutdown([], { timeoutMs: -1, process: new FakeProcess() })).toThrow(
      /timeoutMs must be a positive number/,
    );
  });
});
