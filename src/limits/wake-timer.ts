import type { Clock } from '../util/clock';
import { noop } from './maybe-promise';

/**
 * The limiter's one timer: it sleeps on the limiter's clock until the earliest moment something
 * can change (room for the head, a timeout, the end of a pause), so nothing polls.
 */
export class WakeTimer {
  private controller: AbortController | undefined;
  /** Clock reading the armed timer fires at (Infinity = none armed). */
  private atMs = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly onWake: () => void,
  ) {}

  /**
   * Fires `onWake` at clock reading `atMs` (Infinity disarms). A later timer already armed is
   * replaced; an earlier one is kept (it finds nothing to do, and the limiter arms again).
   */
  arm(atMs: number): void {
    if (atMs === Infinity) {
      this.cancel();
      return;
    }
    if (this.controller && this.atMs <= atMs) return;
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    this.atMs = atMs;
    this.clock
      .sleep(Math.max(0, atMs - this.clock.now()), controller.signal)
      .then(() => this.fire(controller), noop);
  }

  cancel(): void {
    if (!this.controller) return;
    const controller = this.controller;
    this.controller = undefined;
    this.atMs = Infinity;
    controller.abort();
  }

  private fire(controller: AbortController): void {
    // A sleep replaced or cancelled meanwhile may still resolve: only the current one counts.
    if (this.controller !== controller) return;
    this.controller = undefined;
    this.atMs = Infinity;
    this.onWake();
  }
}
