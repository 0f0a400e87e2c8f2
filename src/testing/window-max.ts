/**
 * The most units that started in any half-open window `[t, t + windowMs)`: exact, over sorted
 * start times (each with a weight, 1 when `weights` is omitted). A busiest window can always be
 * slid to begin at some start time, so two pointers over the starts find it.
 */
export function maxInAnyWindow(
  startsMs: readonly number[],
  windowMs: number,
  weights?: readonly number[],
): number {
  let best = 0;
  let sum = 0;
  let left = 0;
  for (let right = 0; right < startsMs.length; right++) {
    sum += weights ? weights[right]! : 1;
    while (startsMs[right]! - startsMs[left]! >= windowMs) {
      sum -= weights ? weights[left]! : 1;
      left++;
    }
    if (sum > best) best = sum;
  }
  return best;
}
