/**
 * The links a {@link WaiterQueue} keeps inside each of its items (an intrusive list), so that
 * pushing, taking the head and removing any item are O(1) with no allocation per item.
 */
export interface QueueNode {
  /** Higher is served first. */
  readonly priority: number;
  /** @internal */
  qPrev: QueueNode | undefined;
  /** @internal */
  qNext: QueueNode | undefined;
  /** @internal the lane holding the node; undefined when the node is in no queue. */
  qLane: QueueLane | undefined;
}

/** The waiters of one priority, first-in first-out. @internal */
export interface QueueLane {
  readonly priority: number;
  head: QueueNode | undefined;
  tail: QueueNode | undefined;
}

/**
 * Waiters ordered by priority (higher first), first-in first-out within a priority.
 *
 * Each priority has its own doubly linked list; the lanes are kept sorted (there are few distinct
 * priorities in practice, so finding a lane for a new priority is a short scan). Removing an item
 * (an abort or a timeout) unlinks it at once, so a cancelled waiter holds no memory.
 */
export class WaiterQueue<T extends QueueNode> {
  /** Lanes, highest priority first. */
  private lanes: QueueLane[] = [];
  /** The lane for priority 0 (by far the most common) or the last one used, to skip the search. */
  private lastLane: QueueLane | undefined;
  private count = 0;

  /** Items waiting. */
  get size(): number {
    return this.count;
  }

  /** Adds `item` behind every item of a higher or equal priority. */
  push(item: T): void {
    const lane = this.laneFor(item.priority);
    item.qLane = lane;
    item.qNext = undefined;
    item.qPrev = lane.tail;
    if (lane.tail) lane.tail.qNext = item;
    else lane.head = item;
    lane.tail = item;
    this.count++;
  }

  /** The item served next, without removing it. */
  peek(): T | undefined {
    return this.lanes[0]?.head as T | undefined;
  }

  /** The item served right after `item`, or undefined when it is the last (or in no queue). */
  after(item: T): T | undefined {
    if (item.qNext) return item.qNext as T;
    const lane = item.qLane;
    if (!lane) return undefined;
    // Few lanes in practice: a short scan.
    return this.lanes[this.lanes.indexOf(lane) + 1]?.head as T | undefined;
  }

  /** Removes and returns the item served next. */
  shift(): T | undefined {
    const head = this.peek();
    if (head) this.remove(head);
    return head;
  }

  /** Removes `item` wherever it is; returns false when it was in no queue. O(1) (plus dropping an emptied lane). */
  remove(item: T): boolean {
    const lane = item.qLane;
    if (!lane) return false;
    if (item.qPrev) item.qPrev.qNext = item.qNext;
    else lane.head = item.qNext;
    if (item.qNext) item.qNext.qPrev = item.qPrev;
    else lane.tail = item.qPrev;
    item.qPrev = item.qNext = item.qLane = undefined;
    this.count--;
    if (!lane.head) {
      this.lanes.splice(this.lanes.indexOf(lane), 1);
      if (this.lastLane === lane) this.lastLane = undefined;
    }
    return true;
  }

  /** Every item, in service order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const lane of this.lanes) {
      for (let node = lane.head; node; node = node.qNext) yield node as T;
    }
  }

  private laneFor(priority: number): QueueLane {
    const last = this.lastLane;
    if (last && last.priority === priority) return last;
    const lanes = this.lanes;
    let at = 0;
    while (at < lanes.length && lanes[at]!.priority > priority) at++;
    let lane = lanes[at];
    if (!lane || lane.priority !== priority) {
      lane = { priority, head: undefined, tail: undefined };
      lanes.splice(at, 0, lane);
    }
    this.lastLane = lane;
    return lane;
  }
}
