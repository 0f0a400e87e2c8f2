/** What one renewal of a limiter's held leases found. */
export interface RenewResult {
  /** Store instances sharing the limiter (presence entries still live). */
  peers: number;
  /** Lease ids asked about that Redis no longer holds (their TTL ran out). */
  expired: readonly string[];
}

/** Options of {@link LeaseHeartbeat}. */
export interface LeaseHeartbeatOptions {
  /** How often held leases are renewed. */
  intervalMs: number;
  /** Renews `ids` of limiter `name` in Redis (one round trip); reads `ids` before it returns. */
  renew: (name: string, ids: ReadonlySet<string>) => Promise<RenewResult>;
  /** A held lease was found expired; reported once. */
  onExpired: (name: string, leaseId: string) => void;
  /** A timed beat failed (Redis unreachable); the leases stay held and are retried next beat. */
  onError: (error: unknown) => void;
}

/**
 * The leases this process holds, by limiter, kept alive by a heartbeat that also records how many
 * processes share each limiter (what the local fallback divides limits by).
 */
export class LeaseHeartbeat {
  /** Lease ids held by this process, by limiter name: what the heartbeat renews. */
  private readonly held = new Map<string, Set<string>>();
  /** Leases the heartbeat found expired: released without freeing twice, reported once. */
  private readonly lost = new Set<string>();
  /** Store instances seen sharing each limiter at the last heartbeat. */
  private readonly peerCounts = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseHeartbeatOptions) {}

  /** Starts the heartbeat for `name` (presence, and renewal of the leases held under it). */
  track(name: string): void {
    if (!this.held.has(name)) {
      this.held.set(name, new Set());
      // A first beat right away, so the number of processes sharing the limiter is known early.
      if (!this.stopped) this.renewAll().catch(() => {});
    }
    if (!this.timer && !this.stopped) {
      this.timer = setInterval(() => {
        this.renewAll().catch((error: unknown) => this.options.onError(error));
      }, this.options.intervalMs);
      this.timer.unref?.();
    }
  }

  /** Keeps a granted lease alive until {@link drop}. */
  hold(name: string, leaseId: string): void {
    this.track(name);
    this.held.get(name)!.add(leaseId);
  }

  /** Stops renewing a lease that is being released. */
  drop(name: string, leaseId: string): void {
    this.held.get(name)?.delete(leaseId);
  }

  /** Whether the heartbeat had found this released lease expired (and reported it); forgets it. */
  takeLost(leaseId: string): boolean {
    return this.lost.delete(leaseId);
  }

  /** Leases this process holds right now under `name`. */
  heldLeases(name: string): number {
    return this.held.get(name)?.size ?? 0;
  }

  /** Processes (store instances) seen sharing limiter `name` at the last beat, if any beat yet. */
  peers(name: string): number | undefined {
    return this.peerCounts.get(name);
  }

  /** Renews every held lease now (the timer calls this every `intervalMs`). */
  async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([name, ids]) => {
        const { peers, expired } = await this.options.renew(name, ids);
        this.peerCounts.set(name, peers);
        for (const id of expired) {
          // Released meanwhile? Then it was not lost, just gone.
          if (!ids.delete(id)) continue;
          this.lost.add(id);
          this.options.onExpired(name, id);
        }
      }),
    );
  }

  /** Stops the timer for good (no beat starts after this). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
