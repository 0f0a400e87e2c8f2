import { isThrottleflowError, ThrottleflowError } from '../errors/throttleflow-error';

/**
 * Thrown by {@link CircuitBreaker.run} instead of calling the function when the circuit is open
 * (or half-open with every trial slot taken), so callers fail fast and can route elsewhere.
 */
export class BrokenCircuitError extends ThrottleflowError {
  override readonly name = 'BrokenCircuitError';
  declare readonly code: 'CIRCUIT_OPEN';
  /** The `name` of the breaker that refused the call. */
  readonly breakerName: string;
  /**
   * Milliseconds until the circuit half-opens and lets a trial call through; `undefined` when
   * that time is unknown (isolated by hand, or half-open with every trial slot in use).
   */
  readonly retryAfterMs: number | undefined;
  /** True when the circuit was opened by {@link CircuitBreaker.isolate} and waits for `reset()`. */
  readonly isolated: boolean;

  constructor(breakerName: string, options: { retryAfterMs?: number; isolated?: boolean } = {}) {
    const isolated = options.isolated ?? false;
    const retryAfterMs = options.retryAfterMs;
    const why = isolated
      ? 'is isolated until reset()'
      : retryAfterMs === undefined
        ? 'is half-open and its trial calls are in flight'
        : `is open; it half-opens in ${retryAfterMs} ms`;
    super('CIRCUIT_OPEN', `Circuit breaker '${breakerName}' ${why}`);
    this.breakerName = breakerName;
    this.retryAfterMs = retryAfterMs;
    this.isolated = isolated;
  }
}

/** Type guard for {@link BrokenCircuitError}; recognises instances from other copies of throttleflow too. */
export function isBrokenCircuitError(error: unknown): error is BrokenCircuitError {
  return isThrottleflowError(error, 'CIRCUIT_OPEN');
}
