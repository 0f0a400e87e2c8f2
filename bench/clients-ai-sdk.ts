/**
 * Clients: the Vercel AI SDK's `generateText` with its default settings (2 retries, retry-after
 * honoured), with and without `throttleMiddleware`, on the goodput bench's token-window scenario.
 *
 * The provider (the simulator, in its own process) enforces one thing: 100,000 tokens in any
 * sliding 10 s window, a request charged its prompt (characters / 4) plus `max_tokens` when
 * admitted, as OpenAI does; 500 ± 300 ms latency. The optimum is computed under that window: every
 * request started at the earliest moment the window allows, in order, plus the expected latency of
 * the last group. With the middleware the limiter is told the window and nothing else: no
 * `tokensFor` (the middleware estimates each call from its prompt and learns the provider's count
 * from the usage it reports).
 *
 *   BENCH_SECTIONS=clients-ai-sdk npx tsx bench/main.ts      (or npx tsx bench/clients-ai-sdk.ts)
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, wrapLanguageModel } from 'ai';
import { throttleMiddleware } from '../src/ai-sdk/index';
import { Limiter } from '../src/index';
import {
  simulatorTokenCost,
  spawnProviderSimulator,
  type ProviderSimulatorOptions,
} from '../src/testing/index';
import { optimumMakespanMs, variedPrompts } from './goodput';
import type { BenchContext, BenchSection } from './sections';

const WINDOW_MS = 10_000;
const TOKEN_LIMIT = 100_000;
const LATENCY = { latencyMs: 500, jitterMs: 300, seed: 42 };
const SIMULATOR: ProviderSimulatorOptions = { tokensPerWindow: TOKEN_LIMIT, windowMs: WINDOW_MS, ...LATENCY };
const MAX_OUTPUT_TOKENS = 200;

/** What one way of calling achieved. */
export interface AiSdkClientRow {
  strategy: string;
  items: number;
  done: number;
  /** Items that ended in an error the caller saw (the SDK gave up after its retries). */
  failed: number;
  /** Items that ended neither way (must be 0). */
  lost: number;
  /** 429s the provider answered, and their share of all requests it saw. */
  rejected429: number;
  rejectedShare: number;
  /** Requests the provider saw (first attempts and SDK retries). */
  requests: number;
  makespanMs: number;
  optimumMs: number;
  /** (done ÷ items) × (optimum ÷ makespan). */
  efficiency: number;
  /** The most tokens the provider admitted in any one window, and its limit. */
  maxTokensInWindow: number;
  tokenLimit: number;
}

/** A provider's model object (not a gateway model id). */
type ModelObject = Parameters<typeof wrapLanguageModel>[0]['model'];

interface Strategy {
  name: string;
  /** The model every item is sent to. */
  model: (base: ModelObject) => ModelObject;
}

const strategies: Strategy[] = [
  { name: 'AI SDK generateText, default settings', model: (base) => base },
  {
    name: 'AI SDK generateText + throttleMiddleware',
    model: (base) =>
      wrapLanguageModel({
        model: base,
        middleware: throttleMiddleware({
          limiter: new Limiter({
            name: 'ai-sdk-bench',
            maxConcurrent: 100,
            windows: [{ resource: 'tokens', limit: TOKEN_LIMIT, windowMs: WINDOW_MS }],
            warnings: false,
          }),
        }),
      }),
  },
];

async function runStrategy(strategy: Strategy, items: number): Promise<AiSdkClientRow> {
  const requests = variedPrompts(items);
  const optimumMs = optimumMakespanMs(
    requests.map((r) => simulatorTokenCost(r).totalTokens),
    TOKEN_LIMIT,
    WINDOW_MS,
    LATENCY.latencyMs,
    LATENCY.jitterMs,
  );
  const sim = await spawnProviderSimulator(SIMULATOR);
  try {
    const base = createOpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sim' }).chat('gpt-4o-mini');
    const model = strategy.model(base);
    // A running service has its HTTP client loaded: one request before the clock starts.
    await fetch(`${sim.url}/stats`).then((r) => r.arrayBuffer());
    const started = performance.now();
    const outcomes = await Promise.all(
      requests.map((request) =>
        generateText({
          model,
          prompt: String(request.messages[0]!.content),
          maxOutputTokens: MAX_OUTPUT_TOKENS,
        }).then(
          () => 'done' as const,
          () => 'failed' as const,
        ),
      ),
    );
    const makespanMs = performance.now() - started;
    const stats = await sim.stats();
    const done = outcomes.filter((o) => o === 'done').length;
    const failed = outcomes.filter((o) => o === 'failed').length;
    const seen = stats.accepted + stats.rejected;
    return {
      strategy: strategy.name,
      items,
      done,
      failed,
      lost: items - done - failed,
      rejected429: stats.rejected,
      rejectedShare: seen === 0 ? 0 : stats.rejected / seen,
      requests: seen,
      makespanMs,
      optimumMs,
      efficiency: (done / items) * (optimumMs / makespanMs),
      maxTokensInWindow: stats.maxTokensInAnyWindow,
      tokenLimit: TOKEN_LIMIT,
    };
  } finally {
    await sim.close();
  }
}

function printRows(rows: AiSdkClientRow[]): void {
  console.table(
    rows.map((r) => ({
      strategy: r.strategy,
      'done/items': `${r.done}/${r.items}`,
      failed: r.failed,
      lost: r.lost,
      '429s': `${r.rejected429} (${(100 * r.rejectedShare).toFixed(1)} %)`,
      requests: r.requests,
      'makespan s': (r.makespanMs / 1000).toFixed(2),
      'optimum s': (r.optimumMs / 1000).toFixed(2),
      efficiency: r.efficiency.toFixed(3),
      'max tokens in window': `${r.maxTokensInWindow}/${r.tokenLimit}`,
    })),
  );
}

/** Runs both ways of calling, one after the other (each with its own simulator process). */
export async function benchAiSdkClients(context: BenchContext): Promise<AiSdkClientRow[]> {
  const items = context.quick ? 40 : 150;
  const rows: AiSdkClientRow[] = [];
  for (const strategy of strategies) rows.push(await runStrategy(strategy, items));
  printRows(rows);
  return rows;
}

export const clientsAiSdkSection: BenchSection = {
  name: 'clients-ai-sdk',
  title: 'Clients: AI SDK middleware',
  run: (context) => benchAiSdkClients(context),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchAiSdkClients({ quick: process.env.BENCH_QUICK === '1' });
}
