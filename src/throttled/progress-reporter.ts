import type { Clock } from '../util/clock';
import {
  emitEvent,
  hasEventHooks,
  PROGRESS_INTERVAL_MS,
  type EventHook,
  type ProgressEvent,
} from '../observability/throttle-event';

/**
 * Counts how a run's items end and sends `progress` events, at most one per
 * `PROGRESS_INTERVAL_MS` plus a final one. With no hook listening it only counts.
 * @internal
 */
export class ProgressReporter {
  done = 0;
  failed = 0;
  private readonly enabled: boolean;
  private readonly startedAtMs: number;
  private lastAtMs: number;
  private lastEnded = 0;

  constructor(
    private readonly subject: string,
    private readonly kind: ProgressEvent['kind'],
    private readonly runId: number,
    private readonly total: number,
    private readonly clock: Clock,
    private readonly hook: EventHook | undefined,
    private readonly inFlight: () => number,
  ) {
    // Read once per run: a run nobody watches pays one comparison per item.
    this.enabled = hasEventHooks(hook);
    this.startedAtMs = this.lastAtMs = this.enabled ? clock.now() : 0;
  }

  /** An item ended with a result. */
  succeeded(): void {
    this.done++;
    if (this.enabled) this.maybeSend();
  }

  /** An item ended with an error. */
  itemFailed(): void {
    this.failed++;
    if (this.enabled) this.maybeSend();
  }

  /** The run ended: the final event. `unstarted` items (a stop, an abort, failFast) count as failed. */
  finish(unstarted = 0): void {
    this.failed += unstarted;
    if (this.enabled) this.send(this.clock.now(), true);
  }

  private maybeSend(): void {
    const now = this.clock.now();
    if (now - this.lastAtMs >= PROGRESS_INTERVAL_MS) this.send(now, false);
  }

  private send(now: number, final: boolean): void {
    const ended = this.done + this.failed;
    const sinceMs = final ? now - this.startedAtMs : now - this.lastAtMs;
    const items = final ? ended : ended - this.lastEnded;
    const inFlight = this.inFlight();
    this.lastAtMs = now;
    this.lastEnded = ended;
    emitEvent(
      {
        type: 'progress',
        node: this.subject,
        kind: this.kind,
        runId: this.runId,
        total: this.total,
        done: this.done,
        failed: this.failed,
        inFlight,
        queued: Math.max(0, this.total - ended - inFlight),
        ratePerSec: sinceMs > 0 ? (items * 1000) / sinceMs : 0,
        elapsedMs: now - this.startedAtMs,
        final,
      },
      this.hook,
    );
  }
}
