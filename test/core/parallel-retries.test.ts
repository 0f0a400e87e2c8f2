import * as pocketflow from 'pocketflow';
import { describe, expect, it } from 'vitest';
import { ParallelBatchNode } from '../../src/index';

/** Both items fail their first try and succeed on the second. */
function flakyNode<T extends new (maxRetries: number, wait: number) => object>(Base: T) {
  const tries = new Map<string, number>();
  const Cls = class extends (Base as unknown as new (
    maxRetries: number,
    wait: number,
  ) => pocketflow.ParallelBatchNode) {
    override async prep() {
      return ['a', 'b'];
    }
    override async exec(item: unknown) {
      const n = (tries.get(item as string) ?? 0) + 1;
      tries.set(item as string, n);
      await new Promise((r) => setTimeout(r, 1));
      if (n === 1) throw new Error(`first try of ${String(item)}`);
      return `${String(item)} ok`;
    }
    override async post(shared: { out?: unknown }, _p: unknown, out: unknown) {
      shared.out = out;
      return undefined;
    }
  };
  return { node: new Cls(2, 0), tries };
}

describe('deliberate fix: parallel batch items retry independently', () => {
  it("retries every item (pocketflow lets one item end the other item's retries)", async () => {
    const ours = flakyNode(ParallelBatchNode as never);
    const shared: { out?: unknown } = {};
    await ours.node.run(shared);
    expect(shared.out).toEqual(['a ok', 'b ok']);
    expect([...ours.tries.values()]).toEqual([2, 2]);

    const theirs = flakyNode(pocketflow.ParallelBatchNode as never);
    // pocketflow: the first item's retry moves the shared counter to the last try, so the second
    // item's first failure is treated as final and the run rejects although a retry was allowed.
    await expect(theirs.node.run({})).rejects.toThrow('first try of b');
    expect(theirs.tries.get('b')).toBe(1);
  });
});
