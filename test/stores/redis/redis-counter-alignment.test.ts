/**
 * Counter alignment on a shared store (real Redis and the dev cluster): an attempt the provider did
 * not count frees its unit in Redis, so another process sharing the limiter gets the room too.
 */
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, type describe } from 'vitest';
import { isLimiterTimeoutError } from '../../../src/errors/limiter-timeout-error';
import { Limiter } from '../../../src/limits/limiter';
import { RedisStore } from '../../../src/stores/redis/index';
import { describeCluster, openClusterTestEnv } from './cluster-test-env';
import type { TestEnv } from './open-test-env';
import { describeRedis, openRedisTestEnv } from './redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A response whose headers say the provider had counted `count` of `limit` requests. */
const counted = (limit: number, count: number) => ({
  headers: new Headers({
    'x-ratelimit-limit-requests': String(limit),
    'x-ratelimit-remaining-requests': String(limit - count),
    'x-ratelimit-reset-requests': '1s',
  }),
});

function describeSharedAlignment<Client extends Redis | Cluster>(
  label: string,
  describeFn: typeof describe,
  openEnv: () => Promise<TestEnv<Client>>,
): void {
  describeFn(`counter alignment on a RedisStore (${label})`, () => {
    let env: TestEnv<Client>;
    beforeAll(async () => {
      env = await openEnv();
    });
    afterAll(async () => {
      await env?.close();
    });

    /**
     * Two "processes" sharing one limiter: two clients, two stores, one name (no margin), and the
     * requests the second one's store counts in the window.
     */
    function twoProcesses(name: string, maxPerWindow: number, windowMs: number) {
      const a = new RedisStore({ client: env.client, prefix: env.prefix });
      const b = new RedisStore({ client: env.newClient(), prefix: env.prefix });
      const options = { name, maxPerWindow, windowMs, windowMarginMs: 0 };
      const here = new Limiter({ ...options, store: a });
      const there = new Limiter({ ...options, store: b });
      return {
        here,
        there,
        used: async () => (await b.snapshot(name, there.windows)).used[0],
        close: () => Promise.all([a.close(), b.close()]),
      };
    }

    it('an attempt the provider did not count frees its unit for every process sharing the limiter', async () => {
      const { here, there, used, close } = twoProcesses(`alignment-${process.pid}`, 3, 2_000);

      // Window 1: one request, counted (the alignment starts with the first count).
      const first = await here.acquire();
      here.observe(counted(3, 1), { lease: first });
      first.release();
      await sleep(2_100);
      // Window 2: a connection reset, then a request the provider counted as its only one.
      const reset = await here.acquire();
      here.observe(new Error('socket hang up'), { lease: reset });
      reset.release();
      const next = await here.acquire();
      here.observe(counted(3, 1), { lease: next });
      next.release();

      // The refund reaches Redis after the releases (one round trip more): wait for it, bounded.
      for (let i = 0; i < 100 && (await used()) !== 1; i++) await sleep(10);
      expect(await used()).toBe(1);
      // The other process starts two now (3 − the counted one), not one.
      const leases = [await there.acquire({ timeoutMs: 1_000 }), await there.acquire({ timeoutMs: 1_000 })];
      await expect(there.acquire({ timeoutMs: 100 })).rejects.toSatisfy(isLimiterTimeoutError);
      for (const lease of leases) lease.release();
      await close();
    });

    it('a 5xx gives its unit back at its release, in Redis, without a later count (refundFailedAttempts)', async () => {
      const { here, there, used, close } = twoProcesses(`presumed-${process.pid}`, 2, 10_000);

      const held = await here.acquire();
      const failed = await here.acquire();
      here.observe(Object.assign(new Error('HTTP 503'), { status: 503 }), { lease: failed });
      failed.release();
      // The window is full until the refund reaches Redis; wait for it, bounded.
      for (let i = 0; i < 100 && (await used()) !== 1; i++) await sleep(10);
      expect(await used()).toBe(1);
      // The other process gets the unit back: one more starts, not a second.
      const lease = await there.acquire({ timeoutMs: 1_000 });
      await expect(there.acquire({ timeoutMs: 100 })).rejects.toSatisfy(isLimiterTimeoutError);
      lease.release();
      held.release();
      await close();
    });
  });
}

describeSharedAlignment('real Redis on 127.0.0.1:6379', describeRedis, () =>
  openRedisTestEnv(import.meta.url),
);
describeSharedAlignment('Redis Cluster on 127.0.0.1:7000–7005', describeCluster, () =>
  openClusterTestEnv(import.meta.url),
);
