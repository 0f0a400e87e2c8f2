/**
 * `npm run demo`: a three-stage LLM pipeline (summarise → translate → classify, then a branch)
 * over a few hundred documents, against the embedded provider simulator running in its own
 * process with a real requests-per-window limit. It runs twice — first as plain pocketflow-style
 * parallel nodes with retries, then with throttleflow — and ends with a comparison table.
 *
 *   npm run demo                 # 150 documents
 *   DEMO_DOCS=60 npm run demo    # fewer
 */
import { MultiBar, Presets as BarPresets } from 'cli-progress';
import {
  Flow,
  LimiterRegistry,
  Node,
  ParallelBatchNode,
  ThrottledParallelBatchNode,
} from '../src/index';
import { costOf } from '../src/cost/index';
import { LatencyHistogram } from '../src/observability/index';
import { detectRateLimit } from '../src/providers/index';
import { chatCompletion, spawnProviderSimulator, type ChatCompletion } from '../src/testing/index';
import { sampleDocuments } from '../cookbook/data/sample-texts';

const MODEL = 'gpt-4o-mini';
const DOCS = Number(process.env.DEMO_DOCS ?? 150);
const WINDOW_MS = 5_000;
const REQUESTS_PER_WINDOW = 120;
const STAGES = ['summarise', 'translate', 'classify'] as const;
type Stage = (typeof STAGES)[number];

interface Shared {
  docs: string[];
  summaries?: string[];
  translations?: string[];
  labels?: string[];
  report?: string;
}

/** What one run measured. */
interface RunMetrics {
  done: Record<Stage, number>;
  rateLimited: number;
  failed: number;
  tokens: number;
  costUsd: number;
  latency: LatencyHistogram;
}

const newMetrics = (): RunMetrics => ({
  done: { summarise: 0, translate: 0, classify: 0 },
  rateLimited: 0,
  failed: 0,
  tokens: 0,
  costUsd: 0,
  latency: new LatencyHistogram(),
});

/** A reply: its text, and the response headers (returned from `exec`, they let the limiter see when each request reached the provider). */
interface Reply {
  text: string;
  headers?: Headers;
}

/** One call to the simulated provider, recording latency, tokens, cost and 429s. */
function makeCall(baseUrl: string, metrics: RunMetrics) {
  return async (stage: Stage, prompt: string): Promise<Reply> => {
    const started = performance.now();
    try {
      const { data, headers } = await chatCompletion(baseUrl, { model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 60 });
      metrics.latency.record(performance.now() - started);
      record(metrics, data);
      metrics.done[stage]++;
      return { text: data.choices[0]?.message.content ?? '', headers };
    } catch (error) {
      if (detectRateLimit(error)) metrics.rateLimited++;
      throw error;
    }
  };
}

function record(metrics: RunMetrics, data: ChatCompletion): void {
  metrics.tokens += data.usage.total_tokens;
  metrics.costUsd += costOf(MODEL, data.usage);
}

type Call = ReturnType<typeof makeCall>;

/** Builds the pipeline from a node factory, so both runs share one graph. */
function buildFlow(makeStage: (stage: Stage, input: (s: Shared) => string[], output: (s: Shared, out: string[]) => void) => Node<Shared>) {
  const summarise = makeStage('summarise', (s) => s.docs, (s, out) => (s.summaries = out));
  const translate = makeStage('translate', (s) => s.summaries ?? [], (s, out) => (s.translations = out));
  const classify = makeStage('classify', (s) => s.translations ?? [], (s, out) => (s.labels = out));
  class Report extends Node<Shared> {
    constructor(private readonly verdict: string) {
      super();
    }
    override async post(shared: Shared) {
      const complaints = shared.labels?.filter((l) => l === 'complaint').length ?? 0;
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
  stage === 'summarise' ? `Summarise: ${text}` : stage === 'translate' ? `Translate to French: ${text}` : `Classify as complaint or news: ${text}`;

/** The simulator echoes text, not judgement: the classify stage's label comes from the document itself. */
const answer = (stage: Stage, input: string, reply: string) =>
  stage === 'classify' ? (/complain|froze|stranded|outage|damaged/i.test(input) ? 'complaint' : 'news') : `${reply} [${input.slice(0, 40)}]`;

const routeOf = (stage: Stage, out: string[]) => (stage === 'classify' && out.some((l) => l === 'complaint') ? 'escalate' : 'default');

/** Plain pocketflow-style parallel nodes: every item at once, 3 retries 1 s apart. */
function unthrottledFlow(call: Call) {
  return buildFlow((stage, input, output) => {
    class Stage extends ParallelBatchNode<Shared, object, string, string> {
      override async prep(shared: Shared) { return input(shared); }
      override async exec(text: string) { return answer(stage, text, (await call(stage, promptFor(stage, text))).text); }
      override async execFallback(): Promise<string> { return '(failed)'; }
      override async post(shared: Shared, _in: string[], out: string[]) { output(shared, out); return routeOf(stage, out); }
    }
    return new Stage(3, 1) as unknown as Node<Shared>;
  });
}

/** The same graph with throttleflow: every stage draws from one registered limiter (one API key). */
function throttledFlow(call: Call, limiter: string) {
  return buildFlow((stage, input, output) => {
    class Stage extends ThrottledParallelBatchNode<Shared, string, Reply> {
      override limiter = limiter;
      override async prep(shared: Shared) { return input(shared); }
      // Returning the headers with the answer lets the limiter learn from the provider's response.
      override async exec(text: string): Promise<Reply> {
        const reply = await call(stage, promptFor(stage, text));
        return { text: answer(stage, text, reply.text), headers: reply.headers };
      }
      override async execFallback(): Promise<Reply> { return { text: '(failed)' }; }
      override async post(shared: Shared, _in: string[], replies: Reply[]) {
        const out = replies.map((r) => r.text);
        output(shared, out);
        return routeOf(stage, out);
      }
    }
    return new Stage({ maxRetries: 3, waitMs: 1000 }) as unknown as Node<Shared>;
  });
}

/** Live progress: bars on a terminal, a line every 2 s otherwise. */
function progress(label: string, metrics: RunMetrics) {
  const started = performance.now();
  const total = DOCS;
  const rate = () => {
    const done = STAGES.reduce((n, s) => n + metrics.done[s], 0);
    return done / ((performance.now() - started) / 1000);
  };
  const eta = () => {
    const left = STAGES.reduce((n, s) => n + total - metrics.done[s], 0);
    const r = rate();
    return r > 0 ? `${Math.round(left / r)}s` : '?';
  };
  if (process.stdout.isTTY) {
    const bars = new MultiBar(
      { format: `${label.padEnd(11)} {stage} [{bar}] {value}/{total} | {rate}/s | 429s {r429} | ETA {eta}`, hideCursor: true, clearOnComplete: false },
      BarPresets.shades_classic,
    );
    const rows = STAGES.map((stage) => bars.create(total, 0, { stage: stage.padEnd(9), rate: '0.0', r429: 0, eta: '?' }));
    const timer = setInterval(() => {
      STAGES.forEach((stage, i) => rows[i]!.update(metrics.done[stage], { rate: rate().toFixed(1), r429: metrics.rateLimited, eta: eta() }));
    }, 200);
    return () => {
      clearInterval(timer);
      STAGES.forEach((stage, i) => rows[i]!.update(metrics.done[stage], { rate: rate().toFixed(1), r429: metrics.rateLimited, eta: '0s' }));
      bars.stop();
    };
  }
  const line = () =>
    console.log(
      `${label}: ${STAGES.map((s) => `${s} ${metrics.done[s]}/${total}`).join(', ')} | ${rate().toFixed(1)} calls/s | 429s ${metrics.rateLimited} | ETA ${eta()}`,
    );
  const timer = setInterval(line, 2000);
  return () => {
    clearInterval(timer);
    line();
  };
}

async function runOnce(label: string, flow: (call: Call) => Flow<Shared>, baseUrl: string) {
  const metrics = newMetrics();
  const shared: Shared = { docs: sampleDocuments(DOCS) };
  const stop = progress(label, metrics);
  const started = performance.now();
  await flow(makeCall(baseUrl, metrics)).run(shared);
  const makespanMs = performance.now() - started;
  stop();
  const failed = [shared.summaries, shared.translations, shared.labels].flat().filter((x) => x === '(failed)').length;
  return { label, makespanMs, metrics, failed, report: shared.report };
}

async function main() {
  console.log(`throttleflow demo: summarise → translate → classify over ${DOCS} documents`);
  console.log(`provider simulator (own process): ${REQUESTS_PER_WINDOW} requests per ${WINDOW_MS / 1000} s sliding window, 300 ± 200 ms latency\n`);
  const simulatorOptions = { requestsPerWindow: REQUESTS_PER_WINDOW, windowMs: WINDOW_MS, latencyMs: 300, jitterMs: 200, countRejected: true };

  const plainSim = await spawnProviderSimulator(simulatorOptions);
  const plain = await runOnce('unthrottled', (call) => unthrottledFlow(call), plainSim.url).finally(() => plainSim.close());

  const throttledSim = await spawnProviderSimulator(simulatorOptions);
  LimiterRegistry.register('provider', { maxConcurrent: 50, maxPerWindow: REQUESTS_PER_WINDOW, windowMs: WINDOW_MS });
  const throttled = await runOnce('throttled', (call) => throttledFlow(call, 'provider'), throttledSim.url).finally(() => throttledSim.close());

  const row = (r: typeof plain) => {
    const s = r.metrics.latency.snapshot();
    return {
      run: r.label,
      'makespan s': (r.makespanMs / 1000).toFixed(1),
      '429s': r.metrics.rateLimited,
      'failed items': r.failed,
      tokens: r.metrics.tokens,
      'cost $': r.metrics.costUsd.toFixed(4),
      'p50 ms': Math.round(s.p50),
      'p95 ms': Math.round(s.p95),
    };
  };
  console.log('');
  console.table([row(plain), row(throttled)]);
  console.log(`unthrottled: ${plain.report}`);
  console.log(`throttled:   ${throttled.report}`);
  console.log('\nLimiter stats:', LimiterRegistry.get('provider').stats());
}

await main();
