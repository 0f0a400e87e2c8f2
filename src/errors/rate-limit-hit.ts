import { isRecord } from '../util/is-record';
import { isThrottleflowError, ThrottleflowError } from './throttleflow-error';

/** Why a call was turned away for now: the provider's rate limit, or the provider being overloaded. @category Errors */
export type RateLimitHitKind = 'rate_limit' | 'overloaded';

/** Which limit was hit, when known. @category Errors */
export type RateLimitScope = 'requests' | 'tokens' | 'daily';

/** Options of {@link RateLimitHit}. @category Errors */
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

/**
 * Throw this from `exec` to say "the API I called is rate limiting me": a throttled node pauses
 * its limiter for `retryAfterMs` (or backs off) and retries, and an adaptive flow cuts its
 * concurrency. Rate limits that throttleflow detects itself (429/529 from an SDK) are wrapped in
 * one too.
 *
 * @example
 * throw new RateLimitHit('API rate limit exceeded', { retryAfterMs: 2000, source: 'my_api' });
 * throw new RateLimitHit('API rate limit exceeded', 2000, 'my_api'); // positional form
 * @category Errors
 */
export class RateLimitHit extends ThrottleflowError {
  override readonly name = 'RateLimitHit';
  declare readonly code: 'RATE_LIMIT_HIT';
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
    const options: RateLimitHitOptions = isRecord(optionsOrRetryAfterMs)
      ? optionsOrRetryAfterMs
      : { retryAfterMs: optionsOrRetryAfterMs, source };
    super('RATE_LIMIT_HIT', message, options.cause === undefined ? undefined : { cause: options.cause });
    // A negative or NaN wait is meaningless; keep the field absent rather than lie.
    if (
      options.retryAfterMs !== undefined &&
      Number.isFinite(options.retryAfterMs) &&
      options.retryAfterMs >= 0
    ) {
      this.retryAfterMs = options.retryAfterMs;
    }
    if (options.source !== undefined) this.source = options.source;
    if (options.scope !== undefined) this.scope = options.scope;
    this.kind = options.kind ?? 'rate_limit';
  }
}

/** Type guard for {@link RateLimitHit}; recognises instances from other copies of throttleflow too. @category Errors */
export function isRateLimitHit(error: unknown): error is RateLimitHit {
  return isThrottleflowError(error, 'RATE_LIMIT_HIT');
}
