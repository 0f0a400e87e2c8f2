/**
 * Basic translation: node-level throttling with subclass fields.
 *
 * The reference cookbook's `TranslateNode(ThrottledParallelBatchNode)` with `max_concurrent = 5`
 * and `max_per_minute = 60`, in TypeScript. To finish in seconds, the simulated provider allows
 * 10 requests per 1-second window (600 per minute), and the node declares exactly that limit.
 *
 *   npx tsx cookbook/basic-translation/main.ts
 */
import { ThrottledParallelBatchNode } from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  texts: string[];
  translations?: string[];
}

/**
 * Translates every text, at most 5 calls in flight and at most 10 started in any second.
 * Fields are read at the first run; constructor options would win over them.
 */
class TranslateNode extends ThrottledParallelBatchNode<Shared, string, string> {
  override maxConcurrent = 5; // at most 5 simultaneous API calls
  override maxPerWindow = 10; // at most 10 calls …
  override windowMs = 1_000; // … in any sliding second (use maxPerMinute = 60 for a real tier-1 key)
  // Safety margin added to the window: our send time and the provider's arrival time differ by
  // connection setup and scheduling (up to ~150 ms for a cold localhost connection). The default,
  // 1 % of the window, is right for a 60 s window; a 1 s demo window needs more.
  override windowMarginMs = 200;

  constructor(private readonly llm: Llm) {
    super();
  }

  override async prep(shared: Shared): Promise<string[]> {
    return shared.texts;
  }

  override async exec(text: string): Promise<string> {
    const reply = await this.llm.complete(`Translate to French: ${text}`);
    return reply.text;
  }

  override async post(shared: Shared, _texts: string[], translations: string[]): Promise<string> {
    shared.translations = translations;
    return 'default';
  }
}

export interface BasicTranslationOptions extends Output {
  /** Texts to translate. @default 40 */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface BasicTranslationSummary extends Summary {
  translations: string[];
}

export async function run(options: BasicTranslationOptions = {}): Promise<BasicTranslationSummary> {
  const items = options.items ?? 40;
  const out = new Printer(options.quiet);
  const provider = await openProvider({
    name: 'openai',
    simulate: options.simulate,
    // The provider's real limit: 10 requests per second; answers take 150 ± 100 ms.
    simulator: { requestsPerWindow: 10, windowMs: 1_000, latencyMs: 150, jitterMs: 100 },
  });
  try {
    out.title(`basic-translation: ${items} texts, maxConcurrent 5, 10 per second`);
    const started = performance.now();
    const shared: Shared = { texts: sampleDocuments(items) };
    const node = new TranslateNode(provider.llm);
    await node.run(shared);
    const translations = shared.translations ?? [];
    const elapsedMs = performance.now() - started;

    out.results('translations', translations);
    out.stats('node stats', node.stats);
    const summary: BasicTranslationSummary = {
      example: 'basic-translation',
      items,
      done: translations.filter((t) => t.length > 0).length,
      lost: items - translations.length,
      elapsedMs,
      providers: [providerReport(provider)],
      stats: { node: node.stats },
      translations,
    };
    out.summary(summary);
    return summary;
  } finally {
    await provider.close();
  }
}

runIfMain(import.meta.url, () => run());
