/**
 * Model fallback: a cheap model first, a larger-context model for long prompts. Two targets in one
 * chain, `strategy: 'cheapest'`: every prompt goes to the cheap model when it fits that model's
 * context window and the cheap deployment can start it within `maxWaitMs`; a prompt too long for
 * the cheap model goes to the larger-context one (never sent where it cannot fit), and so does
 * the overflow when the cheap deployment is busy. Prices come from the price table
 * (`throttleflow/cost`), the context windows from each target's `model` — here shrunk with
 * `contextWindowTokens` so that a few kilobytes of text make a "long" prompt.
 *
 *   npx tsx cookbook/model-fallback/main.ts
 */
import { Limiter, ThrottledParallelBatchNode } from '../../src/index';
import { estimateTokens } from '../../src/cost/index';
import {
  withFallback,
  type FallbackChain,
  type FallbackStats,
  type FallbackTarget,
} from '../../src/routing/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm, LlmReply } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

/** Output tokens each call asks for. */
const MAX_OUTPUT_TOKENS = 60;
/** The cheap model's context window in this demo (tokens): prompts past ~1,900 tokens do not fit. */
const SMALL_CONTEXT_TOKENS = 2_000;

interface Shared {
  texts: string[];
  summaries?: string[];
}

/** A prompt and the tokens it will need: the estimate the chain checks context windows with. */
interface Prompt {
  text: string;
  tokens: number;
}

class SummariseNode extends ThrottledParallelBatchNode<Shared, Prompt, string> {
  override maxConcurrent = 20;

  constructor(private readonly chain: FallbackChain<Prompt, LlmReply>) {
    super({ maxRetries: 2 });
  }

  override async prep(shared: Shared): Promise<Prompt[]> {
    return shared.texts.map((text) => ({ text, tokens: estimateTokens(text) }));
  }

  override async exec(prompt: Prompt, signal?: AbortSignal): Promise<string> {
    return (await this.chain.call(prompt, { signal })).text;
  }

  override async post(shared: Shared, _prompts: Prompt[], summaries: string[]) {
    shared.summaries = summaries;
    return undefined;
  }
}

export interface ModelFallbackOptions extends Output {
  /** Texts to summarise; every fifth is made long (about 3,000 tokens). @default 40 */
  items?: number;
}

export interface ModelFallbackSummary extends Summary {
  /** Calls served by each model. */
  servedBy: Record<string, number>;
  /** Long prompts (over the cheap model's window) and where they went. */
  longPrompts: number;
  longServedByLarge: number;
  /** Calls that passed the cheap model by, by reason (its context window, its wait). */
  cheapSkips: FallbackStats['targets'][string]['skips'];
}

function target(
  name: string,
  model: string,
  llm: Llm,
  limiter: Limiter,
  contextWindowTokens?: number,
): FallbackTarget<Prompt, LlmReply> {
  return {
    name,
    model,
    ...(contextWindowTokens === undefined ? {} : { contextWindowTokens }),
    limiter,
    tokensFor: (p) => p.tokens + MAX_OUTPUT_TOKENS,
    call: (p, signal) => llm.complete(`Summarise: ${p.text}`, { signal, maxTokens: MAX_OUTPUT_TOKENS }),
  };
}

export async function run(options: ModelFallbackOptions = {}): Promise<ModelFallbackSummary> {
  const items = options.items ?? 40;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  try {
    const cheap = await openProvider({
      name: 'gpt-4o-mini',
      model: 'gpt-4o-mini',
      simulate: true,
      simulator: { requestsPerWindow: 10, windowMs: 1_000, latencyMs: 100 },
    });
    providers.push(cheap);
    const large = await openProvider({
      name: 'gpt-4.1',
      model: 'gpt-4.1',
      simulate: true,
      simulator: { requestsPerWindow: 20, windowMs: 1_000, latencyMs: 200 },
    });
    providers.push(large);

    const chain = withFallback<Prompt, LlmReply>(
      [
        target(
          'gpt-4o-mini',
          'gpt-4o-mini',
          cheap.llm,
          new Limiter({ name: 'mini', maxPerWindow: 10, windowMs: 1_000, windowMarginMs: 200 }),
          SMALL_CONTEXT_TOKENS,
        ),
        target(
          'gpt-4.1',
          'gpt-4.1',
          large.llm,
          new Limiter({ name: 'large', maxPerWindow: 20, windowMs: 1_000, windowMarginMs: 200 }),
        ),
      ],
      {
        name: 'summarise',
        strategy: 'cheapest',
        // A call waits up to 1.5 s for the cheap model before the dear one takes it.
        maxWaitMs: 1_500,
        estimateCall: (p: Prompt) => ({ inputTokens: p.tokens, outputTokens: MAX_OUTPUT_TOKENS }),
      },
    );

    // Every fifth text is long: 150 documents in one prompt (about 3,500 tokens).
    const texts = sampleDocuments(items).map((t, i) => (i % 5 === 4 ? sampleDocuments(150).join(' ') : t));
    const longIndexes = new Set(
      texts.flatMap((t, i) => (estimateTokens(t) + MAX_OUTPUT_TOKENS > SMALL_CONTEXT_TOKENS ? [i] : [])),
    );
    const servedLong: string[] = [];
    chain.on('served', ({ target: by }) => servedLong.push(by));

    out.title(
      `model-fallback: ${items} texts (${longIndexes.size} too long for the cheap model), strategy 'cheapest'`,
    );
    const started = performance.now();
    const shared: Shared = { texts };
    await new SummariseNode(chain).run(shared);
    const elapsedMs = performance.now() - started;
    const stats = chain.stats();
    const done = (shared.summaries ?? []).filter((s) => s.length > 0).length;
    const cheapSkips = stats.targets['gpt-4o-mini']!.skips;
    out.line(
      `served by: ${Object.entries(stats.servedBy)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ')}`,
    );
    out.stats('passed the cheap model by', cheapSkips);

    const summary: ModelFallbackSummary = {
      example: 'model-fallback',
      items,
      done,
      lost: items - done,
      elapsedMs,
      providers: providers.map(providerReport),
      stats: { chain: stats },
      servedBy: stats.servedBy,
      longPrompts: longIndexes.size,
      longServedByLarge: cheapSkips.contextWindow,
      cheapSkips,
    };
    out.summary(summary);
    return summary;
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
