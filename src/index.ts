/**
 * throttleflow: PocketFlow-compatible pipelines that run at a provider's full rate limit and never
 * beyond it. The root holds what a pipeline author uses; feature building blocks live at subpaths
 * (`throttleflow/providers`, `/cost`, `/resilience`, `/routing`, `/observability`, `/stores`,
 * `/redis`, `/otel`, `/testing`). ARCHITECTURE.md maps the source.
 * @module throttleflow
 */

// The PocketFlow core.
export type { Action, Params, RunOptions } from './core/types';
export { BaseNode, type AnyNode } from './core/base-node';
export { Node, type NodeOptions } from './core/node';
export { BatchNode, ParallelBatchNode } from './core/batch-node';
export { Flow } from './core/flow';
export { BatchFlow, ParallelBatchFlow } from './core/batch-flow';

// Throttled nodes and flows.
export {
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
  type ThrottledNodeStats,
  type ThrottledNodeCounters,
} from './throttled/throttled-parallel-batch-node';
export {
  AdaptiveThrottledNode,
  type AdaptiveThrottledNodeOptions,
} from './throttled/adaptive-throttled-node';
export {
  ThrottledBatchFlow,
  ThrottledAsyncParallelBatchFlow,
  type ThrottledFlowOptions,
  type ThrottledFlowStats,
} from './throttled/throttled-batch-flow';
export {
  AdaptiveThrottledBatchFlow,
  type AdaptiveFlowOptions,
} from './throttled/adaptive-throttled-batch-flow';

// Limiters, shared limiters and presets.
export type { Clock } from './util/clock';
export {
  Limiter,
  type AcquireOptions,
  type RunOptions as LimiterRunOptions,
  type WrapOptions as LimiterWrapOptions,
  type DrainOptions,
  type RateLimitReport,
  type LimiterStats,
} from './limits/limiter';
export type { LimiterOptions, WindowOption, ResolvedWindow } from './limits/limiter-options';
export type { ObserveOptions } from './limits/provider-feedback';
export type {
  LimiterEvents,
  QueuedEvent,
  AcquireEvent,
  ReleaseEvent,
  PauseEvent,
  ResumeEvent,
  ResizeEvent,
  RateLimitEvent,
  LimitChangeEvent,
  LimiterWarningEvent,
  LimiterWarningCode,
} from './limits/limiter-events';
export type { Lease, LeaseUsage, LeaseOwner } from './limits/lease';
export type { LatencyPercentiles, LatencyStats } from './limits/limiter-metrics';
// The AIMD controller behind adaptive nodes and flows (their `aimd` getter returns it).
export type { Aimd, AimdOptions, AimdStats } from './limits/aimd';
export { LimiterRegistry, type RegisterOptions } from './registry/limiter-registry';
export { TenantLimiter } from './registry/tenant-limiter';
export { limiterOptionsFromEnv, type FromEnvOptions, type EnvLike } from './registry/from-env';
export { Presets, type NodePreset } from './presets/presets';
export { FlowPresets, type FlowPreset } from './presets/flow-presets';
export type { PresetLookup, DeepReadonly } from './presets/preset-table';

// One call through a limiter: rate-limit handling and streams that hold their slot.
export { handleRateLimit, type RateLimitOutcome, type RateLimitContext } from './calls/rate-limit-handling';
export { runStream, type HeldStream, type RunStreamOptions } from './calls/run-stream';
export type { StreamUsage } from './calls/stream-usage';
export { throttledFetch, type FetchFunction, type ThrottledFetchOptions } from './fetch/throttled-fetch';
export {
  useAsyncLocalStorage,
  type AsyncLocalStorageClass,
  type AsyncContextStorage,
} from './util/async-context';

// Errors and their guards.
export {
  ThrottleflowError,
  isThrottleflowError,
  type ThrottleflowErrorCode,
} from './errors/throttleflow-error';
export {
  RateLimitHit,
  isRateLimitHit,
  type RateLimitHitOptions,
  type RateLimitHitKind,
  type RateLimitScope,
} from './errors/rate-limit-hit';
export {
  QuotaExhaustedError,
  isQuotaExhaustedError,
  type QuotaExhaustedErrorOptions,
  type QuotaExhaustedKind,
} from './errors/quota-exhausted-error';
export { LimiterTimeoutError, isLimiterTimeoutError } from './errors/limiter-timeout-error';
export { LimitExceededError, isLimitExceededError } from './errors/limit-exceeded-error';
export { ShutdownError, isShutdownError } from './errors/shutdown-error';
export { QueueFullError, isQueueFullError } from './errors/queue-full-error';
export { BatchFlowError, isBatchFlowError, type BatchFlowFailure } from './errors/batch-flow-error';
export { InvalidOptionError, isInvalidOptionError } from './validation/options';
export { isAbortError } from './errors/abort-error';
