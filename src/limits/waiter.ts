import type { DeadlineNode } from './deadline-heap';
import type { Lease } from './lease';
import { noop } from './maybe-promise';
import type { QueueLane, QueueNode } from './waiter-queue';

/**
 * Where an acquire that had to wait stands: `'queued'` waits its turn, `'trying'` waits for a
 * store that answers later to decide on it (it stays queued: it may be refused), `'done'` was
 * granted or rejected and is in no queue any more.
 */
export type WaiterState = 'queued' | 'trying' | 'done';

/** One acquire waiting for room. @internal */
export class Waiter implements QueueNode, DeadlineNode {
  qPrev: QueueNode | undefined = undefined;
  qNext: QueueNode | undefined = undefined;
  qLane: QueueLane | undefined = undefined;
  heapIndex = -1;
  state: WaiterState = 'queued';
  onAbort: (() => void) | undefined = undefined;
  resolve: (lease: Lease) => void = noop;
  reject: (error: unknown) => void = noop;

  constructor(
    readonly priority: number,
    readonly costs: readonly number[],
    readonly tokens: number,
    readonly enqueuedAtMs: number,
    /** Clock reading at which it times out (Infinity = never). */
    readonly deadlineMs: number,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

// Hands the new promise's resolvers to the waiter without a closure per acquire.
let capturing: Waiter | undefined;
function capture(resolve: (lease: Lease) => void, reject: (error: unknown) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/** A promise that `waiter.resolve` / `waiter.reject` settle. */
export function promiseOf(waiter: Waiter): Promise<Lease> {
  capturing = waiter;
  const promise = new Promise<Lease>(capture);
  capturing = undefined;
  return promise;
}
