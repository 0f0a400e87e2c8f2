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
  type FallbackOptions,
  type FallbackReport,
  type FallbackStats,
  type FallbackTarget,
  type FallbackTargetStats,
} from './fallback-chain';
export { FallbackNode, type FallbackNodeOptions } from './fallback-node';
export {
  FallbackExhaustedError,
  isFallbackExhaustedError,
  type FallbackAttempt,
} from './fallback-exhausted-error';
