/**
 * A master down with no replica to promote, on a private 6-node cluster (127.0.0.1:7300–7305; the
 * shared cluster on 7000–7005 is never touched): the replica of the master holding a limiter's slot
 * is SIGKILLed, then the master. The cluster stops serving (full coverage is required by default)
 * for as long as both are down, far longer than `operationTimeoutMs`.
 *
 * - `onStoreError: 'fail'`: every acquire settles, each one asked during the outage rejects with
 *   StoreUnavailableError (the slowest is printed beside `operationTimeoutMs`); nothing hangs.
 * - `onStoreError: 'local'`: the in-memory fallback serves acquires during the outage (`fallback`)
 *   and hands back to the cluster once both nodes are restarted and the cluster is whole
 *   (`recovered`); the failing store serves again too.
 */
import { afterAll, expect, it } from 'vitest';
import type { Limiter } from '../../../src/limits/limiter';
import { isStoreUnavailableError, LimiterKeys } from '../../../src/stores/redis/index';
import { failAndLocalLimiters } from './fixtures/fail-and-local-limiters';
import { privateClusterSuite } from './private-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPERATION_TIMEOUT_MS = 800;
const OUTAGE_MS = 4_000;
const PREFIX = 'tf-outage:';

const { cluster, describe: describePrivateCluster } = await privateClusterSuite(7300);

describePrivateCluster('RedisStore on a cluster that loses a master and its replica', () => {
  afterAll(async () => {
    await cluster?.stop();
  });

  it('acquires during the outage fail with StoreUnavailableError, nothing hangs; the local fallback serves and recovers', async () => {
    const c = cluster!;
    const name = 'outage';
    const { failing, local, events, close } = failAndLocalLimiters(c, {
      prefix: PREFIX,
      name,
      leaseTtlMs: 2_000,
      failTimeoutMs: OPERATION_TIMEOUT_MS,
      localTimeoutMs: OPERATION_TIMEOUT_MS,
    });

    type Phase = 'before' | 'outage' | 'after';
    let phase: Phase = 'before';
    const served = { before: 0, outage: 0, after: 0 };
    const localServed = { before: 0, outage: 0, after: 0 };
    const failures: { phase: Phase; unavailable: boolean; ms: number }[] = [];
    let running = true;
    const worker = async (limiter: Limiter, tally: typeof served, isLocal: boolean) => {
      while (running) {
        const askedIn = phase;
        const askedAt = performance.now();
        try {
          const lease = await limiter.acquire();
          await sleep(10);
          lease.release();
          tally[askedIn]++;
        } catch (error) {
          if (!isLocal) {
            failures.push({
              phase: askedIn,
              unavailable: isStoreUnavailableError(error),
              ms: performance.now() - askedAt,
            });
          }
          await sleep(50);
        }
      }
    };
    const workers = [
      ...[1, 2, 3].map(() => worker(failing, served, false)),
      ...[1, 2, 3].map(() => worker(local, localServed, true)),
    ];
    try {
      await sleep(600);
      const master = c.masterOf(new LimiterKeys(PREFIX, name).leases);
      const replicas = c.replicasOf(master);
      expect(replicas.length).toBeGreaterThan(0);
      for (const replica of replicas) await c.kill(replica);
      await c.kill(master);
      // Past the node timeout (1 s) the others mark the master failed and stop serving.
      const survivor = c.ports.find((p) => p !== master && !replicas.includes(p))!;
      await c.waitFail(survivor);
      // Acquires asked before that may still be in their retries: the outage starts after them.
      await sleep(OPERATION_TIMEOUT_MS + 200);
      phase = 'outage';
      await sleep(OUTAGE_MS);
      for (const port of [master, ...replicas]) await c.restart(port);
      await c.waitOk(survivor);
      phase = 'after';
      for (let i = 0; i < 100 && (!events.includes('recovered') || served.after === 0); i++) await sleep(100);
      running = false;
      // Nothing hangs: every worker's acquire settles (the test's timeout is the bound).
      await Promise.all(workers);
      const inOutage = failures.filter((f) => f.phase === 'outage');
      const slowestMs = Math.max(0, ...inOutage.map((f) => f.ms));
      console.log(
        `[cluster outage] killed master :${master} and replica :${replicas.join(', :')} (outage phase ${OUTAGE_MS} ms). ` +
          `fail-mode: ${served.before} ok before, ${served.outage} during, ${served.after} after; ` +
          `${inOutage.length} StoreUnavailableError during the outage (slowest ${slowestMs.toFixed(0)} ms, ` +
          `operationTimeoutMs ${OPERATION_TIMEOUT_MS}); local-mode: ${localServed.before} / ${localServed.outage} / ` +
          `${localServed.after} ok; events ${events.join(' → ')}`,
      );
      expect(served.before).toBeGreaterThan(0);
      // During the outage the failing store served nothing and every acquire failed as unavailable.
      expect(served.outage).toBe(0);
      expect(inOutage.length).toBeGreaterThan(0);
      expect(inOutage.every((f) => f.unavailable)).toBe(true);
      expect(localServed.outage).toBeGreaterThan(0);
      expect(events[0]).toBe('fallback');
      expect(events).toContain('recovered');
      expect(served.after).toBeGreaterThan(0);
    } finally {
      running = false;
      await Promise.all(workers);
      await close();
    }
  }, 90_000);
});
