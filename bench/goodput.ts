/**
 * Goodput: how close each strategy gets to the provider's possible throughput without 429s.
 * Each strategy talks to its own provider simulator running in its own process (a real provider
 * does not share your event loop); all strategies of a scenario run at the same time.
 *
 *   npx tsx bench/goodput.ts
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Bottleneck from 'bottleneck';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { AdaptiveThrottledNode, ThrottledParallelBatchNode, detectRateLimit } from '../src/index';
import {
  chatCompletion,
  simulatorTokenCost,
  spawnProviderSimulator,
  type ChatCompletionRequest,
  type ProviderSimulatorOptions,
  type SpawnedProviderSimulator,
} from '../src/testing/index';

const MODEL = 'gpt-4o-mini';

/** What one strategy achieved in one scenario. */
export interface GoodputRow {
  scenario: string;
  strategy: string;
  items: number;
  done: number;
  lost: number;
  /** 429s the provider answered. */
  rejected429: number;
  /** Other errors the caller saw (faults), each counted once per item. */
  failedItems: number;
  makespanMs: number;
  optimumMs: number;
  efficiency: number;
  /** The most requests the provider admitted in any one of its windows. */
  maxInWindow: number;
  limit: number;
  windowMs: number;
  /** When the provider admitted each request / answered each 429 (ms since the simulator started). */
  acceptedAtMs: number[];
  acceptedCosts: number[];
  rejectedAtMs: number[];
}

interface Scenario {
  name: string;
  simulator: ProviderSimulatorOptions;
  requests: ChatCompletionRequest[];
  /** The earliest makespan the window allows (ignoring concurrency). */
  optimumMs: number;
  limit: number;
  strategies: Strategy[];
}

type Call = (request: ChatCompletionRequest) => Promise<unknown>;
type Strategy = { name: string; run: (requests: ChatCompletionRequest[], call: Call, scenario: Scenario) => Promise<Outcome[]> };
type Outcome = { ok: true; response?: unknown } | { ok: false; error: unknown };

function retryAfterMsOf(error: unknown): number {
  const signal = detectRateLimit(error);
  return signal?.retryAfterMs ?? 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRateLimit = (error: unknown) => detectRateLimit(error) !== undefined;

/** A strategy still retrying after this long is locked out: its unfinished items count as failed. */
const DEADLINE_MS = 90_000;
const clientStarted = performance.now();

/** A peer's documented 429 handling: wait for retry-after, then try again (bounded). */
async function withRetry(fn: () => Promise<unknown>, schedule: (fn: () => Promise<unknown>) => Promise<unknown>): Promise<Outcome> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (performance.now() - clientStarted > DEADLINE_MS) return { ok: false, error: new Error('locked out: still rate limited after 90 s') };
    try {
      await schedule(fn);
      return { ok: true };
    } catch (error) {
      if (!isRateLimit(error)) return { ok: false, error };
      await sleep(retryAfterMsOf(error));
    }
  }
  return { ok: false, error: new Error('gave up after 50 rate limits') };
}

// ---- strategies ------------------------------------------------------------------------------

const throttleflow = (windowMs: number, limit: number, tokenLimit?: number): Strategy => ({
  name: 'throttleflow',
  async run(requests, call) {
    class Call extends ThrottledParallelBatchNode<unknown, ChatCompletionRequest, Outcome> {
      override async prep() { return requests; }
      override tokensFor(request: ChatCompletionRequest) { return tokenLimit ? simulatorTokenCost(request).totalTokens : undefined; }
      // Returning the response (its headers) lets the limiter learn from the provider.
      override async exec(request: ChatCompletionRequest): Promise<Outcome> { return { ok: true, response: await call(request) }; }
      override async execFallback(_r: ChatCompletionRequest, error: Error): Promise<Outcome> { return { ok: false, error }; }
      override async post(shared: { out?: Outcome[] }, _r: unknown, out: Outcome[]) { shared.out = out; return undefined; }
    }
    const node = new Call({
      maxConcurrent: 100,
      ...(tokenLimit ? { windows: [{ resource: 'tokens', limit: tokenLimit, windowMs }] } : { maxPerWindow: limit, windowMs }),
      maxRetries: 3,
      maxRateLimitRetries: 50,
    });
    const shared: { out?: Outcome[] } = {};
    await node.run(shared);
    return shared.out!;
  },
});

const adaptiveUnknownLimits: Strategy = {
  name: 'throttleflow adaptive (no limits given)',
  async run(requests, call) {
    class Call extends AdaptiveThrottledNode<unknown, ChatCompletionRequest, Outcome> {
      override async prep() { return requests; }
      override async exec(request: ChatCompletionRequest): Promise<Outcome> { return { ok: true, response: await call(request) }; }
      override async execFallback(_r: ChatCompletionRequest, error: Error): Promise<Outcome> { return { ok: false, error }; }
      override async post(shared: { out?: Outcome[] }, _r: unknown, out: Outcome[]) { shared.out = out; return undefined; }
    }
    const node = new Call({ initialConcurrent: 10, maxConcurrent: 100, maxRetries: 3, maxRateLimitRetries: 50 });
    const shared: { out?: Outcome[] } = {};
    await node.run(shared);
    return shared.out!;
  },
};

const pLimitStrategy: Strategy = {
  name: 'p-limit(100) + retry-after',
  async run(requests, call) {
    const limit = pLimit(100);
    return Promise.all(requests.map((r) => withRetry(() => call(r), (fn) => limit(fn))));
  },
};

const pQueueStrategy = (windowMs: number, limit: number): Strategy => ({
  name: 'p-queue interval + retry-after',
  async run(requests, call) {
    const queue = new PQueue({ concurrency: 100, intervalCap: limit, interval: windowMs });
    return Promise.all(requests.map((r) => withRetry(() => call(r), (fn) => queue.add(fn))));
  },
});

const bottleneckStrategy = (windowMs: number, limit: number): Strategy => ({
  name: 'Bottleneck reservoir + retry-after',
  async run(requests, call) {
    const limiter = new Bottleneck({
      maxConcurrent: 100,
      reservoir: limit,
      reservoirRefreshAmount: limit,
      reservoirRefreshInterval: windowMs,
    });
    const outcomes = await Promise.all(requests.map((r) => withRetry(() => call(r), (fn) => limiter.schedule(fn))));
    await limiter.stop({ dropWaitingJobs: true });
    return outcomes;
  },
});

// ---- scenarios -------------------------------------------------------------------------------

function shortPrompts(n: number): ChatCompletionRequest[] {
  return Array.from({ length: n }, (_, i) => ({ model: MODEL, messages: [{ role: 'user', content: `Summarise item ${i}` }], max_tokens: 50 }));
}

function variedPrompts(n: number, seed = 7): ChatCompletionRequest[] {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, (_, i) => {
    const chars = 200 + Math.floor(rand() * 7800);
    return { model: MODEL, messages: [{ role: 'user', content: `#${i} ` + 'lorem ipsum '.repeat(Math.ceil(chars / 12)).slice(0, chars) }], max_tokens: 200 };
  });
}

/**
 * The optimum makespan: every request starts at the earliest time the sliding window allows
 * (greedy, in order, ignoring concurrency), and the last group to start finishes with the
 * expected slowest of its latencies (uniform in latency ± jitter: a + (b − a)·n/(n + 1)).
 */
function optimumMakespanMs(costs: number[], limit: number, windowMs: number, latencyMs: number, jitterMs: number): number {
  const starts: number[] = [];
  let t = 0;
  for (let i = 0; i < costs.length; i++) {
    for (;;) {
      const used = starts.reduce((sum, s, j) => (s > t - windowMs ? sum + costs[j]! : sum), 0);
      if (used + costs[i]! <= limit) break;
      // Next time something expires.
      t = Math.min(...starts.filter((s) => s > t - windowMs)) + windowMs;
    }
    starts.push(t);
  }
  const lastGroup = starts.filter((s) => s === t).length;
  return t + latencyMs - jitterMs + (2 * jitterMs * lastGroup) / (lastGroup + 1);
}

function scenarios(): Scenario[] {
  const windowMs = 10_000;
  const limit = 100;
  const latency = { latencyMs: 500, jitterMs: 300, seed: 42 };
  const requests = shortPrompts(300);
  const requestOptimum = optimumMakespanMs(requests.map(() => 1), limit, windowMs, latency.latencyMs, latency.jitterMs);
  const peers = process.env.BENCH_ONLY_OURS ? [] : [pLimitStrategy, pQueueStrategy(windowMs, limit), bottleneckStrategy(windowMs, limit)];
  const tokenRequests = variedPrompts(150);
  const tokenLimit = 100_000;
  const tokenCosts = tokenRequests.map((r) => simulatorTokenCost(r).totalTokens);
  return [
    {
      name: 'requests (sliding)',
      simulator: { requestsPerWindow: limit, windowMs, ...latency },
      requests,
      optimumMs: requestOptimum,
      limit,
      strategies: [throttleflow(windowMs, limit), ...peers],
    },
    {
      name: 'requests, countRejected',
      simulator: { requestsPerWindow: limit, windowMs, countRejected: true, ...latency },
      requests,
      optimumMs: requestOptimum,
      limit,
      strategies: [throttleflow(windowMs, limit), ...peers, adaptiveUnknownLimits],
    },
    {
      name: 'requests (bucket)',
      simulator: { requestsPerWindow: limit, windowMs, mode: 'bucket', ...latency },
      requests,
      optimumMs: requestOptimum,
      limit,
      strategies: [throttleflow(windowMs, limit), ...peers],
    },
    {
      name: 'tokens',
      simulator: { tokensPerWindow: tokenLimit, windowMs, ...latency },
      requests: tokenRequests,
      optimumMs: optimumMakespanMs(tokenCosts, tokenLimit, windowMs, latency.latencyMs, latency.jitterMs),
      limit: tokenLimit,
      strategies: [
        throttleflow(windowMs, limit, tokenLimit),
        pLimitStrategy,
        // Peers have no token limits: the docs' advice is a request rate that keeps average tokens under the cap.
        pQueueStrategy(windowMs, Math.floor(tokenLimit / (tokenCosts.reduce((a, b) => a + b, 0) / tokenCosts.length))),
        bottleneckStrategy(windowMs, Math.floor(tokenLimit / (tokenCosts.reduce((a, b) => a + b, 0) / tokenCosts.length))),
      ],
    },
    {
      name: 'faults (10% 500, 5% 529, 2% reset)',
      simulator: { requestsPerWindow: limit, windowMs, p500: 0.1, p529: 0.05, pReset: 0.02, ...latency },
      requests,
      optimumMs: requestOptimum,
      limit,
      strategies: [throttleflow(windowMs, limit)],
    },
  ];
}

/** What a client process reports back. */
interface ClientReport {
  makespanMs: number;
  outcomes: number;
  done: number;
  failedItems: number;
}

/** Runs one strategy against a simulator URL in this process. */
async function runClient(scenarioName: string, strategyIndex: number, url: string): Promise<ClientReport> {
  const scenario = scenarios().find((s) => s.name === scenarioName)!;
  const strategy = scenario.strategies[strategyIndex]!;
  const call: Call = (request) => chatCompletion(url, request);
  // A running service has its HTTP client loaded: one request before the clock starts.
  await fetch(`${url}/stats`).then((r) => r.arrayBuffer());
  const started = performance.now();
  const outcomes = await strategy.run(scenario.requests, call, scenario);
  return {
    makespanMs: performance.now() - started,
    outcomes: outcomes.length,
    done: outcomes.filter((o) => o.ok).length,
    failedItems: outcomes.filter((o) => !o.ok).length,
  };
}

/** Runs one strategy in its own client process, so strategies run side by side do not share an event loop. */
function runClientProcess(scenarioName: string, strategyIndex: number, url: string): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--client', scenarioName, String(strategyIndex), url], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('message', (report) => resolve(report as ClientReport));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`client for ${scenarioName} #${strategyIndex} exited with ${code}`));
    });
  });
}

async function runStrategy(scenario: Scenario, strategyIndex: number, simulator: SpawnedProviderSimulator): Promise<GoodputRow> {
  const strategy = scenario.strategies[strategyIndex]!;
  const report = await runClientProcess(scenario.name, strategyIndex, simulator.url);
  const { makespanMs, done, failedItems } = report;
  const outcomes = { length: report.outcomes };
  const stats = await simulator.stats();
  const isTokens = scenario.simulator.tokensPerWindow !== undefined;
  return {
    scenario: scenario.name,
    strategy: strategy.name,
    items: scenario.requests.length,
    done,
    lost: scenario.requests.length - outcomes.length,
    rejected429: stats.rejected,
    failedItems,
    makespanMs,
    optimumMs: scenario.optimumMs,
    efficiency: scenario.optimumMs / makespanMs,
    maxInWindow: isTokens ? stats.maxTokensInAnyWindow : stats.maxRequestsInAnyWindow,
    limit: scenario.limit,
    windowMs: stats.windowMs,
    acceptedAtMs: stats.acceptedTimestamps,
    acceptedCosts: isTokens ? stats.acceptedTokens : stats.acceptedTimestamps.map(() => 1),
    rejectedAtMs: stats.rejectedTimestamps,
  };
}

/** Runs every scenario (strategies of one scenario side by side, each on its own simulator process). */
export async function benchGoodput(filter?: (scenario: string) => boolean): Promise<GoodputRow[]> {
  const rows: GoodputRow[] = [];
  for (const scenario of scenarios()) {
    if (filter && !filter(scenario.name)) continue;
    // throttleflow's strategies run alone (one client process, one simulator process); the peers then
    // run side by side, each with its own client and simulator process, to keep the bench short.
    const ours = scenario.strategies.flatMap((s, i) => (s.name.startsWith('throttleflow') ? [i] : []));
    const peers = scenario.strategies.flatMap((s, i) => (s.name.startsWith('throttleflow') ? [] : [i]));
    const results: GoodputRow[] = [];
    for (const group of [...ours.map((i) => [i]), peers]) {
      if (group.length === 0) continue;
      const simulators = await Promise.all(group.map(() => spawnProviderSimulator(scenario.simulator)));
      try {
        results.push(...(await Promise.all(group.map((i, k) => runStrategy(scenario, i, simulators[k]!)))));
      } finally {
        await Promise.all(simulators.map((s) => s.close()));
      }
    }
    rows.push(...results);
    printRows(results);
  }
  return rows;
}

export function printRows(rows: GoodputRow[]): void {
  console.table(
    rows.map((r) => ({
      scenario: r.scenario,
      strategy: r.strategy,
      'done/items': `${r.done}/${r.items}`,
      lost: r.lost,
      '429s': r.rejected429,
      failed: r.failedItems,
      'makespan s': (r.makespanMs / 1000).toFixed(2),
      'optimum s': (r.optimumMs / 1000).toFixed(2),
      efficiency: r.efficiency.toFixed(3),
      'max in window': `${r.maxInWindow}/${r.limit}`,
    })),
  );
}

if (process.argv[2] === '--client') {
  const [, , , scenarioName, index, url] = process.argv;
  const report = await runClient(scenarioName!, Number(index), url!);
  process.send!(report, () => process.exit(0));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv[2];
  await benchGoodput(only ? (name) => name.includes(only) : undefined);
}
