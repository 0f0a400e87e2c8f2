/** Why a call was turned away for now: the provider's rate limit, or the provider being overloaded. */
export type RateLimitHitKind = 'rate_limit' | 'overloaded';

/** Which limit was hit, when known. */
export type RateLimitScope = 'requests' | 'tokens' | 'daily';

/** Options of {@link RateLimitHit}. */
export interface RateLimitHitOptions {
  /**
   * How long the provider asked us to wait before trying again, in milliseconds.
   * @default undefined
   */
  retryAfterMs?: number;
  /**
   * Names who limited us: a provider (`'openai'`) or an API of your own (`'my_api'`).
   * @default undefined
   */
  source?: string;
  /**
   * Which limit was hit, when known.
   * @default undefined
   */
  scope?: RateLimitScope;
  /**
   * A rate limit proper, or an overloaded provider (HTTP 529/503).
   * @default 'rate_limit'
   */
  kind?: RateLimitHitKind;
  /**
   * The underlying error, e.g. the SDK's 429.
   * @default undefined
   */
  cause?: unknown;
}

// Symbol.for is shared across module copies (a CJS and an ESM build loaded side by side, or two
// installed versions), so the guard below still works where `instanceof` cannot.
const RATE_LIMIT_HIT_BRAND = Symbol.for('throttleflow.RateLimitHit');

/**
 * Throw this from `exec` to say "the API I called is rate limiting me": a throttled node pauses
 * its limiter for `retryAfterMs` (or backs off) and retries, and an adaptive flow cuts its
 * concurrency. Rate limits that throttleflow detects itself (429/529 from an SDK) are wrapped in
 * one too.
 *
 * @example
 * throw new RateLimitHit('API rate limit exceeded', { retryAfterMs: 2000, source: 'my_api' });
 * throw new RateLimitHit('API rate limit exceeded', 2000, 'my_api'); // positional form
 */
export class RateLimitHit extends Error {
  override readonly name = 'RateLimitHit';
  /** How long to wait before trying again, in milliseconds, when known. */
  readonly retryAfterMs?: number;
  /** Who limited us, when known. */
  readonly source?: string;
  /** Which limit was hit, when known. */
  readonly scope?: RateLimitScope;
  /** A rate limit proper, or an overloaded provider. */
  readonly kind: RateLimitHitKind;

  constructor(message?: string, options?: RateLimitHitOptions);
  constructor(message: string | undefined, retryAfterMs: number | undefined, source?: string);
  constructor(
    message = 'Rate limit hit',
    optionsOrRetryAfterMs?: RateLimitHitOptions | number,
    source?: string,
  ) {
    const options: RateLimitHitOptions =
      typeof optionsOrRetryAfterMs === 'object' && optionsOrRetryAfterMs !== null
        ? optionsOrRetryAfterMs
        : { retryAfterMs: optionsOrRetryAfterMs, source };
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // A negative or NaN wait is meaningless; keep the field absent rather than lie.
    if (options.retryAfterMs !== undefined && Number.isFinite(options.retryAfterMs) && options.retryAfterMs >= 0) {
      this.retryAfterMs = options.retryAfterMs;
    }
    if (options.source !== undefined) this.source = options.source;
    if (options.scope !== undefined) this.scope = options.scope;
    // Non-enumerable, so it stays out of JSON and test snapshots.
    Object.defineProperty(this, RATE_LIMIT_HIT_BRAND, { value: true });
    this.kind = options.kind ?? 'rate_limit';
  }
}

/**
 * Type guard for {@link RateLimitHit}. Recognises instances from other copies of throttleflow
 * too (checks a `Symbol.for` brand, not only `instanceof`).
 */
export function isRateLimitHit(error: unknown): error is RateLimitHit {
  if (error instanceof RateLimitHit) return true;
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[RATE_LIMIT_HIT_BRAND] === true;
}
