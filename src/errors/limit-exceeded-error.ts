/**
 * A single acquire asked for more than a window can ever hold (e.g. `tokens: 5000` against a
 * 1000-token window). It is rejected at once, since waiting could never help.
 */
export class LimitExceededError extends RangeError {
  override readonly name = 'LimitExceededError';
  readonly code = 'LIMIT_EXCEEDED';
  constructor(
    readonly limiter: string,
    /** The window's resource: `'requests'`, `'tokens'`, … */
    readonly resource: string,
    readonly cost: number,
    readonly limit: number,
    readonly windowMs: number,
  ) {
    super(`Limiter '${limiter}': a cost of ${cost} ${resource} can never fit a window of ${limit} ${resource} per ${windowMs} ms`);
  }
}

/** Type guard for {@link LimitExceededError}. */
export function isLimitExceededError(error: unknown): error is LimitExceededError {
  return error instanceof LimitExceededError;
}
