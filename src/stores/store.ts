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

/**
 * A request to start one unit of work. Valid only during the call: a store that answers later
 * must copy what it needs before its first `await` (the limiter may reuse the object).
 */
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
      /**
       * Per window, whatever the store needs to find this lease's charge again at release
       * (opaque to the limiter; the memory store gives entry sequence numbers, -1 for no charge).
       */
      entries: readonly number[];
    }
  | {
      ok: false;
      /**
       * What refused: checked in this order, so the first closed gate decides (`'paused'`, then
       * `'window'`, then `'concurrency'`).
       */
      reason: RefusalReason;
      /**
       * Exact milliseconds until the request could fit. `Infinity` when only a release can help
       * (concurrency), or, with reason `'window'`, when the cost can never fit that window.
       */
      waitMs: number;
    };

/**
 * What a lease hands back when its work ends. Like {@link TryAcquireRequest}, valid only during
 * the call (copy what you need before the first `await`).
 */
export interface ReleaseRequest {
  nowMs: number;
  leaseId: string;
  /** The lease's entries, as returned by tryAcquire. */
  entries: readonly number[];
  /**
   * Cost change per window (positive: charge more; negative: refund), or undefined for none. The
   * new cost counts at the lease's start time, and only while that start is still inside the window.
   */
  deltas?: readonly number[];
  /**
   * How long after the lease started its request reached the provider, at the latest; the store
   * then counts this lease's window entries from `start + arrivalLagMs` instead of from `start`
   * (only ever later, never earlier; non-finite or non-positive values are ignored, and so are
   * entries already out of the window). Undefined: entries count from the start.
   */
  arrivalLagMs?: number;
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
 * One limiter's state inside a store. Each method is one atomic step on shared state: the limiter
 * keeps the policy (queue order, priorities, timeouts, aborts, when to try again) and the store only
 * answers whether one request fits now and, if it does, starts it — pause gate, every window and
 * the concurrency limit checked and charged together, in one call (one Lua script in Redis). So
 * every store enforces exactly the same rules, and the in-memory store is the reference.
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
  /**
   * Keeps every window entry counted `extraMs` longer: the learned delay between a start and its
   * arrival at the provider. A store may follow a smaller value later (the in-memory store does:
   * the lag is learned from recent calls, whose entries outlive their samples) or keep the largest
   * (the Redis store does); both are safe. Optional; without it only the static margin applies.
   */
  extendWindows?(extraMs: number): MaybePromise<void>;
  /**
   * Counts the lease's entries in the windows at `windowIndexes` from `lagMs` after their start
   * (only ever later, as a release's `arrivalLagMs` does, for every handle sharing the windows):
   * a request that opens a new connection reaches the provider late, and a pacing window's entry
   * may leave before the response could say so. Optional; without it a cold request's lag applies
   * only at its release, when a pacing window's entry has mostly left already.
   */
  delayEntries?(
    nowMs: number,
    entries: readonly number[],
    windowIndexes: readonly number[],
    lagMs: number,
  ): MaybePromise<void>;
  /**
   * Milliseconds until `costs` (index for index with the windows) could start, charging nothing:
   * the pause gate and every window, not concurrency; Infinity when a cost never fits. Optional,
   * read-only: routers ask it to compare limiters without taking capacity from those they do not
   * choose. Without it a limiter estimates from its queue and its last refusal.
   */
  waitMs?(nowMs: number, costs: readonly number[]): number;
  /**
   * Takes back charges the provider never counted (an attempt that failed before it arrived):
   * applies `deltas` to the lease's `entries` as a release's reconcile does, without touching
   * concurrency, for every handle sharing the windows. Called after the lease's release; `leaseId`
   * is the lease's id (a store that tracks leases finds its entries by it). A lease is refunded at
   * most once, and never by more than it still holds. Optional; without it such charges stay
   * until they leave the window.
   */
  refund?(
    nowMs: number,
    entries: readonly number[],
    deltas: readonly number[],
    leaseId?: string,
  ): MaybePromise<void>;
  /** Changes window `index`'s limit (learned from the provider). Optional. */
  setLimit?(index: number, limit: number): MaybePromise<void>;
  /** Whether this store needs lease ids (remote stores reap leases of dead processes by id). */
  readonly tracksLeases: boolean;
  /**
   * Whether other processes share this state (a remote store). Their first bursts land at the
   * provider together, on connections still being opened, so a limiter on such a store counts
   * each request it started before any response came back from when its response arrived
   * (unless the response said when the request arrived). Optional; absent means false.
   */
  readonly sharedAcrossProcesses?: boolean;
  /**
   * Optional: calls `onCapacity` whenever capacity may have been freed outside this limiter (another
   * process released or refunded), so the limiter tries its head waiter again at once instead of
   * waiting out a `waitMs`. Returns a function that unsubscribes. Stores whose state only this
   * limiter changes need not implement it.
   */
  subscribe?(onCapacity: () => void): () => void;
}

/** Where limiters keep their state: in memory (the default) or shared, e.g. in Redis. */
export interface Store {
  /**
   * The state of the limiter `name` with these windows. Within one store, limiters bound to the
   * same `name` share concurrency, the pause gate and the AIMD level, and share each window with
   * the same `resource` and `windowMs`.
   */
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle;
}
