import { MultiBar, Presets as BarPresets } from 'cli-progress';
import { UNKNOWN, count, seconds, timeLeft } from './format';
import { STAGES, settled, totalFailed, totalSettled, type RunMetrics } from './metrics';

/**
 * Items finished per second over the last `spanMs`, from the running total sampled as the display
 * refreshes. The demo's throttled run is paced by the provider's window (a burst, then a wait), so
 * only a rate over a whole window says how fast it really goes.
 */
export class RecentRate {
  private samples: { atMs: number; total: number }[] = [];

  constructor(private readonly spanMs: number) {}

  add(atMs: number, total: number): void {
    this.samples.push({ atMs, total });
    // Keep one sample at or before the span's start, so the rate covers the whole span.
    while (this.samples.length > 2 && this.samples[1]!.atMs <= atMs - this.spanMs) this.samples.shift();
  }

  /** Per second over the samples, once they cover at least `minSpanMs` (else undefined). */
  perSecond(minSpanMs: number): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last) return undefined;
    const spanMs = last.atMs - first.atMs;
    if (spanMs <= 0 || spanMs < minSpanMs) return undefined;
    return ((last.total - first.total) * 1000) / spanMs;
  }
}

/** Remaining ÷ rate; undefined while the rate is unknown or zero (nothing says when work resumes). */
export function etaMs(remaining: number, perSecond: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (perSecond === undefined || !(perSecond > 0)) return undefined;
  return (remaining / perSecond) * 1000;
}

/** The status under the bars: `26.4 items/s · 429s 0 · failed 0 · ETA 12 s` (or `done in 17.0 s` at the end). */
export function statusText(s: {
  perSecond: number | undefined;
  rateLimited: number;
  failed: number;
  etaMs: number | undefined;
  doneInMs?: number;
}): string {
  const rate = s.perSecond === undefined ? UNKNOWN : s.perSecond.toFixed(1);
  const end = s.doneInMs === undefined ? `ETA ${timeLeft(s.etaMs)}` : `done in ${seconds(s.doneInMs)}`;
  return `${rate} items/s · 429s ${count(s.rateLimited)} · failed ${count(s.failed)} · ${end}`;
}

const REFRESH_MS = 200;
const PLAIN_LINE_MS = 2_000;
const LABEL_WIDTH = 12;

/**
 * Live progress of one run: a bar per stage and a status line on a terminal, a line every 2 s
 * otherwise. `rateSpanMs` is the provider's window: the ETA shows `…` until one whole window has
 * been seen. Returns `stop(makespanMs)`, which draws the final state.
 */
export function showProgress(
  label: string,
  metrics: RunMetrics,
  total: number,
  rateSpanMs: number,
): (makespanMs: number) => void {
  const started = performance.now();
  const rate = new RecentRate(rateSpanMs);
  const status = (doneInMs?: number) => {
    const now = performance.now() - started;
    rate.add(now, totalSettled(metrics));
    // A rate over half a second is worth showing; an ETA needs the whole window (see RecentRate).
    const shown = rate.perSecond(Math.min(500, rateSpanMs));
    const eta = etaMs(STAGES.length * total - totalSettled(metrics), rate.perSecond(rateSpanMs));
    return statusText({
      perSecond: shown,
      rateLimited: metrics.rateLimited,
      failed: totalFailed(metrics),
      etaMs: eta,
      doneInMs,
    });
  };
  const width = String(total).length;
  const countOf = (n: number) => `${String(n).padStart(width)}/${total}`;

  if (process.stdout.isTTY) {
    // Our own payload names only: cli-progress overwrites `eta`, `value`, `total`, … with its own values.
    const bars = new MultiBar(
      {
        format: '{label} {stage} [{bar}] {n}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stdout,
      },
      BarPresets.shades_classic,
    );
    const pad = ' '.repeat(LABEL_WIDTH);
    const rows = STAGES.map((stage, i) =>
      bars.create(total, 0, {
        label: i === 0 ? label.padEnd(LABEL_WIDTH) : pad,
        stage: stage.padEnd(10),
        n: countOf(0),
      }),
    );
    const statusRow = bars.create(1, 0, { label: pad, status: status() }, { format: '{label} {status}' });
    const draw = (doneInMs?: number) => {
      STAGES.forEach((stage, i) =>
        rows[i]!.update(settled(metrics, stage), { n: countOf(settled(metrics, stage)) }),
      );
      statusRow.update(0, { status: status(doneInMs) });
    };
    const timer = setInterval(() => draw(), REFRESH_MS);
    return (makespanMs) => {
      clearInterval(timer);
      draw(makespanMs);
      bars.stop();
    };
  }

  const line = (doneInMs?: number) =>
    console.log(
      `${label}: ${STAGES.map((s) => `${s} ${countOf(settled(metrics, s))}`).join(', ')} | ${status(doneInMs)}`,
    );
  // Sampled as often as on a terminal, so the rate is the same; printed less often.
  const sampler = setInterval(() => rate.add(performance.now() - started, totalSettled(metrics)), REFRESH_MS);
  const printer = setInterval(() => line(), PLAIN_LINE_MS);
  return (makespanMs) => {
    clearInterval(sampler);
    clearInterval(printer);
    line(makespanMs);
  };
}
