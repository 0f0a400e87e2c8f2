/**
 * Real processes sharing one limiter through a Redis Cluster (127.0.0.1:7000–7005):
 * - crash: SIGKILL one process mid-run; the others finish and its leases expire within the TTL;
 * - restart: SCRIPT FLUSH on every master again and again mid-run; no acquire fails, every item done.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnProviderSimulator } from '../../../src/testing/spawn-provider-simulator';
import type { SpawnedProviderSimulator } from '../../../src/testing/provider-simulator-types';
import { CLUSTER_NODES, describeCluster, openClusterTestEnv, type ClusterTestEnv } from './cluster-test-env';
import { CRASH, expectCleanRun, expectRecovery, killOneWorker, sleep } from './fixtures/crash-scenario';
import { startWorkers } from './fixtures/worker-harness';
import type { WorkerConfig } from './fixtures/worker-protocol';

describeCluster('processes sharing one limiter through a Redis Cluster (real processes)', () => {
  let env: ClusterTestEnv;
  const sims: SpawnedProviderSimulator[] = [];
  beforeAll(async () => {
    env = await openClusterTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
    await env?.close();
  });

  it('SIGKILL mid-run: the others finish and the dead process’s leases expire within the lease TTL', async () => {
    const sim = await spawnProviderSimulator({ latencyMs: 250, jitterMs: 50, seed: 3 });
    sims.push(sim);
    const name = 'crash';
    const killed = await killOneWorker({
      redisHost: '',
      redisPort: 0,
      clusterNodes: CLUSTER_NODES,
      prefix: env.prefix,
      name,
      maxConcurrent: CRASH.maxConcurrent,
      leaseTtlMs: CRASH.leaseTtlMs,
      targetUrl: sim.url,
    });
    const held = (await env.client.zrange(killed.keys.leases, 0, -1)).filter((id) =>
      id.startsWith(killed.victimPrefix),
    );
    expect(held.length).toBeGreaterThan(0);
    const { recoveredAfterMs, results } = await expectRecovery(env.client, env.prefix, name, killed);
    console.log(
      `[cluster crash] killed a process holding ${held.length} of ${CRASH.maxConcurrent} slots; its leases were gone ${recoveredAfterMs.toFixed(0)} ms later ` +
        `(lease TTL ${CRASH.leaseTtlMs} ms); survivors finished ${results.reduce((n, r) => n + r.items.length, 0)}/60 items`,
    );
    expect(Number.isNaN(recoveredAfterMs)).toBe(false);
  }, 90_000);

  it('SCRIPT FLUSH on every master again and again mid-run: no acquire fails, every item done', async () => {
    const sim = await spawnProviderSimulator({ latencyMs: 40, jitterMs: 20, seed: 5 });
    sims.push(sim);
    const base: Omit<WorkerConfig, 'workerId' | 'items'> = {
      redisHost: '',
      redisPort: 0,
      clusterNodes: CLUSTER_NODES,
      prefix: env.prefix,
      name: 'restart',
      maxConcurrent: 8,
      maxPerWindow: 40,
      windowMs: 1_000,
      leaseTtlMs: 2_000,
      targetUrl: sim.url,
    };
    const { workers } = await startWorkers([0, 1, 2].map((workerId) => ({ ...base, workerId, items: 60 })));
    let flushes = 0;
    let running = true;
    const disrupt = (async () => {
      await sleep(300);
      while (running) {
        await Promise.all(
          env.client.nodes('master').map((node) => node.script('FLUSH').catch(() => undefined)),
        );
        flushes++;
        await sleep(150);
      }
    })();
    const results = await Promise.all(workers.map((w) => w.result));
    running = false;
    await disrupt;
    expectCleanRun(results);
    expect(results.map((r) => r.items.length)).toEqual([60, 60, 60]);
    const reloads = results.reduce((n, r) => n + (r.done?.scriptReloads ?? 0), 0);
    console.log(
      `[cluster restart] ${flushes} × SCRIPT FLUSH on every master mid-run: 180/180 items, 0 failed acquires, ${reloads} script reloads`,
    );
    expect(flushes).toBeGreaterThan(3);
    expect(reloads).toBeGreaterThan(0);
  }, 90_000);
});
