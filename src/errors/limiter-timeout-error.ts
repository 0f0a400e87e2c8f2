import { brand, hasBrand } from './brand';

const BRAND = Symbol.for('throttleflow.LimiterTimeoutError');

/** An acquire waited its whole `timeoutMs` without room appearing in the limiter. */
export class LimiterTimeoutError extends Error {
  override readonly name = 'LimiterTimeoutError';
  /** Stable code, for logs and `switch`es. */
  readonly code = 'LIMITER_TIMEOUT';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** How long the acquire waited. */
    readonly timeoutMs: number,
  ) {
    super(`Limiter '${limiter}': no room within ${timeoutMs} ms`);
    brand(this, BRAND);
  }
}

/** Type guard for {@link LimiterTimeoutError}; recognises instances from other copies of throttleflow too. */
export function isLimiterTimeoutError(error: unknown): error is LimiterTimeoutError {
  return error instanceof LimiterTimeoutError || hasBrand(error, BRAND);
}
