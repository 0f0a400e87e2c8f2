import type { IndexedAdjustment } from './backend-types';

/**
 * What a grant's `entries` hold: per window the cost charged (-1 for none; a reconcile needs it),
 * then the lease's start (Redis time, exactly as the acquire answered it): its window entries carry
 * that score, which is how a release finds them again.
 */
export function entriesOf(costs: readonly number[], startedAt: number): number[] {
  const n = costs.length;
  const entries = new Array<number>(n + 1);
  for (let i = 0; i < n; i++) entries[i] = costs[i]! > 0 ? costs[i]! : -1;
  entries[n] = startedAt;
  return entries;
}

/**
 * The start that rides after the per-window entries (see {@link entriesOf}); a lease from before
 * a fallback has none, and then has nothing to reconcile either.
 */
export function startedAtOf(entries: readonly number[], windowCount: number): number {
  return entries[windowCount] ?? 0;
}

/**
 * The windows a release must reconcile, read back from a grant's entries: those whose cost
 * changes, and, when the lease's entries move by an arrival lag, every one it charged.
 * Undefined when there is none.
 */
export function adjustmentsOf(
  entries: readonly number[],
  deltas: readonly number[] | undefined,
  windowCount: number,
  moves: boolean,
): IndexedAdjustment[] | undefined {
  if (!deltas && !moves) return undefined;
  let adjustments: IndexedAdjustment[] | undefined;
  for (let index = 0; index < windowCount; index++) {
    const entry = entries[index] ?? -1;
    const charged = entry > 0 ? entry : 0;
    const delta = deltas?.[index] ?? 0;
    if (delta === 0 && !(moves && charged > 0)) continue;
    (adjustments ??= []).push({ index, charged, delta });
  }
  return adjustments;
}
