import type { CostTable } from './acquire-costs';
import { isPromise, noop } from './maybe-promise';
import type { ResolvedWindow } from './limiter-options';
import type { AcquireOptions } from './limiter-types';
import type { WaitingRoom } from './waiting-room';

/** The cost options an estimate looks at (the rest of an acquire's options do not change when it fits). */
export type EstimateOptions = Pick<AcquireOptions, 'tokens' | 'cost' | 'units'>;

/**
 * How long an acquire of this cost would probably wait if it were made now, in milliseconds,
 * read-only: the store is not asked to charge anything and nothing queues, so a router can compare
 * limiters without taking capacity from those it does not choose. Infinity when it can never start
 * (draining, or a cost above a window's limit).
 *
 * What it knows: a pause exactly; with waiters queued, when the head fits (the store's last answer)
 * plus the demand queued behind it and this acquire's own cost, spread at each window's average
 * rate (limit / window); with nobody queued, a store that answers at once (memory) says how full
 * each window is now, while one that answers later (Redis) is taken to have room until a refusal
 * says otherwise. Concurrency only counts when no slot is free: then one average hold time
 * (when metrics are attached) per round of `maxConcurrent` ahead of it.
 */
export function estimateAdmissionWaitMs(
  room: WaitingRoom,
  windows: readonly ResolvedWindow[],
  costTable: CostTable,
  options: EstimateOptions | undefined,
  draining: boolean,
  holdMs: number | undefined,
): number {
  if (draining) return Infinity;
  let costs: readonly number[];
  try {
    costs = options === undefined ? costTable.defaultCosts : costTable.of(options);
  } catch {
    // LimitExceededError (never fits) or an invalid cost: this limiter cannot take the call.
    return Infinity;
  }
  const now = room.clock.now();
  const pauseMs = room.gate.isClosed(now) ? room.gate.untilMs - now : 0;
  const queued = room.queue.size;
  let wait = pauseMs;
  if (queued === 0) {
    const snapshot = room.handle.snapshot(now);
    if (isPromise(snapshot)) snapshot.catch(noop);
    else
      windows.forEach((w, i) => {
        const excess = snapshot.used[i]! + costs[i]! - w.limit;
        if (excess > 0) wait = Math.max(wait, pauseMs + (excess * w.windowMs) / w.limit);
      });
  } else {
    const head = room.queue.peek()!;
    const headWaitMs =
      (room.blocked === 'window' || room.blocked === 'paused') && Number.isFinite(room.roomAtMs)
        ? Math.max(0, room.roomAtMs - now)
        : 0;
    const behindHead = costs.map((c) => c);
    for (const waiter of room.queue) {
      if (waiter === head) continue;
      waiter.costs.forEach((c, i) => (behindHead[i]! += c));
    }
    let spreadMs = 0;
    windows.forEach((w, i) => {
      spreadMs = Math.max(spreadMs, (behindHead[i]! * w.windowMs) / w.limit);
    });
    wait = Math.max(wait, headWaitMs) + spreadMs;
  }
  const free = room.maxConcurrent - room.active - queued;
  if (free <= 0 && holdMs !== undefined && holdMs > 0)
    wait += Math.ceil((1 - free) / room.maxConcurrent) * holdMs;
  return wait;
}
