/**
 * Adaptive node throttling: the node does not know the provider's limit and finds a concurrency
 * that fits it by AIMD — cut by half on a 429, grow by 20 % after 10 successes in a row.
 *
 * The simulated provider allows 20 requests per second and answers in 250 ± 100 ms, so about
 * 5 calls in flight fill it; the node starts at 10 and must come down.
 *
 *   npx tsx cookbook/adaptive-node/main.ts
 */
import { AdaptiveThrottledNode } from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  texts: string[];
  translations?: string[];
}

/** The reference cookbook's SmartTranslateNode: AIMD settings as subclass fields, no window. */
class SmartTranslateNode extends AdaptiveThrottledNode<Shared, string, string> {
  override initialConcurrent = 10; // start optimistic
  override minConcurrent = 2; // never go below 2
  override maxConcurrent = 50; // cap at 50
  override backoffFactor = 0.5; // halve on a rate limit
  override recoveryThreshold = 10; // successes in a row before growing
  override recoveryFactor = 1.2; // +20 % after sustained success

  constructor(private readonly llm: Llm) {
    super();
  }

  override async prep(shared: Shared): Promise<string[]> {
    return shared.texts;
  }

  override async exec(text: string): Promise<string> {
    const reply = await this.llm.complete(`Translate to Spanish: ${text}`);
    return reply.text;
  }

  override async post(shared: Shared, _texts: string[], translations: string[]): Promise<string> {
    shared.translations = translations;
    return 'default';
  }
}

export interface AdaptiveNodeOptions extends Output {
  /** Texts to translate. @default 80 */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface AdaptiveNodeSummary extends Summary {
  /** Concurrency levels the node went through (starting at 10). */
  levels: number[];
  /** Rate limits the node saw and handled. */
  nodeRateLimits: number;
}

export async function run(options: AdaptiveNodeOptions = {}): Promise<AdaptiveNodeSummary> {
  const items = options.items ?? 80;
  const out = new Printer(options.quiet);
  const provider = await openProvider({
    name: 'openai',
    simulate: options.simulate,
    simulator: { requestsPerWindow: 20, windowMs: 1_000, latencyMs: 250, jitterMs: 100 },
  });
  try {
    out.title(`adaptive-node: ${items} texts, limit unknown to the node (provider: 20 per second)`);
    const started = performance.now();
    const shared: Shared = { texts: sampleDocuments(items) };
    const node = new SmartTranslateNode(provider.llm);
    // The node resizes its limiter at every AIMD step: record the levels it went through.
    const levels = [node.aimd.current];
    node.getLimiter().on('resize', ({ to }) => levels.push(to));
    await node.run(shared);
    const translations = shared.translations ?? [];
    const elapsedMs = performance.now() - started;

    out.results('translations', translations, 3);
    out.line(`concurrency levels: ${levels.join(' → ')}`);
    out.stats('node stats', node.stats);
    out.stats('AIMD', node.aimd.stats());
    const summary: AdaptiveNodeSummary = {
      example: 'adaptive-node',
      items,
      done: translations.filter((t) => t.length > 0).length,
      lost: items - translations.length,
      elapsedMs,
      providers: [providerReport(provider)],
      stats: { node: node.stats, aimd: node.aimd.stats() },
      levels,
      nodeRateLimits: node.stats.totalRateLimits,
    };
    out.summary(summary);
    return summary;
  } finally {
    await provider.close();
  }
}

runIfMain(import.meta.url, () => run());
