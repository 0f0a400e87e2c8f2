/**
 * Goodput: how close each strategy gets to the provider's possible throughput without 429s.
 * Each strategy runs in its own client process against its own provider simulator in its own
 * process (a real provider does not share your event loop). The load is tiny (a few hundred
 * requests over ~20 s per strategy) and the processes mostly sleep, so strategies run side by
 * side: every client of a group loads, warms up and reports ready first, so no process start-up
 * steals CPU from a running strategy; then they start staggered over one window, so their bursts
 * do not coincide (checked: each throttleflow strategy gets the same 429s and efficiency as alone,
 * and every client's event-loop delay is recorded in its row). Schedules (`schedule` option):
 *
 *   - `phased` (default): every throttleflow strategy of every scenario together, then p-queue and
 *     Bottleneck together, then p-limit — throttleflow never shares the machine with a peer;
 *   - `alone`: one strategy at a time (the reference the other schedules were checked against);
 *   - `together`: everything at once.
 *
 *   npx tsx bench/goodput.ts [scenario substring]      (BENCH_GOODPUT=alone|phased|together)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Bottleneck from 'bottleneck';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { AdaptiveThrottledNode, ThrottledParallelBatchNode } from '../src/index';
import { detectRateLimit } from '../src/providers/index';
import {
  chatCompletion,
  simulatorTokenCost,
  spawnProviderSimulator,
  type ChatCompletionRequest,
  type ProviderSimulatorOptions,
  type ProviderSimulatorLog,
  type ProviderSimulatorStats,
} from '../src/testing/index';
import { serveClientProcess, startClientProcess } from './client-process';

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
  /** Items that ended in an error (faults, or the peer being locked out), each counted once. */
  failedItems: number;
  /** Of those, items unfinished when the strategy hit the lockout cap ({@link LOCKOUT_MS}). */
  lockedOutItems: number;
  /** The client process's CPU time and event-loop delay (p99, max) during the run: a check that running side by side did not starve it. */
  clientCpuMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  makespanMs: number;
  optimumMs: number;
  /** (done ÷ items) × (optimum makespan ÷ measured makespan): 1 is every item served as early as the window allows. */
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
type Strategy = {
  name: string;
  run: (requests: ChatCompletionRequest[], call: Call, scenario: Scenario) => Promise<Outcome[]>;
};
type Outcome = { ok: true; response?: unknown } | { ok: false; error: unknown };

function retryAfterMsOf(error: unknown): number {
  const signal = detectRateLimit(error);
  return signal?.retryAfterMs ?? 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRateLimit = (error: unknown) => detectRateLimit(error) !== undefined;

/**
 * A peer still retrying this long after it started is locked out: its unfinished items count as
 * failed. A peer that needs more than ~3× the optimum (~21 s) is not going to catch up; the cap
 * keeps one locked-out peer from setting the length of the whole bench.
 */
export const LOCKOUT_MS = 60_000;
/** When this client process started its strategy (set on the parent's go). */
let runStarted = performance.now();

/** A peer's documented 429 handling: wait for retry-after, then try again (bounded). */
async function withRetry(
  fn: () => Promise<unknown>,
  schedule: (fn: () => Promise<unknown>) => Promise<unknown>,
): Promise<Outcome> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const left = LOCKOUT_MS - (performance.now() - runStarted);
    if (left <= 0)
      return { ok: false, error: new Error(`locked out: still rate limited after ${LOCKOUT_MS / 1000} s`) };
    try {
      await schedule(fn);
      return { ok: true };
    } catch (error) {
      if (!isRateLimit(error)) return { ok: false, error };
      // Never sleep past the cap: a locked-out peer ends at the cap, not a retry-after later.
      await sleep(Math.min(retryAfterMsOf(error), left));
    }
  }
  return { ok: false, error: new Error('gave up after 50 rate limits') };
}

// ---- strategies ------------------------------------------------------------------------------

/**
 * What throttleflow uses to line its window up with the provider's, so the bench can show what
 * each part costs: `full` (the default: margin + per-request arrival from the response headers),
 * `margin` (the 1 % safety margin only: headers ignored), `exact` (neither: our own send times).
 */
type Alignment = 'full' | 'margin' | 'exact';
const ALIGNMENT_NAMES: Record<Alignment, string> = {
  full: 'throttleflow',
  margin: 'throttleflow, margin only (headers ignored)',
  exact: 'throttleflow, exact window (no margin, headers ignored)',
};

const throttleflow = (
  windowMs: number,
  limit: number,
  tokenLimit?: number,
  alignment: Alignment = 'full',
): Strategy => ({
  name: ALIGNMENT_NAMES[alignment],
  async run(requests, call) {
    class Call extends ThrottledParallelBatchNode<unknown, ChatCompletionRequest, Outcome> {
      protected override observeResponse(...args: Parameters<ThrottledParallelBatchNode['observeResponse']>) {
        if (alignment === 'full') super.observeResponse(...args);
      }
      override async prep() {
        return requests;
      }
      override tokensFor(request: ChatCompletionRequest) {
        return tokenLimit ? simulatorTokenCost(request).totalTokens : undefined;
      }
      // Returning the response (its headers) lets the limiter learn from the provider.
      override async exec(request: ChatCompletionRequest): Promise<Outcome> {
        return { ok: true, response: await call(request) };
      }
      override async execFallback(_r: ChatCompletionRequest, error: Error): Promise<Outcome> {
        return { ok: false, error };
      }
      override async post(shared: { out?: Outcome[] }, _r: unknown, out: Outcome[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new Call({
      maxConcurrent: 100,
      ...(tokenLimit
        ? { windows: [{ resource: 'tokens', limit: tokenLimit, windowMs }] }
        : { maxPerWindow: limit, windowMs }),
      ...(alignment === 'exact' ? { windowMarginMs: 0 } : {}),
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
      override async prep() {
        return requests;
      }
      override async exec(request: ChatCompletionRequest): Promise<Outcome> {
        return { ok: true, response: await call(request) };
      }
      override async execFallback(_r: ChatCompletionRequest, error: Error): Promise<Outcome> {
        return { ok: false, error };
      }
      override async post(shared: { out?: Outcome[] }, _r: unknown, out: Outcome[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new Call({
      initialConcurrent: 10,
      maxConcurrent: 100,
      maxRetries: 3,
      maxRateLimitRetries: 50,
    });
    const shared: { out?: Outcome[] } = {};
    await node.run(shared);
    return shared.out!;
  },
};

const pLimitStrategy: Strategy = {
  name: 'p-limit(100) + retry-after',
  async run(requests, call) {
    const limit = pLimit(100);
    return Promise.all(
      requests.map((r) =>
        withRetry(
          () => call(r),
          (fn) => limit(fn),
        ),
      ),
    );
  },
};

const pQueueStrategy = (windowMs: number, limit: number): Strategy => ({
  name: 'p-queue interval + retry-after',
  async run(requests, call) {
    const queue = new PQueue({ concurrency: 100, intervalCap: limit, interval: windowMs });
    return Promise.all(
      requests.map((r) =>
        withRetry(
          () => call(r),
          (fn) => queue.add(fn),
        ),
      ),
    );
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
    const outcomes = await Promise.all(
      requests.map((r) =>
        withRetry(
          () => call(r),
          (fn) => limiter.schedule(fn),
        ),
      ),
    );
    await limiter.stop({ dropWaitingJobs: true });
    return outcomes;
  },
});

// ---- scenarios -------------------------------------------------------------------------------

/** `n` short chat requests (`max_tokens` 50), as the goodput request scenarios send. */
export function shortPrompts(n: number): ChatCompletionRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    model: MODEL,
    messages: [{ role: 'user', content: `Summarise item ${i}` }],
    max_tokens: 50,
  }));
}

export function variedPrompts(n: number, seed = 7): ChatCompletionRequest[] {
  let x = seed;
  const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, (_, i) => {
    const chars = 200 + Math.floor(rand() * 7800);
    return {
      model: MODEL,
      messages: [
        { role: 'user', content: `#${i} ` + 'lorem ipsum '.repeat(Math.ceil(chars / 12)).slice(0, chars) },
      ],
      max_tokens: 200,
    };
  });
}

/**
 * The optimum makespan: every request starts at the earliest time the sliding window allows
 * (greedy, in order, ignoring concurrency), and the last group to start finishes with the
 * expected slowest of its latencies (uniform in latency ± jitter: a + (b − a)·n/(n + 1)).
 */
export function optimumMakespanMs(
  costs: number[],
  limit: number,
  windowMs: number,
  latencyMs: number,
  jitterMs: number,
): number {
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
  const requestOptimum = optimumMakespanMs(
    requests.map(() => 1),
    limit,
    windowMs,
    latency.latencyMs,
    latency.jitterMs,
  );
  const peers = process.env.BENCH_ONLY_OURS
    ? []
    : [pLimitStrategy, pQueueStrategy(windowMs, limit), bottleneckStrategy(windowMs, limit)];
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
      strategies: [
        throttleflow(windowMs, limit),
        throttleflow(windowMs, limit, undefined, 'margin'),
        throttleflow(windowMs, limit, undefined, 'exact'),
        ...peers,
      ],
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
        ...(process.env.BENCH_ONLY_OURS
          ? []
          : [
              pLimitStrategy,
              // Peers have no token limits: the docs' advice is a request rate that keeps average tokens under the cap.
              pQueueStrategy(
                windowMs,
                Math.floor(tokenLimit / (tokenCosts.reduce((a, b) => a + b, 0) / tokenCosts.length)),
              ),
              bottleneckStrategy(
                windowMs,
                Math.floor(tokenLimit / (tokenCosts.reduce((a, b) => a + b, 0) / tokenCosts.length)),
              ),
            ]),
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
  /** Items that failed because the strategy hit {@link LOCKOUT_MS}. */
  lockedOutItems: number;
  /** CPU time the client process used during the run. */
  cpuMs: number;
  /** The client's event-loop delay during the run (p99 and max): high values mean it was starved of CPU. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** Runs one strategy against a simulator URL in this process, once `go` resolves. */
async function runClient(
  scenarioName: string,
  strategyIndex: number,
  url: string,
  go: Promise<void>,
  onReady: () => void,
): Promise<ClientReport> {
  const scenario = scenarios().find((s) => s.name === scenarioName)!;
  const strategy = scenario.strategies[strategyIndex]!;
  const call: Call = (request) => chatCompletion(url, request);
  // A running service has its HTTP client loaded: one request before the clock starts.
  await fetch(`${url}/stats`).then((r) => r.arrayBuffer());
  onReady();
  await go;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  runStarted = started;
  const outcomes = await strategy.run(scenario.requests, call, scenario);
  delay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const lockedOut = (o: Outcome) =>
    !o.ok && o.error instanceof Error && o.error.message.startsWith('locked out');
  return {
    makespanMs: performance.now() - started,
    outcomes: outcomes.length,
    done: outcomes.filter((o) => o.ok).length,
    failedItems: outcomes.filter((o) => !o.ok).length,
    lockedOutItems: outcomes.filter(lockedOut).length,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  };
}

/** Forks a client process for one strategy; resolves once it has loaded and warmed up. */
function startStrategyClient(scenarioName: string, strategyIndex: number, url: string) {
  return startClientProcess<ClientReport>(
    import.meta.url,
    ['--client', scenarioName, String(strategyIndex), url],
    `client for ${scenarioName} #${strategyIndex}`,
  );
}

interface Job {
  scenario: Scenario;
  strategyIndex: number;
}

/** Spreads a group's starts over one provider window (10 s), at most 2 s apart. */
export const staggerFor = (strategies: number) => Math.min(2_000, 10_000 / strategies);

/** Runs a group of strategies side by side, each with its own simulator and client process, starts staggered. */
async function runGroup(jobs: Job[]): Promise<GoodputRow[]> {
  const simulators = await Promise.all(jobs.map((job) => spawnProviderSimulator(job.scenario.simulator)));
  try {
    const clients = await Promise.all(
      jobs.map((job, k) => startStrategyClient(job.scenario.name, job.strategyIndex, simulators[k]!.url)),
    );
    // Staggered starts: a strategy's first burst (and every window-aligned burst after it) costs
    // ~1 s of CPU in its client and simulator; started together, six of them stall one another's
    // event loops for seconds on 2 cores, and throttleflow then sees 429s it never sees alone.
    const staggerMs = staggerFor(jobs.length);
    clients.forEach((client, k) => setTimeout(client.go, k * staggerMs));
    const reports = await Promise.all(clients.map((c) => c.report));
    return await Promise.all(
      jobs.map(async (job, k) =>
        toRow(job, reports[k]!, await simulators[k]!.stats(), await simulators[k]!.log()),
      ),
    );
  } finally {
    await Promise.all(simulators.map((s) => s.close()));
  }
}

function toRow(
  { scenario, strategyIndex }: Job,
  report: ClientReport,
  stats: ProviderSimulatorStats,
  log: ProviderSimulatorLog,
): GoodputRow {
  const isTokens = scenario.simulator.tokensPerWindow !== undefined;
  return {
    scenario: scenario.name,
    strategy: scenario.strategies[strategyIndex]!.name,
    items: scenario.requests.length,
    done: report.done,
    lost: scenario.requests.length - report.outcomes,
    rejected429: stats.rejected,
    failedItems: report.failedItems,
    lockedOutItems: report.lockedOutItems,
    clientCpuMs: report.cpuMs,
    loopDelayP99Ms: report.loopDelayP99Ms,
    loopDelayMaxMs: report.loopDelayMaxMs,
    makespanMs: report.makespanMs,
    optimumMs: scenario.optimumMs,
    // Items served per unit of time against the optimum's: a strategy that gives up on items is not faster for it.
    efficiency: (report.done / scenario.requests.length) * (scenario.optimumMs / report.makespanMs),
    maxInWindow: isTokens ? stats.maxTokensInAnyWindow : stats.maxRequestsInAnyWindow,
    limit: scenario.limit,
    windowMs: stats.windowMs,
    acceptedAtMs: log.acceptedAtMs,
    acceptedCosts: isTokens ? log.acceptedTokens : log.acceptedAtMs.map(() => 1),
    rejectedAtMs: log.rejectedAtMs,
  };
}

/** How strategies share the machine; see the top of this file. */
export type GoodputSchedule = 'phased' | 'alone' | 'together';

/** Options of {@link benchGoodput}. */
export interface GoodputBenchOptions {
  /** Which scenarios to run (all by default). */
  filter?: (scenario: string) => boolean;
  /** Which strategies to run (all by default). */
  strategyFilter?: (strategy: string) => boolean;
  /** @default 'phased' */
  schedule?: GoodputSchedule;
}

const isOurs = (strategy: Strategy) => strategy.name.startsWith('throttleflow');

/**
 * How `phased` groups the peers. Twelve peers side by side did not get their numbers alone: each
 * p-limit client hammers its simulator with retries (up to 8 s of CPU in one run), and p-queue and
 * Bottleneck, which send a window's worth at once, lose a whole window to a few hundred ms of
 * stall. So the window-paced peers (p-queue, Bottleneck: quiet between bursts, like throttleflow)
 * run together, then the four p-limit runs together.
 */
function peerGroups(peers: Job[]): Job[][] {
  const pLimitRuns = peers.filter((j) => j.scenario.strategies[j.strategyIndex]!.name.startsWith('p-limit'));
  return [peers.filter((j) => !pLimitRuns.includes(j)), pLimitRuns];
}

/** Runs every scenario; returns the rows in scenario order (throttleflow first within each). */
export async function benchGoodput(options: GoodputBenchOptions = {}): Promise<GoodputRow[]> {
  const schedule = options.schedule ?? 'phased';
  const chosen = scenarios().filter((s) => !options.filter || options.filter(s.name));
  const jobs: Job[] = chosen
    .flatMap((scenario) => scenario.strategies.map((_, strategyIndex) => ({ scenario, strategyIndex })))
    .filter(
      (j) => !options.strategyFilter || options.strategyFilter(j.scenario.strategies[j.strategyIndex]!.name),
    );
  const ours = jobs.filter((j) => isOurs(j.scenario.strategies[j.strategyIndex]!));
  const peers = jobs.filter((j) => !isOurs(j.scenario.strategies[j.strategyIndex]!));
  const groups =
    schedule === 'alone'
      ? jobs.map((j) => [j])
      : schedule === 'together'
        ? [jobs]
        : [ours, ...peerGroups(peers)];
  const done: GoodputRow[] = [];
  for (const group of groups) {
    if (group.length === 0) continue;
    const started = performance.now();
    done.push(...(await runGroup(group)));
    console.log(
      `  ${group.length} strateg${group.length === 1 ? 'y' : 'ies'} side by side: ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  // Back in scenario order, whatever order they ran in.
  const rows = jobs.map((j) =>
    done.find(
      (r) => r.scenario === j.scenario.name && r.strategy === j.scenario.strategies[j.strategyIndex]!.name,
    )!,
  );
  printRows(rows);
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
      failed: r.failedItems + (r.lockedOutItems > 0 ? ` (${r.lockedOutItems} locked out)` : ''),
      'makespan s': (r.makespanMs / 1000).toFixed(2),
      'optimum s': (r.optimumMs / 1000).toFixed(2),
      efficiency: r.efficiency.toFixed(3),
      'max in window': `${r.maxInWindow}/${r.limit}`,
      'client CPU s': (r.clientCpuMs / 1000).toFixed(1),
      'loop delay p99/max ms': `${r.loopDelayP99Ms.toFixed(0)}/${r.loopDelayMaxMs.toFixed(0)}`,
    })),
  );
}

export function parseSchedule(value: string | undefined): GoodputSchedule {
  if (value === undefined || value === '') return 'phased';
  if (value === 'phased' || value === 'alone' || value === 'together') return value;
  throw new Error(`BENCH_GOODPUT must be phased, alone or together, got ${value}`);
}

if (process.argv[2] === '--client') {
  const [, , , scenarioName, index, url] = process.argv;
  await serveClientProcess((go, onReady) => runClient(scenarioName!, Number(index), url!, go, onReady));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv[2];
  await benchGoodput({
    ...(only ? { filter: (name: string) => name.includes(only) } : {}),
    schedule: parseSchedule(process.env.BENCH_GOODPUT),
  });
}
