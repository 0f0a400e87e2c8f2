/**
 * Failover on a private 6-node cluster (127.0.0.1:7100–7105, 3 masters + 3 replicas; the shared
 * cluster on 7000–7005 is never touched): the master holding a limiter's slot is SIGKILLed while
 * acquires run; its replica is promoted.
 *
 * - `onStoreError: 'fail'`: every acquire either completes or rejects with StoreUnavailableError;
 *   nothing hangs (every acquire settles; the longest is printed beside `operationTimeoutMs`).
 * - Leases are not double-freed: every lease is released once, and once the promoted master
 *   answers and the lease TTL has passed, the shared count of leases is 0, never negative.
 * - `onStoreError: 'local'`: acquires are served by the in-memory fallback (`fallback` event)
 *   and go back to the cluster once it answers (`recovered` event).
 */
import { afterAll, expect, it } from 'vitest';
import type { Limiter } from '../../../src/limits/limiter';
import { isStoreUnavailableError, LimiterKeys } from '../../../src/stores/redis/index';
import { failAndLocalLimiters } from './fixtures/fail-and-local-limiters';
import { privateClusterSuite } from './private-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPERATION_TIMEOUT_MS = 3_000;
const LOCAL_OPERATION_TIMEOUT_MS = 400;
const LEASE_TTL_MS = 2_000;
const PREFIX = 'tf-failover:';

const { cluster, describe: describePrivateCluster } = await privateClusterSuite(7100);

describePrivateCluster('RedisStore on a cluster whose master fails over', () => {
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kill the master mid-run: acquires complete or fail with StoreUnavailableError, nothing hangs, no double free, the local fallback recovers', async () => {
    const c = cluster!;
    const name = 'failover';
    // The local store's timeout is shorter than any failover (the slot is unserved for at least
    // the 1 s node timeout): the fallback must engage, not depend on whether ioredis's retries
    // happen to ride it out.
    const { failStore, failing, local, events, close } = failAndLocalLimiters(c, {
      prefix: PREFIX,
      name,
      leaseTtlMs: LEASE_TTL_MS,
      failTimeoutMs: OPERATION_TIMEOUT_MS,
      localTimeoutMs: LOCAL_OPERATION_TIMEOUT_MS,
    });
    const outcomes = { ok: 0, unavailable: 0, other: [] as string[], localOk: 0, localFailed: 0 };
    let slowestFailedMs = 0;
    let releases = 0;
    let running = true;
    const worker = async (limiter: Limiter, isLocal: boolean) => {
      while (running) {
        const askedAt = performance.now();
        try {
          const lease = await limiter.acquire();
          await sleep(10);
          lease.release();
          releases++;
          if (isLocal) outcomes.localOk++;
          else outcomes.ok++;
        } catch (error) {
          const ms = performance.now() - askedAt;
          if (isLocal) outcomes.localFailed++;
          else if (isStoreUnavailableError(error)) {
            outcomes.unavailable++;
            slowestFailedMs = Math.max(slowestFailedMs, ms);
          } else outcomes.other.push(String(error));
          await sleep(20);
        }
      }
    };
    const workers = [
      ...[1, 2, 3, 4].map(() => worker(failing, false)),
      ...[1, 2, 3, 4].map(() => worker(local, true)),
    ];
    try {
      await sleep(800);
      const victim = c.masterOf(new LimiterKeys(PREFIX, name).leases);
      const before = { ...outcomes, other: outcomes.other.length };
      await c.kill(victim);
      const killedAt = performance.now();
      const key = new LimiterKeys(PREFIX, name).leases;
      // Promoted: another master serves the slot (the replica takes over after the node timeout).
      for (let i = 0; i < 200; i++) {
        let master = victim;
        try {
          master = c.masterOf(key);
        } catch {
          // the slot is unserved for now
        }
        if (master !== victim) break;
        await sleep(100);
      }
      await c.waitOk(c.ports.find((p) => p !== victim)!);
      const promotedAfterMs = performance.now() - killedAt;
      // Let the clients find the promoted replica and the fallback recover.
      for (let i = 0; i < 100 && !events.includes('recovered'); i++) await sleep(100);
      const okBefore = outcomes.ok;
      for (let i = 0; i < 100 && outcomes.ok === okBefore; i++) await sleep(100);
      running = false;
      // Nothing hangs: every worker's acquire settles (the test's timeout is the bound).
      await Promise.all(workers);
      console.log(
        `[cluster failover] killed master :${victim}; replica promoted after ${promotedAfterMs.toFixed(0)} ms. ` +
          `fail-mode: ${outcomes.ok} ok (${before.ok} before the kill), ${outcomes.unavailable} StoreUnavailableError ` +
          `(slowest ${slowestFailedMs.toFixed(0)} ms, operationTimeoutMs ${OPERATION_TIMEOUT_MS}), ${outcomes.other.length} other; ` +
          `local-mode: ${outcomes.localOk} ok, ${outcomes.localFailed} failed; events ${events.join(' → ')}`,
      );
      expect(events[0]).toBe('fallback');
      expect(events).toContain('recovered');
      // No double free: after every release and one lease TTL, nothing is held and nothing negative.
      await sleep(LEASE_TTL_MS + 200);
      const snapshot = await failStore.snapshot(name, []);
      expect(snapshot.active).toBe(0);
      expect(releases).toBe(outcomes.ok + outcomes.localOk);
    } finally {
      running = false;
      await Promise.all(workers);
      await close();
    }
  }, 90_000);
});
