/**
 * Routing across deployments: three deployments of one model, each its own provider simulator in
 * its own process (100 requests per 10 s, sliding, rejected requests counting as OpenAI's do),
 * 600 items through `withFallback(targets, { strategy })` inside a `ThrottledParallelBatchNode`.
 * `'soonest'` and `'ordered'` run side by side in the same run (each on its own three simulators).
 * Efficiency is measured against the three-target optimum: 300 start at once, 300 when the
 * windows reopen, each answered after the simulator's latency.
 *
 * The outage rows: three deployments of 10 requests per 1 s (the same shape, windows shorter than
 * the outage; the limiters' default margin), 300 items through `'soonest'`, once without and once with deployment A answering
 * every request 429 for 3 s (its key suspended; retry-after the time left; the rejections count).
 * The outage costs the makespan difference; the bound is A's share of those 3 s (1/3 × 3 s).
 *
 *   BENCH_SECTIONS=routing npx tsx bench/main.ts        (BENCH_QUICK=1: 2 s windows)
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { ThrottledParallelBatchNode } from '../src/index';
import { Limiter } from '../src/limits/limiter';
import { withFallback, type FallbackTarget, type RoutingStrategy } from '../src/routing/index';
import {
  ProviderHttpError,
  spawnProviderSimulator,
  type ChatCompletionRequest,
  type SpawnedProviderSimulator,
} from '../src/testing/index';
import type { BenchContext, BenchSection } from './sections';

const DEPLOYMENTS = ['A', 'B', 'C'] as const;
const LATENCY_MS = 200;
const OUTAGE = { fromMs: 3000, toMs: 6000 };

/** One run of the pipeline over three deployments. */
export interface RoutingRow {
  scenario: string;
  strategy: RoutingStrategy;
  items: number;
  done: number;
  makespanMs: number;
  optimumMs: number;
  /** (done ÷ items) × (optimum ÷ makespan). */
  efficiency: number;
  /** 429s the deployments answered, as a percentage of every request they received. */
  rejectedPercent: number;
  rejected: number;
  /** Served by each deployment, as a fraction of the items. */
  shares: Record<string, number>;
  /** The most requests any deployment admitted in one of its windows, and its limit. */
  maxInWindow: number;
  limit: number;
}

interface Shape {
  perWindow: number;
  windowMs: number;
  items: number;
  /** The limiters' window margin (undefined: their default, 1 % of the window). */
  marginMs?: number;
}

/** The earliest the last item can end: full windows of all three, then its latency. */
function optimumMs(shape: Shape): number {
  const rounds = Math.ceil(shape.items / (shape.perWindow * DEPLOYMENTS.length));
  return (rounds - 1) * shape.windowMs + LATENCY_MS;
}

/** Keep-alive connections, up to a window's worth per simulator. */
const agent = new Agent({ keepAlive: true, maxSockets: 100 });

/**
 * One chat completion over node:http (the testing kit's `chatCompletion` uses fetch, whose
 * per-request cost on a busy client delays a 300-request burst's arrival by hundreds of ms).
 * Resolves to the body and headers, as an SDK's `withResponse()` would; rejects on a non-2xx.
 */
function chatCompletion(
  baseUrl: string,
  body: ChatCompletionRequest,
  signal: AbortSignal | undefined,
): Promise<{ data: unknown; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(
      `${baseUrl}/v1/chat/completions`,
      {
        method: 'POST',
        agent,
        signal,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const data: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve({ data, headers: res.headers });
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          reject(new ProviderHttpError(status, headers, data));
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function request(i: number): ChatCompletionRequest {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `item ${i}` }], max_tokens: 16 };
}

/** 600 (or `shape.items`) items through a fallback chain over `sims` inside a throttled node. */
async function runPipeline(
  scenario: string,
  strategy: RoutingStrategy,
  sims: readonly SpawnedProviderSimulator[],
  shape: Shape,
): Promise<RoutingRow> {
  await warmUp(sims, shape.perWindow);
  await Promise.all(sims.map((s) => s.reset()));
  type Reply = Awaited<ReturnType<typeof chatCompletion>>;
  const targets: FallbackTarget<ChatCompletionRequest, Reply>[] = sims.map((sim, i) => ({
    name: DEPLOYMENTS[i]!,
    limiter: new Limiter({
      name: `${scenario}-${strategy}-${DEPLOYMENTS[i]}`,
      maxPerWindow: shape.perWindow,
      windowMs: shape.windowMs,
      ...(shape.marginMs === undefined ? {} : { windowMarginMs: shape.marginMs }),
      warnings: false,
    }),
    call: (req, signal) => chatCompletion(sim.url, req, signal),
  }));
  const chain = withFallback(targets, { name: `${scenario}-${strategy}`, strategy });
  class Pipeline extends ThrottledParallelBatchNode<{ done?: number }, ChatCompletionRequest, boolean> {
    override async prep() {
      return Array.from({ length: shape.items }, (_, i) => request(i));
    }
    override async exec(req: ChatCompletionRequest): Promise<boolean> {
      await chain.call(req, { signal: this.signal });
      return true;
    }
    override async execFallback(): Promise<boolean> {
      return false;
    }
    override async post(shared: { done?: number }, _items: unknown, results: boolean[]) {
      shared.done = results.filter(Boolean).length;
      return undefined;
    }
  }
  // The node's own limiter only bounds concurrency: the deployments' limiters do the rate limiting.
  const node = new Pipeline({ maxConcurrent: shape.items, maxRetries: 1 });
  const shared: { done?: number } = {};
  const started = performance.now();
  await node.run(shared);
  const makespanMs = performance.now() - started;
  const stats = await Promise.all(sims.map((s) => s.stats()));
  const accepted = stats.reduce((a, s) => a + s.accepted, 0);
  const rejected = stats.reduce((a, s) => a + s.rejected, 0);
  const done = shared.done ?? 0;
  const optimum = optimumMs(shape);
  const servedBy = chain.stats().servedBy;
  return {
    scenario,
    strategy,
    items: shape.items,
    done,
    makespanMs,
    optimumMs: optimum,
    efficiency: (done / shape.items) * (optimum / makespanMs),
    rejectedPercent: (100 * rejected) / Math.max(1, accepted + rejected),
    rejected,
    shares: Object.fromEntries(DEPLOYMENTS.map((d) => [d, (servedBy[d] ?? 0) / shape.items])),
    maxInWindow: Math.max(...stats.map((s) => s.maxRequestsInAnyWindow)),
    limit: shape.perWindow,
  };
}

/**
 * Opens a window's worth of keep-alive connections to each simulator first: otherwise the first
 * burst waits for 100 connection set-ups and reaches the provider hundreds of ms after its start,
 * while later bursts reuse warm connections and arrive at once, closer than a window apart.
 */
async function warmUp(sims: readonly SpawnedProviderSimulator[], connections: number): Promise<void> {
  const get = (url: string) =>
    new Promise<void>((resolve, reject) =>
      httpRequest(url, { agent }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end(),
    );
  await Promise.all(
    sims.flatMap((sim) => Array.from({ length: connections }, () => get(`${sim.url}/options`))),
  );
}

function spawnThree(shape: Shape): Promise<SpawnedProviderSimulator[]> {
  return Promise.all(
    DEPLOYMENTS.map(() =>
      spawnProviderSimulator({
        requestsPerWindow: shape.perWindow,
        windowMs: shape.windowMs,
        countRejected: true,
        latencyMs: LATENCY_MS,
      }),
    ),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

async function runRouting({ quick }: BenchContext) {
  const main: Shape = { perWindow: 100, windowMs: quick ? 2000 : 10_000, items: 600 };
  // The limiters' default margin (1 % of 1 s): on an idle machine it holds (0 × 429 without the
  // outage); a 100 ms margin made each of A's rounds 1.1 s and the outage's cost 10 % over A's share.
  const outageShape: Shape = { perWindow: 10, windowMs: 1000, items: quick ? 150 : 300 };
  const [soonestSims, orderedSims] = await Promise.all([spawnThree(main), spawnThree(main)]);
  try {
    // 'ordered' takes six windows on A alone; it runs beside everything else on its own simulators,
    // started 2 s later so its bursts do not coincide with the others' (one client process).
    const orderedRun = sleep(2_000).then(() =>
      runPipeline('three deployments', 'ordered', orderedSims, main),
    );
    const soonest = await runPipeline('three deployments', 'soonest', soonestSims, main);
    // The outage rows reuse the 'soonest' simulators, reshaped.
    await Promise.all(
      soonestSims.map((s) =>
        s.setOptions({ requestsPerWindow: outageShape.perWindow, windowMs: outageShape.windowMs }),
      ),
    );
    const baseline = await runPipeline('no outage (10 / 1 s each)', 'soonest', soonestSims, outageShape);
    await soonestSims[0]!.setOptions({ outage: OUTAGE });
    const outage = await runPipeline('A answers 429 for 3 s', 'soonest', soonestSims, outageShape);
    const ordered = await orderedRun;
    const rows = [soonest, ordered, baseline, outage];

    const costMs = outage.makespanMs - baseline.makespanMs;
    const shareA = 1 / DEPLOYMENTS.length;
    const boundMs = shareA * (OUTAGE.toMs - OUTAGE.fromMs);
    console.log(
      `\nThree deployments, each its own simulator process: ${main.perWindow} requests / ${main.windowMs / 1000} s ` +
        `(sliding, rejected requests count), latency ${LATENCY_MS} ms; ${main.items} items through ` +
        'withFallback(targets, { strategy }) in a ThrottledParallelBatchNode. Optimum: all three windows full.',
    );
    console.table(
      rows.map((r) => ({
        scenario: r.scenario,
        strategy: r.strategy,
        'done/items': `${r.done}/${r.items}`,
        'makespan s': (r.makespanMs / 1000).toFixed(2),
        'optimum s': (r.optimumMs / 1000).toFixed(2),
        efficiency: r.efficiency.toFixed(3),
        '429 %': r.rejectedPercent.toFixed(2),
        A: pct(r.shares.A!),
        B: pct(r.shares.B!),
        C: pct(r.shares.C!),
        'max in window': `${r.maxInWindow}/${r.limit}`,
      })),
    );
    console.log(
      `Outage: A answers every request 429 from ${OUTAGE.fromMs / 1000} s to ${OUTAGE.toMs / 1000} s (retry-after: ` +
        `the time left; rejections count). It cost ${(costMs / 1000).toFixed(2)} s of makespan; A's share of those 3 s ` +
        `is ${(boundMs / 1000).toFixed(2)} s (ratio ${(costMs / boundMs).toFixed(2)}). The limiters keep their default ` +
        `1 % window margin, so every round is ${(outageShape.windowMs * 1.01) / 1000} s: the 30 calls A could not take cost B and C ` +
        `an eleventh round, ${(outageShape.windowMs * 1.01) / 1000} s, the floor for any router here; the 429's retry-after ` +
        `(longer than the window) pauses A without widening its window.`,
    );
    return { rows, outage: { costMs, boundMs, ratio: costMs / boundMs, ...OUTAGE } };
  } finally {
    await Promise.all([...soonestSims, ...orderedSims].map((s) => s.close()));
  }
}

/** The "routing" section of `npm run bench`. */
export const routingSection: BenchSection = {
  name: 'routing',
  title: 'Routing across deployments',
  run: runRouting,
};
