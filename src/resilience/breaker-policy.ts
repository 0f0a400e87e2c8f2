/**
 * Decides when a closed circuit opens. A {@link CircuitBreaker} feeds it the outcome of every call
 * that started and finished while the circuit was closed; half-open trials are judged by the
 * breaker itself. Implement it to plug in a strategy of your own.
 */
export interface BreakerPolicy {
  /** Records a successful call that finished at `nowMs`. */
  recordSuccess(nowMs: number): void;
  /** Records a failed call that finished at `nowMs`; returns true when the circuit should open. */
  recordFailure(nowMs: number): boolean;
  /** Forgets all history; called whenever the circuit closes or is reset. */
  reset(): void;
}
