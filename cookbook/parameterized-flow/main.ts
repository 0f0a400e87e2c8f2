/**
 * Parameterized flows: one flow, run once per parameter set. The batch flow's `prep` returns
 * one param set per target language; each sub-flow (translate → report) sees those params
 * merged over the flow's own (`setParams({ tone })`), so the same nodes translate into French,
 * German, … with different word budgets.
 *
 * The sub-flows run two at a time (`maxConcurrentFlows = 2`), and every LLM call — whichever
 * language it is for — draws from one named limiter, so all languages together stay within the
 * provider's 12 requests per second.
 *
 *   npx tsx cookbook/parameterized-flow/main.ts
 */
import {
  LimiterRegistry,
  Node,
  ThrottledBatchFlow,
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
} from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  docs: string[];
  translations: Map<string, string[]>;
  reports: string[];
}

/** The flow's own params, shared by every sub-flow. */
interface RunParams {
  tone: 'formal' | 'casual';
}

/** One sub-flow's params. */
interface LanguageParams {
  lang: string;
  language: string;
  maxWords: number;
}

type Params = RunParams & LanguageParams;

const LANGUAGES: LanguageParams[] = [
  { lang: 'fr', language: 'French', maxWords: 30 },
  { lang: 'de', language: 'German', maxWords: 25 },
  { lang: 'es', language: 'Spanish', maxWords: 30 },
  { lang: 'ja', language: 'Japanese', maxWords: 40 },
  { lang: 'it', language: 'Italian', maxWords: 30 },
  { lang: 'pt', language: 'Portuguese', maxWords: 30 },
];

/** Translates every document into the sub-flow's language, through the shared 'llm' limiter. */
class TranslateDocsNode extends ThrottledParallelBatchNode<Shared, string, string, Params> {
  constructor(
    private readonly llm: Llm,
    options: ThrottledNodeOptions,
  ) {
    super(options);
  }
  override async prep(shared: Shared): Promise<string[]> {
    return shared.docs;
  }
  override async exec(doc: string): Promise<string> {
    const { language, tone, maxWords } = this.params;
    return (
      await this.llm.complete(`Translate to ${language}, ${tone} tone, at most ${maxWords} words: ${doc}`)
    ).text;
  }
  override async post(shared: Shared, _docs: string[], out: string[]): Promise<string> {
    shared.translations.set(this.params.lang, out);
    return 'report';
  }
}

/** Reports on the sub-flow's language (no LLM call): it reads the same params. */
class ReportNode extends Node<Shared, Params> {
  override async post(shared: Shared): Promise<undefined> {
    const { lang, language, tone, maxWords } = this.params;
    const count = shared.translations.get(lang)?.length ?? 0;
    shared.reports.push(`${language} (${lang}, ${tone}, ≤ ${maxWords} words): ${count} documents translated`);
    return undefined;
  }
}

/** One sub-flow per language, two languages at a time. */
class TranslateEverywhereFlow extends ThrottledBatchFlow<Shared, RunParams, LanguageParams> {
  override maxConcurrentFlows = 2;
  constructor(
    start: TranslateDocsNode,
    private readonly languages: LanguageParams[],
  ) {
    super(start);
  }
  override async prep(): Promise<LanguageParams[]> {
    return this.languages;
  }
}

export interface ParameterizedFlowOptions extends Output {
  /** Documents per language. @default 12 */
  items?: number;
  /** How many languages (sub-flows), up to 6. @default 4 */
  languages?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface ParameterizedFlowSummary extends Summary {
  /** The report line of each sub-flow. */
  reports: string[];
  /** Translations per language code. */
  translations: Record<string, string[]>;
}

export async function run(options: ParameterizedFlowOptions = {}): Promise<ParameterizedFlowSummary> {
  const docs = options.items ?? 12;
  const languages = LANGUAGES.slice(0, Math.max(1, Math.min(options.languages ?? 4, LANGUAGES.length)));
  const out = new Printer(options.quiet);
  const provider = await openProvider({
    name: 'openai',
    simulate: options.simulate,
    simulator: { requestsPerWindow: 12, windowMs: 1_000, latencyMs: 150, jitterMs: 100 },
  });
  // A registry of its own (the global LimiterRegistry works the same way): one budget for all languages.
  const registry = new LimiterRegistry();
  registry.register('llm', { maxConcurrent: 6, maxPerWindow: 12, windowMs: 1_000, windowMarginMs: 200 });
  try {
    out.title(
      `parameterized-flow: ${docs} documents × ${languages.length} languages, one 12-per-second budget`,
    );
    const started = performance.now();
    const translate = new TranslateDocsNode(provider.llm, { limiter: 'llm', registry });
    translate.on('report', new ReportNode());
    const flow = new TranslateEverywhereFlow(translate, languages);
    flow.setParams({ tone: 'formal' }); // merged into every sub-flow's params
    const shared: Shared = { docs: sampleDocuments(docs), translations: new Map(), reports: [] };
    await flow.run(shared);
    const elapsedMs = performance.now() - started;

    for (const { lang, language } of languages)
      out.results(`${language}`, shared.translations.get(lang) ?? [], 1);
    out.results('reports', shared.reports, languages.length);
    out.stats('flow stats', flow.stats);
    out.stats('shared limiter', registry.get('llm').stats());
    const items = docs * languages.length;
    const done = [...shared.translations.values()].reduce(
      (n, list) => n + list.filter((t) => t.length > 0).length,
      0,
    );
    const summary: ParameterizedFlowSummary = {
      example: 'parameterized-flow',
      items,
      done,
      lost: items - done,
      elapsedMs,
      providers: [providerReport(provider)],
      stats: { flow: flow.stats, limiter: registry.get('llm').stats(), node: translate.stats },
      reports: shared.reports,
      translations: Object.fromEntries(shared.translations),
    };
    out.summary(summary);
    return summary;
  } finally {
    await provider.close();
  }
}

runIfMain(import.meta.url, () => run());
