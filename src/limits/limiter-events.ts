/** Events a {@link Limiter} emits (eventemitter3, typed). */
export interface LimiterEvents {
  /** An acquire had to wait. */
  queued: [info: { queued: number; priority: number }];
  /** A lease was granted after `waitedMs`. */
  acquire: [info: { active: number; waitedMs: number }];
  /** A lease was released after being held `heldMs`. */
  release: [info: { active: number; heldMs: number }];
  /** Nobody starts until `untilMs` (clock reading). */
  pause: [info: { durationMs: number; untilMs: number }];
  /** The first start after a pause. */
  resume: [];
  /** The concurrency limit changed. */
  resize: [info: { from: number; to: number }];
  /** A provider rate limit was reported. */
  ratelimit: [info: { retryAfterMs?: number; source?: string; kind?: string }];
  /** Nothing in flight and nobody waiting. */
  idle: [];
}
