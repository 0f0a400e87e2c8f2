/**
 * Multi-region: three deployments of one model (three regions, or three keys), each with its own
 * rate limit, behind one pipeline. `withFallback(targets, { strategy: 'soonest' })` sends each
 * call to the deployment whose limiter can start it earliest, so their capacity adds up: three
 * deployments of 10 requests per second serve 30 per second. The same items through one
 * deployment take about three times as long.
 *
 * Each deployment is its own provider simulator (this example always runs against simulators:
 * it stages three deployments).
 *
 *   npx tsx cookbook/multi-region/main.ts
 */
import { Limiter, ThrottledParallelBatchNode } from '../../src/index';
import {
  withFallback,
  type FallbackChain,
  type FallbackStats,
  type FallbackTarget,
} from '../../src/routing/index';
import { sampleDocuments } from '../data/sample-texts';
import type { LlmReply } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;
/** Each deployment's limit: 10 requests per second. */
const PER_WINDOW = 10;
const WINDOW_MS = 1_000;

interface Shared {
  texts: string[];
  summaries?: string[];
}

/** Summarises every text through the chain; the node itself only bounds the calls in flight. */
class SummariseNode extends ThrottledParallelBatchNode<Shared, string, string> {
  override maxConcurrent = 100;

  constructor(private readonly chain: FallbackChain<string, LlmReply>) {
    super({ maxRetries: 2 });
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  override async exec(text: string, signal?: AbortSignal): Promise<string> {
    return (await this.chain.call(text, { signal })).text;
  }

  override async post(shared: Shared, _texts: string[], summaries: string[]) {
    shared.summaries = summaries;
    return undefined;
  }
}

export interface MultiRegionOptions extends Output {
  /** Texts to summarise. @default 90 */
  items?: number;
}

/** One run of the pipeline: over how many deployments, how long it took, who served what. */
export interface RegionRun {
  deployments: number;
  makespanMs: number;
  servedBy: Record<string, number>;
  done: number;
}

export interface MultiRegionSummary extends Summary {
  /** The same items through one deployment, then through all three. */
  runs: [RegionRun, RegionRun];
  /** How much sooner three deployments finished (one deployment's makespan ÷ three's). */
  speedup: number;
}

/** Runs `texts` through a 'soonest' chain over `providers`; each deployment gets its own limiter. */
async function runOver(
  providers: readonly Provider[],
  texts: string[],
): Promise<{ run: RegionRun; chain: FallbackStats }> {
  // The whole reply is the chain's result, so each deployment's limiter reads its rate-limit headers.
  const targets: FallbackTarget<string, LlmReply>[] = providers.map((p) => ({
    name: p.name,
    limiter: new Limiter({
      name: p.name,
      maxPerWindow: PER_WINDOW,
      windowMs: WINDOW_MS,
      windowMarginMs: 200,
    }),
    call: (text, signal) => p.llm.complete(`Summarise: ${text}`, { signal }),
  }));
  const chain = withFallback(targets, { name: 'regions', strategy: 'soonest' });
  const shared: Shared = { texts };
  const started = performance.now();
  await new SummariseNode(chain).run(shared);
  const makespanMs = performance.now() - started;
  const stats = chain.stats();
  const done = (shared.summaries ?? []).filter((s) => s.length > 0).length;
  return { run: { deployments: providers.length, makespanMs, servedBy: stats.servedBy, done }, chain: stats };
}

export async function run(options: MultiRegionOptions = {}): Promise<MultiRegionSummary> {
  const items = options.items ?? 90;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  const deployment = (name: string) =>
    openProvider({
      name,
      simulate: true,
      simulator: { requestsPerWindow: PER_WINDOW, windowMs: WINDOW_MS, latencyMs: 100, countRejected: true },
    });
  try {
    // The comparison: the same pipeline over one deployment of the same size.
    const single = await deployment('single');
    providers.push(single);
    const regions: Provider[] = [];
    for (const region of REGIONS) regions.push(await deployment(region));
    providers.push(...regions);
    const texts = sampleDocuments(items);
    out.title(`multi-region: ${items} texts, deployments of ${PER_WINDOW} requests / s each`);
    const one = await runOver([single], texts);
    const three = await runOver(regions, texts);

    const columns = ['single', ...REGIONS];
    out.line(`deployments | makespan s | ${columns.map((c) => c.padEnd(8)).join(' | ')}`);
    for (const r of [one.run, three.run]) {
      const shares = columns.map((c) => `${Math.round(((r.servedBy[c] ?? 0) / items) * 100)} %`.padEnd(8));
      out.line(
        `${String(r.deployments).padEnd(11)} | ${(r.makespanMs / 1000).toFixed(2).padEnd(10)} | ${shares.join(' | ')}`,
      );
    }
    const speedup = one.run.makespanMs / three.run.makespanMs;
    out.line(`three deployments finished ${speedup.toFixed(1)}× sooner than one`);
    out.stats('chain (three deployments)', {
      calls: three.chain.calls,
      served: three.chain.served,
      failed: three.chain.failed,
    });

    const summary: MultiRegionSummary = {
      example: 'multi-region',
      items,
      done: Math.min(one.run.done, three.run.done),
      lost: items - Math.min(one.run.done, three.run.done),
      elapsedMs: one.run.makespanMs + three.run.makespanMs,
      providers: providers.map(providerReport),
      stats: { oneDeployment: one.chain, threeDeployments: three.chain },
      runs: [one.run, three.run],
      speedup,
    };
    out.summary(summary);
    return summary;
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
