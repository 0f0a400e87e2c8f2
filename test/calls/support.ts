import type { Lease } from '../../src/limits/lease';
import type { Limiter } from '../../src/limits/limiter';

/** Counts, per lease, how often `release` was called on it, by anyone. */
export class LeaseLog {
  readonly releases = new Map<Lease, number>();

  /** Starts counting the releases of `lease` (call it from inside the attempt). */
  watch(lease: Lease): void {
    if (this.releases.has(lease)) return;
    this.releases.set(lease, 0);
    const release = lease.release.bind(lease);
    lease.release = (usage) => {
      this.releases.set(lease, (this.releases.get(lease) ?? 0) + 1);
      release(usage);
    };
  }

  /** How often each watched lease was released, in the order they were watched. */
  counts(): number[] {
    return [...this.releases.values()];
  }
}

/** Counts the `release` events of a limiter (one per lease that really was given back). */
export function countReleases(limiter: Limiter): { readonly count: number } {
  const counter = { count: 0 };
  limiter.on('release', () => counter.count++);
  return counter;
}

/** An error shaped like an SDK's 429, with a retry-after in milliseconds. */
export function rateLimitError(retryAfterMs: number): Error {
  return Object.assign(new Error('429 Too Many Requests'), {
    status: 429,
    headers: { 'retry-after-ms': String(retryAfterMs) },
  });
}
