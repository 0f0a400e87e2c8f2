export {
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
  type ThrottledNodeStats,
  type ThrottledNodeCounters,
} from './throttled-parallel-batch-node';
export { AdaptiveThrottledNode, type AdaptiveThrottledNodeOptions } from './adaptive-throttled-node';
export {
  ThrottledBatchFlow,
  ThrottledAsyncParallelBatchFlow,
  type ThrottledFlowOptions,
  type ThrottledFlowStats,
} from './throttled-batch-flow';
export { AdaptiveThrottledBatchFlow, type AdaptiveFlowOptions } from './adaptive-throttled-batch-flow';
export { handleRateLimit, type RateLimitOutcome, type RateLimitContext } from './rate-limit-handling';
export { FallbackNode, type FallbackNodeOptions } from './fallback-node';
