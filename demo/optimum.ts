/** What bounds the demo's pipeline: the provider's sliding-window limit and its latency. */
export interface PipelineShape {
  /** Stages run one after another: a stage starts when the previous stage's last reply is back. */
  stages: number;
  /** Requests per stage (one per document). */
  items: number;
  /** Requests the provider admits in any window of `windowMs`. */
  limit: number;
  windowMs: number;
  /** Latency is uniform in `latencyMs ± jitterMs`. */
  latencyMs: number;
  jitterMs: number;
}

/**
 * The best makespan the provider's limit allows for the pipeline: every request starts at the
 * earliest moment the sliding window admits it, and a stage ends when its slowest group's replies
 * are back, a group of n taking the expected slowest of n latencies (`a + (b − a)·n/(n + 1)` for
 * uniform latencies in [a, b]). Client concurrency and network time are left out, so no real run
 * quite reaches it; it is the same definition the bench uses (bench/goodput.ts), with the stage
 * barriers of a flow added.
 */
export function pipelineOptimumMs(shape: PipelineShape): number {
  const { stages, items, limit, windowMs, latencyMs, jitterMs } = shape;
  if (stages <= 0 || items <= 0) return 0;
  const fastest = latencyMs - jitterMs;
  const slowestOf = (n: number) => fastest + (2 * jitterMs * n) / (n + 1);
  // Every start so far, ascending; a start at s counts against the limit during [s, s + windowMs).
  const starts: number[] = [];
  let t = 0;
  for (let stage = 0; stage < stages; stage++) {
    const groups = new Map<number, number>();
    for (let i = 0; i < items; i++) {
      // With `limit` starts already inside the window, the next may go when the limit-th newest leaves it.
      if (starts.length >= limit) t = Math.max(t, starts[starts.length - limit]! + windowMs);
      starts.push(t);
      groups.set(t, (groups.get(t) ?? 0) + 1);
    }
    t = Math.max(...[...groups].map(([start, n]) => start + slowestOf(n)));
  }
  return t;
}
