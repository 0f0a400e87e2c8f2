/**
 * Printing for the cookbook examples: results, throttleflow stats, and what the provider saw
 * (above all, how many 429s it sent). Also the summary every example's `run()` resolves to.
 */
import type { ProviderReport } from './provider';

/** What every example's `run()` resolves to (examples add their own fields). */
export interface Summary {
  /** The example's folder name. */
  example: string;
  /** Units of work the example was asked to do (texts, users, …). */
  items: number;
  /** Units that finished with a result. */
  done: number;
  /** Units that ended without a result (should always be 0). */
  lost: number;
  /** Wall time of the run, in milliseconds. */
  elapsedMs: number;
  /** Per provider: calls, 429s, busiest window. */
  providers: ProviderReport[];
  /** Stats of the nodes, flows and limiters involved, by name. */
  stats: Record<string, object>;
}

/** Whether the run prints (examples run quietly under tests). */
export interface Output {
  quiet?: boolean;
}

/** A small printer that goes quiet when `quiet` is set. */
export class Printer {
  constructor(private readonly quiet = false) {}

  /** A heading. */
  title(text: string): void {
    this.line(`\n=== ${text} ===`);
  }

  line(text = ''): void {
    if (!this.quiet) console.log(text);
  }

  /** The first `show` results, then how many more there were. */
  results(label: string, results: readonly string[], show = 5): void {
    this.line(`${label} (${results.length}):`);
    for (const r of results.slice(0, show)) this.line(`  ${clip(r, 110)}`);
    if (results.length > show) this.line(`  … ${results.length - show} more`);
  }

  /** One stats object on one line per key group (numbers rounded). */
  stats(label: string, stats: object): void {
    this.line(`${label}: ${formatStats(stats)}`);
  }

  /** What a provider saw: calls, 429s, and its busiest window against its limit. */
  provider(report: ProviderReport): void {
    this.line(providerLine(report));
  }

  /** The closing block: every provider and the done/lost count. */
  summary(summary: Summary): void {
    this.line('');
    for (const p of summary.providers) this.provider(p);
    this.line(
      `done ${summary.done}/${summary.items}, lost ${summary.lost}, 429s ${summary.providers.reduce((n, p) => n + p.rateLimited, 0)}, ` +
        `${(summary.elapsedMs / 1000).toFixed(1)} s`,
    );
  }
}

/** `key=value` pairs, numbers rounded, Infinity and undefined kept readable. */
export function formatStats(stats: object): string {
  return Object.entries(stats)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
  if (typeof value === 'object' && value !== null) return `{${formatStats(value)}}`;
  return String(value);
}

/** One line per provider: `openai (simulator): 40 calls, 0 × 429, busiest 1000 ms window 10/10`. */
export function providerLine(p: ProviderReport): string {
  const where = p.target === 'simulator' ? 'simulator' : `real ${p.target} API`;
  let line = `${p.name} (${where}): ${p.calls} calls, ${p.succeeded} ok, ${p.rateLimited} × 429`;
  if (p.overloaded) line += `, ${p.overloaded} × 529`;
  line += `, at most ${p.maxInFlight} in flight`;
  if (p.windowMs !== undefined) {
    if (p.requestsPerWindow !== undefined)
      line += `, busiest ${p.windowMs} ms window ${p.maxRequestsInAnyWindow}/${p.requestsPerWindow} requests`;
    if (p.tokensPerWindow !== undefined) line += `, ${p.maxTokensInAnyWindow}/${p.tokensPerWindow} tokens`;
  }
  return line;
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
