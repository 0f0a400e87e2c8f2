export { LatencyHistogram, type LatencyHistogramOptions, type LatencySnapshot } from './latency-histogram';
export { LimiterMetrics, percentilesOf, type LatencyPercentiles, type LatencyStats } from './limiter-metrics';
export type { NodeMetricsStats } from './node-metrics';
export {
  addEventHook,
  type CallEvent,
  type EventHook,
  type NodeRunEvent,
  type NodeStartEvent,
  type ThrottleEvent,
} from './throttle-event';
