import type { TryAcquireResult } from '../stores/store';

/** One try-acquire sent to a store that answers later. @internal */
export interface Attempt<W> {
  readonly waiter: W;
  readonly leaseId: string;
  /** Costs asked for (what a hand-back refunds). */
  readonly costs: readonly number[];
  /** Sent order, from 1. */
  readonly seq: number;
  settled: boolean;
  /** Clock reading when it was sent (the store decided later: its charge is no earlier than this). */
  readonly sentAtMs: number;
  /** Clock reading when the answer arrived (it may be applied later, behind a slower earlier one). */
  answeredAtMs: number;
  /** The store's answer, once settled without an error. */
  result: TryAcquireResult | undefined;
  /** Set when the store call failed. */
  failed: boolean;
  error: unknown;
  next: Attempt<W> | undefined;
}

/**
 * Try-acquires in flight to a store that answers asynchronously (Redis), several at once, applied
 * strictly in the order they were sent whatever order the store's promises settle in.
 *
 * Attempts are sent in queue order, so applying them in sent order grants in queue order. When one
 * is refused (or its grant must be handed back: a pause or a shrink learned meanwhile), the limiter
 * calls {@link breakOrder}: every attempt already sent is then applied as `doomed` — a grant is
 * handed back and its waiter stays queued — because it was sent behind a waiter that did not start.
 * Attempts sent after that walk the queue from its head again, so they need no such care.
 */
export class AttemptPipeline<W> {
  private first: Attempt<W> | undefined;
  private last: Attempt<W> | undefined;
  private count = 0;
  private seq = 0;
  /** Attempts with a lower seq are doomed (see {@link breakOrder}). */
  private doomBelow = 0;
  private applying = false;

  /**
   * @param now the limiter's clock.
   * @param apply called once per attempt, in sent order, when it and every earlier one settled.
   */
  constructor(
    private readonly now: () => number,
    private readonly apply: (attempt: Attempt<W>, doomed: boolean) => void,
  ) {}

  /** Attempts sent and not yet applied. */
  get size(): number {
    return this.count;
  }

  /** Sends (records) one attempt whose answer `answer` resolves. */
  send(waiter: W, leaseId: string, costs: readonly number[], answer: Promise<TryAcquireResult>): void {
    const attempt: Attempt<W> = {
      waiter,
      leaseId,
      costs,
      seq: ++this.seq,
      sentAtMs: this.now(),
      settled: false,
      answeredAtMs: 0,
      result: undefined,
      failed: false,
      error: undefined,
      next: undefined,
    };
    if (this.last) this.last.next = attempt;
    else this.first = attempt;
    this.last = attempt;
    this.count++;
    answer.then(
      (result) => {
        attempt.result = result;
        attempt.answeredAtMs = this.now();
        attempt.settled = true;
        this.flush();
      },
      (error: unknown) => {
        attempt.failed = true;
        attempt.error = error;
        attempt.answeredAtMs = this.now();
        attempt.settled = true;
        this.flush();
      },
    );
  }

  /** Every attempt sent so far and not applied yet will be applied as doomed. */
  breakOrder(): void {
    this.doomBelow = this.seq + 1;
  }

  /** Applies settled attempts from the front, stopping at the first one still waiting for its answer. */
  private flush(): void {
    if (this.applying) return;
    this.applying = true;
    try {
      for (let a = this.first; a !== undefined && a.settled; a = this.first) {
        this.first = a.next;
        if (!this.first) this.last = undefined;
        a.next = undefined;
        this.count--;
        this.apply(a, a.seq < this.doomBelow);
      }
    } finally {
      this.applying = false;
    }
  }
}
