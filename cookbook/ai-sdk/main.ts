/**
 * The Vercel AI SDK through throttleflow: `generateText` and `streamText` on a model wrapped with
 * `throttleMiddleware`, with the SDK's default settings (its own retries on).
 *
 * - Every HTTP attempt waits for room in the limiter, the SDK's retries included: the middleware
 *   runs once per attempt.
 * - No token estimate to write: the middleware charges each call its prompt plus
 *   `maxOutputTokens`, learns how the provider counts prompts from the usage it reports, and
 *   reconciles each call with that usage.
 * - A streamed answer holds its slot until its `finish` part: the provider is still working on it.
 * - Against the simulator by default; with `OPENAI_API_KEY` set, against the real API.
 *
 *   npx tsx cookbook/ai-sdk/main.ts
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { throttleMiddleware } from '../../src/ai-sdk/index';
import { Limiter } from '../../src/index';
import { startProviderSimulator, type ProviderSimulator } from '../../src/testing/index';
import { sampleDocuments } from '../data/sample-texts';
import { hasApiKey } from '../shared/llm';
import { runIfMain } from '../shared/main';
import type { ProviderReport } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

const MODEL = 'gpt-4o-mini';
const MAX_OUTPUT_TOKENS = 100;
/** The simulated provider: 20 requests and 3,000 tokens per second. */
const LIMITS = { requestsPerWindow: 20, tokensPerWindow: 3_000, windowMs: 1_000 };

export interface AiSdkOptions extends Output {
  /** Texts summarised with generateText. @default 30 */
  items?: number;
  /** Texts summarised with streamText. @default 3 */
  streams?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface AiSdkSummary extends Summary {
  summaries: string[];
  streamed: string[];
}

export async function run(options: AiSdkOptions = {}): Promise<AiSdkSummary> {
  const items = options.items ?? 30;
  const streams = options.streams ?? 3;
  const out = new Printer(options.quiet);
  const real = !options.simulate && hasApiKey('openai');
  const sim = real ? undefined : await startProviderSimulator({ ...LIMITS, latencyMs: 200, jitterMs: 100 });
  try {
    // OPENAI_API_KEY from the environment for the real API.
    const openai = sim ? createOpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'simulator' }) : createOpenAI();
    const limiter = new Limiter({
      name: 'openai',
      maxPerWindow: LIMITS.requestsPerWindow,
      windowMs: LIMITS.windowMs,
      windows: [{ resource: 'tokens', limit: LIMITS.tokensPerWindow, windowMs: LIMITS.windowMs }],
      windowMarginMs: 200, // room for localhost jitter on a 1 s window
    });
    const model = wrapLanguageModel({
      model: openai.chat(MODEL),
      middleware: throttleMiddleware({ limiter }),
    });

    out.title(`ai-sdk: ${items} texts with generateText and ${streams} with streamText, all at once`);
    const started = performance.now();
    const texts = sampleDocuments(items + streams);
    const summarise = (text: string) => `Summarise in one sentence: ${text}`;
    const [summaries, streamed] = await Promise.all([
      Promise.all(
        texts.slice(0, items).map(async (text) => {
          const { text: summary } = await generateText({
            model,
            prompt: summarise(text),
            maxOutputTokens: MAX_OUTPUT_TOKENS,
          });
          return summary;
        }),
      ),
      Promise.all(
        texts.slice(items).map(async (text) => {
          const result = streamText({ model, prompt: summarise(text), maxOutputTokens: MAX_OUTPUT_TOKENS });
          let answer = '';
          for await (const delta of result.textStream) answer += delta;
          return answer;
        }),
      ),
    ]);
    const elapsedMs = performance.now() - started;

    out.results('generateText', summaries, 2);
    out.results('streamText', streamed, 2);
    out.stats('limiter', limiter.stats());
    const done = [...summaries, ...streamed].filter((s) => s.length > 0).length;
    const summary: AiSdkSummary = {
      example: 'ai-sdk',
      items: items + streams,
      done,
      lost: items + streams - done,
      elapsedMs,
      providers: [report(sim, real, limiter)],
      stats: { limiter: limiter.stats() },
      summaries,
      streamed,
    };
    out.summary(summary);
    return summary;
  } finally {
    await sim?.close();
  }
}

/** What the provider saw: the simulator's own counts, or (real API) the limiter's. */
function report(sim: ProviderSimulator | undefined, real: boolean, limiter: Limiter): ProviderReport {
  const stats = limiter.stats();
  if (!sim) {
    return {
      name: 'openai',
      target: real ? 'openai' : 'simulator',
      calls: stats.totalRequests,
      succeeded: stats.totalRequests - stats.totalRateLimits,
      rateLimited: stats.totalRateLimits,
      overloaded: 0,
      maxInFlight: 0,
    };
  }
  const seen = sim.stats();
  return {
    name: 'openai',
    target: 'simulator',
    calls: seen.accepted + seen.rejected,
    succeeded: seen.accepted,
    rateLimited: seen.rejected,
    overloaded: seen.faults.p529,
    maxInFlight: seen.maxInFlight,
    ...LIMITS,
    maxRequestsInAnyWindow: seen.maxRequestsInAnyWindow,
    maxTokensInAnyWindow: seen.maxTokensInAnyWindow,
  };
}

runIfMain(import.meta.url, () => run());
