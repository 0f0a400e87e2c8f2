import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { BatchNode, Node, ParallelBatchNode } from '../../src/index';
import { deferred, flush, outcome, type Deferred } from './helpers';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Shared {
  items: unknown;
  results?: unknown[];
}

function doubler(Base: typeof BatchNode) {
  return class extends Base {
    calls: unknown[] = [];
    override async prep(shared: Shared): Promise<number[] | undefined> {
      return shared.items as number[];
    }
    override async exec(item: unknown): Promise<unknown> {
      this.calls.push(item);
      return (item as number) * 2;
    }
    override async post(shared: Shared, _items: unknown[], results: unknown[]) {
      shared.results = results;
      return 'done';
    }
  };
}

describe.each([
  ['BatchNode', BatchNode],
  ['ParallelBatchNode', ParallelBatchNode],
] as [string, typeof BatchNode][])('%s', (_name, Base) => {
  const Doubler = doubler(Base);

  it('runs exec once per prep item and gives post the results in item order', async () => {
    const n = new Doubler();
    const shared: Shared = { items: [1, 2, 3] };
    await expect(n.run(shared)).resolves.toBe('done');
    expect(n.calls).toEqual([1, 2, 3]);
    expect(shared.results).toEqual([2, 4, 6]);
  });

  it.each([[undefined], [null], ['abc'], [{ length: 2 }], [5]])(
    'a prep that returns a non-array (%o) runs no exec and gives post []',
    async (items) => {
      const n = new Doubler();
      const shared: Shared = { items };
      await n.run(shared);
      expect(n.calls).toEqual([]);
      expect(shared.results).toEqual([]);
    },
  );

  it('retries each item on its own, with currentRetry starting at 0 for every item', async () => {
    const seen: [number, number][] = [];
    class N extends Base {
      override async prep() {
        return ['a', 'b'];
      }
      override async exec(item: unknown) {
        seen.push([item === 'a' ? 0 : 1, this.currentRetry]);
        if (item === 'a' && this.currentRetry < 1) throw new Error('a fails once');
        return item;
      }
    }
    await new N(3).run({});
    // Sort: ParallelBatchNode interleaves the items.
    expect(seen.sort()).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
  });

  it('calls execFallback per failing item, and the other items keep their results', async () => {
    const shared: Shared = { items: [1, 2, 3] };
    class N extends Doubler {
      override async exec(item: unknown) {
        if (item === 2) throw new Error('two');
        return super.exec(item);
      }
      override async execFallback(item: unknown, error: Error) {
        return `fallback(${String(item)}: ${error.message})`;
      }
    }
    await new N(2).run(shared);
    expect(shared.results).toEqual([2, 'fallback(2: two)', 6]);
  });

  it('rejects run with the original error of an item whose retries are exhausted', async () => {
    const original = new Error('item 2 broke');
    class N extends Doubler {
      override async exec(item: unknown) {
        if (item === 2) throw original;
        return super.exec(item);
      }
    }
    const shared: Shared = { items: [1, 2, 3] };
    await expect(new N(2).run(shared)).rejects.toBe(original);
    expect(shared.results).toBeUndefined();
  });

  it('is a Node with the same constructor forms', () => {
    const n = new Base({ maxRetries: 2, waitMs: 100 });
    expect(n).toBeInstanceOf(Node);
    expect([n.maxRetries, n.wait]).toEqual([2, 0.1]);
    expect(new Base(3, 1).maxRetries).toBe(3);
  });
});

describe('BatchNode (sequential)', () => {
  it('starts the next item only after the previous one finished', async () => {
    const gates: Deferred<void>[] = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    class N extends BatchNode {
      override async prep() {
        return [0, 1, 2];
      }
      override async exec(item: unknown) {
        started.push(item as number);
        await gates[item as number]!.promise;
        return item;
      }
    }
    const run = outcome(new N().run({}));
    await flush();
    expect(started).toEqual([0]);
    gates[0]!.resolve();
    await flush();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await expect(run).resolves.toMatchObject({ ok: true });
    expect(started).toEqual([0, 1, 2]);
  });

  it('stops at the first item that fails for good: later items do not run', async () => {
    const started: unknown[] = [];
    class N extends BatchNode {
      override async prep() {
        return ['a', 'b', 'c'];
      }
      override async exec(item: unknown) {
        started.push(item);
        if (item === 'b') throw new Error('b');
        return item;
      }
    }
    await expect(new N().run({})).rejects.toThrow('b');
    expect(started).toEqual(['a', 'b']);
  });

  it('waits between the tries of an item (fake timers)', async () => {
    vi.useFakeTimers();
    const tries: string[] = [];
    class N extends BatchNode {
      override async prep() {
        return ['x', 'y'];
      }
      override async exec(item: unknown) {
        tries.push(`${String(item)}${this.currentRetry}`);
        if (item === 'x' && this.currentRetry === 0) throw new Error('x once');
        return item;
      }
    }
    const run = outcome(new N(2, 3).run({}));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(tries).toEqual(['x0']);
    await vi.advanceTimersByTimeAsync(1);
    expect(tries).toEqual(['x0', 'x1', 'y0']);
    await expect(run).resolves.toMatchObject({ ok: true });
  });
});

describe('ParallelBatchNode', () => {
  it('starts every item before any finishes and keeps results in item order', async () => {
    const gates: Deferred<string>[] = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const shared: { results?: unknown } = {};
    class N extends ParallelBatchNode {
      override async prep() {
        return [0, 1, 2];
      }
      override async exec(item: unknown) {
        started.push(item as number);
        return gates[item as number]!.promise;
      }
      override async post(s: typeof shared, _items: unknown[], results: unknown[]) {
        s.results = results;
        return undefined;
      }
    }
    const run = outcome(new N().run(shared));
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[2]!.resolve('c');
    gates[0]!.resolve('a');
    gates[1]!.resolve('b');
    await run;
    expect(shared.results).toEqual(['a', 'b', 'c']);
  });

  it('is a BatchNode in throttleflow (pocketflow’s extends Node only), and behaves the same as pocketflow on a non-array prep', async () => {
    expect(new ParallelBatchNode()).toBeInstanceOf(BatchNode);
    const seen: unknown[] = [];
    // Both libraries' classes share pocketflow's shape; the cast only lets one loop subclass them all.
    const classes = [
      ParallelBatchNode,
      pf.ParallelBatchNode,
      BatchNode,
      pf.BatchNode,
    ] as unknown as (typeof pf.Node)[];
    for (const Cls of classes) {
      class N extends Cls {
        override async prep() {
          return 'not an array';
        }
        override async post(_s: unknown, _p: unknown, e: unknown) {
          seen.push(e);
          return undefined;
        }
      }
      await new N().run({});
    }
    expect(seen).toEqual([[], [], [], []]);
  });
});
