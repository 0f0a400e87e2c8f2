// Public API of throttleflow. Each feature folder has its own barrel; this file only re-exports.
export * from './core/index';
export * from './limits/clock';
export { InvalidOptionError, isInvalidOptionError } from './validation/options';
export * from './resilience/index';
export * from './cost/index';
export * from './observability/index';
export * from './presets/index';
export * from './providers/index';
export { RateLimitHit, isRateLimitHit, type RateLimitHitOptions, type RateLimitHitKind, type RateLimitScope } from './errors/rate-limit-hit';
export { QuotaExhaustedError, isQuotaExhaustedError, type QuotaExhaustedErrorOptions, type QuotaExhaustedKind } from './errors/quota-exhausted-error';
