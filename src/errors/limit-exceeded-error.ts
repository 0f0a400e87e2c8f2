import { brandError, isThrottleflowError, type ThrottleflowError } from './throttleflow-error';

/**
 * A single acquire asked for more than a window can ever hold (e.g. `tokens: 5000` against a
 * 1000-token window). It is rejected at once, since waiting could never help. A `RangeError` (the
 * cost is out of range), and a {@link ThrottleflowError} by its brand.
 * @category Errors
 */
export class LimitExceededError extends RangeError implements ThrottleflowError {
  override readonly name = 'LimitExceededError';
  /** Stable code, for logs and `switch`es. */
  declare readonly code: 'LIMIT_EXCEEDED';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** The window's resource: `'requests'`, `'tokens'`, … */
    readonly resource: string,
    /** What the acquire asked for. */
    readonly cost: number,
    /** The most the window ever holds. */
    readonly limit: number,
    /** The window's configured length (without its safety margin). */
    readonly windowMs: number,
  ) {
    super(
      `Limiter '${limiter}': a cost of ${cost} ${resource} can never fit a window of ${limit} ${resource} per ${windowMs} ms`,
    );
    brandError(this, 'LIMIT_EXCEEDED');
  }
}

/** Type guard for {@link LimitExceededError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isLimitExceededError(error: unknown): error is LimitExceededError {
  return isThrottleflowError(error, 'LIMIT_EXCEEDED');
}
