/**
 * Goodput across processes: three processes share 100 requests per 10 s through one RedisStore
 * (on the Redis Cluster when one answers on 127.0.0.1:7000, else the single Redis), each
 * `new Limiter({ maxConcurrent: 100, maxPerWindow: 100, windowMs: 10_000 })` with the default
 * margin, 300 items, workers whose call returns only the parsed body (no headers reach the
 * limiter). The provider simulator runs in its own process and enforces 100 requests per sliding
 * 10 s window (latency 500 ± 300 ms, no concurrency limit of its own); the optimum is the makespan
 * of starting every request the moment that window allows.
 *
 *   BENCH_SECTIONS=redis-goodput npx tsx bench/main.ts
 */
import { formatSharing, runSharingScenario } from '../test/stores/redis/fixtures/sharing-scenario';
import { localClusterNodes } from './redis';
import type { BenchSection } from './sections';

export const redisGoodputSection: BenchSection = {
  name: 'redis-goodput',
  title: 'Redis: 3 processes, results without headers (goodput and 429s)',
  async run() {
    const cluster = await localClusterNodes();
    const on = cluster ? 'Redis Cluster' : 'single Redis';
    const f = await runSharingScenario(
      {
        redisHost: '127.0.0.1',
        redisPort: 6379,
        ...(cluster ? { clusterNodes: cluster } : {}),
        prefix: `tf-bench-goodput:${process.pid}:`,
        name: 'goodput',
        bodyOnly: true,
      },
      11,
    );
    console.log(formatSharing(`${on}, body-only`, 1, f));
    console.table([
      {
        on,
        processes: 3,
        items: `${f.done}/${f.total}`,
        '429s': f.rejected,
        'max in any window': `${f.maxInAnyWindow}/100`,
        'makespan ms': Math.round(f.makespanMs),
        'optimum ms': f.optimumMs,
        efficiency: Number(f.efficiency.toFixed(3)),
      },
    ]);
    return {
      on,
      processes: 3,
      done: f.done,
      total: f.total,
      rejected: f.rejected,
      requests: f.requests,
      maxInAnyWindow: f.maxInAnyWindow,
      makespanMs: Math.round(f.makespanMs),
      optimumMs: f.optimumMs,
      efficiency: f.efficiency,
    };
  },
};
