import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaiterQueue, type QueueLane, type QueueNode } from '../../src/limits/waiter-queue';

class Item implements QueueNode {
  qPrev: QueueNode | undefined = undefined;
  qNext: QueueNode | undefined = undefined;
  qLane: QueueLane | undefined = undefined;
  constructor(
    readonly id: string,
    readonly priority: number,
  ) {}
}

const ids = (q: WaiterQueue<Item>) => [...q].map((i) => i.id);

function drain(q: WaiterQueue<Item>): string[] {
  const out: string[] = [];
  for (let item = q.shift(); item; item = q.shift()) out.push(item.id);
  return out;
}

describe('WaiterQueue', () => {
  it('serves higher priority first, first-in first-out within a priority', () => {
    const q = new WaiterQueue<Item>();
    q.push(new Item('a0', 0));
    q.push(new Item('b5', 5));
    q.push(new Item('c0', 0));
    q.push(new Item('d-1', -1));
    q.push(new Item('e5', 5));
    q.push(new Item('f10', 10));
    q.push(new Item('g0', 0));
    expect(q.size).toBe(7);
    expect(q.peek()!.id).toBe('f10');
    expect(ids(q)).toEqual(['f10', 'b5', 'e5', 'a0', 'c0', 'g0', 'd-1']);
    expect(drain(q)).toEqual(['f10', 'b5', 'e5', 'a0', 'c0', 'g0', 'd-1']);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
    expect(q.shift()).toBeUndefined();
  });

  it('orders fractional and negative priorities too', () => {
    const q = new WaiterQueue<Item>();
    for (const [id, p] of [
      ['x', 0.5],
      ['y', -2.5],
      ['z', 0.25],
      ['w', 0.5],
    ] as const)
      q.push(new Item(id, p));
    expect(drain(q)).toEqual(['x', 'w', 'z', 'y']);
  });

  it('removes any item in O(1): head, middle, tail, the last of a lane', () => {
    const q = new WaiterQueue<Item>();
    const items = [new Item('a', 1), new Item('b', 1), new Item('c', 1), new Item('d', 0), new Item('e', 2)];
    for (const i of items) q.push(i);
    expect(q.remove(items[1]!)).toBe(true); // middle of lane 1
    expect(q.remove(items[4]!)).toBe(true); // only item of lane 2 (the head)
    expect(q.peek()!.id).toBe('a');
    expect(q.remove(items[0]!)).toBe(true); // head of lane 1
    expect(q.remove(items[3]!)).toBe(true); // tail of the whole queue
    expect(ids(q)).toEqual(['c']);
    expect(q.size).toBe(1);
    // Removing twice, or an item never queued, is a no-op that says so.
    expect(q.remove(items[0]!)).toBe(false);
    expect(q.remove(new Item('never', 0))).toBe(false);
    expect(q.size).toBe(1);
  });

  it('a removed item can be queued again, at the back of its lane', () => {
    const q = new WaiterQueue<Item>();
    const a = new Item('a', 0);
    q.push(a);
    q.push(new Item('b', 0));
    q.remove(a);
    q.push(a);
    expect(ids(q)).toEqual(['b', 'a']);
  });

  it('a lane emptied and refilled keeps its place in the priority order', () => {
    const q = new WaiterQueue<Item>();
    const high = new Item('h1', 3);
    q.push(new Item('l', 0));
    q.push(high);
    q.remove(high);
    q.push(new Item('m', 1));
    q.push(new Item('h2', 3));
    expect(ids(q)).toEqual(['h2', 'm', 'l']);
  });

  it('property: matches a stable sort by priority (desc) then arrival, under random pushes, shifts and removes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('push' as const), priority: fc.integer({ min: -3, max: 3 }) }),
            fc.record({ op: fc.constant('shift' as const) }),
            fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const q = new WaiterQueue<Item>();
          let model: { item: Item; arrival: number }[] = [];
          let arrival = 0;
          const order = () =>
            [...model]
              .sort((x, y) => y.item.priority - x.item.priority || x.arrival - y.arrival)
              .map((m) => m.item);
          for (const o of ops) {
            if (o.op === 'push') {
              const item = new Item(`i${arrival}`, o.priority);
              q.push(item);
              model.push({ item, arrival: arrival++ });
            } else if (o.op === 'shift') {
              const expected = order()[0];
              expect(q.shift()).toBe(expected);
              model = model.filter((m) => m.item !== expected);
            } else if (model.length > 0) {
              const victim = model[o.pick % model.length]!.item;
              expect(q.remove(victim)).toBe(true);
              model = model.filter((m) => m.item !== victim);
            }
            expect(q.size).toBe(model.length);
            expect([...q]).toEqual(order());
            expect(q.peek()).toBe(order()[0]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
