/**
 * The public option and stat types of {@link Limiter}, re-exported by './limiter' (import them
 * from there or from the package root).
 */
import type { LatencyPercentiles } from './limiter-metrics';

/** Options of one {@link Limiter.acquire}. @category Limiters */
export interface AcquireOptions {
  /**
   * Token estimate charged in full to token windows at the start (reconciled at release).
   * @default 0
   */
  tokens?: number;
  /**
   * Units charged to request windows.
   * @default 1
   */
  cost?: number;
  /**
   * Units for custom window resources, by resource name (e.g. `{ images: 2 }`).
   * @default {}
   */
  units?: Record<string, number>;
  /**
   * Higher goes first; equal priorities are first-in first-out.
   * @default 0
   */
  priority?: number;
  /**
   * Gives up waiting when aborted: the acquire rejects with the signal's reason (an `AbortError`
   * `DOMException` unless the signal carries its own).
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Gives up waiting after this long: the acquire rejects with `LimiterTimeoutError`. `0` means
   * "only if it can start at once".
   * @default undefined (wait as long as it takes)
   */
  timeoutMs?: number;
}

/** Options of {@link Limiter.run}. @category Limiters */
export interface RunOptions<T> extends AcquireOptions {
  /**
   * Real tokens used, read from the result, to reconcile the estimate at release. `fn` may also
   * call `lease.release({ tokens })` itself.
   * @default undefined (no reconcile)
   */
  usageOf?: (result: T) => number | undefined;
}

/** Options of {@link Limiter.wrap}. @category Limiters */
export type WrapOptions<A extends unknown[], T> = Omit<RunOptions<T>, 'tokens'> & {
  /** The token estimate of one call, from its arguments. @default undefined (0 tokens) */
  tokensFor?: (...args: A) => number | undefined;
};

/** Options of {@link Limiter.drain}. @category Limiters */
export interface DrainOptions {
  /**
   * What happens to acquires still waiting (not started): `'reject'` rejects them with
   * `ShutdownError` at once, as Bottleneck's `stop()` does; `'serve'` serves them first (their
   * work then counts as in flight). Work already started finishes either way.
   * @default 'reject'
   */
  queued?: 'reject' | 'serve';
}

/** What {@link Limiter.reportRateLimit} is told. @category Limiters */
export interface RateLimitReport {
  /**
   * How long the provider asked us to wait; the limiter pauses that long.
   * @default undefined (count and announce only, no pause)
   */
  retryAfterMs?: number;
  /**
   * Who limited us: `'openai'`, `'my_api'`, …
   * @default undefined
   */
  source?: string;
  /**
   * `'rate_limit'`, `'overloaded'`, …
   * @default undefined
   */
  kind?: string;
}

/** A snapshot of a limiter. @category Limiters */
export interface LimiterStats {
  name: string;
  /** The concurrency limit in force (Infinity = none). */
  maxConcurrent: number;
  /** Leases held now (for a shared store: across every process). */
  active: number;
  /** Acquires waiting now (in this process). */
  queued: number;
  /** Leases granted by this limiter since it was made. */
  totalRequests: number;
  /** Provider rate limits reported with `reportRateLimit`. */
  totalRateLimits: number;
  /** Slots free now (Infinity when unlimited). */
  availableSlots: number;
  /** Requests inside the shortest request window now (0 without one). */
  requestsInWindow: number;
  /** Tokens inside the shortest token window now (0 without one). */
  tokensInWindow: number;
  /** The largest fraction in use of any limit (concurrency or window), 0–1. */
  utilization: number;
  /** Clock reading until which nobody starts (0 = not paused). */
  pausedUntil: number;
  /** p50/p95/p99 ms leases were held; present while `LimiterMetrics` are attached (throttled nodes and the registry attach them). */
  latency?: LatencyPercentiles;
  /** p50/p95/p99 ms acquires waited; present while `LimiterMetrics` are attached. */
  queueWait?: LatencyPercentiles;
}
