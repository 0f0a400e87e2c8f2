/**
 * BullMQ and throttleflow on a Redis Cluster (the shared dev cluster at 127.0.0.1:7000–7005): the
 * queue's prefix is the hash tag `{<limiter name>}` and the limiter's keys carry `{<limiter
 * name>}`, so every key of the run lives in one slot, and a run through a limiter on the cluster
 * finishes. Skipped with a message when the cluster does not answer, except under CI, where it fails
 * (the gate in ../stores/redis/cluster-test-env.ts).
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FlowWorker, QueueBatchFlow } from '../../src/bullmq/index';
import { Node } from '../../src/core/node';
import { Limiter } from '../../src/limits/limiter';
import { RedisStore } from '../../src/stores/redis/index';
import { describeCluster } from '../stores/redis/cluster-test-env';

const SEED = { host: '127.0.0.1', port: 7000 };

describeCluster('QueueBatchFlow + FlowWorker on a Redis Cluster', () => {
  const name = `tf-bullmq-${randomBytes(4).toString('hex')}`;
  const tag = `{${name}}`;
  const storePrefix = 'tf-test:';
  let cluster: Cluster;
  beforeAll(() => {
    // BullMQ's workers block on their connection: no per-request retry limit.
    cluster = new Cluster([SEED], { redisOptions: { maxRetriesPerRequest: null } });
    cluster.on('error', () => {});
  });
  afterAll(async () => {
    if (!cluster) return;
    for (const node of cluster.nodes('master')) {
      for (const pattern of [`${tag}:*`, `${storePrefix}${tag}:*`]) {
        const keys = await node.keys(pattern);
        if (keys.length > 0) await node.del(...keys);
      }
    }
    await cluster.quit().catch(() => cluster.disconnect());
  });

  it('keeps every key of the queue and the limiter in one slot, and the run finishes', async () => {
    const store = new RedisStore({ client: cluster, prefix: storePrefix });
    const limiter = new Limiter({ name, store, maxConcurrent: 4, maxPerMinute: 600, warnings: false });
    class Call extends Node<Record<string, unknown>> {
      override async exec() {
        return await limiter.run(async () => Number(this.params.n) * 2);
      }
      override async post(shared: Record<string, unknown>, _p: unknown, doubled: unknown) {
        shared.doubled = doubled;
        return undefined;
      }
    }
    const worker = new FlowWorker('cluster-q', new Call(), {
      connection: cluster,
      prefix: tag,
      concurrency: 4,
    });
    class Doubles extends QueueBatchFlow<{ out?: unknown[] }, { n: number }> {
      override async prep() {
        return Array.from({ length: 12 }, (_, n) => ({ n }));
      }
      override async post(shared: { out?: unknown[] }, _p: unknown, results: unknown[]) {
        shared.out = results;
        return undefined;
      }
    }
    const shared: { out?: unknown[] } = {};
    try {
      await new Doubles({ queue: 'cluster-q', connection: cluster, prefix: tag, runId: 'c1' }).run(shared);
    } finally {
      await worker.close();
      await store.close();
    }
    expect(shared.out).toEqual(Array.from({ length: 12 }, (_, n) => ({ doubled: n * 2 })));

    const keys: string[] = [];
    for (const node of cluster.nodes('master')) {
      keys.push(...(await node.keys(`${tag}:*`)), ...(await node.keys(`${storePrefix}${tag}:*`)));
    }
    expect(keys.some((k) => k.startsWith(`${tag}:cluster-q:`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${storePrefix}${tag}:`))).toBe(true);
    const slots = new Set(await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k))));
    expect([...slots]).toEqual([await cluster.cluster('KEYSLOT', name)]);
  }, 30_000);
});
