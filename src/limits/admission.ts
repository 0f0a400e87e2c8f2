import type { MaybePromise } from '../stores/store';
import type { Lease } from './lease';
import type { AcquireOptions } from './limiter-types';

/**
 * How work gets past the store: one strategy per kind of store, so nothing else in the limiter
 * asks which kind it has.
 *
 * - {@link InlineAdmission}: the store answers at once (the in-memory store); waiters are tried
 *   one by one, right there, and a free limiter grants without a promise of its own.
 * - {@link PipelinedAdmission}: the store answers later (Redis); up to 64 try-acquires are in
 *   flight at once, applied strictly in the order they were sent.
 *
 * Both share the waiters and every policy that does not depend on the store (the
 * {@link WaitingRoom}). @internal
 */
export interface Admission {
  /**
   * Starts one acquire whose options are valid and whose costs fit: a `Lease` when it started at
   * once, else a promise of one (it queued). Throws what the acquire should reject with.
   */
  start(costs: readonly number[], options: AcquireOptions | undefined): Lease | Promise<Lease>;
  /**
   * Serves waiters from the head while they fit, then arms the wake timer. Called by
   * `WaitingRoom.pump` with `pumping` set; clears it when it stops.
   */
  serve(): void;
  /** Hands a lease's release (with its reconcile deltas) to the store. */
  release(
    nowMs: number,
    leaseId: string,
    entries: readonly number[],
    deltas: readonly number[] | undefined,
    arrivalLagMs: number | undefined,
  ): MaybePromise<void>;
}

/**
 * What keeps the head waiter from starting, as far as the last attempt told; decides which events
 * are worth trying it again.
 */
export type Blocked =
  /** Nothing known to block it: try it. */
  | 'none'
  /** Leases held fill the concurrency limit: a release helps. */
  | 'concurrency'
  /** A window is full until `roomAtMs`: only the timer or a refund helps. */
  | 'window'
  /** The pause gate is closed until `roomAtMs`. */
  | 'paused'
  /** Only try-acquires in flight fill the concurrency limit: any of them settling frees room. */
  | 'pipeline';
