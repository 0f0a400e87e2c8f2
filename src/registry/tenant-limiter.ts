import { Lease, type LeaseOwner, type LeaseUsage } from '../limits/lease';
import {
  Limiter,
  type AcquireOptions,
  type LimiterOptions,
  type LimiterStats,
  type RateLimitReport,
  type RunOptions,
} from '../limits/limiter';
import type { ObserveOptions } from '../limits/provider-feedback';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import { formatValue, InvalidOptionError } from '../validation/options';

/** Releases a tenant's slot and the global slot together. */
class PairOwner implements LeaseOwner {
  constructor(
    private readonly tenant: Lease,
    private readonly global: Lease,
  ) {}

  releaseLease(_lease: Lease, usage: LeaseUsage | undefined): void {
    // Global first: the global slot is the scarcer one, and whoever waits for it is woken at once.
    this.global.release(usage);
    // The arrival lag is measured from the global charge; the tenant slot was charged earlier.
    const lagMs = usage?.arrivalLagMs;
    this.tenant.release(
      lagMs === undefined
        ? usage
        : { ...usage, arrivalLagMs: lagMs + this.global.chargedAtMs - this.tenant.chargedAtMs },
    );
  }
}

/**
 * A tenant's limiter that also draws from a global one: every acquire takes a slot from the
 * tenant's own limits AND from the global limiter (one provider key shared by all tenants), so a
 * tenant never passes its own limits and all tenants together never pass the global ones. The
 * lease it grants releases both; an acquire that is aborted, times out or is refused by either
 * frees what it took.
 *
 * The tenant slot is taken first, then the global one; nobody ever waits for a tenant slot while
 * holding a global one, so tenants cannot deadlock each other, and a tenant at its own limit waits
 * in its own queue without occupying global capacity. A tenant's windows count a call from the
 * moment its tenant slot is granted (the call may then still wait for global room); its
 * concurrency counts the call until it ends.
 *
 * It is a {@link Limiter} (of the tenant), so it goes wherever one does: `limiter:` of a throttled
 * node or flow, fallback targets, `run`/`wrap`. Provider feedback goes to the global limiter: a
 * rate limit reported here pauses the global limiter (the provider limits the shared key) and
 * `observe` teaches the global limiter the provider's limits.
 *
 * @example
 * LimiterRegistry.register('openai', { maxConcurrent: 20, maxPerMinute: 500 });
 * const acme = LimiterRegistry.forTenant('openai', 'acme', { maxConcurrent: 5, maxPerMinute: 100 });
 * await acme.run(() => client.chat.completions.create(request));
 * @category Limiters
 */
export class TenantLimiter extends Limiter {
  /** The limiter every tenant also draws from. */
  readonly global: Limiter;
  /** The tenant this limiter belongs to. */
  readonly tenantId: string;

  /**
   * @param global - the shared limiter
   * @param tenantId - names the tenant (the limiter is named `<global>/<tenantId>` unless `limits.name` says otherwise)
   * @param limits - the tenant's own limits; its clock defaults to the global limiter's
   */
  constructor(global: Limiter, tenantId: string, limits: LimiterOptions = {}) {
    if (!(global instanceof Limiter))
      throw new InvalidOptionError(
        'global',
        `TenantLimiter: global must be a Limiter, got ${formatValue(global)}`,
      );
    if (typeof tenantId !== 'string' || tenantId.length === 0) {
      throw new InvalidOptionError(
        'tenantId',
        `TenantLimiter: tenantId must be a non-empty string, got ${JSON.stringify(tenantId)}`,
      );
    }
    super({
      ...limits,
      name: limits.name ?? `${global.name}/${tenantId}`,
      clock: limits.clock ?? global.clock,
    });
    this.global = global;
    this.tenantId = tenantId;
    // Every call also goes through the global limiter, which sees its tokens, headers and 429s: it warns, once.
    this.warningChecks.disable();
  }

  /**
   * Waits for a tenant slot, then for a global slot, and grants a lease that holds both. `tokens`,
   * `cost` and `units` are charged to both limiters; `timeoutMs` bounds the whole wait.
   */
  override acquire(options: AcquireOptions = {}): Promise<Lease> {
    return this.acquireBoth(options);
  }

  /** Acquires both slots, runs `fn`, and releases both — also when `fn` throws. */
  override async run<T>(fn: (lease: Lease) => T | PromiseLike<T>, options?: RunOptions<T>): Promise<T> {
    const lease = await this.acquireBoth(options ?? {});
    let result: T;
    try {
      result = await fn(lease);
    } catch (error) {
      lease.release();
      throw error;
    }
    let tokens: number | undefined;
    try {
      tokens = options?.usageOf?.(result);
    } finally {
      lease.release(tokens === undefined ? undefined : { tokens });
    }
    return result;
  }

  /**
   * Counts the rate limit for this tenant and reports it to the global limiter, which pauses for
   * its retry-after: the provider limits the key every tenant shares.
   */
  override reportRateLimit(report: RateLimitReport = {}): void {
    this.global.reportRateLimit(report);
    super.reportRateLimit({ source: report.source, kind: report.kind });
  }

  /** Hands provider headers to the global limiter (they describe the shared key's limits). */
  override observe(response: unknown, options: ObserveOptions = {}): ProviderRateLimitInfo | undefined {
    return this.global.observe(response, options);
  }

  /** The tenant's own stats; `pausedUntil` also says when a pause of the global limiter ends. */
  override stats(): LimiterStats {
    const own = super.stats();
    const global = this.global.stats();
    return global.pausedUntil > own.pausedUntil ? { ...own, pausedUntil: global.pausedUntil } : own;
  }

  private async acquireBoth(options: AcquireOptions): Promise<Lease> {
    const askedAt = this.clock.now();
    const tenant = await super.acquire(options);
    let global: Lease;
    try {
      const timeoutMs =
        options.timeoutMs === undefined
          ? undefined
          : Math.max(0, options.timeoutMs - (this.clock.now() - askedAt));
      global = await this.global.acquire({ ...options, timeoutMs });
    } catch (error) {
      tenant.release();
      throw error;
    }
    return new Lease(
      new PairOwner(tenant, global),
      global.id,
      global.tokens,
      global.startedAtMs,
      [],
      global.grantIndex,
      global.chargedAtMs,
    );
  }
}
