/**
 * `throttleflow/observability`: latency histograms, limiter metrics and event hooks. OpenTelemetry
 * lives at `throttleflow/otel`.
 * @module throttleflow/observability
 */
export {
  LatencyHistogram,
  type LatencyHistogramOptions,
  type LatencySnapshot,
} from '../limits/latency-histogram';
export { LimiterMetrics, type LatencyPercentiles, type LatencyStats } from '../limits/limiter-metrics';
export type { NodeMetricsStats } from './node-metrics';
export {
  addEventHook,
  type CallEvent,
  type EventHook,
  type NodeRunEvent,
  type NodeStartEvent,
  type ProgressEvent,
  type ThrottleEvent,
} from './throttle-event';
