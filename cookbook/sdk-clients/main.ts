/**
 * Real SDK clients: the official `openai` and `@anthropic-ai/sdk` clients, at their default
 * settings, inside throttled nodes.
 *
 * - Against the simulator, each client's `baseURL` points at it; with `OPENAI_API_KEY` /
 *   `ANTHROPIC_API_KEY` set, that client talks to the real API instead.
 * - Each client's `fetch` is `throttledFetch(limiter)` on its node's limiter: every HTTP attempt,
 *   the SDK's own retries (2 by default) included, goes through the limiter. Inside `exec` the
 *   node's lease covers the first attempt, so each attempt is counted once; a 429 pauses the
 *   limiter for the provider's retry-after, for every call.
 * - The OpenAI limiter limits tokens as well as requests: `tokensFor` charges each call's
 *   estimate when it starts, and the response's `usage` reconciles it (throttledFetch reads it
 *   from a copy of the body; `exec` just returns what the SDK returns).
 *
 *   npx tsx cookbook/sdk-clients/main.ts
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Limiter, ThrottledParallelBatchNode, throttledFetch, type LimiterStats } from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  texts: string[];
  summaries?: string[];
  titles?: string[];
}

const MAX_TOKENS = 150;

/** The OpenAI budget: 8 at once, 20 requests and 3000 tokens per second. */
function openaiLimiter(): Limiter {
  return new Limiter({
    name: 'openai',
    maxConcurrent: 8,
    maxPerWindow: 20,
    windowMs: 1_000,
    windows: [{ resource: 'tokens', limit: 3_000, windowMs: 1_000 }],
    windowMarginMs: 200, // room for localhost jitter on a 1 s window
  });
}

/** The Anthropic budget: 5 at once, 10 requests per second. */
function anthropicLimiter(): Limiter {
  return new Limiter({
    name: 'anthropic',
    maxConcurrent: 5,
    maxPerWindow: 10,
    windowMs: 1_000,
    windowMarginMs: 200,
  });
}

/** Summaries with the OpenAI SDK. */
class OpenAiSummariseNode extends ThrottledParallelBatchNode<Shared, string, OpenAI.ChatCompletion> {
  constructor(
    limiter: Limiter,
    private readonly client: OpenAI,
    private readonly provider: Provider,
  ) {
    super({ limiter });
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  /** The provider charges prompt tokens (≈ characters / 4) plus max_tokens when a call starts. */
  override tokensFor(text: string): number {
    return Math.ceil(prompt(text).length / 4) + MAX_TOKENS;
  }

  override async exec(text: string) {
    return this.provider.llm.track(() =>
      this.client.chat.completions.create({
        model: this.provider.llm.model,
        max_tokens: MAX_TOKENS,
        messages: [{ role: 'user', content: prompt(text) }],
      }),
    );
  }

  override async post(shared: Shared, _texts: string[], results: OpenAI.ChatCompletion[]) {
    shared.summaries = results.map((r) => r.choices[0]?.message.content ?? '');
    return undefined;
  }
}

/** Titles with the Anthropic SDK. */
class AnthropicTitleNode extends ThrottledParallelBatchNode<Shared, string, Anthropic.Message> {
  constructor(
    limiter: Limiter,
    private readonly client: Anthropic,
    private readonly provider: Provider,
  ) {
    super({ limiter });
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  override async exec(text: string) {
    return this.provider.llm.track(() =>
      this.client.messages.create({
        model: this.provider.llm.model,
        max_tokens: 30,
        messages: [{ role: 'user', content: `A title for: ${text}` }],
      }),
    );
  }

  override async post(shared: Shared, _texts: string[], results: Anthropic.Message[]) {
    shared.titles = results.map((r) =>
      r.content.map((block) => (block.type === 'text' ? block.text : '')).join(''),
    );
    return undefined;
  }
}

function prompt(text: string): string {
  return `Summarise in one sentence: ${text}`;
}

export interface SdkClientsOptions extends Output {
  /** Texts per client. @default 40 */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface SdkClientsSummary extends Summary {
  summaries: string[];
  titles: string[];
  /** Each limiter after the run: `totalRequests` counts every HTTP attempt once, retries included. */
  limiters: { openai: LimiterStats; anthropic: LimiterStats };
}

export async function run(options: SdkClientsOptions = {}): Promise<SdkClientsSummary> {
  const items = options.items ?? 40;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  try {
    const openaiProvider = await openProvider({
      name: 'openai',
      simulate: options.simulate,
      simulator: {
        requestsPerWindow: 20,
        tokensPerWindow: 3_000,
        windowMs: 1_000,
        latencyMs: 200,
        jitterMs: 100,
      },
    });
    providers.push(openaiProvider);
    const anthropicProvider = await openProvider({
      name: 'anthropic',
      dialect: 'anthropic',
      simulate: options.simulate,
      simulator: { requestsPerWindow: 10, windowMs: 1_000, latencyMs: 250, jitterMs: 100 },
    });
    providers.push(anthropicProvider);

    // Default settings (maxRetries 2): every attempt, retries included, goes through the limiter.
    const limiters = { openai: openaiLimiter(), anthropic: anthropicLimiter() };
    const openaiSim = openaiProvider.simulator;
    const openai = openaiSim
      ? new OpenAI({
          baseURL: `${openaiSim.url}/v1`,
          apiKey: 'simulator',
          fetch: throttledFetch(limiters.openai),
        })
      : new OpenAI({ fetch: throttledFetch(limiters.openai) }); // OPENAI_API_KEY from the environment
    const anthropicSim = anthropicProvider.simulator;
    const anthropic = anthropicSim
      ? new Anthropic({
          baseURL: anthropicSim.url,
          apiKey: 'simulator',
          fetch: throttledFetch(limiters.anthropic),
        })
      : new Anthropic({ fetch: throttledFetch(limiters.anthropic) }); // ANTHROPIC_API_KEY from the environment

    out.title(
      `sdk-clients: ${items} texts through the openai SDK and ${items} through @anthropic-ai/sdk, concurrently`,
    );
    const started = performance.now();
    const shared: Shared = { texts: sampleDocuments(items) };
    const summarise = new OpenAiSummariseNode(limiters.openai, openai, openaiProvider);
    const title = new AnthropicTitleNode(limiters.anthropic, anthropic, anthropicProvider);
    await Promise.all([summarise.run(shared), title.run(shared)]);
    const elapsedMs = performance.now() - started;

    const summaries = shared.summaries ?? [];
    const titles = shared.titles ?? [];
    out.results('openai summaries', summaries, 2);
    out.results('anthropic titles', titles, 2);
    out.stats('openai node', summarise.stats);
    out.stats('anthropic node', title.stats);
    out.stats('openai limiter', limiters.openai.stats());
    out.stats('anthropic limiter', limiters.anthropic.stats());
    const done = summaries.filter((s) => s.length > 0).length + titles.filter((t) => t.length > 0).length;
    const summary: SdkClientsSummary = {
      example: 'sdk-clients',
      items: items * 2,
      done,
      lost: items * 2 - done,
      elapsedMs,
      providers: providers.map(providerReport),
      stats: { openaiNode: summarise.stats, anthropicNode: title.stats },
      summaries,
      titles,
      limiters: { openai: limiters.openai.stats(), anthropic: limiters.anthropic.stats() },
    };
    out.summary(summary);
    return summary;
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
