// Public API of throttleflow. Each feature folder has its own barrel; this file only re-exports.
export * from './core/index';
export * from './limits/index';
export * from './stores/index';
export * from './throttled/index';
export { LimiterRegistry, type RegisterOptions } from './registry/limiter-registry';
export { limiterOptionsFromEnv, type FromEnvOptions, type EnvLike } from './registry/from-env';
export { InvalidOptionError, isInvalidOptionError } from './validation/options';
export * from './resilience/index';
export * from './cost/index';
export * from './observability/index';
export * from './presets/index';
export * from './providers/index';
export { RateLimitHit, isRateLimitHit, type RateLimitHitOptions, type RateLimitHitKind, type RateLimitScope } from './errors/rate-limit-hit';
export { QuotaExhaustedError, isQuotaExhaustedError, type QuotaExhaustedErrorOptions, type QuotaExhaustedKind } from './errors/quota-exhausted-error';
export { LimiterTimeoutError, isLimiterTimeoutError } from './errors/limiter-timeout-error';
export { LimitExceededError, isLimitExceededError } from './errors/limit-exceeded-error';
export { ShutdownError, isShutdownError } from './errors/shutdown-error';
export { BatchFlowError, isBatchFlowError, type BatchFlowFailure } from './errors/batch-flow-error';
