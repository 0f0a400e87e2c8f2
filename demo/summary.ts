import type { ProviderSimulatorStats } from '../src/testing/index';
import { count, percent, seconds, usd, windowText } from './format';
import { STAGES, totalFailed, type RunMetrics } from './metrics';

/** One run, finished. */
export interface RunResult {
  label: string;
  makespanMs: number;
  metrics: RunMetrics;
  /** Documents with at least one stage failed: their label is garbage or missing. */
  lostDocuments: number;
  /** Documents the run labelled as complaints. */
  complaints: number;
  /** The flow's own verdict line. */
  report: string;
  /** What the provider saw (counts and maxima). */
  provider: ProviderSimulatorStats;
}

/** What the comparison needs to know about the setup. */
export interface SummaryContext {
  documents: number;
  limit: number;
  windowMs: number;
  triesPerItem: number;
  /** The best makespan the limit allows (see optimum.ts). */
  optimumMs: number;
}

/** The comparison table: one row per run, numbers rounded, columns aligned. */
export function resultTable(runs: RunResult[]): string[] {
  const header = ['run', 'makespan', '429s', 'failed items', 'tokens', 'cost', 'p50 latency', 'p95 latency'];
  const rows = runs.map((r) => {
    const latency = r.metrics.latency.snapshot();
    return [
      r.label,
      seconds(r.makespanMs),
      count(r.metrics.rateLimited),
      count(totalFailed(r.metrics)),
      count(r.metrics.tokens),
      usd(r.metrics.costUsd),
      seconds(latency.p50),
      seconds(latency.p95),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Text left, numbers right, as a reader scans them.
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** What happened, in words: what the unthrottled run lost and what that did to its answer, and how close the throttled run came to the optimum. */
export function summarySentences(plain: RunResult, throttled: RunResult, ctx: SummaryContext): string[] {
  const items = ctx.documents * STAGES.length;
  const itemsText = `${count(items)} items (${count(ctx.documents)} documents × ${STAGES.length} stages)`;
  const limitText = `${count(ctx.limit)} requests per ${windowText(ctx.windowMs)}`;
  // The throttled run's answer is the reference only when it is complete itself.
  const reference = throttled.lostDocuments === 0 ? throttled : undefined;
  const lines: string[] = [];

  const plainFailed = totalFailed(plain.metrics);
  if (plainFailed > 0) {
    lines.push(
      `Unthrottled: the provider answered ${count(plain.metrics.rateLimited)} × 429; ${count(plainFailed)} of ${itemsText} ` +
        `still failed after ${ctx.triesPerItem} tries each, so ${count(plain.lostDocuments)} of ${count(ctx.documents)} documents were lost.`,
    );
    const truth = reference
      ? reference.complaints === plain.complaints
        ? ` It matches the complete run's count (${count(reference.complaints)}) only by luck.`
        : ` The complete run found ${count(reference.complaints)} complaints.`
      : '';
    const through = ctx.documents - plain.lostDocuments;
    const why =
      through === 0
        ? `not one document got through all ${STAGES.length} stages`
        : `it counts only the ${count(through)} documents that got through all ${STAGES.length} stages`;
    lines.push(`Its answer, "${plain.report}", is therefore wrong: ${why}.${truth}`);
    if (plain.makespanMs < throttled.makespanMs)
      lines.push(`It finished sooner (${seconds(plain.makespanMs)}) only because it gave up on those items.`);
  } else {
    lines.push(
      `Unthrottled: the provider answered ${count(plain.metrics.rateLimited)} × 429, but every one of the ${itemsText} ` +
        `got through on a retry this time, so its answer is complete.`,
    );
  }

  const throttledFailed = totalFailed(throttled.metrics);
  const peak = `at most ${count(throttled.provider.maxRequestsInAnyWindow)} requests in any ${windowText(ctx.windowMs)} window; the limit is ${count(ctx.limit)}`;
  lines.push(
    throttledFailed === 0
      ? `Throttled: all ${itemsText} succeeded, with ${count(throttled.metrics.rateLimited)} × 429 (${peak}).`
      : `Throttled: ${count(throttledFailed)} of ${itemsText} failed (${count(throttled.metrics.rateLimited)} × 429; ${peak}), so its answer is incomplete too.`,
  );
  // As the bench scores it: items served per unit of time against the optimum's, so dropping items does not pay.
  const served = (items - throttledFailed) / items;
  const efficiency = served * (ctx.optimumMs / throttled.makespanMs);
  lines.push(
    `It took ${seconds(throttled.makespanMs)}; the best possible under ${limitText} is ${seconds(ctx.optimumMs)}, ` +
      `so it ran at ${percent(efficiency)} of the optimum.`,
  );
  return lines;
}

/** Word-wraps a paragraph to `width` columns, each line indented, so a sentence does not run off a narrow terminal. */
export function wrap(paragraph: string, width: number, indent = '  '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}
