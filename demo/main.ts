/**
 * `npm run demo`: a three-stage LLM pipeline (summarise → translate → classify, then a branch)
 * over 150 documents, against the embedded provider simulator running in its own process with a
 * real requests-per-window limit. It runs twice — first as plain pocketflow-style parallel nodes
 * with retries, then with throttleflow — and ends with a comparison and what it means.
 *
 *   npm run demo                   # 150 documents, 120 requests per 5 s (~25 s)
 *   npm run demo -- --raw          # also print the raw stats objects (or DEMO_RAW=1)
 *   DEMO_DOCS=40 DEMO_LIMIT=20 DEMO_WINDOW_MS=1500 npm run demo   # a short run (~15 s)
 */
import OpenAI, { type ClientOptions } from 'openai';
import {
  Flow,
  LimiterRegistry,
  Node,
  ParallelBatchNode,
  ThrottledParallelBatchNode,
  throttledFetch,
} from '../src/index';
import { costOf } from '../src/cost/index';
import { detectRateLimit } from '../src/providers/index';
import { spawnProviderSimulator } from '../src/testing/index';
import { sampleDocuments } from '../cookbook/data/sample-texts';
import { windowText } from './format';
import { STAGES, newMetrics, type RunMetrics, type Stage } from './metrics';
import { pipelineOptimumMs } from './optimum';
import { showProgress } from './progress';
import { resultTable, summarySentences, wrap, type RunResult } from './summary';

const MODEL = 'gpt-4o-mini';
const LATENCY_MS = 300;
const JITTER_MS = 200;
const TRIES = 3;
const RETRY_WAIT_MS = 1000;
const FAILED = '(failed)';

/** A positive whole number from the environment, or the default; anything else stops the demo with the variable's name. */
function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return value;
}

const DOCS = envInt('DEMO_DOCS', 150);
const REQUESTS_PER_WINDOW = envInt('DEMO_LIMIT', 120);
const WINDOW_MS = envInt('DEMO_WINDOW_MS', 5_000);
const RAW =
  process.argv.slice(2).includes('--raw') || ['1', 'true', 'yes'].includes(process.env.DEMO_RAW ?? '');

interface Shared {
  docs: string[];
  summaries?: string[];
  translations?: string[];
  labels?: string[];
  complaints?: number;
  report?: string;
}

/** A reply: its text. */
interface Reply {
  text: string;
}

/** One call to the simulated provider with the official `openai` client, recording latency, tokens, cost and 429s. */
function makeCall(client: OpenAI, metrics: RunMetrics) {
  return async (stage: Stage, prompt: string): Promise<Reply> => {
    const started = performance.now();
    try {
      const data = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: 60,
      });
      metrics.latency.record(performance.now() - started);
      record(metrics, data);
      metrics.done[stage]++;
      return { text: data.choices[0]?.message.content ?? '' };
    } catch (error) {
      if (detectRateLimit(error)) metrics.rateLimited++;
      throw error;
    }
  };
}

function record(metrics: RunMetrics, data: OpenAI.ChatCompletion): void {
  if (!data.usage) return;
  metrics.tokens += data.usage.total_tokens;
  metrics.costUsd += costOf(MODEL, data.usage);
}

type Call = ReturnType<typeof makeCall>;

/** Builds the pipeline from a node factory, so both runs share one graph. */
function buildFlow(
  makeStage: (
    stage: Stage,
    input: (s: Shared) => string[],
    output: (s: Shared, out: string[]) => void,
  ) => Node<Shared>,
) {
  const summarise = makeStage(
    'summarise',
    (s) => s.docs,
    (s, out) => (s.summaries = out),
  );
  const translate = makeStage(
    'translate',
    (s) => s.summaries ?? [],
    (s, out) => (s.translations = out),
  );
  const classify = makeStage(
    'classify',
    (s) => s.translations ?? [],
    (s, out) => (s.labels = out),
  );
  class Report extends Node<Shared> {
    constructor(private readonly verdict: string) {
      super();
    }
    override async post(shared: Shared) {
      const complaints = shared.labels?.filter((l) => l === 'complaint').length ?? 0;
      shared.complaints = complaints;
      shared.report = `${this.verdict}: ${complaints} of ${shared.docs.length} documents look like complaints`;
      return undefined;
    }
  }
  summarise.next(translate).next(classify);
  classify.on('escalate', new Report('Escalate to support'));
  classify.on('default', new Report('Nothing to escalate'));
  return new Flow<Shared>(summarise);
}

const promptFor = (stage: Stage, text: string) =>
  stage === 'summarise'
    ? `Summarise: ${text}`
    : stage === 'translate'
      ? `Translate to French: ${text}`
      : `Classify as complaint or news: ${text}`;

/** The simulator echoes text, not judgement: the classify stage's label comes from the document itself. */
const answer = (stage: Stage, input: string, reply: string) =>
  stage === 'classify'
    ? /complain|froze|stranded|outage|damaged/i.test(input)
      ? 'complaint'
      : 'news'
    : `${reply} [${input.slice(0, 40)}]`;

const routeOf = (stage: Stage, out: string[]) =>
  stage === 'classify' && out.some((l) => l === 'complaint') ? 'escalate' : 'default';

/** Plain pocketflow-style parallel nodes: every item at once, 3 tries 1 s apart. */
function unthrottledFlow(call: Call, metrics: RunMetrics) {
  return buildFlow((stage, input, output) => {
    class Stage extends ParallelBatchNode<Shared, object, string, string> {
      override async prep(shared: Shared) {
        return input(shared);
      }
      override async exec(text: string) {
        return answer(stage, text, (await call(stage, promptFor(stage, text))).text);
      }
      override async execFallback(): Promise<string> {
        metrics.failed[stage]++;
        return FAILED;
      }
      override async post(shared: Shared, _in: string[], out: string[]) {
        output(shared, out);
        return routeOf(stage, out);
      }
    }
    return new Stage(TRIES, RETRY_WAIT_MS / 1000) as unknown as Node<Shared>;
  });
}

/** The same graph with throttleflow: every stage draws from one registered limiter (one API key). */
function throttledFlow(call: Call, metrics: RunMetrics, limiter: string) {
  return buildFlow((stage, input, output) => {
    class Stage extends ThrottledParallelBatchNode<Shared, string, Reply> {
      override limiter = limiter;
      override async prep(shared: Shared) {
        return input(shared);
      }
      // The client's fetch is throttledFetch on this limiter: it sees every response's headers.
      override async exec(text: string): Promise<Reply> {
        const reply = await call(stage, promptFor(stage, text));
        return { text: answer(stage, text, reply.text) };
      }
      override async execFallback(): Promise<Reply> {
        metrics.failed[stage]++;
        return { text: FAILED };
      }
      override async post(shared: Shared, _in: string[], replies: Reply[]) {
        const out = replies.map((r) => r.text);
        output(shared, out);
        return routeOf(stage, out);
      }
    }
    return new Stage({ maxRetries: TRIES, waitMs: RETRY_WAIT_MS });
  });
}

type FlowFactory = (call: Call, metrics: RunMetrics) => Flow<Shared>;

/** Runs the pipeline once against a fresh simulator, with live progress; the simulator's stats are read before it closes. */
async function runOnce(label: string, flow: FlowFactory, clientOptions: ClientOptions): Promise<RunResult> {
  const sim = await spawnProviderSimulator({
    requestsPerWindow: REQUESTS_PER_WINDOW,
    windowMs: WINDOW_MS,
    latencyMs: LATENCY_MS,
    jitterMs: JITTER_MS,
    countRejected: true,
  });
  try {
    const metrics = newMetrics();
    const shared: Shared = { docs: sampleDocuments(DOCS) };
    const stop = showProgress(label, metrics, DOCS, WINDOW_MS);
    const started = performance.now();
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'simulator', ...clientOptions });
    await flow(makeCall(client, metrics), metrics).run(shared);
    const makespanMs = performance.now() - started;
    stop(makespanMs);
    // A failed summary is still translated and classified (as a plain pipeline would), so a document is lost if any stage failed.
    const lostDocuments = shared.docs.filter((_, i) =>
      [shared.summaries, shared.translations, shared.labels].some((out) => out?.[i] === FAILED),
    ).length;
    return {
      label,
      makespanMs,
      metrics,
      lostDocuments,
      complaints: shared.complaints ?? 0,
      report: shared.report ?? '(no report)',
      provider: await sim.stats(),
    };
  } finally {
    await sim.close();
  }
}

async function main() {
  console.log(`throttleflow demo: summarise → translate → classify over ${DOCS} documents`);
  console.log(
    `provider simulator (own process): ${REQUESTS_PER_WINDOW} requests per ${windowText(WINDOW_MS)} sliding window, ` +
      `${LATENCY_MS} ± ${JITTER_MS} ms latency\n`,
  );

  // The plain run's tries are its nodes' (3 per item, 1 s apart): the client's own retries are off.
  const plain = await runOnce('unthrottled', unthrottledFlow, { maxRetries: 0 });
  console.log('');
  LimiterRegistry.register('provider', {
    maxConcurrent: 50,
    maxPerWindow: REQUESTS_PER_WINDOW,
    windowMs: WINDOW_MS,
  });
  // The client at its default settings (2 retries), every attempt through the stages' limiter.
  const throttled = await runOnce('throttled', (call, metrics) => throttledFlow(call, metrics, 'provider'), {
    fetch: throttledFetch('provider'),
  });

  const optimumMs = pipelineOptimumMs({
    stages: STAGES.length,
    items: DOCS,
    limit: REQUESTS_PER_WINDOW,
    windowMs: WINDOW_MS,
    latencyMs: LATENCY_MS,
    jitterMs: JITTER_MS,
  });
  console.log('');
  for (const line of resultTable([plain, throttled])) console.log(`  ${line}`);
  console.log('\nWhat happened');
  const context = {
    documents: DOCS,
    limit: REQUESTS_PER_WINDOW,
    windowMs: WINDOW_MS,
    triesPerItem: TRIES,
    optimumMs,
  };
  // A terminal's own width when it tells us (a pseudo-terminal may say 0), at most 100 columns.
  const width = Math.min(100, process.stdout.columns || 100);
  for (const sentence of summarySentences(plain, throttled, context))
    for (const line of wrap(sentence, width)) console.log(line);

  if (RAW) {
    console.log('\nRaw stats');
    for (const run of [plain, throttled]) {
      const { latency, ...counters } = run.metrics;
      console.dir(
        {
          run: run.label,
          makespanMs: run.makespanMs,
          ...counters,
          latency: latency.snapshot(),
          provider: run.provider,
        },
        { depth: null },
      );
    }
    console.dir({ optimumMs, limiter: LimiterRegistry.get('provider').stats() }, { depth: null });
  } else {
    console.log('\n(npm run demo -- --raw, or DEMO_RAW=1, also prints the raw stats)');
  }
}

await main();
