import { AbortFanOut } from '../core/abort-fan-out';
import type { LazyDispatch } from '../core/lazy-dispatch';

/**
 * One run of a throttled batch flow, as its sub-flows see it: whether new sub-flows may still
 * start, the signals they wait and run with (one listener on each of the run's signals, however
 * many param sets), and the lazy dispatcher they tell when they take and give back a slot.
 * @internal
 */
export class FlowRun {
  /** The waits for a slot: they give up on the run's cancellation and on `stop()`. */
  readonly waits: AbortFanOut;
  /** The sub-flows themselves: cancelled with the run (a `stop()` lets running ones finish). */
  readonly runs: AbortFanOut;
  /** Set by `failFast` after a failure. */
  failed = false;
  dispatch: LazyDispatch | undefined;

  constructor(
    runSignal: AbortSignal | undefined,
    stopSignal: AbortSignal,
    private readonly stopped: () => boolean,
  ) {
    // Only the limiter sees a wait's signal, and it lets go of it when the wait ends: reused.
    this.waits = new AbortFanOut([runSignal, stopSignal], true);
    this.runs = new AbortFanOut([runSignal]);
  }

  /** Whether sub-flows not yet running should not start. */
  isStopped(): boolean {
    return this.failed || this.stopped();
  }

  /** Sub-flows holding a slot now. */
  get holding(): number {
    return this.dispatch?.holding ?? 0;
  }

  /** Removes the run's listeners from its signals. */
  dispose(): void {
    this.waits.dispose();
    this.runs.dispose();
  }
}
