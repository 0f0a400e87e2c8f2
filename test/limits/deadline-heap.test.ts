import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap, type DeadlineNode } from '../../src/limits/deadline-heap';

class Item implements DeadlineNode {
  heapIndex = -1;
  constructor(
    readonly id: number,
    readonly deadlineMs: number,
  ) {}
}

describe('DeadlineHeap', () => {
  it('gives the earliest deadline first', () => {
    const heap = new DeadlineHeap<Item>();
    for (const [id, at] of [
      [1, 50],
      [2, 10],
      [3, 30],
      [4, 10],
      [5, 70],
    ] as const)
      heap.push(new Item(id, at));
    const order: number[] = [];
    for (let first = heap.peek(); first; first = heap.peek()) {
      order.push(first.deadlineMs);
      heap.remove(first);
    }
    expect(order).toEqual([10, 10, 30, 50, 70]);
    expect(heap.size).toBe(0);
  });

  it('removes any item, and only once', () => {
    const heap = new DeadlineHeap<Item>();
    const items = [5, 1, 4, 2, 3].map((at, i) => new Item(i, at));
    for (const item of items) heap.push(item);
    expect(heap.remove(items[2]!)).toBe(true);
    expect(heap.remove(items[2]!)).toBe(false);
    expect(items[2]!.heapIndex).toBe(-1);
    expect(heap.size).toBe(4);
    expect(heap.peek()!.deadlineMs).toBe(1);
  });

  it('property: after any pushes and removals, peek is the minimum of what is left', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean()), { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 100 }),
        (ops, removals) => {
          const heap = new DeadlineHeap<Item>();
          const live = new Set<Item>();
          ops.forEach(([at, keep], i) => {
            const item = new Item(i, at);
            heap.push(item);
            live.add(item);
            if (!keep) {
              heap.remove(item);
              live.delete(item);
            }
          });
          for (const r of removals) {
            const all = [...live];
            if (all.length === 0) break;
            const victim = all[r % all.length]!;
            expect(heap.remove(victim)).toBe(true);
            live.delete(victim);
            expect(heap.size).toBe(live.size);
            const min = Math.min(...[...live].map((i) => i.deadlineMs));
            expect(heap.peek()?.deadlineMs ?? Infinity).toBe(min);
          }
        },
      ),
    );
  });
});
