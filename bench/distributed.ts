/**
 * "distributed": durable runs on BullMQ. One scenario — 300 items against the provider simulator
 * (its own process) enforcing 100 requests per 10 s, rejected requests counting, latency
 * 500 ± 300 ms — run three ways in the same section:
 *
 * 1. redis-store: 3 processes sharing one Limiter on the Redis store, 100 items each (no queue);
 * 2. bullmq: a QueueBatchFlow producer and 3 FlowWorker processes on the same limiter settings;
 * 3. bullmq + kill: as 2, one worker SIGKILLed a third of the way through.
 *
 * The optimum is computed under what the provider enforces (its window; latency of the last group).
 * Efficiency = (done ÷ items) × optimum ÷ makespan; the bullmq row should be within 0.05 of the
 * redis-store row. The kill's cost: how long after the kill BullMQ moved its jobs back to wait
 * (≈ lockDuration + up to stalledInterval, from QueueEvents' `stalled`), when they ran again, and the
 * makespan added; duplicated provider calls counted.
 *
 *   BENCH_SECTIONS=distributed npx tsx bench/main.ts      (needs Redis on 127.0.0.1:6379)
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueBatchFlow } from '../src/bullmq/index';
import { spawnProviderSimulator, type SpawnedProviderSimulator } from '../src/testing/index';
import {
  duplicateCalls,
  onJobStart,
  openCalls,
  spawnFlowWorker,
  type FlowWorkerProcess,
} from '../test/bullmq/fixtures/flow-worker-harness';
import type { FlowWorkerProcessConfig } from '../test/bullmq/fixtures/flow-worker-protocol';
import { optimumMakespanMs } from '../test/stores/redis/fixtures/worker-harness';
import type { BenchContext, BenchSection } from './sections';

const WORKERS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** One scenario's settings (full or quick). */
interface Scenario {
  items: number;
  limit: number;
  windowMs: number;
  latencyMs: number;
  jitterMs: number;
  windowMarginMs: number | undefined;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

const FULL: Scenario = {
  items: 300,
  limit: 100,
  windowMs: 10_000,
  latencyMs: 500,
  jitterMs: 300,
  windowMarginMs: undefined,
  lockDurationMs: 5_000,
  stalledIntervalMs: 2_500,
};

/** BENCH_QUICK: the same ratios in a 2 s window (noisy; a wider margin for the short window). */
const QUICK: Scenario = {
  items: 150,
  limit: 50,
  windowMs: 2_000,
  latencyMs: 200,
  jitterMs: 100,
  windowMarginMs: 400,
  lockDurationMs: 1_500,
  stalledIntervalMs: 750,
};

/** One measured row. */
export interface DistributedRow {
  mode: 'redis-store' | 'bullmq' | 'bullmq + kill';
  items: number;
  done: number;
  makespanMs: number;
  optimumMs: number;
  efficiency: number;
  /** ms from the start until the provider saw the first request (the queue's start-up shows here). */
  firstRequestMs: number;
  /** ms from the start until the provider had seen the first window's worth of requests. */
  firstWindowFullMs: number;
  requests: number;
  rejected: number;
  maxRequestsInAnyWindow: number;
  /** Provider calls made again for an item already served. */
  duplicates: number;
  /** Kill row: jobs the dead worker had started and not finished. */
  inFlightAtKill?: number;
  /** Kill row: the dead worker's calls at the provider (sent, not answered) when it died. */
  openCallsAtKill?: number;
  /** Kill row: ms from the kill until BullMQ moved the first of its jobs back to wait (lock expiry + stalled check). */
  stalledAfterMs?: number;
  /** Kill row: ms from the kill until the first of its jobs started on another worker (also waits for a free worker slot). */
  redeliveredAfterMs?: number;
}

/** What the section returns for results.json. */
export interface DistributedBenchResult {
  scenario: Scenario;
  rows: DistributedRow[];
  /** bullmq efficiency − redis-store efficiency (target ≥ −0.05). */
  efficiencyGap: number;
  /** Seconds the kill added to the makespan (bullmq + kill − bullmq). */
  killCostS: number;
  /** Seconds from the kill until BullMQ moved its jobs back to wait (≈ lock expiry). */
  killToRequeueS: number | undefined;
}

interface RunContext {
  scenario: Scenario;
  redisHost: string;
  redisPort: number;
  sim: SpawnedProviderSimulator;
  /** The worker processes, started once (a start costs seconds under load); undefined before the first run. */
  workers: FlowWorkerProcess[] | undefined;
}

/** Per-run settings of the worker processes (a fresh limiter and queue every run). */
function runConfigs(mode: DistributedRow['mode'], ctx: RunContext): FlowWorkerProcessConfig[] {
  const { scenario, sim } = ctx;
  const tag = `tf-bench-${randomBytes(4).toString('hex')}`;
  const bullPrefix = `{${tag}}`;
  const base: Omit<FlowWorkerProcessConfig, 'workerId'> = {
    redisHost: ctx.redisHost,
    redisPort: ctx.redisPort,
    bullPrefix,
    storePrefix: 'tf-bench:',
    queue: 'bench',
    limiterName: tag,
    maxPerWindow: scenario.limit,
    windowMs: scenario.windowMs,
    ...(scenario.windowMarginMs === undefined ? {} : { windowMarginMs: scenario.windowMarginMs }),
    maxConcurrent: scenario.limit,
    leaseTtlMs: scenario.lockDurationMs,
    concurrency: Math.ceil((scenario.limit * 1.2) / WORKERS),
    lockDurationMs: scenario.lockDurationMs,
    stalledIntervalMs: scenario.stalledIntervalMs,
    targetUrl: sim.url,
  };
  const direct = mode === 'redis-store';
  const share = Math.ceil(scenario.items / WORKERS);
  return Array.from({ length: WORKERS }, (_, workerId) => ({
    ...base,
    workerId,
    ...(direct ? { mode: 'direct', directItems: Math.min(share, scenario.items - workerId * share) } : {}),
  }));
}

async function measure(mode: DistributedRow['mode'], ctx: RunContext): Promise<DistributedRow> {
  const { scenario, sim } = ctx;
  const configs = runConfigs(mode, ctx);
  const bullPrefix = configs[0]!.bullPrefix;
  const direct = mode === 'redis-store';
  if (ctx.workers) ctx.workers.forEach((w, i) => w.reconfigure(configs[i]!));
  else ctx.workers = configs.map((c) => spawnFlowWorker(c));
  const workers = ctx.workers;
  let done = 0;
  let makespanMs = Number.NaN;
  let inFlightAtKill: number | undefined;
  let redeliveredAfterMs: number | undefined;
  let stalledAfterMs: number | undefined;
  let openAtKill: number | undefined;
  {
    await Promise.all(workers.map((w) => w.ready));
    // The provider's history starts now (the workers' warm-up requests are not part of the run).
    await sim.reset();
    const startedAt = performance.now();
    if (direct) {
      for (const w of workers) w.go();
      const failed = await Promise.all(workers.map((w) => w.directDone));
      makespanMs = performance.now() - startedAt;
      done = scenario.items - failed.reduce((a, b) => a + b, 0);
    } else {
      const victim = workers[0]!;
      let killedAt = Number.NaN;
      let victimJobs = new Set<string>();
      for (const w of workers.slice(1)) {
        onJobStart(w, (jobId) => {
          if (redeliveredAfterMs === undefined && victimJobs.has(jobId))
            redeliveredAfterMs = performance.now() - killedAt;
        });
      }
      const results: unknown[] = [];
      class Items extends QueueBatchFlow<unknown, { item: number }> {
        override async prep() {
          return Array.from({ length: scenario.items }, (_, item) => ({ item }));
        }
        override async post(_s: unknown, _p: unknown, out: unknown[]) {
          results.push(...out);
          return undefined;
        }
      }
      const connection = { host: ctx.redisHost, port: ctx.redisPort };
      // BullMQ's own word for when the dead worker's jobs went back to wait (its stalled check).
      const events = new QueueEvents('bench', { connection, prefix: bullPrefix });
      events.on('stalled', ({ jobId }) => {
        if (stalledAfterMs === undefined && victimJobs.has(jobId))
          stalledAfterMs = performance.now() - killedAt;
      });
      await events.waitUntilReady();
      let completed = 0;
      let finished = false;
      const running = new Items({
        queue: 'bench',
        connection,
        prefix: bullPrefix,
        runId: 'bench',
        onError: 'collect',
        onProgress: (p) => (completed = p.completed),
      })
        .run({})
        .finally(() => (finished = true));
      if (mode === 'bullmq + kill') {
        // A third of the way through, at a moment the victim has calls at the provider (so the
        // duplicates its death causes are counted, not only jobs that waited for the limiter).
        while (!finished && (completed < scenario.items / 3 || openCalls(victim) === 0)) await sleep(2);
        victimJobs = new Set(victim.inFlight);
        inFlightAtKill = victimJobs.size;
        openAtKill = openCalls(victim);
        killedAt = performance.now();
        victim.child.kill('SIGKILL');
      }
      await running;
      makespanMs = performance.now() - startedAt;
      await events.close();
      done = results.filter((r) => r !== undefined).length;
      const queue = new Queue('bench', {
        connection: { host: ctx.redisHost, port: ctx.redisPort },
        prefix: bullPrefix,
      });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    const stats = await sim.stats();
    const firstBurst = (await sim.log()).acceptedAtMs.slice(0, scenario.limit);
    const optimumMs = optimumMakespanMs(
      scenario.items,
      scenario.limit,
      scenario.windowMs,
      scenario.latencyMs,
      scenario.jitterMs,
    );
    return {
      mode,
      items: scenario.items,
      done,
      makespanMs: Math.round(makespanMs),
      optimumMs: Math.round(optimumMs),
      efficiency: Number(((done / scenario.items) * (optimumMs / makespanMs)).toFixed(3)),
      firstRequestMs: Math.round(firstBurst[0] ?? Number.NaN),
      firstWindowFullMs: Math.round(firstBurst.at(-1) ?? Number.NaN),
      requests: stats.accepted + stats.rejected,
      rejected: stats.rejected,
      maxRequestsInAnyWindow: stats.maxRequestsInAnyWindow,
      duplicates: duplicateCalls(workers),
      ...(inFlightAtKill === undefined ? {} : { inFlightAtKill }),
      ...(openAtKill === undefined ? {} : { openCallsAtKill: openAtKill }),
      ...(stalledAfterMs === undefined ? {} : { stalledAfterMs: Math.round(stalledAfterMs) }),
      ...(redeliveredAfterMs === undefined ? {} : { redeliveredAfterMs: Math.round(redeliveredAfterMs) }),
    };
  }
}

async function redisAddress(): Promise<{ host: string; port: number }> {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const address = { host: url.hostname, port: Number(url.port || 6379) };
  const probe = new Redis({ ...address, lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } finally {
    probe.disconnect();
  }
  return address;
}

export async function benchDistributed(context: BenchContext): Promise<DistributedBenchResult> {
  const scenario = context.quick ? QUICK : FULL;
  const { host, port } = await redisAddress();
  const sim = await spawnProviderSimulator({
    requestsPerWindow: scenario.limit,
    windowMs: scenario.windowMs,
    countRejected: true,
    latencyMs: scenario.latencyMs,
    jitterMs: scenario.jitterMs,
    seed: 17,
  });
  const ctx: RunContext = { scenario, redisHost: host, redisPort: port, sim, workers: undefined };
  console.log(
    `${scenario.items} items, provider ${scenario.limit} per ${scenario.windowMs / 1000} s (rejected requests count), ` +
      `latency ${scenario.latencyMs} ± ${scenario.jitterMs} ms, ${WORKERS} processes; ` +
      `lockDuration = leaseTtlMs = ${scenario.lockDurationMs} ms, stalledInterval ${scenario.stalledIntervalMs} ms`,
  );
  const rows: DistributedRow[] = [];
  try {
    for (const mode of ['redis-store', 'bullmq', 'bullmq + kill'] as const)
      rows.push(await measure(mode, ctx));
  } finally {
    await Promise.all(
      (ctx.workers ?? []).map((w) =>
        Promise.race([w.close(), new Promise((r) => setTimeout(r, 5_000))]).then(() =>
          w.child.kill('SIGKILL'),
        ),
      ),
    );
    await sim.close();
  }
  console.table(
    rows.map((r) => ({
      mode: r.mode,
      done: `${r.done}/${r.items}`,
      'makespan s': (r.makespanMs / 1000).toFixed(1),
      'optimum s': (r.optimumMs / 1000).toFixed(1),
      efficiency: r.efficiency.toFixed(3),
      'first / window full s': `${seconds(r.firstRequestMs)} / ${seconds(r.firstWindowFullMs)}`,
      '429s': `${r.rejected}/${r.requests}`,
      'max in window': `${r.maxRequestsInAnyWindow}/${scenario.limit}`,
      duplicates: r.duplicates,
      'killed: jobs / calls':
        r.inFlightAtKill === undefined ? '' : `${r.inFlightAtKill} / ${r.openCallsAtKill ?? 0}`,
      'back in wait': r.stalledAfterMs === undefined ? '' : seconds(r.stalledAfterMs),
      'running again': r.redeliveredAfterMs === undefined ? '' : seconds(r.redeliveredAfterMs),
    })),
  );
  const [store, queue, killed] = rows as [DistributedRow, DistributedRow, DistributedRow];
  const efficiencyGap = Number((queue.efficiency - store.efficiency).toFixed(3));
  const killCostS = Number(((killed.makespanMs - queue.makespanMs) / 1000).toFixed(1));
  console.log(
    `BullMQ vs Redis store alone: efficiency ${queue.efficiency.toFixed(3)} vs ${store.efficiency.toFixed(3)} ` +
      `(gap ${efficiencyGap >= 0 ? '+' : ''}${efficiencyGap.toFixed(3)}, target ≥ −0.05). ` +
      `The kill: its jobs were back in wait ${seconds(killed.stalledAfterMs)} later ` +
      `(lock ${scenario.lockDurationMs / 1000} s + stalled check ≤ ${scenario.stalledIntervalMs / 1000} s) and running again ` +
      `${seconds(killed.redeliveredAfterMs)} later (once a worker slot was free), makespan ${killCostS >= 0 ? '+' : ''}${killCostS} s; ` +
      `${killed.duplicates} provider calls made twice (it had ${killed.inFlightAtKill ?? 0} jobs, ${killed.openCallsAtKill ?? 0} calls in flight).`,
  );
  const killToRequeueS =
    killed.stalledAfterMs === undefined ? undefined : Number((killed.stalledAfterMs / 1000).toFixed(1));
  return { scenario, rows, efficiencyGap, killCostS, killToRequeueS };
}

export const distributedSection: BenchSection = {
  name: 'distributed',
  title: 'Distributed on BullMQ',
  run: benchDistributed,
};
