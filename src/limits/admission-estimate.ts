import type { CostTable } from './acquire-costs';
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
 * What it knows: a pause exactly. A store that can say when costs would fit (`StoreHandle.waitMs`,
 * the memory store) is asked about everything queued here plus this acquire, window by window:
 * exact for one window's worth, and each further window's worth waits one window more. A store that
 * cannot (Redis) is taken to have room until a refusal says otherwise: then the head's room time
 * plus the demand behind it spread at that rate. Concurrency only counts when no slot is free:
 * one median hold time (when metrics are attached) per round of `maxConcurrent` ahead of it.
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
  // What must start before this acquire can: every waiter (first-in first-out), then itself.
  const demand = [...costs];
  for (const waiter of room.queue) waiter.costs.forEach((c, i) => (demand[i]! += c));
  const handle = room.handle;
  let wait: number;
  if (handle.waitMs) {
    // Per window: demand beyond one window's worth starts a window after the demand it repeats
    // (each unit admitted holds its place for a window), so D units wait as D − L did, plus W.
    wait = pauseMs;
    windows.forEach((w, i) => {
      const rounds = demand[i]! > w.limit ? Math.ceil(demand[i]! / w.limit) - 1 : 0;
      const only = demand.map((_, j) => (j === i ? demand[i]! - rounds * w.limit : 0));
      wait = Math.max(wait, handle.waitMs!(now, only) + rounds * w.windowMs);
    });
  } else {
    // A store that cannot say: the head's room time (its last refusal) and the rest at each window's rate.
    const head = room.queue.peek();
    const headWaitMs =
      head !== undefined &&
      (room.blocked === 'window' || room.blocked === 'paused') &&
      Number.isFinite(room.roomAtMs)
        ? Math.max(0, room.roomAtMs - now)
        : 0;
    let spreadMs = 0;
    windows.forEach((w, i) => {
      const behindHead = demand[i]! - (head?.costs[i] ?? 0);
      spreadMs = Math.max(spreadMs, head === undefined ? 0 : (behindHead * w.windowMs) / w.limit);
    });
    wait = Math.max(pauseMs, headWaitMs) + spreadMs;
  }
  const queued = room.queue.size;
  const free = room.maxConcurrent - room.active - queued;
  if (free <= 0 && holdMs !== undefined && holdMs > 0)
    wait += Math.ceil((1 - free) / room.maxConcurrent) * holdMs;
  return wait;
}
