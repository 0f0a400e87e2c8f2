import { isThrottleflowError, ThrottleflowError } from './throttleflow-error';

/** A daily (or other long-period) quota ran out, or the account hit its spend limit. @category Errors */
export type QuotaExhaustedKind = 'quota_exhausted' | 'spend_limit';

/** Options of {@link QuotaExhaustedError}. @category Errors */
export interface QuotaExhaustedErrorOptions {
  /**
   * A long-period quota ran out (`'quota_exhausted'`, e.g. Gemini's requests per day) or the
   * account reached a spend or billing limit (`'spend_limit'`).
   * @default 'quota_exhausted'
   */
  kind?: QuotaExhaustedKind;
  /**
   * The provider's name for the quota, e.g. `GenerateRequestsPerDayPerProjectPerModel-FreeTier`.
   * @default undefined
   */
  quotaId?: string;
  /**
   * Who refused us: a provider (`'google'`) or an API of your own.
   * @default undefined
   */
  source?: string;
  /**
   * When the provider said the quota comes back, in milliseconds from now, if it did.
   * @default undefined
   */
  retryAfterMs?: number;
  /**
   * The underlying error, e.g. the SDK's 429.
   * @default undefined
   */
  cause?: unknown;
}

/**
 * A daily quota or spend limit is exhausted: retrying within the run cannot help, so throttled
 * nodes fail at once with this error instead of retrying (or hanging) until the quota resets.
 * @category Errors
 */
export class QuotaExhaustedError extends ThrottleflowError {
  override readonly name = 'QuotaExhaustedError';
  declare readonly code: 'QUOTA_EXHAUSTED';
  /** Quota ran out, or spend limit reached. */
  readonly kind: QuotaExhaustedKind;
  /** The provider's name for the quota, when it said. */
  readonly quotaId?: string;
  /** Who refused us, when known. */
  readonly source?: string;
  /** When the provider said the quota comes back, in milliseconds from the error, if it did. */
  readonly retryAfterMs?: number;

  constructor(message?: string, options: QuotaExhaustedErrorOptions = {}) {
    super(
      'QUOTA_EXHAUSTED',
      message ?? defaultMessage(options),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.kind = options.kind ?? 'quota_exhausted';
    if (options.quotaId !== undefined) this.quotaId = options.quotaId;
    if (options.source !== undefined) this.source = options.source;
    if (
      options.retryAfterMs !== undefined &&
      Number.isFinite(options.retryAfterMs) &&
      options.retryAfterMs >= 0
    ) {
      this.retryAfterMs = options.retryAfterMs;
    }
  }
}

function defaultMessage(options: QuotaExhaustedErrorOptions): string {
  const what = options.kind === 'spend_limit' ? 'spend limit reached' : 'quota exhausted';
  const who = options.source ? `${options.source}: ` : '';
  const id = options.quotaId ? ` (${options.quotaId})` : '';
  return `${who}${what}${id}; retrying will not help until it resets`;
}

/**
 * Type guard for {@link QuotaExhaustedError}; recognises instances from other copies of
 * throttleflow too.
 * @category Errors
 */
export function isQuotaExhaustedError(error: unknown): error is QuotaExhaustedError {
  return isThrottleflowError(error, 'QUOTA_EXHAUSTED');
}
