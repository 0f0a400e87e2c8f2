/** An acquire waited longer than its `timeoutMs` for room in the limiter. */
export class LimiterTimeoutError extends Error {
  override readonly name = 'LimiterTimeoutError';
  readonly code = 'LIMITER_TIMEOUT';
  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** How long the acquire waited. */
    readonly timeoutMs: number,
  ) {
    super(`Limiter '${limiter}': no room within ${timeoutMs} ms`);
  }
}

/** Type guard for {@link LimiterTimeoutError}. */
export function isLimiterTimeoutError(error: unknown): error is LimiterTimeoutError {
  return error instanceof LimiterTimeoutError;
}
