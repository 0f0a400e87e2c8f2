/** How many of a target's latest call latencies its median is taken over. */
const RECENT_SAMPLES = 64;

/**
 * The latencies of a target's most recent successful calls (a ring of the last 64), so
 * `strategy: 'latency'` follows a target that slows down instead of averaging over its history.
 * @internal
 */
export class RecentLatency {
  private readonly samples: number[] = [];
  private next = 0;
  private cachedP50: number | undefined;

  record(ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) return;
    if (this.samples.length < RECENT_SAMPLES) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % RECENT_SAMPLES;
    this.cachedP50 = undefined;
  }

  /** The median of the recent samples (nearest rank), or undefined before the first. */
  p50(): number | undefined {
    if (this.samples.length === 0) return undefined;
    if (this.cachedP50 === undefined) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.cachedP50 = sorted[Math.ceil(sorted.length / 2) - 1]!;
    }
    return this.cachedP50;
  }
}
