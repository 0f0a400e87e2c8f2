import { FakeClock } from '../../src/testing/fake-clock';

/** Records when calls start and end (fake time) to check limits after a run. */
export class CallLog {
  readonly starts: number[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly clock: FakeClock) {}

  /** Wraps a call: counts it in flight from start to end. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.starts.push(this.clock.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await fn();
    } finally {
      this.inFlight--;
    }
  }

  /** The most starts in any half-open window of `windowMs`. */
  maxStartsInWindow(windowMs: number): number {
    const sorted = [...this.starts].sort((a, b) => a - b);
    let best = 0;
    let lo = 0;
    for (let hi = 0; hi < sorted.length; hi++) {
      // `start + windowMs <= t`, the limiter's own float comparison (`t - start >= windowMs` can differ by an ulp).
      while (sorted[lo]! + windowMs <= sorted[hi]!) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    return best;
  }
}

/** Runs `work` to completion on the fake clock, advancing time as sleepers need it. */
export async function runOnFakeClock<T>(clock: FakeClock, work: Promise<T>): Promise<T> {
  let settled = false;
  const tracked = work.finally(() => {
    settled = true;
  });
  tracked.catch(() => {}); // the caller sees the rejection through the returned promise

  let idleRounds = 0;
  while (!settled) {
    const passed = await clock.runAll();
    if (!settled && passed === 0 && clock.pendingSleeps === 0) {
      // Nothing sleeping and not finished: a hang (a lost wake-up) unless promise chains are still running.
      if (++idleRounds > 1000) throw new Error('work did not settle and nothing is sleeping: a lost wake-up');
      await new Promise((r) => setImmediate(r));
    } else {
      idleRounds = 0;
    }
  }
  return tracked;
}
