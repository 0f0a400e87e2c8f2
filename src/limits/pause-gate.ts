/**
 * The pause gate: nobody starts before `untilMs` (a provider's retry-after). A pause only ever
 * extends, never shortens, the one in force. It also remembers that a `resume` is owed, so the
 * limiter can announce the end of each pause exactly once.
 */
export class PauseGate {
  /** Clock reading until which nobody starts (0 = never paused). */
  untilMs = 0;
  private owed = false;

  /** Whether the gate is closed at `nowMs`. */
  isClosed(nowMs: number): boolean {
    return nowMs < this.untilMs;
  }

  /** Closes the gate until `untilMs`; returns false (and changes nothing) when a longer pause is in force. */
  extend(untilMs: number): boolean {
    if (!(untilMs > this.untilMs)) return false;
    this.untilMs = untilMs;
    this.owed = true;
    return true;
  }

  /** When the owed `resume` is due (Infinity when none is owed). */
  get resumeDueMs(): number {
    return this.owed ? this.untilMs : Infinity;
  }

  /** Returns true once per pause, at the first call at or after its end: time to announce `resume`. */
  takeResume(nowMs: number): boolean {
    if (!this.owed || nowMs < this.untilMs) return false;
    this.owed = false;
    return true;
  }
}
