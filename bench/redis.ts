/**
 * Redis store throughput: acquires per second through a `Limiter` on a `RedisStore` (a sliding
 * window that never binds + a concurrency limit, every acquire released again) against
 * rate-limiter-flexible's `RateLimiterRedis.consume` (a fixed-window counter) on the same Redis, in
 * the same run, from one process and from three processes sharing one limiter / one key.
 *
 * Both also run on a Redis Cluster of three masters without replicas, started for the run (like the
 * single Redis, which has none: the ratio is the store on a cluster, not replication); the Limiter
 * also on the development cluster with a replica per master (7000–7005) when it answers, whose
 * replicas share the machine's cores. Every contender on every store is measured in interleaved
 * rounds, so the machine's drift falls on all of them alike.
 *
 *   npx tsx bench/redis.ts            (needs Redis on 127.0.0.1:6379, or REDIS_URL)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { Limiter } from '../src/limits/limiter';
import { RedisStore } from '../src/stores/redis/index';
import { startBenchCluster } from './bench-cluster';

/**
 * Which contender a measurement ran: throttleflow through a `Limiter` (what users call), the
 * RedisStore's handle called directly by concurrent callers (what a limiter that keeps several
 * store calls in flight would get), or rate-limiter-flexible.
 */
export type RedisContender = 'throttleflow' | 'throttleflow-store' | 'rate-limiter-flexible';

/** Where a measurement ran. */
export type RedisTarget = 'redis' | 'cluster' | 'cluster-replicated';

/** One measurement: `ops` acquires in `ms` from `processes` processes. */
export interface RedisBenchRow {
  contender: RedisContender;
  /** Where: the single Redis, the Redis Cluster (3 masters), or a cluster with a replica per master. */
  on: RedisTarget;
  processes: number;
  ops: number;
  ms: number;
  /** Over all rounds: total acquires ÷ total time. */
  opsPerSec: number;
  /** Acquires per second in each round, in order (the spread the ratio carries). */
  perRound: number[];
}

/** The bench's result: every measurement and throttleflow's throughput relative to rate-limiter-flexible's. */
export interface RedisBenchResult {
  rows: RedisBenchRow[];
  /** throttleflow (Limiter) ÷ rate-limiter-flexible acquires/s, by process count (target ≥ 0.8). */
  ratio: Record<string, number>;
  /** The RedisStore handle called concurrently ÷ rate-limiter-flexible, by process count. */
  storeRatio: Record<string, number>;
  /** On the cluster: throttleflow (Limiter) ÷ rate-limiter-flexible, by process count. */
  clusterRatio?: Record<string, number>;
  /** throttleflow (Limiter) on the cluster ÷ on the single Redis, by process count (target ≥ 0.8). */
  clusterVsSingle?: Record<string, number>;
  /** The same on a cluster with a replica per master (replication shares the machine's cores). */
  replicatedVsSingle?: Record<string, number>;
}

/** Options of {@link benchRedis}. */
export interface RedisBenchOptions {
  /** Redis to use. @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  url?: string;
  /** How long each contender is measured in all, over its rounds. @default 3_000 */
  durationMs?: number;
  /** Warm-up before each round's measurement (connection, script cache, JIT). @default 500 */
  warmupMs?: number;
  /**
   * Rounds per process count: each round measures every contender on every store once, one after
   * another, so drift in the machine's speed lands on all of them. @default 3
   */
  rounds?: number;
  /** Callers looping acquire → release at once, per process. @default 64 */
  concurrency?: number;
  /** Process counts to measure. @default [1, 3] */
  processes?: number[];
  /**
   * Cluster nodes: also measure the Limiter and rate-limiter-flexible on this Redis Cluster.
   * @default undefined (process.env.REDIS_CLUSTER_NODES, e.g. `127.0.0.1:7000,127.0.0.1:7001`; else
   * a cluster of three masters without replicas started for the run on 7020–7022, like the single
   * Redis; else the development cluster on 7000–7005)
   */
  clusterNodes?: { host: string; port: number }[];
}

const THIS_FILE = fileURLToPath(import.meta.url);

const ON_LABELS: Record<RedisTarget, string> = {
  redis: 'single Redis',
  cluster: 'Redis Cluster (3 masters)',
  'cluster-replicated': 'Redis Cluster (3 masters + 3 replicas)',
};

const LABELS: Record<RedisContender, string> = {
  throttleflow: 'throttleflow Limiter + RedisStore (sliding window + concurrency)',
  'throttleflow-store': 'throttleflow RedisStore handle, concurrent calls (batched)',
  'rate-limiter-flexible': 'rate-limiter-flexible RateLimiterRedis.consume (fixed window)',
};

interface ChildSpec {
  contender: RedisContender;
  url: string;
  /** Cluster nodes: a `Cluster` client instead of `url`. */
  cluster?: { host: string; port: number }[];
  prefix: string;
  durationMs: number;
  warmupMs: number;
  concurrency: number;
}

type ChildMessage =
  { type: 'ready' } | { type: 'result'; ops: number; ms: number } | { type: 'error'; message: string };

/** Runs one contender in this process until `go` resolves, then for `durationMs`; returns ops and ms. */
async function measure(
  spec: ChildSpec,
  go: Promise<void> = Promise.resolve(),
  onReady: () => void = () => {},
): Promise<{ ops: number; ms: number }> {
  const client = spec.cluster ? new Cluster(spec.cluster) : new Redis(spec.url);
  let op: () => Promise<void>;
  let close = async () => {};
  if (spec.contender === 'throttleflow') {
    const store = new RedisStore({ client, prefix: spec.prefix });
    // Strictly more than a counter: a sliding window (never binding here) plus shared concurrency.
    const limiter = new Limiter({
      name: 'bench',
      store,
      maxConcurrent: 1_000_000,
      maxPerMinute: 1_000_000_000,
      warnings: false, // no-op acquires carry no provider headers; that warning is not what is measured
    });
    op = async () => (await limiter.acquire()).release();
    close = () => store.close();
  } else if (spec.contender === 'throttleflow-store') {
    const store = new RedisStore({ client, prefix: spec.prefix });
    const handle = store.bind('bench-store', [
      { resource: 'requests', limit: 1_000_000_000, windowMs: 60_600 },
    ]);
    handle.subscribe?.(() => {});
    let seq = 0;
    const tag = `${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
    op = async () => {
      const leaseId = `${tag}:${++seq}`;
      const result = await handle.tryAcquire({ nowMs: 0, leaseId, costs: [1], maxConcurrent: 1_000_000 });
      if (result.ok) await handle.release({ nowMs: 0, leaseId, entries: result.entries });
    };
    close = () => store.close();
  } else {
    const limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${spec.prefix}rlf`,
      points: 1_000_000_000,
      duration: 60,
    });
    op = async () => {
      await limiter.consume('bench');
    };
  }
  // Warm up (connection, script cache, JIT) the way it will be measured: concurrent callers.
  const warmUntil = performance.now() + spec.warmupMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < warmUntil) await op();
    }),
  );
  onReady();
  await go;
  let ops = 0;
  const start = performance.now();
  const deadline = start + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        ops++;
      }
    }),
  );
  const ms = performance.now() - start;
  await close();
  await client.quit().catch(() => client.disconnect());
  return { ops, ms };
}

/** Runs `spec` in `n` child processes started together; sums their throughput. */
async function measureInProcesses(spec: ChildSpec, n: number): Promise<{ ops: number; ms: number }> {
  const children = Array.from({ length: n }, () =>
    fork(THIS_FILE, ['--child', JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = children.map(
    (child) =>
      new Promise<void>((resolve, reject) => {
        child.on('message', (m: ChildMessage) => {
          if (m.type === 'ready') resolve();
          if (m.type === 'error') reject(new Error(m.message));
        });
        child.on('exit', () => reject(new Error('bench child exited before it was ready')));
      }),
  );
  const results = children.map(
    (child) =>
      new Promise<{ ops: number; ms: number }>((resolve, reject) => {
        child.on('message', (m: ChildMessage) => {
          if (m.type === 'result') resolve(m);
          if (m.type === 'error') reject(new Error(m.message));
        });
      }),
  );
  await Promise.all(ready);
  for (const child of children) child.send('go');
  const all = await Promise.all(results);
  return { ops: all.reduce((s, r) => s + r.ops, 0), ms: Math.max(...all.map((r) => r.ms)) };
}

/** Measures both contenders from 1 and 3 processes on the same Redis, in one run; prints a table. */
export async function benchRedis(options: RedisBenchOptions = {}): Promise<RedisBenchResult> {
  const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const durationMs = options.durationMs ?? 3_000;
  const warmupMs = options.warmupMs ?? 500;
  const concurrency = options.concurrency ?? 64;
  const prefix = `tf-bench:${process.pid}:${Date.now().toString(36)}:`;
  const rows: RedisBenchRow[] = [];
  const given = options.clusterNodes ?? clusterNodesFromEnv();
  const started = given
    ? undefined
    : await startBenchCluster().catch((error: unknown) => {
        console.log(`Could not start a bench cluster on 7020–7022: ${String(error)}`);
        return undefined;
      });
  try {
    const local = given ? undefined : await localClusterNodes();
    const cluster = given ?? started?.nodes ?? local;
    // The development/CI cluster (a replica per master) beside, when it is not the one measured.
    const replicated = started ? local : undefined;
    if (!cluster) console.log('No Redis Cluster (REDIS_CLUSTER_NODES, redis-server): cluster rows skipped');
    return await measureAll({
      ...{ url, durationMs, warmupMs, concurrency, prefix, rows, cluster, replicated },
      ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
      ...(options.processes ? { processes: options.processes } : {}),
    });
  } finally {
    await started?.stop();
  }
}

interface MeasureAllSpec {
  url: string;
  durationMs: number;
  warmupMs: number;
  concurrency: number;
  prefix: string;
  rows: RedisBenchRow[];
  cluster: { host: string; port: number }[] | undefined;
  replicated: { host: string; port: number }[] | undefined;
  rounds?: number;
  processes?: number[];
}

async function measureAll(spec: MeasureAllSpec): Promise<RedisBenchResult> {
  const { url, durationMs, warmupMs, concurrency, prefix, rows, cluster, replicated } = spec;
  const targets: { on: RedisTarget; cluster: { host: string; port: number }[] | undefined }[] = [
    { on: 'redis', cluster: undefined },
    ...(cluster ? [{ on: 'cluster' as const, cluster }] : []),
    ...(replicated ? [{ on: 'cluster-replicated' as const, cluster: replicated }] : []),
  ];
  // Rounds interleave every contender on both stores, so a slower or faster stretch of the machine
  // (2 cores shared with Redis, its replicas and the children) falls on all of them alike.
  const rounds = spec.rounds ?? 3;
  const roundMs = durationMs / rounds;
  for (const processes of spec.processes ?? [1, 3]) {
    const measured = new Map<
      string,
      { contender: RedisContender; on: RedisTarget; ops: number; ms: number; perRound: number[] }
    >();
    for (let round = 0; round < rounds; round++) {
      for (const target of targets) {
        // On the cluster: the Limiter and rate-limiter-flexible (the handle row is the single Redis's story).
        // With replicas: the Limiter only (what replication costs it on these cores).
        const contenders =
          target.on === 'redis'
            ? (['throttleflow', 'throttleflow-store', 'rate-limiter-flexible'] as const)
            : target.on === 'cluster'
              ? (['throttleflow', 'rate-limiter-flexible'] as const)
              : (['throttleflow'] as const);
        for (const contender of contenders) {
          const spec: ChildSpec = {
            contender,
            url,
            ...(target.cluster ? { cluster: target.cluster } : {}),
            prefix: `${prefix}${target.on}:${processes}p:`,
            durationMs: roundMs,
            warmupMs,
            concurrency,
          };
          const { ops, ms } =
            processes === 1 ? await measure(spec) : await measureInProcesses(spec, processes);
          const key = `${contender}@${target.on}`;
          const sum = measured.get(key) ?? { contender, on: target.on, ops: 0, ms: 0, perRound: [] };
          sum.ops += ops;
          sum.ms += ms;
          sum.perRound.push((ops / ms) * 1000);
          measured.set(key, sum);
        }
      }
    }
    for (const { contender, on, ops, ms, perRound } of measured.values())
      rows.push({ contender, on, processes, ops, ms, opsPerSec: (ops / ms) * 1000, perRound });
  }
  const ratio: Record<string, number> = {};
  const storeRatio: Record<string, number> = {};
  const clusterRatio: Record<string, number> = {};
  const clusterVsSingle: Record<string, number> = {};
  const replicatedVsSingle: Record<string, number> = {};
  for (const processes of new Set(rows.map((r) => r.processes))) {
    const find = (c: RedisContender, on: RedisTarget = 'redis') =>
      rows.find((r) => r.processes === processes && r.contender === c && r.on === on)?.opsPerSec ?? NaN;
    ratio[`${processes}p`] = find('throttleflow') / find('rate-limiter-flexible');
    storeRatio[`${processes}p`] = find('throttleflow-store') / find('rate-limiter-flexible');
    if (cluster) {
      clusterRatio[`${processes}p`] =
        find('throttleflow', 'cluster') / find('rate-limiter-flexible', 'cluster');
      clusterVsSingle[`${processes}p`] = find('throttleflow', 'cluster') / find('throttleflow');
    }
    if (replicated) {
      replicatedVsSingle[`${processes}p`] = find('throttleflow', 'cluster-replicated') / find('throttleflow');
    }
  }
  for (const nodes of [cluster, replicated]) {
    if (!nodes) continue;
    const cleanerCluster = new Cluster(nodes);
    for (const node of cleanerCluster.nodes('master')) {
      let at = '0';
      do {
        const [next, keys] = await node.scan(at, 'MATCH', `${prefix}*`, 'COUNT', 500);
        at = next;
        for (const key of keys) await cleanerCluster.unlink(key);
      } while (at !== '0');
    }
    await cleanerCluster.quit();
  }
  // Leave nothing behind.
  const cleaner = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await cleaner.unlink(...keys);
  } while (cursor !== '0');
  await cleaner.quit();

  console.log(
    `\nRedis store: acquire + release per second (${concurrency} callers per process, ${durationMs} ms each ` +
      `in ${rounds} interleaved rounds, ${url})`,
  );
  console.table(
    rows.map((r) => ({
      contender: LABELS[r.contender],
      on: ON_LABELS[r.on],
      processes: r.processes,
      'acquires/s': Math.round(r.opsPerSec),
      'per round': r.perRound.map((v) => `${(v / 1000).toFixed(1)}k`).join(' '),
    })),
  );
  for (const [processes, value] of Object.entries(ratio)) {
    console.log(
      `throttleflow / rate-limiter-flexible, ${processes}: Limiter ${value.toFixed(2)}× (target ≥ 0.80), ` +
        `store handle with concurrent calls ${storeRatio[processes]!.toFixed(2)}×`,
    );
  }
  const limiterRounds = (processes: string, on: RedisTarget) => {
    const row = (where: RedisTarget) =>
      rows.find((r) => `${r.processes}p` === processes && r.contender === 'throttleflow' && r.on === where);
    const single = row('redis')?.perRound ?? [];
    return (row(on)?.perRound ?? []).map((v, i) => (v / single[i]!).toFixed(2)).join(' ');
  };
  for (const [processes, value] of Object.entries(clusterVsSingle)) {
    console.log(
      `Redis Cluster, ${processes}: Limiter ${value.toFixed(2)}× the single Redis's (target ≥ 0.80; ` +
        `rounds ${limiterRounds(processes, 'cluster')}), ` +
        `${clusterRatio[processes]!.toFixed(2)}× rate-limiter-flexible on the same cluster`,
    );
  }
  for (const [processes, value] of Object.entries(replicatedVsSingle)) {
    console.log(
      `Redis Cluster with a replica per master, ${processes}: Limiter ${value.toFixed(2)}× the single ` +
        `Redis's (rounds ${limiterRounds(processes, 'cluster-replicated')}; the replicas share the cores)`,
    );
  }
  return {
    rows,
    ratio,
    storeRatio,
    ...(cluster ? { clusterRatio, clusterVsSingle } : {}),
    ...(replicated ? { replicatedVsSingle } : {}),
  };
}

/** The local development/CI cluster (127.0.0.1:7000–7005) when it answers with cluster_state:ok. */
export async function localClusterNodes(): Promise<{ host: string; port: number }[] | undefined> {
  const nodes = [7000, 7001, 7002, 7003, 7004, 7005].map((port) => ({ host: '127.0.0.1', port }));
  const probe = new Cluster(nodes, { lazyConnect: true, clusterRetryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return String(await probe.cluster('INFO')).includes('cluster_state:ok') ? nodes : undefined;
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

/** `REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001` → nodes; undefined when unset. */
function clusterNodesFromEnv(): { host: string; port: number }[] | undefined {
  const raw = process.env.REDIS_CLUSTER_NODES;
  if (!raw) return undefined;
  return raw.split(',').map((hostPort) => {
    const [host, port] = hostPort.trim().split(':');
    return { host: host || '127.0.0.1', port: Number(port) };
  });
}

if (process.argv[2] === '--child') {
  const spec = JSON.parse(process.argv[3]!) as ChildSpec;
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  measure(spec, go, () => process.send!({ type: 'ready' } satisfies ChildMessage)).then(
    (r) => process.send!({ type: 'result', ...r } satisfies ChildMessage, () => process.exit(0)),
    (error: unknown) =>
      process.send!({ type: 'error', message: String(error) } satisfies ChildMessage, () => process.exit(1)),
  );
} else if (process.argv[1] === THIS_FILE) {
  await benchRedis();
}
