/**
 * RedisStore on a Redis Cluster (127.0.0.1:7000–7005): limiters whose names live on different
 * shards side by side, release notifications between clients, SCRIPT FLUSH on every master.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Limiter } from '../../../src/limits/limiter';
import { LimiterKeys, RedisStore } from '../../../src/stores/redis/index';
import { describeCluster, openClusterTestEnv, type ClusterTestEnv } from './cluster-test-env';

/** Limiter names whose keys land on `count` different masters (found by asking the cluster). */
async function namesOnDifferentShards(client: Cluster, prefix: string, count: number): Promise<string[]> {
  const masterOfSlot = new Map<number, string>();
  const slots = await client.cluster('SLOTS');
  for (const [from, to, [host, port] = ['', 0]] of slots)
    for (let s = from; s <= to; s++) masterOfSlot.set(s, `${host}:${port}`);
  const byMaster = new Map<string, string>();
  for (let i = 0; byMaster.size < count && i < 1000; i++) {
    const name = `shard-${i}`;
    const slot = Number(await client.cluster('KEYSLOT', new LimiterKeys(prefix, name).leases));
    const master = masterOfSlot.get(slot)!;
    if (!byMaster.has(master)) byMaster.set(master, name);
  }
  return [...byMaster.values()];
}

describeCluster('RedisStore on a Redis Cluster', () => {
  let env: ClusterTestEnv;
  beforeAll(async () => {
    env = await openClusterTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('limiters whose names live on three different masters work side by side (no CROSSSLOT)', async () => {
    const names = await namesOnDifferentShards(env.client, env.prefix, 3);
    expect(names).toHaveLength(3);
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    try {
      const limiters = names.map(
        (name) => new Limiter({ name, store, maxConcurrent: 3, maxPerWindow: 5, windowMs: 60_000 }),
      );
      // Many acquires at once on every limiter: batched per limiter, each batch one script on one node.
      const granted = await Promise.all(
        limiters.map(async (limiter) => {
          const leases = await Promise.all([1, 2, 3].map(() => limiter.acquire({ timeoutMs: 5_000 })));
          for (const lease of leases) lease.release();
          const more = await Promise.all([1, 2].map(() => limiter.acquire({ timeoutMs: 5_000 })));
          for (const lease of more) lease.release();
          return leases.length + more.length;
        }),
      );
      expect(granted).toEqual([5, 5, 5]);
      // Each limiter's window is its own and full: a sixth acquire is refused by its window.
      for (const name of names) {
        const snapshot = await store.snapshot(name, [{ resource: 'requests', limit: 5, windowMs: 60_600 }]);
        expect(snapshot.used).toEqual([5]);
      }
    } finally {
      await store.close();
    }
  });

  it('a release in one client wakes a waiter of another at once (pub/sub on the cluster)', async () => {
    const a = new RedisStore({ client: env.client, prefix: env.prefix, leaseTtlMs: 60_000 });
    const b = new RedisStore({ client: env.newClient(), prefix: env.prefix, leaseTtlMs: 60_000 });
    try {
      const la = new Limiter({ name: 'wake', store: a, maxConcurrent: 1 });
      const lb = new Limiter({ name: 'wake', store: b, maxConcurrent: 1 });
      const held = await la.acquire();
      let got = false;
      const waiting = lb.acquire().then((lease) => {
        got = true;
        return lease;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toBe(false);
      held.release();
      // Without the notification the waiter would sleep until the lease TTL (60 s, past the test's timeout).
      const lease = await waiting;
      lease.release();
      expect(got).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  }, 20_000);

  it('SCRIPT FLUSH on every master between calls: scripts are reloaded, nothing fails', async () => {
    const names = await namesOnDifferentShards(env.client, env.prefix, 3);
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    try {
      const limiters = names.map((name) => new Limiter({ name: `flush-${name}`, store, maxConcurrent: 4 }));
      for (let round = 0; round < 3; round++) {
        await Promise.all(env.client.nodes('master').map((node) => node.script('FLUSH')));
        await Promise.all(limiters.map((l) => l.run(() => round)));
      }
      expect(store.scriptReloads).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
