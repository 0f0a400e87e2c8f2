import { fitsContext } from './context-fit';
import type { ResolvedTarget, WaitingCall } from './resolved-target';
import { moveWaitingCall, type TargetCallContext } from './target-call';
import { unavailableReason } from './target-health';

/**
 * Moves calls waiting at one target to another that would start them sooner, after a pause or
 * the end of one changed who is soonest (`'soonest'` chooses at admission time, but a target
 * paused by a 429 would otherwise hold the calls queued at it for the whole pause, and a target
 * back from a pause would stay idle while others have queues).
 *
 * One call at a time, from the target whose last queued call would start latest: its latest call
 * that another target may take (one it has not failed, available: not paused, circuit closed,
 * budget left, its context window fitting) and would start strictly sooner than that last start.
 * Each move queues the call at its new target at once, so the next comparison sees it; moves are
 * bounded by the calls waiting. @internal
 */
export function rebalanceWaitingCalls<Item, Result>(
  chain: TargetCallContext,
  targets: readonly ResolvedTarget<Item, Result>[],
): { moves: number; unfinished: boolean } {
  // A call granted during this pass has not started yet but is still listed as waiting: moving it
  // would waste its lease. So a target that grants anything meanwhile is left alone for the rest of
  // the pass (a later pass, after those calls started, finishes), and moved calls stay put.
  const granted = new Set<ResolvedTarget<Item, Result>>();
  const listeners = targets.map((t) => {
    const onAcquire = () => granted.add(t);
    t.limiter.on('acquire', onAcquire);
    return () => t.limiter.off('acquire', onAcquire);
  });
  const moved = new Set<WaitingCall<Item, Result>>();
  let waitingTotal = 0;
  for (const t of targets) waitingTotal += t.waiting.size;
  try {
    while (moved.size < waitingTotal && moveOne(chain, targets, granted, moved));
  } finally {
    for (const off of listeners) off();
  }
  return { moves: moved.size, unfinished: granted.size > 0 && moved.size > 0 };
}

/** Moves the latest movable call of the most delayed target that has one; false when none should move. */
function moveOne<Item, Result>(
  chain: TargetCallContext,
  targets: readonly ResolvedTarget<Item, Result>[],
  granted: ReadonlySet<ResolvedTarget<Item, Result>>,
  moved: Set<WaitingCall<Item, Result>>,
): boolean {
  const delayed = targets
    .filter((t) => t.waiting.size > 0 && !granted.has(t))
    .map((t) => ({ t, waitMs: t.limiter.estimateWaitMs(NOTHING_MORE) }))
    .sort((a, b) => b.waitMs - a.waitMs);
  for (const { t: from, waitMs: fromWaitMs } of delayed) {
    // Latest first: a call that may not go anywhere better (it failed there, or does not fit) stays.
    for (const waiting of [...from.waiting].reverse()) {
      if (moved.has(waiting)) continue;
      let to: ResolvedTarget<Item, Result> | undefined;
      let toWaitMs = fromWaitMs;
      for (const t of targets) {
        if (t === from || !waiting.allows(t) || unavailableReason(t) !== undefined) continue;
        if (!fitsContext(t.contextWindowTokens, waiting.estimate)) continue;
        const wait = waitOf(t, waiting.item);
        if (wait < toWaitMs) [to, toWaitMs] = [t, wait];
      }
      if (to === undefined) continue;
      moved.add(moveWaitingCall(chain, waiting, from, to));
      return true;
    }
  }
  return false;
}

/** How long `item` would probably wait at `target` if it queued there now (Infinity when it cannot say). */
function waitOf<Item, Result>(target: ResolvedTarget<Item, Result>, item: Item): number {
  let tokens: number | undefined;
  try {
    tokens = target.target.tokensFor?.(item);
  } catch {
    return Infinity;
  }
  return target.limiter.estimateWaitMs(tokens === undefined ? undefined : { tokens });
}

/** An acquire that adds nothing: its estimate is when everything queued has started (the last one's start). */
const NOTHING_MORE = { cost: 0, tokens: 0 } as const;
