/**
 * Resharding on a private 6-node cluster (127.0.0.1:7200–7205, 3 masters + 3 replicas; the shared
 * cluster on 7000–7005 is never touched): while two stores (two clients, as two processes would)
 * acquire and release through one limiter, the slot holding its keys moves to another master —
 * marked MIGRATING/IMPORTING, its keys MIGRATEd one by one, then the new owner announced. Clients
 * meet TRYAGAIN (a script whose keys are split between the nodes), ASK and MOVED meanwhile.
 *
 * - acquires keep working: none fails, some are granted after the move (on the new master);
 * - the limit holds: exactly `maxPerWindow` grants in a window longer than the run (the window log
 *   moved with the slot), never more than `maxConcurrent` at once (the lease set moved too).
 */
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { LimiterTimeoutError } from '../../../src/errors/limiter-timeout-error';
import { Limiter } from '../../../src/limits/limiter';
import { LimiterKeys, RedisStore } from '../../../src/stores/redis/index';
import { privateClusterClient, privateClusterSuite } from './private-cluster';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PREFIX = 'tf-reshard:';
const NAME = 'reshard';
const MAX_PER_WINDOW = 200;
const MAX_CONCURRENT = 3;
const HOLD_MS = 40;

const { cluster, describe: describePrivateCluster } = await privateClusterSuite(7200);

/** Redirections and retries a node answered with, and ASKING commands it received. */
interface RedirectStats {
  MOVED: number;
  ASK: number;
  TRYAGAIN: number;
  ASKING: number;
}

async function redirectStats(port: number): Promise<RedirectStats> {
  const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    const info = `${String(await node.info('errorstats'))}\n${String(await node.info('commandstats'))}`;
    const count = (pattern: RegExp) => Number(pattern.exec(info)?.[1] ?? 0);
    return {
      MOVED: count(/errorstat_MOVED:count=(\d+)/),
      ASK: count(/errorstat_ASK:count=(\d+)/),
      TRYAGAIN: count(/errorstat_TRYAGAIN:count=(\d+)/),
      ASKING: count(/cmdstat_asking:calls=(\d+)/),
    };
  } finally {
    node.disconnect();
  }
}

describePrivateCluster('RedisStore on a cluster whose limiter slot is resharded mid-run', () => {
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the slot moves to another master: acquires keep working, the window and concurrency limits hold', async () => {
    const c = cluster!;
    const clients = [privateClusterClient(c), privateClusterClient(c)];
    const stores = clients.map(
      (client) => new RedisStore({ client, prefix: PREFIX, operationTimeoutMs: 5000 }),
    );
    // A window far longer than the run: every grant stays in it, so the total is the check.
    const limiters = stores.map(
      (store) =>
        new Limiter({
          name: NAME,
          store,
          maxConcurrent: MAX_CONCURRENT,
          maxPerWindow: MAX_PER_WINDOW,
          windowMs: 600_000,
          warnings: false, // no provider here: nothing to warn about
        }),
    );
    const key = new LimiterKeys(PREFIX, NAME).leases;
    const slot = c.slotOf(key);
    const from = c.masterOf(key);
    const to = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => c.masterOf(k)).find((p) => p !== from)!;
    let granted = 0;
    let grantedAfterMove = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let moved = false;
    let stop = false;
    const failures: string[] = [];
    const worker = async (limiter: Limiter) => {
      while (!stop) {
        try {
          const lease = await limiter.acquire({ timeoutMs: 1500 });
          granted++;
          if (moved) grantedAfterMove++;
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await sleep(HOLD_MS);
          inFlight--;
          lease.release();
        } catch (error) {
          // A timeout is the window being full (the run's end) or a slow moment; anything else fails.
          if (!(error instanceof LimiterTimeoutError)) failures.push(String(error));
        }
      }
    };
    const workers = limiters.flatMap((limiter) => [1, 2, 3].map(() => worker(limiter)));
    try {
      while (granted < MAX_PER_WINDOW / 4) await sleep(20);
      const grantedBefore = granted;
      const { keysMoved } = await c.moveSlot(slot, to, () => sleep(60));
      moved = true;
      const grantedDuring = granted - grantedBefore;
      // Until the window is used up, then a while longer: any grant beyond it breaks the limit.
      for (let i = 0; i < 300 && granted < MAX_PER_WINDOW; i++) await sleep(50);
      await sleep(1500);
      stop = true;
      await Promise.all(workers);
      const stats = { from: await redirectStats(from), to: await redirectStats(to) };
      console.log(
        `[cluster reshard] slot ${slot} moved :${from} → :${to} (${keysMoved} keys) with ${grantedBefore} granted before, ` +
          `${grantedDuring} during, ${grantedAfterMove} after; ${granted}/${MAX_PER_WINDOW} granted in all, ` +
          `max ${maxInFlight}/${MAX_CONCURRENT} in flight, ${failures.length} failed acquires; ` +
          `source node answered ${JSON.stringify(stats.from)}, target ${JSON.stringify(stats.to)}`,
      );
      expect(failures).toEqual([]);
      expect(c.masterOf(key)).toBe(to);
      expect(keysMoved).toBeGreaterThan(0);
      expect(grantedAfterMove).toBeGreaterThan(0);
      expect(granted).toBe(MAX_PER_WINDOW);
      expect(maxInFlight).toBeLessThanOrEqual(MAX_CONCURRENT);
      // The clients were redirected (else nothing here exercised MOVED/ASK/TRYAGAIN).
      const redirected = stats.from.MOVED + stats.from.ASK + stats.from.TRYAGAIN + stats.to.TRYAGAIN;
      expect(redirected).toBeGreaterThan(0);
      // Whatever was held is released: nothing leaked on the new master.
      const snapshot = await stores[0]!.snapshot(NAME, []);
      expect(snapshot.active).toBe(0);
    } finally {
      stop = true;
      await Promise.all(workers);
      for (const store of stores) await store.close();
      for (const client of clients) client.disconnect();
    }
  }, 90_000);
});
