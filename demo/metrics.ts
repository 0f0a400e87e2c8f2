import { LatencyHistogram, type ProgressEvent } from '../src/observability/index';

export const STAGES = ['summarise', 'translate', 'classify'] as const;
export type Stage = (typeof STAGES)[number];

/** What one run measured, as it goes (the progress display reads it live). */
export interface RunMetrics {
  /** Items whose call succeeded, per stage. */
  done: Record<Stage, number>;
  /** Items that used up their tries and went through `execFallback`, per stage. */
  failed: Record<Stage, number>;
  /** 429 answers, retried or not. */
  rateLimited: number;
  tokens: number;
  costUsd: number;
  latency: LatencyHistogram;
  /** The last `progress` event of each stage's node (throttled nodes send them): the bars follow it. */
  progress: Partial<Record<Stage, ProgressEvent>>;
}

export const newMetrics = (): RunMetrics => ({
  done: { summarise: 0, translate: 0, classify: 0 },
  failed: { summarise: 0, translate: 0, classify: 0 },
  rateLimited: 0,
  tokens: 0,
  costUsd: 0,
  latency: new LatencyHistogram(),
  progress: {},
});

/**
 * Items finished either way: a failed item is finished too, or the bars of a lossy run would never
 * fill. A throttled stage reports it in its `progress` events (an item that went through
 * `execFallback` is `done` there); a plain pocketflow stage has none, so its calls are counted.
 */
export const settled = (m: RunMetrics, stage: Stage) => {
  const progress = m.progress[stage];
  return progress ? progress.done + progress.failed : m.done[stage] + m.failed[stage];
};

export const totalSettled = (m: RunMetrics) => STAGES.reduce((n, s) => n + settled(m, s), 0);

export const totalFailed = (m: RunMetrics) => STAGES.reduce((n, s) => n + m.failed[s], 0);
