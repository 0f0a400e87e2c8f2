/**
 * Shared setup for tests that need the Redis Cluster on 127.0.0.1:7000–7005 (3 masters + 3
 * replicas; `.ci/run` starts one when none answers). Like redis-test-env.ts: without a cluster the
 * suite is skipped with a visible warning, except under CI, where it fails.
 */
import { Cluster } from 'ioredis';
import type { describe } from 'vitest';
import { openTestEnv, type TestEnv } from './open-test-env';
import { describeIfAvailable } from './service-gate';

export const CLUSTER_NODES = [7000, 7001, 7002, 7003, 7004, 7005].map((port) => ({
  host: '127.0.0.1',
  port,
}));

/** A cluster client that fails fast instead of queueing commands while offline. */
export function newClusterClient(): Cluster {
  const client = new Cluster(CLUSTER_NODES, {
    lazyConnect: true,
    clusterRetryStrategy: (times) => (times > 3 ? null : 100),
    redisOptions: { connectTimeout: 1000 },
  });
  client.on('error', () => {});
  return client;
}

/** Resolves true when the cluster answers with `cluster_state:ok` within a couple of seconds. */
export async function clusterReachable(): Promise<boolean> {
  const probe = newClusterClient();
  try {
    await probe.connect();
    const info = await probe.cluster('INFO');
    return String(info).includes('cluster_state:ok');
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const available = await clusterReachable();

/** True when the cluster answered. */
export const clusterAvailable = available;

/** `describe` when the cluster is reachable, `describe.skip` (after a console warning) when it is not. */
export const describeCluster: typeof describe = describeIfAvailable(available, {
  ciError:
    'Redis Cluster not reachable on 127.0.0.1:7000–7005 and CI is set: cluster tests must run in CI (.ci/run starts one)',
  skipWarning: 'Redis Cluster not reachable on 127.0.0.1:7000–7005: skipping cluster tests',
});

/** Deletes every key starting with `prefix` on every master (SCAN is per node on a cluster). */
export async function deleteClusterKeysWithPrefix(client: Cluster, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let deleted = 0;
  for (const node of client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      // One key at a time: keys of different limiters live in different slots.
      for (const key of keys) deleted += await client.unlink(key);
    } while (cursor !== '0');
  }
  return deleted;
}

/** A connected cluster client plus this file's prefix; `close()` deletes the prefix's keys. */
export type ClusterTestEnv = TestEnv<Cluster>;

/** Connects to the test cluster with a fresh prefix for `file`. */
export function openClusterTestEnv(file: string): Promise<ClusterTestEnv> {
  return openTestEnv(file, newClusterClient, deleteClusterKeysWithPrefix);
}
