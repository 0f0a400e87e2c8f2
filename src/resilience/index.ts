/**
 * `throttleflow/resilience`: circuit breakers, response caches, timeouts and graceful shutdown.
 * @module throttleflow/resilience
 */
export type { BreakerPolicy } from './breaker-policy';
export { BrokenCircuitError, isBrokenCircuitError } from './broken-circuit-error';
export type { Cache } from './cache';
export { cacheKeyOf } from './cache-key';
export {
  CircuitBreaker,
  type CircuitBreakerBaseOptions,
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  type CircuitFailureEvent,
  type CircuitOpenEvent,
  type CircuitRunOptions,
  type CircuitState,
  type CircuitStateChange,
  type CircuitSuccessEvent,
  type ConsecutiveBreakerOptions,
  type PolicyBreakerOptions,
  type SamplingBreakerOptions,
} from './circuit-breaker';
export { ConsecutivePolicy } from './consecutive-policy';
export { SamplingPolicy, type SamplingPolicyOptions } from './sampling-policy';
export { shouldTripBreaker } from './should-trip-breaker';
export { MemoryCache, type MemoryCacheOptions } from './memory-cache';
export { withTimeout, type WithTimeoutOptions } from './with-timeout';
export { TimeoutError, isTimeoutError } from './timeout-error';
export { onShutdown, type ShutdownOptions, type ShutdownProcess } from './shutdown-signals';
export { drainOnShutdown, type DrainOnShutdownOptions, type Stoppable } from './drain-on-shutdown';
