/**
 * The scenario as most users write it: workers whose call returns only the parsed body
 * (no response headers reach the limiter on success), three processes sharing 100 requests per
 * 10 s through one RedisStore. Figures are printed per run; the checks are the budget's (429s,
 * requests per window, concurrency, every item done), never timing.
 * `TF_SHARING_RUNS` sets how many runs (default 1; the ten: `TF_SHARING_RUNS=10`).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  formatSharing,
  runSharingScenario,
  SHARING,
  type SharingFigures,
  type SharingWhere,
} from './fixtures/sharing-scenario';
import { expectCleanRun } from './fixtures/crash-scenario';
import { CLUSTER_NODES, describeCluster, openClusterTestEnv, type ClusterTestEnv } from './cluster-test-env';
import { describeRedis, openRedisTestEnv, REDIS_HOST, REDIS_PORT, type RedisTestEnv } from './redis-test-env';

const RUNS = Number(process.env.TF_SHARING_RUNS ?? 1);

function expectBudgetHeld(f: SharingFigures): void {
  expectCleanRun(f.results);
  expect(f.done).toBe(f.total);
  expect(f.rejected).toBeLessThanOrEqual(f.requests * 0.01);
  expect(f.maxInFlight).toBeLessThanOrEqual(SHARING.maxConcurrent);
}

/** Runs the scenario `RUNS` times with body-only workers, printing each run, then checks every run's budget. */
async function runBodyOnly(label: string, where: Omit<SharingWhere, 'name' | 'bodyOnly'>): Promise<void> {
  const all: SharingFigures[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const f = await runSharingScenario({ ...where, name: `body-only-${run}`, bodyOnly: true }, 7 + run);
    console.log(formatSharing(label, run, f));
    console.log(f.timeline);
    all.push(f);
  }
  for (const f of all) expectBudgetHeld(f);
}

const TITLE = `${RUNS} run(s): 0 × 429 in nearly every run, at most 1 % in any, every item done`;
const TIMEOUT_MS = 60_000 * RUNS + 30_000;

describeRedis('three processes, body-only workers, one RedisStore (single Redis)', () => {
  let env: RedisTestEnv;
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await env?.close();
  });

  it(
    TITLE,
    () =>
      runBodyOnly('redis body-only', { redisHost: REDIS_HOST, redisPort: REDIS_PORT, prefix: env.prefix }),
    TIMEOUT_MS,
  );
});

describeCluster('three processes, body-only workers, one RedisStore (Redis Cluster)', () => {
  let env: ClusterTestEnv;
  beforeAll(async () => {
    env = await openClusterTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await env?.close();
  });

  it(
    TITLE,
    () =>
      runBodyOnly('cluster body-only', {
        redisHost: '',
        redisPort: 0,
        clusterNodes: CLUSTER_NODES,
        prefix: env.prefix,
      }),
    TIMEOUT_MS,
  );
});
