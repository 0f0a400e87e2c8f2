/**
 * The most items a run keeps waiting. More buys nothing (a freed slot is refilled from the queue
 * within a few microtasks) and costs: every waiting item is a chain of live promises the garbage
 * collector copies on each young-generation pass (measured: 1,024 made 100k no-op items ~3× slower than 64).
 */
const MAX_LOOK_AHEAD = 128;
/** The fewest items a run keeps waiting, so a small or adaptive limit always has someone to serve. */
const MIN_LOOK_AHEAD = 32;

/**
 * How many of a run's items may wait for a slot at once: as many as the limiter can start at once,
 * between 32 and 128, so slots freed together are refilled from the queue and a shared limiter
 * still sees enough of each caller's waiters for priorities to mean something.
 * @internal
 */
export function lookAheadFor(maxConcurrent: number): number {
  if (!Number.isFinite(maxConcurrent)) return MAX_LOOK_AHEAD;
  return Math.min(MAX_LOOK_AHEAD, Math.max(MIN_LOOK_AHEAD, Math.ceil(maxConcurrent)));
}

/** Told when a call takes a slot (its work is about to run) and when it gives it back. @internal */
export interface SlotWatcher {
  hold(): void;
  unhold(): void;
}

/**
 * Starts the items of a run lazily: an item starts only while fewer than `lookAhead` started
 * items are without a slot, so what exists at once is the items holding slots plus `lookAhead`
 * waiting ones — not one waiter per item. Items tell it when they take ({@link hold}) and give up
 * ({@link unhold}) a slot; retries and waits between tries count as waiting.
 * @internal
 */
export class LazyDispatch implements SlotWatcher {
  /** Items holding a slot now. */
  holding = 0;
  /** Items started and not yet ended. */
  unfinished = 0;
  private next = 0;
  private pumping = false;
  private pumpAgain = false;
  private halted = false;
  private resolveAll: () => void = () => {};
  private readonly onItemEnd = (): void => {
    this.unfinished--;
    this.pump();
  };

  /**
   * @param count - items in the run
   * @param lookAhead - items that may wait for a slot at once
   * @param runItem - runs one item; an async function that never rejects (it records its own outcome)
   * @param shouldHalt - asked before each start: true stops starting items for good (stop, failFast)
   */
  constructor(
    private readonly count: number,
    private readonly lookAhead: number,
    private readonly runItem: (index: number) => Promise<void>,
    private readonly shouldHalt: () => boolean = () => false,
  ) {}

  /** Items started so far; after a halt, those from here on never started. */
  get started(): number {
    return this.next;
  }

  /** Starts items and resolves once every started item has ended. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.resolveAll = resolve));
    this.pump();
    return done;
  }

  /** An item took a slot: another may start waiting. */
  hold(): void {
    this.holding++;
    this.pump();
  }

  /** An item gave its slot back (it ends, or waits again for a retry). */
  unhold(): void {
    this.holding--;
  }

  private pump(): void {
    // An item may take its slot while being started: the loop below picks that up, no recursion.
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    do {
      this.pumpAgain = false;
      while (!this.halted && this.next < this.count && this.unfinished - this.holding < this.lookAhead) {
        if (this.shouldHalt()) {
          this.halted = true;
          break;
        }
        this.unfinished++;
        this.runItem(this.next++).then(this.onItemEnd, this.onItemEnd);
      }
    } while (this.pumpAgain);
    this.pumping = false;
    if (this.unfinished === 0 && (this.halted || this.next >= this.count)) this.resolveAll();
  }
}
