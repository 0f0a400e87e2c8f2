/** Payload of a limiter's `queued` event. @category Limiters */
export interface QueuedEvent {
  /** Acquires waiting now, this one included. */
  queued: number;
  /** The acquire's priority. */
  priority: number;
  /** The acquire's token estimate. */
  tokens: number;
}

/** Payload of a limiter's `acquire` event. @category Limiters */
export interface AcquireEvent {
  /** Leases held now, this one included. */
  active: number;
  /** How long the acquire waited (0 when it started at once). */
  waitedMs: number;
  priority: number;
  /** The token estimate charged. */
  tokens: number;
}

/** Payload of a limiter's `release` event. @category Limiters */
export interface ReleaseEvent {
  /** Leases held now. */
  active: number;
  /** How long the lease was held. */
  heldMs: number;
  /** The token estimate charged at acquire. */
  tokens: number;
  /** Real tokens reported at release, when given. */
  usedTokens: number | undefined;
}

/** Payload of a limiter's `pause` event. @category Limiters */
export interface PauseEvent {
  /** The pause asked for. */
  durationMs: number;
  /** Clock reading until which nobody starts. */
  untilMs: number;
  /** `'local'` for `pause()`/`reportRateLimit()`, `'store'` for a pause found in a shared store (set by another process). */
  origin: 'local' | 'store';
}

/** Payload of a limiter's `resume` event. @category Limiters */
export interface ResumeEvent {
  /** Clock reading at which the pause ended. */
  atMs: number;
}

/** Payload of a limiter's `resize` event. @category Limiters */
export interface ResizeEvent {
  from: number;
  to: number;
}

/** Payload of a limiter's `ratelimit` event (what `reportRateLimit` was told). @category Limiters */
export interface RateLimitEvent {
  /** The provider's retry-after, when known. */
  retryAfterMs: number | undefined;
  /** Who limited us: `'openai'`, `'my_api'`, … */
  source: string | undefined;
  /** `'rate_limit'`, `'overloaded'`, … */
  kind: string | undefined;
  /** Clock reading until which the limiter is paused now (0 when not paused). */
  pausedUntil: number;
}

/** Events a {@link Limiter} emits (eventemitter3, typed). @category Limiters */
export interface LimiterEvents {
  /** An acquire had to wait. */
  queued: [info: QueuedEvent];
  /** A lease was granted. */
  acquire: [info: AcquireEvent];
  /** A lease was released. */
  release: [info: ReleaseEvent];
  /** Nobody starts until `untilMs`. */
  pause: [info: PauseEvent];
  /** A pause ended. */
  resume: [info: ResumeEvent];
  /** The concurrency limit changed. */
  resize: [info: ResizeEvent];
  /** A provider rate limit was reported. */
  ratelimit: [info: RateLimitEvent];
  /** Nothing in flight and nobody waiting. */
  idle: [];
  /** A window's limit changed to the provider's own number (from response headers). */
  limit: [info: LimitChangeEvent];
  /**
   * A misconfiguration seen at run time (each code at most once per limiter; a throttled node's
   * own limiters count as one). Also printed with `console.warn` unless the limiter has
   * `warnings: false`.
   */
  warning: [info: LimiterWarningEvent];
}

/**
 * What a limiter warns about, once each:
 * - `'NO_TOKENS_CHARGED'`: it has a token window, but none of its first calls was charged tokens;
 * - `'NO_PROVIDER_HEADERS'`: it has windows, but none of its first calls' results or errors
 *   carried response headers for it to observe;
 * - `'LIMIT_ABOVE_PROVIDER'`: the provider answered a 429 while the limiter's windows had room.
 * @category Limiters
 */
export type LimiterWarningCode =
  'NO_TOKENS_CHARGED' | 'NO_PROVIDER_HEADERS' | 'LIMIT_ABOVE_PROVIDER' | 'FAILURES_COUNTED';

/** Payload of the `warning` event. @category Limiters */
export interface LimiterWarningEvent {
  /** Stable code, for filters and `switch`es. */
  code: LimiterWarningCode;
  /** What is wrong, what to do, and where the guide explains it (the text `console.warn` prints). */
  message: string;
  /** The limiter's name. */
  limiter: string;
  /** The guide's section on this warning, e.g. `docs/provider-feedback.md#no_tokens_charged`. */
  docs: string;
}

/** Payload of the `limit` event. @category Limiters */
export interface LimitChangeEvent {
  /** The window's resource (`'requests'`, `'tokens'`, …). */
  resource: string;
  /** The window's configured length. */
  windowMs: number;
  from: number;
  to: number;
  /** `'lowered'`: the provider's limit is below ours; `'learned'`: adopted by a `forProvider` limiter. */
  reason: 'lowered' | 'learned';
}
