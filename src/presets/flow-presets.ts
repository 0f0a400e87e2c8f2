import { presetTable } from './preset-table';

const flows = <const C extends number, const M extends number | undefined>(
  maxConcurrentFlows: C,
  maxFlowsPerMinute: M,
) =>
  (maxFlowsPerMinute === undefined
    ? { maxConcurrentFlows }
    : { maxConcurrentFlows, maxFlowsPerMinute }) as M extends number
    ? { maxConcurrentFlows: C; maxFlowsPerMinute: M }
    : { maxConcurrentFlows: C };

const adaptive = <const T extends readonly [number, number, number, number, number, number]>([
  initialConcurrentFlows,
  minConcurrentFlows,
  maxConcurrentFlows,
  backoffFactor,
  recoveryThreshold,
  recoveryFactor,
]: T) => ({
  initialConcurrentFlows: initialConcurrentFlows as T[0],
  minConcurrentFlows: minConcurrentFlows as T[1],
  maxConcurrentFlows: maxConcurrentFlows as T[2],
  backoffFactor: backoffFactor as T[3],
  recoveryThreshold: recoveryThreshold as T[4],
  recoveryFactor: recoveryFactor as T[5],
});

/**
 * Flow limits (`maxConcurrentFlows`, `maxFlowsPerMinute`) for throttled batch flows, and AIMD
 * settings for adaptive ones: `new ThrottledBatchFlow(start, FlowPresets.MODERATE)`.
 * Every preset is deeply frozen.
 * @category Presets
 */
export const FlowPresets = presetTable('flow preset', {
  CONSERVATIVE: flows(3, 30),
  MODERATE: flows(10, 60),
  AGGRESSIVE: flows(25, 200),
  HIGH_THROUGHPUT: flows(50, 500),
  UNLIMITED: flows(100, undefined),
  BATCH_PROCESSING: flows(10, 100),
  DATA_PIPELINE: flows(20, 200),
  REALTIME: flows(5, undefined),
  HEAVY_PROCESSING: flows(5, 20),
  ADAPTIVE_CONSERVATIVE: adaptive([5, 2, 15, 0.5, 20, 1.2]),
  ADAPTIVE_MODERATE: adaptive([10, 3, 30, 0.5, 15, 1.3]),
  ADAPTIVE_AGGRESSIVE: adaptive([20, 5, 50, 0.6, 10, 1.4]),
});

/** A flow preset: flow concurrency and rate, or adaptive flow settings. @category Presets */
export type FlowPreset = ReturnType<(typeof FlowPresets)['get']>;
