import { abortReason, type Clock } from '../util/clock';
import { InvalidOptionError } from '../validation/options';

interface PendingSleep {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Lets promise chains started by a resolved sleep run before the clock moves again. */
async function settleMicrotasks(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
  }
}

/**
 * A manual clock for tests: time moves only when you call {@link FakeClock.advance} (or
 * {@link FakeClock.runAll}); sleepers wake in time order, each at its exact due time.
 *
 * @example
 * const clock = new FakeClock();
 * const limiter = new Limiter({ maxPerMinute: 10, clock });
 * await clock.advance(60_000);
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: PendingSleep[] = [];

  /** @param startMs the initial reading of `now()`. @default 0 */
  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Number of sleeps not yet due. */
  get pendingSleeps(): number {
    return this.pending.length;
  }

  /** When the next pending sleep is due (undefined when none is pending). */
  get nextDueAt(): number | undefined {
    return this.nextDue()?.at;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const entry: PendingSleep = {
        // As the real clock does, NaN or a negative delay means "now" (Math.max(0, NaN) is NaN: never due).
        at: this.current + (ms > 0 ? ms : 0),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.pending = this.pending.filter((p) => p !== entry);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push(entry);
    });
  }

  /**
   * Moves time forward by `ms`, waking every sleeper due on the way at its own due time, and lets
   * the work each wake-up triggers run (including new sleeps due within the same advance).
   */
  async advance(ms: number): Promise<void> {
    // Time never goes backwards (the Clock contract), and NaN or Infinity would poison every reading.
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new InvalidOptionError(
        'ms',
        `FakeClock.advance: ms must be a finite non-negative number, got ${String(ms)}`,
      );
    const target = this.current + ms;
    await settleMicrotasks();
    for (;;) {
      const next = this.nextDue();
      if (!next || next.at > target) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.current = Math.max(this.current, next.at);
      next.resolve();
      await settleMicrotasks();
    }
    this.current = target;
    await settleMicrotasks();
  }

  /** Sets the time to an absolute reading (never backwards), waking what is due. */
  async advanceTo(timeMs: number): Promise<void> {
    await this.advance(Math.max(0, timeMs - this.current));
  }

  /**
   * Advances until no sleep is pending (or `maxMs` of fake time has passed), so a whole run
   * can finish without knowing how long it takes. Returns the fake time that passed.
   */
  async runAll(maxMs = 24 * 60 * 60 * 1000): Promise<number> {
    const start = this.current;
    await settleMicrotasks();
    for (;;) {
      const next = this.nextDue();
      if (!next || next.at - start > maxMs) break;
      await this.advance(next.at - this.current);
    }
    return this.current - start;
  }

  private nextDue(): PendingSleep | undefined {
    let best: PendingSleep | undefined;
    for (const p of this.pending) {
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }
}
