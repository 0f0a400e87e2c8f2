/**
 * Real SDK clients: the official `openai` and `@anthropic-ai/sdk` clients inside throttled nodes.
 *
 * - Against the simulator, each client's `baseURL` points at it; with `OPENAI_API_KEY` /
 *   `ANTHROPIC_API_KEY` set, that client talks to the real API instead.
 * - `maxRetries: 0` turns the SDK's own retries off: a 429 reaches throttleflow, which pauses the
 *   node's limiter for the provider's retry-after (every call waits, not just the one that hit
 *   it) and retries the item — instead of each call retrying blindly on its own.
 * - The OpenAI node limits tokens as well as requests: `tokensFor` charges each call's estimate
 *   when it starts, and the `usage` in the response reconciles it.
 * - `exec` returns the SDK's `withResponse()` shape (`{ data, response }`): the usage is read
 *   from `data`, and the response headers say what budget the provider has left.
 *
 *   npx tsx cookbook/sdk-clients/main.ts
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { ThrottledParallelBatchNode } from '../../src/index';
import { parseRateLimitHeaders, type ProviderRateLimitInfo } from '../../src/providers/index';
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
type WithResponse<T> = { data: T; response: Response };

/** Summaries with the OpenAI SDK: 8 at once, 20 requests and 3000 tokens per second. */
class OpenAiSummariseNode extends ThrottledParallelBatchNode<
  Shared,
  string,
  WithResponse<OpenAI.ChatCompletion>
> {
  override maxConcurrent = 8;
  override maxPerWindow = 20;
  override windowMs = 1_000;
  override windows = [{ resource: 'tokens', limit: 3_000, windowMs: 1_000 }];
  override windowMarginMs = 200; // room for localhost jitter on a 1 s window
  /** What the provider's headers said after the last call. */
  lastBudget: ProviderRateLimitInfo | undefined;

  constructor(
    private readonly client: OpenAI,
    private readonly provider: Provider,
  ) {
    super();
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  /** The provider charges prompt tokens (≈ characters / 4) plus max_tokens when a call starts. */
  override tokensFor(text: string): number {
    return Math.ceil(prompt(text).length / 4) + MAX_TOKENS;
  }

  override async exec(text: string) {
    const result = await this.provider.llm.track(() =>
      this.client.chat.completions
        .create({
          model: this.provider.llm.model,
          max_tokens: MAX_TOKENS,
          messages: [{ role: 'user', content: prompt(text) }],
        })
        .withResponse(),
    );
    this.lastBudget = parseRateLimitHeaders(result.response.headers);
    return result;
  }

  override async post(shared: Shared, _texts: string[], results: WithResponse<OpenAI.ChatCompletion>[]) {
    shared.summaries = results.map((r) => r.data.choices[0]?.message.content ?? '');
    return undefined;
  }
}

/** Titles with the Anthropic SDK: 5 at once, 10 requests per second. */
class AnthropicTitleNode extends ThrottledParallelBatchNode<Shared, string, WithResponse<Anthropic.Message>> {
  override maxConcurrent = 5;
  override maxPerWindow = 10;
  override windowMs = 1_000;
  override windowMarginMs = 200;
  lastBudget: ProviderRateLimitInfo | undefined;

  constructor(
    private readonly client: Anthropic,
    private readonly provider: Provider,
  ) {
    super();
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  override async exec(text: string) {
    const result = await this.provider.llm.track(() =>
      this.client.messages
        .create({
          model: this.provider.llm.model,
          max_tokens: 30,
          messages: [{ role: 'user', content: `A title for: ${text}` }],
        })
        .withResponse(),
    );
    this.lastBudget = parseRateLimitHeaders(result.response.headers);
    return result;
  }

  override async post(shared: Shared, _texts: string[], results: WithResponse<Anthropic.Message>[]) {
    shared.titles = results.map((r) =>
      r.data.content.map((block) => (block.type === 'text' ? block.text : '')).join(''),
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
  /** The providers' remaining budgets after the last call, from the response headers. */
  budgets: { openai: ProviderRateLimitInfo | undefined; anthropic: ProviderRateLimitInfo | undefined };
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

    // The SDKs' own retries off: throttleflow sees every 429 and handles it for the whole limiter.
    const openaiSim = openaiProvider.simulator;
    const openai = openaiSim
      ? new OpenAI({ baseURL: `${openaiSim.url}/v1`, apiKey: 'simulator', maxRetries: 0 })
      : new OpenAI({ maxRetries: 0 }); // OPENAI_API_KEY from the environment
    const anthropicSim = anthropicProvider.simulator;
    const anthropic = anthropicSim
      ? new Anthropic({ baseURL: anthropicSim.url, apiKey: 'simulator', maxRetries: 0 })
      : new Anthropic({ maxRetries: 0 }); // ANTHROPIC_API_KEY from the environment

    out.title(
      `sdk-clients: ${items} texts through the openai SDK and ${items} through @anthropic-ai/sdk, concurrently`,
    );
    const started = performance.now();
    const shared: Shared = { texts: sampleDocuments(items) };
    const summarise = new OpenAiSummariseNode(openai, openaiProvider);
    const title = new AnthropicTitleNode(anthropic, anthropicProvider);
    await Promise.all([summarise.run(shared), title.run(shared)]);
    const elapsedMs = performance.now() - started;

    const summaries = shared.summaries ?? [];
    const titles = shared.titles ?? [];
    out.results('openai summaries', summaries, 2);
    out.results('anthropic titles', titles, 2);
    out.stats('openai node', summarise.stats);
    out.stats('anthropic node', title.stats);
    out.stats('openai headers after the last call', summarise.lastBudget ?? {});
    out.stats('anthropic headers after the last call', title.lastBudget ?? {});
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
      budgets: { openai: summarise.lastBudget, anthropic: title.lastBudget },
    };
    out.summary(summary);
    return summary;
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
