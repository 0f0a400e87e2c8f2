/** Real usage reported when a lease is released. */
export interface LeaseUsage {
  /**
   * Tokens the call really used; reconciled with the estimate the lease was acquired with
   * (charged extra when higher; refunded when lower only with `reconcile: 'both'`).
   */
  tokens?: number;
}

/** What a lease needs from its limiter. @internal */
export interface LeaseOwner {
  releaseLease(lease: Lease, usage: LeaseUsage | undefined): void;
}

/**
 * The right to run one unit of work, granted by `limiter.acquire()`. Release it when the work
 * ends — on success, error, timeout or abort; `await using lease = await limiter.acquire()`
 * does that for you. Releasing twice is a no-op.
 */
export class Lease {
  private released = false;

  /** @internal */
  constructor(
    private readonly owner: LeaseOwner,
    /** Identifies the lease in shared stores (empty for the in-memory store). */
    readonly id: string,
    /** The token estimate charged at acquire. */
    readonly tokens: number,
    /** The clock reading when the lease was granted. */
    readonly startedAtMs: number,
    /** @internal window entries, for reconcile. */
    readonly entries: readonly number[],
  ) {}

  /** Whether the lease was released already. */
  get isReleased(): boolean {
    return this.released;
  }

  /** Frees the slot and reconciles the token estimate with `usage.tokens` when given. */
  release(usage?: LeaseUsage): void {
    if (this.released) return;
    this.released = true;
    this.owner.releaseLease(this, usage);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
