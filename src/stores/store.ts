/** A value now, or later: the in-memory store answers synchronously, remote stores asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** One sliding window as the store enforces it. */
export interface WindowSpec {
  /** What it counts: `'requests'`, `'tokens'`, or any name. */
  resource: string;
  /** Units allowed in any interval of `windowMs`. */
  limit: number;
  /** The window the store enforces (the configured window plus its safety margin). */
  windowMs: number;
}

/** A request to start one unit of work. */
export interface TryAcquireRequest {
  /** The limiter's clock reading (used by stores without a clock of their own). */
  nowMs: number;
  /** Identifies the lease in stores that track leases (remote stores); empty otherwise. */
  leaseId: string;
  /** Cost in each window, index for index with the bound windows. */
  costs: readonly number[];
  /** The concurrency limit in force (Infinity = none). */
  maxConcurrent: number;
}

/** Why an acquire was refused. */
export type RefusalReason = 'paused' | 'window' | 'concurrency';

/** The answer to {@link StoreHandle.tryAcquire}. */
export type TryAcquireResult =
  | {
      ok: true;
      /** Entry sequence numbers per window (for reconcile), -1 where the cost was 0. */
      entries: readonly number[];
    }
  | {
      ok: false;
      reason: RefusalReason;
      /** Exact milliseconds until the request could fit (Infinity when only a release can help). */
      waitMs: number;
    };

/** What a lease hands back when its work ends. */
export interface ReleaseRequest {
  nowMs: number;
  leaseId: string;
  /** The lease's entries, as returned by tryAcquire. */
  entries: readonly number[];
  /** Cost change per window (positive: charge more; negative: refund), or undefined for none. */
  deltas?: readonly number[];
}

/** A point-in-time view of one limiter's shared state. */
export interface StoreSnapshot {
  /** Leases held (across every process sharing the store). */
  active: number;
  /** Units used in each window now. */
  used: number[];
  /** Milliseconds until the pause ends (0 = not paused). */
  pausedForMs: number;
}

/**
 * One limiter's state inside a store. Each method is one atomic step: the limiter keeps the
 * policy (queue order, priorities, timeouts, when to retry) and the store only answers whether
 * a request fits now, so every store enforces exactly the same rules.
 */
export interface StoreHandle {
  /** Starts the work if the pause gate, every window and the concurrency limit allow it, all at once. */
  tryAcquire(request: TryAcquireRequest): MaybePromise<TryAcquireResult>;
  /** Frees the lease's concurrency slot and applies its reconcile deltas. */
  release(request: ReleaseRequest): MaybePromise<void>;
  /** Nobody starts for `durationMs` (extends, never shortens, a pause in force). */
  pause(nowMs: number, durationMs: number): MaybePromise<void>;
  /** The shared state now. */
  snapshot(nowMs: number): MaybePromise<StoreSnapshot>;
  /** A shared number (the AIMD level) that every process sharing the limiter reads and writes. */
  getLevel(): MaybePromise<number | undefined>;
  setLevel(level: number): MaybePromise<void>;
  /** Whether this store needs lease ids (remote stores reap leases of dead processes by id). */
  readonly tracksLeases: boolean;
}

/** Where limiters keep their state: in memory (the default) or shared, e.g. in Redis. */
export interface Store {
  /** The state of the limiter `name` with these windows (same name and windows = same budget). */
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle;
}
