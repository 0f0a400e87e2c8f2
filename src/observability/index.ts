export { LatencyHistogram, type LatencyHistogramOptions, type LatencySnapshot } from './latency-histogram';
export {
  addEventHook,
  type CallEvent,
  type EventHook,
  type NodeRunEvent,
  type ThrottleEvent,
} from './throttle-event';
