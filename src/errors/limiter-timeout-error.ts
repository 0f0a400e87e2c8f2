import { isThrottleflowError, ThrottleflowError } from './throttleflow-error';

/** An acquire waited its whole `timeoutMs` without room appearing in the limiter. @category Errors */
export class LimiterTimeoutError extends ThrottleflowError {
  override readonly name = 'LimiterTimeoutError';
  declare readonly code: 'LIMITER_TIMEOUT';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** How long the acquire waited. */
    readonly timeoutMs: number,
  ) {
    super('LIMITER_TIMEOUT', `Limiter '${limiter}': no room within ${timeoutMs} ms`);
  }
}

/** Type guard for {@link LimiterTimeoutError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isLimiterTimeoutError(error: unknown): error is LimiterTimeoutError {
  return isThrottleflowError(error, 'LIMITER_TIMEOUT');
}
