import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { addEventHook, type ThrottleEvent } from '../../src/observability/throttle-event';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from './support';

const removers: (() => void)[] = [];
afterEach(() => removers.splice(0).forEach((r) => r()));

describe('throttled node events', () => {
  it('reports every call (outcome, wait, duration, tokens) and the run, to the node hook and global hooks', async () => {
    const clock = new FakeClock();
    const own: ThrottleEvent[] = [];
    const global: ThrottleEvent[] = [];
    removers.push(addEventHook((e) => global.push(e)));
    let first = true;
    class N extends ThrottledParallelBatchNode<unknown, number, { usage: { total_tokens: number } }> {
      override async prep() {
        return [1, 2];
      }
      override tokensFor() {
        return 10;
      }
      override async exec(i: number) {
        await clock.sleep(100 * i);
        if (i === 2 && first) {
          first = false;
          throw Object.assign(new Error('429'), { status: 429, headers: { 'retry-after-ms': '50' } });
        }
        return { usage: { total_tokens: 12 } };
      }
    }
    const node = new N({ clock, maxConcurrent: 1, onEvent: (e) => own.push(e) });
    await runOnFakeClock(clock, node.run({}));
    const calls = own.filter((e) => e.type === 'call');
    expect(calls.map((e) => e.outcome)).toEqual(['ok', 'rate_limited', 'ok']);
    expect(calls[0]).toMatchObject({
      node: 'N',
      durationMs: 100,
      waitMs: 0,
      tokensEstimated: 10,
      tokensUsed: 12,
      attempt: 0,
    });
    // The second item waited for the first (concurrency 1), then for the 50 ms pause after its 429.
    expect(calls[1]).toMatchObject({ waitMs: 100, durationMs: 200, tokensUsed: undefined });
    expect(calls[2]).toMatchObject({ waitMs: 50, attempt: 1 });
    expect(own.at(-1)).toMatchObject({ type: 'node_run', items: 2, durationMs: 550 });
    expect(global).toEqual(own);
  });

  it('a throwing hook does not break the run', async () => {
    const clock = new FakeClock();
    removers.push(
      addEventHook(() => {
        throw new Error('bad hook');
      }),
    );
    class N extends ThrottledParallelBatchNode<unknown, number, number> {
      override async prep() {
        return [1, 2, 3];
      }
      override async exec(i: number) {
        return i * 2;
      }
      override async post(shared: { out?: number[] }, _i: number[], out: number[]) {
        shared.out = out;
        return undefined;
      }
    }
    const shared: { out?: number[] } = {};
    await runOnFakeClock(clock, new N({ clock }).run(shared));
    expect(shared.out).toEqual([2, 4, 6]);
  });
});
