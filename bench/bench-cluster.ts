/**
 * A throwaway Redis Cluster of three masters without replicas, for the Redis throughput rows. The
 * single Redis those rows compare it with has no replica either, so their ratio measures the store
 * on a cluster rather than replication sharing the machine's cores. Started only when
 * `redis-server` is installed and its ports are free; `stop()` ends the nodes and removes their files.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCluster,
  portAnswers,
  redisCli,
  spawnClusterNode,
  waitForPong,
} from '../test/stores/redis/cluster-node';

/** A running bench cluster: its nodes, and how to stop it. */
export interface BenchCluster {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ready: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`bench cluster: ${what} not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Starts three cluster-enabled `redis-server`s on `ports` (and their bus ports, +10 000) and joins
 * them as three masters; undefined when `redis-server` is missing or a port is taken.
 */
export async function startBenchCluster(ports = [7020, 7021, 7022]): Promise<BenchCluster | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  for (const port of [...ports, ...ports.map((p) => p + 10_000)])
    if (await portAnswers(port)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tf-bench-cluster-'));
  const children: ChildProcess[] = ports.map((port) => spawnClusterNode(port, dir));
  const stop = async () => {
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitForPong(port);
    createCluster(ports, 0);
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, () =>
        redisCli(port, 'cluster', 'info').includes('cluster_state:ok'),
      );
    }
    return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
