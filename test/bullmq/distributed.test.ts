/**
 * The acceptance run on the real Redis, with real processes: 300 items, a provider that
 * allows 100 requests per 3 s window and counts rejected requests (the simulator, in its own
 * process), 3 FlowWorker processes sharing one Redis limiter, one SIGKILLed mid-run. Every item
 * comes back exactly once; duplicated provider calls are at most what the dead worker had in
 * flight; the provider never saw more than its limit in any window (its own stats) and ≤ 1 % 429s;
 * no job failed; the same runId again returns all 300 results with no new provider call.
 * The window is 3 s rather than the 10 s and locks/leases expire after 2 s, to keep the
 * suite short (same ratios: 300 items = 3 windows).
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QueueBatchFlow } from '../../src/bullmq/index';
import { LimiterKeys } from '../../src/stores/redis/keys';
import { spawnProviderSimulator } from '../../src/testing/spawn-provider-simulator';
import type { SpawnedProviderSimulator } from '../../src/testing/provider-simulator-types';
import {
  duplicateCalls,
  openCalls,
  spawnFlowWorker,
  type FlowWorkerProcess,
} from './fixtures/flow-worker-harness';
import type { FlowWorkerProcessConfig } from './fixtures/flow-worker-protocol';
import {
  describeRedis,
  openRedisTestEnv,
  REDIS_HOST,
  REDIS_PORT,
  type RedisTestEnv,
} from '../stores/redis/redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ITEMS = 300;
const LIMIT = 100;
const WINDOW_MS = 3_000;
const LOCK_MS = 2_000;
/**
 * The limiter's window margin. The limiter covers a request's lag between its grant and its arrival
 * at the provider up to 10 % of the window (300 ms here) plus the margin; on this shared 2-core
 * machine the simulator's process is sometimes scheduled later than that, which a 10 s window
 * absorbs and a 3 s one does not (3–13 × 429 in 1 of 3 runs with the default margin, 0 in 4 of 4
 * with 600 ms). That is about load and the short window, not about the queue.
 */
const MARGIN_MS = 600;

interface Shared {
  results?: ({ status: number; by: number } | undefined)[];
}

class Items extends QueueBatchFlow<Shared, { item: number }, { status: number; by: number }> {
  override async prep() {
    return Array.from({ length: ITEMS }, (_, item) => ({ item }));
  }
  override async post(shared: Shared, _p: unknown, results: ({ status: number; by: number } | undefined)[]) {
    shared.results = results;
    return undefined;
  }
}

describeRedis('distributed runs on BullMQ (real processes, real Redis, SIGKILL mid-run)', () => {
  let env: RedisTestEnv;
  let sim: SpawnedProviderSimulator | undefined;
  const workers: FlowWorkerProcess[] = [];
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await sim?.close();
    await env?.close();
  });

  it('300 items, 3 workers, one killed: every item once, one budget, ≤ 1 % 429s, none failed; the same runId again costs no call', async () => {
    sim = await spawnProviderSimulator({
      requestsPerWindow: LIMIT,
      windowMs: WINDOW_MS,
      countRejected: true,
      latencyMs: 200,
      jitterMs: 100,
      seed: 11,
    });
    const connection = { host: REDIS_HOST, port: REDIS_PORT };
    const bullPrefix = env.prefix.slice(0, -1);
    const base: Omit<FlowWorkerProcessConfig, 'workerId'> = {
      redisHost: REDIS_HOST,
      redisPort: REDIS_PORT,
      bullPrefix,
      storePrefix: env.prefix,
      queue: 'items',
      limiterName: 'provider',
      maxPerWindow: LIMIT,
      windowMs: WINDOW_MS,
      windowMarginMs: MARGIN_MS,
      maxConcurrent: 60,
      leaseTtlMs: LOCK_MS,
      concurrency: 40,
      lockDurationMs: LOCK_MS,
      stalledIntervalMs: 1_000,
      targetUrl: sim.url,
    };
    workers.push(...[0, 1, 2].map((workerId) => spawnFlowWorker({ ...base, workerId })));
    await Promise.all(workers.map((w) => w.ready));
    const victim = workers[0]!;

    let completed = 0;
    let failedSeen = 0;
    let rateLimited = 0;
    const flow = new Items({
      queue: 'items',
      connection,
      prefix: bullPrefix,
      runId: 'acceptance',
      onProgress: (p) => {
        completed = p.completed;
        failedSeen = p.failed;
        rateLimited = p.rateLimited;
      },
    });
    const shared: Shared = {};
    const running = flow.run(shared);
    // Kill the victim mid-run while it has calls at the provider (so some get made twice).
    while (completed < 60 || openCalls(victim) === 0) await sleep(2);
    const inFlightAtKill = victim.inFlight.size;
    const openAtKill = openCalls(victim);
    const completedAtKill = completed;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await running;
    const stats = await sim.stats();

    const results = shared.results ?? [];
    const requests = stats.accepted + stats.rejected;
    const duplicates = duplicateCalls(workers);
    console.log(
      `[bullmq distributed] killed worker 0 at ${completedAtKill}/${ITEMS} done with ${inFlightAtKill} jobs in flight (${openAtKill} calls at the provider); ` +
        `${results.filter(Boolean).length}/${ITEMS} results, ${duplicates} duplicated provider calls ` +
        `(simulator accepted ${stats.accepted}), ${stats.rejected} × 429 of ${requests} requests ` +
        `(${rateLimited} reported by workers), max ${stats.maxRequestsInAnyWindow}/${LIMIT} in any ${WINDOW_MS} ms window`,
    );
    expect(results).toHaveLength(ITEMS);
    expect(results.every((r) => r?.status === 200)).toBe(true);
    expect(failedSeen).toBe(0);
    // Exactly once in results: one result per job id, in input order, and the provider served each
    // item at least once (the extra ones are the dead worker's in-flight calls, run again).
    expect(stats.accepted).toBeGreaterThanOrEqual(ITEMS);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtKill);
    expect(stats.accepted - ITEMS).toBeLessThanOrEqual(inFlightAtKill);
    expect(stats.maxRequestsInAnyWindow).toBeLessThanOrEqual(LIMIT);
    expect(stats.rejected).toBeLessThanOrEqual(requests * 0.01);
    // The dead worker's leases were never released; by now (more than leaseTtlMs after the kill)
    // none is live any more, and the survivors released all of theirs.
    await sleep(Math.max(0, killedAt + LOCK_MS + 100 - Date.now()));
    const [secondsNow, microsNow] = await env.client.time();
    const redisNowMs = Number(secondsNow) * 1000 + Number(microsNow) / 1000;
    const liveLeases = await env.client.zrangebyscore(
      new LimiterKeys(env.prefix, 'provider').leases,
      `(${redisNowMs}`,
      '+inf',
    );
    expect(liveLeases).toEqual([]);
    const queue = new Queue('items', { connection, prefix: bullPrefix });
    expect(await queue.getFailedCount()).toBe(0);
    expect(await queue.getCompletedCount()).toBe(ITEMS);
    await queue.close();

    // The producer "dies" and runs again with the same runId: every result comes from Redis.
    await Promise.all(workers.slice(1).map((w) => w.close()));
    const again: Shared = {};
    let resumed = 0;
    const resumedAtMs = performance.now();
    await new Items({
      queue: 'items',
      connection,
      prefix: bullPrefix,
      runId: 'acceptance',
      onProgress: (p) => (resumed = p.resumed),
    }).run(again);
    // Printed, not asserted (no timing assertions): the issue asks for "under a second".
    console.log(`same runId again: ${ITEMS} results in ${(performance.now() - resumedAtMs).toFixed(0)} ms`);
    const after = await sim.stats();
    expect(again.results).toEqual(results);
    expect(resumed).toBe(ITEMS);
    expect(after.accepted + after.rejected).toBe(requests);
  }, 120_000);
});
