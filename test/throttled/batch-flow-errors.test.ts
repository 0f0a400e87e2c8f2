import { describe, expect, it } from 'vitest';
import { Node } from '../../src/index';
import { BatchFlowError, isBatchFlowError } from '../../src/errors/batch-flow-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledBatchFlow } from '../../src/throttled/throttled-batch-flow';
import { runOnFakeClock } from './support';

/** A node that fails for the ids in `failing`. */
function worker(clock: FakeClock, failing: Set<number>, ran: number[]) {
  return new (class extends Node<unknown, { id: number }> {
    override async exec() {
      await clock.sleep(100);
      ran.push(this.params.id);
      if (failing.has(this.params.id)) throw new Error(`boom ${this.params.id}`);
    }
  })();
}

const ids = (n: number) => Array.from({ length: n }, (_, id) => ({ id }));

describe('throttled batch flow failures', () => {
  it('never hides a failed sub-flow: the others finish, then run rejects with every failure listed', async () => {
    const clock = new FakeClock();
    const ran: number[] = [];
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(
      worker(clock, new Set([2, 5]), ran),
      { clock, maxConcurrentFlows: 3 },
    );
    flow.prep = async () => ids(8);
    const error = await runOnFakeClock(clock, flow.run({})).catch((e: unknown) => e);
    expect(isBatchFlowError(error)).toBe(true);
    const e = error as BatchFlowError<{ id: number }>;
    expect(e).toBeInstanceOf(AggregateError);
    expect(e.failures.map((f) => [f.index, f.params.id, (f.error as Error).message])).toEqual([
      [2, 2, 'boom 2'],
      [5, 5, 'boom 5'],
    ]);
    expect(e.errors).toHaveLength(2);
    expect(e.message).toContain('2 of 8 sub-flows failed');
    expect(ran.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(flow.stats).toMatchObject({ completedFlows: 6, failedFlows: 2, currentConcurrentFlows: 0 });
  });

  it("onError: 'collect' records failures instead of rejecting", async () => {
    const clock = new FakeClock();
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(worker(clock, new Set([1]), []), {
      clock,
      onError: 'collect',
    });
    flow.prep = async () => ids(4);
    await runOnFakeClock(clock, flow.run({}));
    expect(flow.failures.map((f) => f.index)).toEqual([1]);
    expect(flow.stats.failedFlows).toBe(1);
  });

  it('failFast stops starting sub-flows after the first failure and lists the unstarted ones as skipped', async () => {
    const clock = new FakeClock();
    const ran: number[] = [];
    const flow = new ThrottledBatchFlow<unknown, object, { id: number }>(worker(clock, new Set([0]), ran), {
      clock,
      maxConcurrentFlows: 2,
      failFast: true,
    });
    flow.prep = async () => ids(6);
    const error = (await runOnFakeClock(clock, flow.run({})).catch((e: unknown) => e)) as BatchFlowError<{
      id: number;
    }>;
    expect(error.failures.map((f) => f.index)).toEqual([0]);
    // 0 and 1 ran together; 0 failed, so nothing after them started.
    expect(ran.sort()).toEqual([0, 1]);
    expect(error.skipped.map((s) => s.index)).toEqual([2, 3, 4, 5]);
    expect(error.message).toContain('4 not started');
  });

  it('rejects bad options at construction, naming the option', () => {
    const start = new Node();
    expect(() => new ThrottledBatchFlow(start, { maxConcurrentFlows: 0 })).toThrow(
      'maxConcurrentFlows must be a positive integer, got 0',
    );
    expect(() => new ThrottledBatchFlow(start, { onError: 'ignore' as 'throw' })).toThrow(
      /onError must be one of 'throw', 'collect'/,
    );
    expect(() => new ThrottledBatchFlow(start, { maxFlowsPerMinut: 3 } as never)).toThrow(
      /did you mean 'maxFlowsPerMinute'/,
    );
  });
});
