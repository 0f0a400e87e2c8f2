import { Limiter, type LimiterOptions } from '../limits/limiter';
import { didYouMean, InvalidOptionError } from '../validation/options';
import { LimiterMetrics } from '../limits/limiter-metrics';
import { registerFromEnv, type EnvLike, type FromEnvOptions } from './from-env';
import { TenantLimiter } from './tenant-limiter';

/** Options of {@link LimiterRegistry.register}. @category Limiters */
export interface RegisterOptions {
  /**
   * Replace a limiter already registered under the same name (the old one keeps serving the
   * leases it granted, but new lookups get the new one).
   * @default false
   */
  replace?: boolean;
}

interface Entry {
  limiter: Limiter;
  /** The options the limiter was made from (undefined when a Limiter instance was registered). */
  options: LimiterOptions | undefined;
  warnedMismatch: boolean;
}

/** Compares option objects by value, ignoring key order (presets are plain data). */
function sameOptions(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameOptions((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Named, shared limiters: register one per API key (or tenant) at start-up and every node, flow or
 * call site that names it draws from the same budget.
 *
 * The static methods use one process-wide default registry; `new LimiterRegistry()` makes an
 * isolated one (for tests or tenants).
 *
 * @example
 * LimiterRegistry.register('openai', Presets.OPENAI_TIER2);
 * const limiter = LimiterRegistry.get('openai');
 * await limiter.run(() => client.chat.completions.create(request));
 * @category Limiters
 */
export class LimiterRegistry {
  /** The process-wide registry behind the static methods. */
  static readonly default = new LimiterRegistry();

  private readonly entries = new Map<string, Entry>();
  /** Tenant limiters by global name, then tenant id. */
  private readonly tenants = new Map<
    string,
    Map<string, { limiter: TenantLimiter; limits: LimiterOptions; warnedMismatch: boolean }>
  >();

  /** Registers a limiter made from `options` (a preset works: `Presets.OPENAI_TIER2`), or a ready {@link Limiter}. */
  register(name: string, limiterOrOptions: Limiter | LimiterOptions, options: RegisterOptions = {}): Limiter {
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidOptionError('name', `name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    if (this.entries.has(name) && !options.replace) {
      throw new Error(
        `A limiter named '${name}' is already registered; pass { replace: true } to replace it`,
      );
    }
    const isLimiter = limiterOrOptions instanceof Limiter;
    const limiter = isLimiter
      ? limiterOrOptions
      : new Limiter({ ...limiterOrOptions, name: limiterOrOptions.name ?? name });
    this.entries.set(name, {
      limiter,
      options: isLimiter ? undefined : { ...limiterOrOptions },
      warnedMismatch: false,
    });
    // Registered limiters report latency percentiles in their stats.
    LimiterMetrics.attach(limiter);
    return limiter;
  }

  /**
   * Registers the limiters configured by environment variables: `THROTTLEFLOW_OPENAI=tier2` (a
   * preset, here `OPENAI_TIER2`), and/or numbers such as `THROTTLEFLOW_OPENAI_MAX_PER_MINUTE=500`
   * (also `_MAX_CONCURRENT`, `_MAX_TOKENS_PER_MINUTE`, `_MAX_PER_DAY`, `_MAX_QUEUED`), which
   * override the preset's. Everything is validated before anything is registered; a name already
   * registered is replaced unless `replace: false`.
   * @param env - the variables @default globalThis.process?.env
   * @returns the registered limiters by name (`{ openai }`)
   * @throws InvalidOptionError naming the variable and value, e.g.
   * `THROTTLEFLOW_OPENAI_MAX_PER_MINUTE must be a positive integer, got 'abc'`
   */
  fromEnv(env?: EnvLike, options?: FromEnvOptions): Record<string, Limiter> {
    return registerFromEnv(this, env, options);
  }

  /** The limiter registered as `name`; throws an error listing the registered names when there is none. */
  get(name: string): Limiter {
    const entry = this.entries.get(name);
    if (!entry) {
      const names = [...this.entries.keys()];
      throw new InvalidOptionError(
        'name',
        `No limiter named '${name}'${didYouMean(name, names)}; registered: ${names.length ? names.join(', ') : '(none)'}`,
      );
    }
    return entry.limiter;
  }

  /**
   * The limiter registered as `name`, registering one from `options` first when there is none.
   * Warns once per name when `options` differ from those the existing limiter was made with.
   */
  getOrCreate(name: string, options: LimiterOptions = {}): Limiter {
    const entry = this.entries.get(name);
    if (!entry) return this.register(name, options);
    if (!entry.warnedMismatch && entry.options !== undefined && !sameOptions(entry.options, options)) {
      entry.warnedMismatch = true;
      console.warn(
        `LimiterRegistry.getOrCreate('${name}'): options differ from the registered limiter's; using the registered one`,
      );
    }
    return entry.limiter;
  }

  /**
   * The limiter of tenant `tenantId` under the limiter registered as `name`: its calls take a slot
   * from `limits` (the tenant's share) and from `name` (the global budget), so one tenant cannot
   * starve the others and all of them together never pass the global limits (see
   * {@link TenantLimiter}). The same tenant gets the same limiter back (a warning once when
   * `limits` differ); a tenant of a replaced global limiter gets a new one.
   *
   * @example
   * LimiterRegistry.register('openai', Presets.OPENAI_TIER2);
   * const limiter = LimiterRegistry.forTenant('openai', tenantId, { maxPerMinute: 50 });
   * new Summarise({ limiter }); // or limiter.run(() => call())
   */
  forTenant(name: string, tenantId: string, limits: LimiterOptions = {}): TenantLimiter {
    const global = this.get(name);
    let byTenant = this.tenants.get(name);
    if (!byTenant) this.tenants.set(name, (byTenant = new Map()));
    const existing = byTenant.get(tenantId);
    if (existing && existing.limiter.global === global) {
      if (!existing.warnedMismatch && !sameOptions(existing.limits, limits)) {
        existing.warnedMismatch = true;
        console.warn(
          `LimiterRegistry.forTenant('${name}', '${tenantId}'): limits differ from the tenant's limiter; using the existing one`,
        );
      }
      return existing.limiter;
    }
    const limiter = new TenantLimiter(global, tenantId, limits);
    byTenant.set(tenantId, { limiter, limits: { ...limits }, warnedMismatch: false });
    // Like registered limiters, tenant limiters report latency percentiles in their stats.
    LimiterMetrics.attach(limiter);
    return limiter;
  }

  /** Forgets a tenant's limiter (e.g. when the tenant leaves); returns whether there was one. */
  removeTenant(name: string, tenantId: string): boolean {
    return this.tenants.get(name)?.delete(tenantId) ?? false;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Forgets `name` and its tenants; returns whether it was registered. */
  remove(name: string): boolean {
    this.tenants.delete(name);
    return this.entries.delete(name);
  }

  clear(): void {
    this.entries.clear();
    this.tenants.clear();
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  static register(
    name: string,
    limiterOrOptions: Limiter | LimiterOptions,
    options?: RegisterOptions,
  ): Limiter {
    return LimiterRegistry.default.register(name, limiterOrOptions, options);
  }
  static get(name: string): Limiter {
    return LimiterRegistry.default.get(name);
  }
  static getOrCreate(name: string, options?: LimiterOptions): Limiter {
    return LimiterRegistry.default.getOrCreate(name, options);
  }
  static forTenant(name: string, tenantId: string, limits?: LimiterOptions): TenantLimiter {
    return LimiterRegistry.default.forTenant(name, tenantId, limits);
  }
  static has(name: string): boolean {
    return LimiterRegistry.default.has(name);
  }
  static remove(name: string): boolean {
    return LimiterRegistry.default.remove(name);
  }
  static clear(): void {
    LimiterRegistry.default.clear();
  }
  static names(): string[] {
    return LimiterRegistry.default.names();
  }
  /** {@link LimiterRegistry.fromEnv} on the default registry. */
  static fromEnv(env?: EnvLike, options?: FromEnvOptions): Record<string, Limiter> {
    return LimiterRegistry.default.fromEnv(env, options);
  }
}
