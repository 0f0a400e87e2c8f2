// Public API of the resilience pieces: circuit breaker, response cache, timeouts, graceful shutdown.
export type { BreakerPolicy } from './breaker-policy';
export { BrokenCircuitError, isBrokenCircuitError } from './broken-circuit-error';
export type { Cache } from './cache';
export { cacheKeyOf, fnv1a64, stableStringify } from './cache-key';
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
export { drainOnShutdown, type DrainOnShutdownOptions, type Stoppable } from './drain-on-shutdown';
export {
  FallbackChain,
  withFallback,
  type FallbackCallOptions,
  type FallbackEvents,
  type FallbackOptions,
  type FallbackReport,
  type FallbackStats,
  type FallbackTarget,
  type FallbackTargetStats,
} from './fallback-chain';
export { FallbackExhaustedError, isFallbackExhaustedError, type FallbackAttempt } from './fallback-exhausted-error';
export { acquireWhileClosed, guardedCall, type CallGuards } from './guarded-call';
export { MemoryCache, type MemoryCacheOptions } from './memory-cache';
export { SamplingPolicy, type SamplingPolicyOptions } from './sampling-policy';
export { onShutdown, type ShutdownOptions, type ShutdownProcess } from './shutdown-signals';
export { shouldTripBreaker } from './should-trip-breaker';
// Streaming holds a limiter slot until the response ends; it lives in src/limits (exported here while limits/index.ts is another engineer's).
export { runStream, type HeldStream, type RunStreamOptions } from '../limits/run-stream';
export { StreamUsage } from '../limits/stream-usage';
// Hierarchical (tenant) limits live with the registry; exported here because src/index.ts re-exports only the registry class.
export { TenantLimiter } from '../registry/tenant-limiter';
export { getOrLoad, SingleFlight } from './single-flight';
export { isTimeoutError, TimeoutError } from './timeout-error';
export { withTimeout, type WithTimeoutOptions } from './with-timeout';
