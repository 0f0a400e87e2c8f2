/** A FIFO of items with O(1) push and shift (an array with a moving head, compacted as it drains). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}

/**
 * Waiters ordered by priority (higher first), first-in first-out within a priority.
 * The common single-priority case costs one FIFO.
 */
export class WaiterQueue<T extends { priority: number }> {
  /** Priorities present, highest first. */
  private priorities: number[] = [];
  private readonly lanes = new Map<number, Fifo<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    let lane = this.lanes.get(item.priority);
    if (!lane) {
      lane = new Fifo<T>();
      this.lanes.set(item.priority, lane);
      const at = this.priorities.findIndex((p) => p < item.priority);
      if (at === -1) this.priorities.push(item.priority);
      else this.priorities.splice(at, 0, item.priority);
    }
    lane.push(item);
    this.count++;
  }

  peek(): T | undefined {
    const top = this.priorities[0];
    return top === undefined ? undefined : this.lanes.get(top)!.peek();
  }

  shift(): T | undefined {
    const top = this.priorities[0];
    if (top === undefined) return undefined;
    const lane = this.lanes.get(top)!;
    const item = lane.shift();
    this.count--;
    if (lane.size === 0) {
      this.lanes.delete(top);
      this.priorities.shift();
    }
    return item;
  }

  /** Every waiter, in service order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const p of this.priorities) yield* this.lanes.get(p)!;
  }
}
