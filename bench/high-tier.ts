/**
 * High tier: 3,000 requests per 10 s window (18k RPM scaled the way the goodput bench scales
 * windows), latency 1.5 ± 1 s, 9,000 items, rejected requests counting, one client process with
 * up to 1,500 calls in flight, raw `fetch` returning `{ json, headers }`. The stand-in runs in its
 * own process and sends OpenAI's six `x-ratelimit-*` headers but not `openai-processing-ms`.
 *
 * Two ways the stand-in enforces the limit:
 *   - quantized: 3,000 per 10 s and, pro rata, 150 in any 500 ms (OpenAI: limits "can be quantized");
 *   - sliding: 3,000 in any 10 s.
 * The optimum is the earliest schedule every window the stand-in enforces allows; for sliding it is
 * shown three times: with instant dispatch, with the client's own dispatch limit (the time one
 * process needs to put a cold burst of 3,000 requests on the wire, from the burst's start to the
 * last arrival, measured in the same run against an unlimited stand-in, as a rate from the start;
 * the efficiency column is against this one), and, printed below the table,
 * with that limit and at most 1,500 requests in flight (the scenario's own cap: the second 1,500 of
 * a window wait for responses). p-queue (strict) and Bottleneck (reservoir) run in the same run.
 *
 * Also measured: the limiter's CPU time per grant at ≥ 300 grants/s with 1,500 in flight.
 *
 *   BENCH_SECTIONS=high-tier npx tsx bench/main.ts
 *   (development: BENCH_HIGH_TIER=quantized|sliding runs one case; HIGH_TIER_PACING=<ms> changes
 *   throttleflow's pacingMs in the quantized case; BENCH_QUICK=1 runs throttleflow only)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import { Limiter, ThrottledParallelBatchNode } from '../src/index';
import { detectRateLimit } from '../src/providers/index';
import { spawnProviderSimulator, type ProviderSimulatorOptions } from '../src/testing/index';
import { maxInAnyWindow } from '../src/testing/window-max';
import type { BenchContext, BenchSection } from './sections';

const WINDOW_MS = 10_000;
const LIMIT = 3000;
const QUANTUM_MS = 500;
const LATENCY = { latencyMs: 1500, jitterMs: 1000 };
const MAX_IN_FLIGHT = 1500;
/**
 * The limit of the CPU measurement: 600 a second, so grants run above 300 a second with 1,500 held
 * (the scenario's own 300 a second, less its margin, is just under that).
 */
const CPU_LIMIT = 2 * LIMIT;
/** A peer still retrying this long after it started is locked out: its unfinished items fail. */
const LOCKOUT_MS = 45_000;

type CaseName = 'quantized' | 'sliding';
type StrategyName = 'throttleflow' | 'p-queue (strict)' | 'Bottleneck (reservoir)';
const STRATEGIES: StrategyName[] = ['throttleflow', 'p-queue (strict)', 'Bottleneck (reservoir)'];

function simulatorFor(caseName: CaseName | 'unlimited', seed: number): ProviderSimulatorOptions {
  const common = { ...LATENCY, seed, processingMsHeader: false };
  if (caseName === 'unlimited') return common;
  return {
    ...common,
    requestsPerWindow: LIMIT,
    tokensPerWindow: 10_000_000,
    windowMs: WINDOW_MS,
    countRejected: true,
    ...(caseName === 'quantized' ? { quantumMs: QUANTUM_MS } : {}),
  };
}

// ---- the client side (runs in its own process) ------------------------------------------------

interface Item {
  i: number;
}
type Outcome = { ok: true; headers?: Headers } | { ok: false; error: string };

/** An HTTP error the way SDKs shape one (status + headers), so rate-limit detection sees 429s. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`);
  }
}

/** A raw fetch returning `{ json, headers }`, as a new user would write it. */
async function call(url: string, item: Item): Promise<{ json: unknown; headers: Headers }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `Summarise item ${item.i}` }],
      max_tokens: 50,
    }),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw new HttpError(response.status, response.headers);
  return { json, headers: response.headers };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetry(fn: () => Promise<unknown>, startedMs: number): Promise<Outcome> {
  for (;;) {
    const left = LOCKOUT_MS - (performance.now() - startedMs);
    if (left <= 0) return { ok: false, error: 'locked out' };
    try {
      await fn();
      return { ok: true };
    } catch (error) {
      const signal = detectRateLimit(error);
      if (!signal) return { ok: false, error: String(error) };
      await sleep(Math.min(signal.retryAfterMs ?? 1000, left));
    }
  }
}

async function runStrategy(strategy: StrategyName, caseName: CaseName, url: string): Promise<Outcome[]> {
  const items = Array.from({ length: 3 * LIMIT }, (_, i) => ({ i }));
  const started = performance.now();
  // Users who know the provider quantizes configure the sub-window; the peers get it as their window.
  const [cap, intervalMs] =
    caseName === 'quantized' ? [LIMIT * (QUANTUM_MS / WINDOW_MS), QUANTUM_MS] : [LIMIT, WINDOW_MS];
  if (strategy === 'throttleflow') {
    class Calls extends ThrottledParallelBatchNode<{ out?: Outcome[] }, Item, Outcome> {
      override async prep() {
        return items;
      }
      override async exec(item: Item): Promise<Outcome> {
        // Returned with the outcome, the response's headers reach the node, which learns from them.
        const { json, headers } = await call(url, item);
        return json === undefined ? { ok: false, error: 'no body' } : { ok: true, headers };
      }
      override async execFallback(_item: Item, error: Error): Promise<Outcome> {
        return { ok: false, error: String(error) };
      }
      override async post(shared: { out?: Outcome[] }, _p: unknown, out: Outcome[]) {
        shared.out = out;
        return undefined;
      }
    }
    const node = new Calls({
      maxConcurrent: MAX_IN_FLIGHT,
      maxPerWindow: LIMIT,
      windowMs: WINDOW_MS,
      ...(caseName === 'quantized' ? { pacingMs: Number(process.env.HIGH_TIER_PACING ?? QUANTUM_MS) } : {}),
      maxRetries: 3,
      maxRateLimitRetries: 50,
      warnings: false,
    });
    const shared: { out?: Outcome[] } = {};
    await node.run(shared);
    return shared.out!;
  }
  // A peer still at it after LOCKOUT_MS is locked out: its unfinished items fail then, wherever they
  // wait (a retry sleep or the peer's own queue), so one locked-out peer cannot set the section's length.
  const deadline = new Promise<Outcome>((resolve) =>
    setTimeout(() => resolve({ ok: false, error: 'locked out' }), LOCKOUT_MS).unref(),
  );
  const capped = (outcome: Promise<Outcome>) => Promise.race([outcome, deadline]);
  if (strategy === 'p-queue (strict)') {
    const queue = new PQueue({
      concurrency: MAX_IN_FLIGHT,
      intervalCap: cap,
      interval: intervalMs,
      strict: true,
    });
    return Promise.all(
      items.map((item) => capped(withRetry(() => queue.add(() => call(url, item)), started))),
    );
  }
  const limiter = new Bottleneck({
    maxConcurrent: MAX_IN_FLIGHT,
    reservoir: cap,
    reservoirRefreshAmount: cap,
    reservoirRefreshInterval: intervalMs,
  });
  const outcomes = await Promise.all(
    items.map((item) => capped(withRetry(() => limiter.schedule(() => call(url, item)), started))),
  );
  limiter.stop({ dropWaitingJobs: true }).catch(() => {});
  return outcomes;
}

interface BurstReport {
  /** When the burst started, on the stand-in's clock (its reset is 0). */
  startedAtStandInMs: number;
}

interface ClientReport {
  makespanMs: number;
  outcomes: number;
  done: number;
  failed: number;
  lockedOut: number;
  cpuMs: number;
}

async function client(mode: string, caseName: CaseName, url: string): Promise<unknown> {
  // A running service has its HTTP client loaded: one request before the clock starts.
  await fetch(`${url}/stats`).then((r) => r.arrayBuffer());
  if (mode === 'burst') {
    // A cold burst: 3,000 requests at once on fresh connections; the stand-in times their arrivals
    // from its reset, which this process times too, so each arrival is known from the burst's start.
    const beforeReset = performance.now();
    await fetch(`${url}/reset`, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer());
    const started = performance.now();
    await Promise.all(Array.from({ length: LIMIT }, (_, i) => call(url, { i }).catch(() => undefined)));
    // The stand-in reset somewhere in that round trip: take its middle (off by at most half of it).
    return { startedAtStandInMs: (started - beforeReset) / 2 } satisfies BurstReport;
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  const outcomes = await runStrategy(mode as StrategyName, caseName, url);
  const used = process.cpuUsage(cpu);
  return {
    makespanMs: performance.now() - started,
    outcomes: outcomes.length,
    done: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    lockedOut: outcomes.filter((o) => !o.ok && o.error === 'locked out').length,
    cpuMs: (used.user + used.system) / 1000,
  } satisfies ClientReport;
}

function startClient(mode: string, caseName: CaseName, url: string): Promise<unknown> {
  const child = fork(fileURLToPath(import.meta.url), ['--high-tier-client', mode, caseName, url], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('error', reject);
    child.once(
      'exit',
      (code) => code !== 0 && reject(new Error(`high-tier client ${mode} exited with ${code}`)),
    );
  });
}

// ---- optimum --------------------------------------------------------------------------------

/** Earliest arrivals every window allows, at most `ratePerMs` arrivals per ms (Infinity: instant dispatch). */
function earliestArrivals(
  n: number,
  windows: { limit: number; windowMs: number }[],
  ratePerMs: number,
): number[] {
  const arrivals: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = Number.isFinite(ratePerMs) ? i / ratePerMs : 0;
    // A sliding window of `limit` puts arrival i at least windowMs after arrival i − limit.
    for (const w of windows) if (i >= w.limit) t = Math.max(t, arrivals[i - w.limit]! + w.windowMs);
    arrivals.push(Math.max(t, arrivals[i - 1] ?? 0));
  }
  return arrivals;
}

/** Seeded draws of the stand-in's latency (uniform, latency ± jitter): the same for every optimum. */
function seededLatencies(): () => number {
  let x = 12345;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return LATENCY.latencyMs + ((x / 2 ** 31) * 2 - 1) * LATENCY.jitterMs;
  };
}

/** How many latency draws each expected makespan averages over. */
const MAKESPAN_DRAWS = 50;

/** Expected makespan: the mean over seeded draws of the latest arrival + latency (uniform latency ± jitter). */
function expectedMakespanMs(arrivals: number[]): number {
  const latency = seededLatencies();
  let sum = 0;
  for (let d = 0; d < MAKESPAN_DRAWS; d++) {
    let latest = 0;
    for (const a of arrivals) latest = Math.max(latest, a + latency());
    sum += latest;
  }
  return sum / MAKESPAN_DRAWS;
}

/**
 * Expected makespan of the earliest schedule that also holds at most MAX_IN_FLIGHT requests at the
 * stand-in (a request holds its slot for its latency; the client's own cap, so arrival i waits for
 * a completion once that many are out), besides the window and the dispatch rate. Same latency
 * draws as {@link expectedMakespanMs}.
 */
function expectedMakespanInFlightMs(n: number, windowMs: number, limit: number, ratePerMs: number): number {
  const latency = seededLatencies();
  let sum = 0;
  for (let d = 0; d < MAKESPAN_DRAWS; d++) {
    const arrivals: number[] = [];
    // Completion times of the requests out, kept sorted (the earliest frees the next slot).
    const out: number[] = [];
    let latest = 0;
    for (let i = 0; i < n; i++) {
      let t = Number.isFinite(ratePerMs) ? i / ratePerMs : 0;
      if (i >= limit) t = Math.max(t, arrivals[i - limit]! + windowMs);
      t = Math.max(t, arrivals[i - 1] ?? 0);
      while (out.length && out[0]! <= t) out.shift();
      if (out.length >= MAX_IN_FLIGHT) t = Math.max(t, out.shift()!);
      arrivals.push(t);
      const done = t + latency();
      let at = out.length;
      while (at > 0 && out[at - 1]! > done) at--;
      out.splice(at, 0, done);
      if (done > latest) latest = done;
    }
    sum += latest;
  }
  return sum / MAKESPAN_DRAWS;
}

// ---- the limiter's CPU per grant --------------------------------------------------------------

/** CPU per grant of the limiter at ≥ 300 grants/s with up to 1,500 held (holds stand in for calls). */
async function limiterCpuPerGrant(durationMs: number): Promise<{
  grants: number;
  grantsPerSecond: number;
  cpuUsPerGrant: number;
  baselineCpuUsPerGrant: number;
}> {
  const hold = () => LATENCY.latencyMs + (Math.random() * 2 - 1) * LATENCY.jitterMs;
  const measure = async (acquire: () => Promise<() => void>) => {
    let grants = 0;
    let stop = false;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const worker = async () => {
      while (!stop) {
        const release = await acquire();
        grants++;
        await sleep(hold());
        release();
      }
    };
    const workers = Array.from({ length: MAX_IN_FLIGHT }, worker);
    await sleep(durationMs);
    stop = true;
    const used = process.cpuUsage(cpu);
    const elapsed = performance.now() - started;
    const granted = grants;
    await Promise.all(workers);
    return { grants: granted, grantsPerSecond: (granted / elapsed) * 1000, cpuUs: used.user + used.system };
  };
  const limiter = new Limiter({
    maxConcurrent: MAX_IN_FLIGHT,
    maxPerWindow: CPU_LIMIT,
    windowMs: WINDOW_MS,
    pacingMs: QUANTUM_MS,
    warnings: false,
  });
  const withLimiter = await measure(async () => {
    const lease = await limiter.acquire();
    return () => lease.release();
  });
  // The same holds with no limiter at all: what the harness itself costs per grant.
  const baseline = await measure(async () => () => {});
  return {
    grants: withLimiter.grants,
    grantsPerSecond: withLimiter.grantsPerSecond,
    cpuUsPerGrant: withLimiter.cpuUs / withLimiter.grants,
    baselineCpuUsPerGrant: baseline.cpuUs / baseline.grants,
  };
}

// ---- the section ------------------------------------------------------------------------------

export interface HighTierRow {
  case: CaseName;
  strategy: StrategyName;
  items: number;
  done: number;
  lost: number;
  failed: number;
  lockedOut: number;
  rejected429: number;
  rejectedPercent: number;
  makespanMs: number;
  optimumMs: number;
  /** Sliding only: the optimum with the client's measured dispatch limit. */
  dispatchOptimumMs?: number;
  /** Sliding only: the optimum with the dispatch limit and at most 1,500 in flight (the client's own cap). */
  inFlightOptimumMs?: number;
  efficiency: number;
  maxInWindow: number;
  maxInQuantum: number;
  clientCpuMs: number;
}

async function runRow(
  strategy: StrategyName,
  caseName: CaseName,
  seed: number,
): Promise<{ report: ClientReport; rejected: number; acceptedAtMs: number[] }> {
  const sim = await spawnProviderSimulator(simulatorFor(caseName, seed));
  try {
    const report = (await startClient(strategy, caseName, sim.url)) as ClientReport;
    const stats = await sim.stats();
    const log = await sim.log();
    return { report, rejected: stats.rejected, acceptedAtMs: log.acceptedAtMs };
  } finally {
    await sim.close();
  }
}

/**
 * A cold burst of LIMIT requests against an unlimited stand-in, timed from the burst's start: when
 * the first and the last reached it (the first too waits while the burst's connections open).
 */
async function measureDispatch(): Promise<{ firstMs: number; lastMs: number }> {
  const sim = await spawnProviderSimulator(simulatorFor('unlimited', 3));
  try {
    const { startedAtStandInMs } = (await startClient('burst', 'sliding', sim.url)) as BurstReport;
    const arrivals = (await sim.log()).acceptedAtMs;
    return {
      firstMs: Math.min(...arrivals) - startedAtStandInMs,
      lastMs: Math.max(...arrivals) - startedAtStandInMs,
    };
  } finally {
    await sim.close();
  }
}

export async function benchHighTier(context: BenchContext): Promise<unknown> {
  const items = 3 * LIMIT;
  // The client's own dispatch limit: LIMIT requests on the wire in dispatchMs, from the burst's start.
  const dispatch = await measureDispatch();
  const dispatchMs = dispatch.lastMs;
  console.log(
    `  a cold burst of ${LIMIT} requests was on the wire ${(dispatchMs / 1000).toFixed(2)} s after it ` +
      `started (the first request after ${(dispatch.firstMs / 1000).toFixed(2)} s)`,
  );
  const quantizedOptimum = expectedMakespanMs(
    earliestArrivals(
      items,
      [
        { limit: LIMIT, windowMs: WINDOW_MS },
        { limit: LIMIT * (QUANTUM_MS / WINDOW_MS), windowMs: QUANTUM_MS },
      ],
      Infinity,
    ),
  );
  const slidingOptimum = expectedMakespanMs(
    earliestArrivals(items, [{ limit: LIMIT, windowMs: WINDOW_MS }], Infinity),
  );
  const dispatchOptimum = expectedMakespanMs(
    earliestArrivals(
      items,
      [{ limit: LIMIT, windowMs: WINDOW_MS }],
      dispatchMs > 0 ? LIMIT / dispatchMs : Infinity,
    ),
  );
  const inFlightOptimum = expectedMakespanInFlightMs(
    items,
    WINDOW_MS,
    LIMIT,
    dispatchMs > 0 ? LIMIT / dispatchMs : Infinity,
  );
  // BENCH_HIGH_TIER=quantized (or sliding) runs one case (for development).
  const cases = (['quantized', 'sliding'] as const).filter(
    (c) => !process.env.BENCH_HIGH_TIER?.length || c === process.env.BENCH_HIGH_TIER,
  );
  const strategies = context.quick ? STRATEGIES.slice(0, 1) : STRATEGIES;
  const runs: { strategy: StrategyName; caseName: CaseName; result: Awaited<ReturnType<typeof runRow>> }[] =
    [];
  // throttleflow alone, one case at a time (it puts ~1,000 requests a second through one process); then the peers together.
  for (const caseName of cases)
    runs.push({ strategy: 'throttleflow', caseName, result: await runRow('throttleflow', caseName, 11) });
  const peers = strategies.filter((s) => s !== 'throttleflow');
  const peerRuns = await Promise.all(
    peers.flatMap((strategy) =>
      cases.map(async (caseName) => ({ strategy, caseName, result: await runRow(strategy, caseName, 11) })),
    ),
  );
  runs.push(...peerRuns);
  const rows: HighTierRow[] = runs.map(({ strategy, caseName, result }) => {
    const { report, rejected, acceptedAtMs } = result;
    const optimumMs = caseName === 'quantized' ? quantizedOptimum : slidingOptimum;
    const reference = caseName === 'quantized' ? quantizedOptimum : dispatchOptimum;
    return {
      case: caseName,
      strategy,
      items,
      done: report.done,
      lost: items - report.outcomes,
      failed: report.failed,
      lockedOut: report.lockedOut,
      rejected429: rejected,
      rejectedPercent: (100 * rejected) / Math.max(1, acceptedAtMs.length + rejected),
      makespanMs: report.makespanMs,
      optimumMs,
      ...(caseName === 'sliding'
        ? { dispatchOptimumMs: dispatchOptimum, inFlightOptimumMs: inFlightOptimum }
        : {}),
      efficiency: (report.done / items) * (reference / report.makespanMs),
      maxInWindow: maxInAnyWindow(acceptedAtMs, WINDOW_MS),
      maxInQuantum: maxInAnyWindow(acceptedAtMs, QUANTUM_MS),
      clientCpuMs: report.cpuMs,
    };
  });
  console.table(
    rows.map((r) => ({
      case: r.case,
      strategy: r.strategy,
      'done/items': `${r.done}/${r.items}`,
      lost: r.lost,
      '429s': `${r.rejected429} (${r.rejectedPercent.toFixed(2)} %)`,
      failed: r.failed + (r.lockedOut ? ` (${r.lockedOut} locked out)` : ''),
      'makespan s': (r.makespanMs / 1000).toFixed(2),
      'optimum s':
        (r.optimumMs / 1000).toFixed(2) +
        (r.dispatchOptimumMs ? ` / ${(r.dispatchOptimumMs / 1000).toFixed(2)} with dispatch` : ''),
      efficiency: r.efficiency.toFixed(3),
      'max in 10 s / 500 ms': `${r.maxInWindow}/${LIMIT} · ${r.maxInQuantum}/${LIMIT * (QUANTUM_MS / WINDOW_MS)}`,
      'client CPU s': (r.clientCpuMs / 1000).toFixed(1),
    })),
  );
  for (const r of rows.filter((row) => row.inFlightOptimumMs !== undefined)) {
    console.log(
      `  ${r.strategy} (sliding) against the optimum that also holds ${MAX_IN_FLIGHT} in flight ` +
        `(${(r.inFlightOptimumMs! / 1000).toFixed(2)} s): efficiency ` +
        ((r.done / r.items) * (r.inFlightOptimumMs! / r.makespanMs)).toFixed(3),
    );
  }
  const cpu = await limiterCpuPerGrant(context.quick ? 3000 : 8000);
  console.log(
    `  limiter CPU per grant at ${cpu.grantsPerSecond.toFixed(0)} grants/s, ${MAX_IN_FLIGHT} in flight: ` +
      `${cpu.cpuUsPerGrant.toFixed(1)} µs (the harness alone: ${cpu.baselineCpuUsPerGrant.toFixed(1)} µs)`,
  );
  return {
    dispatchMs,
    firstOnWireMs: dispatch.firstMs,
    quantizedOptimumMs: quantizedOptimum,
    slidingOptimumMs: slidingOptimum,
    dispatchOptimumMs: dispatchOptimum,
    inFlightOptimumMs: inFlightOptimum,
    rows,
    limiterCpu: cpu,
  };
}

export const highTierSection: BenchSection = { name: 'high-tier', title: 'High tier', run: benchHighTier };

if (process.argv[2] === '--high-tier-client') {
  const [, , , mode, caseName, url] = process.argv;
  const report = await client(mode!, caseName as CaseName, url!);
  process.send!(report, () => process.exit(0));
}
