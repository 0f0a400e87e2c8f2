/** Real usage reported when a lease is released. @category Limiters */
export interface LeaseUsage {
  /**
   * Tokens the call really used; reconciled with the estimate the lease was acquired with
   * (charged extra when higher; refunded when lower only with `reconcile: 'both'`).
   */
  tokens?: number;
  /**
   * How long after the lease was charged (granted; with a remote store, when its acquire was sent)
   * its request reached the provider, at the latest (e.g. the
   * time the response came back, minus the processing time the provider reports): the lease's
   * window entries then count from that moment (when it is later than the window's safety margin
   * allows for), as the provider's window counts the request from its arrival.
   * `limiter.observe(response, { lease })` sets it for you before the release.
   * @default undefined (entries count from the start, plus the window's safety margin)
   */
  arrivalLagMs?: number;
}

/** What a lease needs from its limiter. @internal @category Limiters */
export interface LeaseOwner {
  releaseLease(lease: Lease, usage: LeaseUsage | undefined): void;
}

/**
 * The right to run one unit of work, granted by `limiter.acquire()`. Release it when the work
 * ends — on success, error, timeout or abort; `await using lease = await limiter.acquire()`
 * does that for you. Releasing twice is a no-op.
 * @category Limiters
 */
export class Lease {
  private released = false;
  private arrivalLagMs: number | undefined = undefined;
  private provenLag = 0;

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
    /** @internal how many leases its limiter had granted, this one included. */
    readonly grantIndex = 0,
    /**
     * @internal clock reading no later than the store's charge of this lease (for a store that
     * answers later, when the acquire was sent): arrival lags are measured from here, so the
     * moved charge is never earlier than the request's arrival.
     */
    readonly chargedAtMs = startedAtMs,
  ) {}

  /** Whether the lease was released already. */
  get isReleased(): boolean {
    return this.released;
  }

  /**
   * Records how late the lease's request reached the provider (see {@link LeaseUsage.arrivalLagMs}),
   * applied at release. Only a later arrival than one noted already counts. @internal
   */
  noteArrivalLag(lagMs: number): void {
    if (Number.isFinite(lagMs) && lagMs > (this.arrivalLagMs ?? 0)) this.arrivalLagMs = lagMs;
  }

  /**
   * Records that the lease's request reached the provider at least this long after its charge (a
   * count proved it arrived after later grants): a floor under whatever arrival bound applies at
   * release, never a bound itself. @internal
   */
  noteLateAtLeast(lagMs: number): void {
    if (Number.isFinite(lagMs) && lagMs > this.provenLag) this.provenLag = lagMs;
  }

  /** The largest lag noted by {@link noteLateAtLeast} (0 when none). @internal */
  get provenLagMs(): number {
    return this.provenLag;
  }

  /** Frees the slot and reconciles the token estimate with `usage.tokens` when given. */
  release(usage?: LeaseUsage): void {
    if (this.released) return;
    this.released = true;
    const lagMs = this.arrivalLagMs;
    this.owner.releaseLease(
      this,
      lagMs === undefined || usage?.arrivalLagMs !== undefined ? usage : { ...usage, arrivalLagMs: lagMs },
    );
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
