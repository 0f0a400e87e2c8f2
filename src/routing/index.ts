/**
 * `throttleflow/routing`: one call over several targets (deployments, keys, providers, models),
 * each with its own limiter.
 * @module throttleflow/routing
 */
export {
  FallbackChain,
  withFallback,
  type FallbackCallOptions,
  type FallbackEvents,
  type FallbackHealth,
  type FallbackOptions,
  type FallbackReport,
  type FallbackStats,
  type FallbackTarget,
  type FallbackTargetStats,
  type RoutingStrategy,
  type SkipReason,
  type TargetHealth,
} from './fallback-chain';
export { FallbackNode, type FallbackNodeOptions } from './fallback-node';
export {
  FallbackExhaustedError,
  isFallbackExhaustedError,
  type FallbackAttempt,
} from './fallback-exhausted-error';
