/** An item with a deadline; the heap keeps its own position inside it for O(log n) removal. */
export interface DeadlineNode {
  /** Clock reading at which the item is due. */
  readonly deadlineMs: number;
  /** @internal position in the heap, -1 when in none. */
  heapIndex: number;
}

/**
 * A binary min-heap of deadlines (acquire timeouts), so one timer can serve them all: the limiter
 * sleeps until the earliest deadline (or until room appears, whichever comes first). Items know
 * their index, so a granted or aborted waiter leaves the heap in O(log n).
 */
export class DeadlineHeap<T extends DeadlineNode> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  /** Removes `item`; returns false when it was in no heap. */
  remove(item: T): boolean {
    const index = item.heapIndex;
    const items = this.items;
    if (index < 0 || items[index] !== item) return false;
    item.heapIndex = -1;
    const last = items.pop()!;
    if (last !== item) {
      items[index] = last;
      last.heapIndex = index;
      this.down(index);
      this.up(last.heapIndex);
    }
    return true;
  }

  private up(index: number): void {
    const items = this.items;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (parent.deadlineMs <= item.deadlineMs) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= n) break;
      if (child + 1 < n && items[child + 1]!.deadlineMs < items[child]!.deadlineMs) child++;
      const smaller = items[child]!;
      if (smaller.deadlineMs >= item.deadlineMs) break;
      items[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
