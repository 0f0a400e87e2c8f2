export { LatencyHistogram, type LatencyHistogramOptions, type LatencySnapshot } from './latency-histogram';
