/** What {@link RedisBackend}'s calls take and answer (the store's handle translates to and from these). */

/** One window charged by an acquire: `cost` units of `resource` against `limit` per `windowMs`. */
export interface WindowCharge {
  readonly resource: string;
  /** Length of the window as the store enforces it (margin included), in ms. */
  readonly windowMs: number;
  readonly limit: number;
  /** Units this acquire charges to the window (0 charges nothing but still checks the gate). */
  readonly cost: number;
}

/**
 * A cost reconciled at release: the entry charged `charged` at acquire becomes
 * `max(0, charged + delta)` at its start time (or start + arrival lag) while still inside the
 * window; a lease charged 0 up front gets a positive delta as a new entry now.
 */
export interface WindowAdjustment {
  readonly resource: string;
  readonly windowMs: number;
  readonly charged: number;
  readonly delta: number;
}

/** What {@link RedisBackend.snapshot} reads. */
export interface BackendSnapshot {
  /** Live leases across every process. */
  active: number;
  /** Units held in each window now, in the order asked. */
  used: number[];
  /** Whole ms until the pause gate opens (0 = open). */
  pausedForMs: number;
}

/** When a released lease started (the acquire's `startedAt`) and how late its request arrived. */
export interface ReleaseTiming {
  /** The lease's `startedAt`, exactly as the acquire answered it: its window entries carry this score. */
  readonly startedAt: number;
  /** Counts the lease's window entries from `startedAt + arrivalLagMs` (ignored unless finite and > 0). */
  readonly arrivalLagMs?: number;
}

/** One window's reconcile at release, by window index. */
export interface IndexedAdjustment {
  readonly index: number;
  readonly charged: number;
  readonly delta: number;
}

/** Why an acquire was denied. */
export type DenyReason = 'paused' | 'window' | 'concurrency' | 'never';

/** The answer to one acquire attempt. */
export type AttemptResult =
  | {
      readonly granted: true;
      readonly leaseId: string;
      /** Start time, ms of Redis time. */ readonly startedAt: number;
    }
  | {
      readonly granted: false;
      /** Whole ms until the request can fit; for `'concurrency'` an upper bound (a release wakes sooner); -1 for `'never'`. */
      readonly waitMs: number;
      readonly reason: DenyReason;
      /** Index into the request's windows of the window that decided the wait (`'window'`, `'never'`). */
      readonly window?: number;
    };
