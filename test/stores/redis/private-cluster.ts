/**
 * A throwaway 6-node Redis Cluster (3 masters + 3 replicas) on six ports of its own (the failover
 * test uses 127.0.0.1:7100–7105, the resharding test 7200–7205), for tests that kill nodes or move
 * slots: the shared development cluster on 7000–7005 is never touched.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { describe } from 'vitest';
import { createCluster, portAnswers, redisCli, spawnClusterNode, waitForPong } from './cluster-node';
import { redisServerAvailable } from './private-redis';
import { describeIfAvailable } from './service-gate';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running private cluster: its ports, which node serves a key, and killing a node. */
export interface PrivateCluster {
  readonly ports: readonly number[];
  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): number;
  /** SIGKILLs the node on `port` (its replica is promoted after `cluster-node-timeout`). */
  kill(port: number): Promise<void>;
  /** Starts the killed node on `port` again, empty, with its cluster config: it rejoins. */
  restart(port: number): Promise<void>;
  /** The ports of the replicas of the master on `port`. */
  replicasOf(port: number): number[];
  /** The hash slot of `key`. */
  slotOf(key: string): number;
  /**
   * Moves `slot` from the master serving it to the master on `toPort` while clients go on using it,
   * as `redis-cli --cluster reshard` does: IMPORTING on the target, MIGRATING on the source,
   * `MIGRATE` one key at a time, then the new owner announced to every master. `pause` runs after
   * each step (the slot marked migrating, each key moved), so the clients meet ASK and TRYAGAIN.
   */
  moveSlot(slot: number, toPort: number, pause: () => Promise<void>): Promise<{ keysMoved: number }>;
  /** Resolves once every slot is served again (cluster_state:ok seen from `port`). */
  waitOk(port: number, timeoutMs?: number): Promise<void>;
  /** Resolves once the node on `port` has stopped serving (cluster_state:fail). */
  waitFail(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the cluster (node timeout 1 s, so a failover takes about 1–2 s). */
export async function startPrivateCluster(basePort = 7100): Promise<PrivateCluster> {
  const ports = [0, 1, 2, 3, 4, 5].map((i) => basePort + i);
  // Never join (or `--cluster create` over) nodes someone else runs on these ports.
  for (const port of [...ports, ...ports.map((p) => p + 10_000)]) {
    if (await portAnswers(port)) throw new Error(`port ${port} is already in use`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tf-cluster-'));
  const children = new Map<number, ChildProcess>();
  const kill = async (port: number) => {
    const child = children.get(port);
    children.delete(port);
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };
  const stop = async () => {
    await Promise.all([...children.keys()].map(kill));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return await createPrivateCluster(ports, dir, children, kill, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function createPrivateCluster(
  ports: number[],
  dir: string,
  children: Map<number, ChildProcess>,
  kill: (port: number) => Promise<void>,
  stop: () => Promise<void>,
): Promise<PrivateCluster> {
  const startNode = (port: number) => {
    children.set(port, spawnClusterNode(port, dir, ['--cluster-node-timeout', '1000']));
  };
  for (const port of ports) startNode(port);
  for (const port of ports) await waitForPong(port);
  createCluster(ports, 1);
  const waitState = async (state: 'ok' | 'fail', port: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (redisCli(port, 'cluster', 'info').includes(`cluster_state:${state}`)) return;
      await sleep(100);
    }
    throw new Error(`private cluster not ${state} (seen from ${port}) within ${timeoutMs} ms`);
  };
  const waitOk = (port: number, timeoutMs?: number) => waitState('ok', port, timeoutMs);
  const waitFail = (port: number, timeoutMs?: number) => waitState('fail', port, timeoutMs);
  await waitOk(ports[0]!);
  // Replicas attached and synced (a replica that never synced cannot be promoted).
  for (let i = 0; i < 300; i++) {
    const synced = ports.filter((p) => redisCli(p, 'info', 'replication').includes('master_link_status:up'));
    if (synced.length >= 3) break;
    await sleep(100);
  }
  const anyPort = () => ports.find((p) => children.has(p))!;
  const slotOf = hashSlot;
  const masterOfSlot = (slot: number) => {
    for (const line of redisCli(anyPort(), 'cluster', 'nodes').split('\n')) {
      const f = line.split(' ');
      if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
      for (const range of f.slice(8)) {
        const [a, b] = range.split('-').map(Number);
        if (slot >= a! && slot <= (b ?? a!)) return Number(f[1]!.split(':')[1]!.split('@')[0]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  };
  const nodeLines = () =>
    redisCli(anyPort(), 'cluster', 'nodes')
      .split('\n')
      .map((line) => line.split(' '));
  const portOf = (f: string[]) => Number(f[1]?.split(':')[1]?.split('@')[0]);
  const replicasOf = (port: number) => {
    const masterId = nodeLines().find((f) => portOf(f) === port)?.[0];
    return nodeLines()
      .filter((f) => f[2]?.includes('slave') && f[3] === masterId)
      .map(portOf);
  };
  const restart = async (port: number) => {
    if (children.has(port)) throw new Error(`node ${port} is running`);
    startNode(port);
    await waitForPong(port);
  };
  return {
    ports,
    slotOf,
    moveSlot: (slot, toPort, pause) => moveSlot(ports, slot, masterOfSlot(slot), toPort, pause),
    masterOf: (key: string) => masterOfSlot(slotOf(key)),
    kill,
    restart,
    replicasOf,
    waitOk,
    waitFail,
    stop,
  };
}

/**
 * The cluster hash slot of `key` (CRC16-XMODEM of its hash tag, mod 16384), computed here: asking
 * `redis-cli cluster keyslot` read an empty reply as slot 0 when the call failed on a loaded machine.
 */
export function hashSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** True when something accepts a TCP connection on 127.0.0.1:`port`. */

async function moveSlot(
  ports: readonly number[],
  slot: number,
  fromPort: number,
  toPort: number,
  pause: () => Promise<void>,
): Promise<{ keysMoved: number }> {
  if (fromPort === toPort) throw new Error(`slot ${slot} is already served by ${toPort}`);
  // Its own connections (not spawnSync'd redis-cli): the clients under test keep running meanwhile.
  const nodes = new Map(
    ports.map((port) => [port, new Redis({ host: '127.0.0.1', port, lazyConnect: true })]),
  );
  try {
    const node = (port: number) => nodes.get(port)!;
    const ids = new Map<number, string>();
    for (const port of ports) ids.set(port, String(await node(port).call('CLUSTER', 'MYID')));
    await node(toPort).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids.get(fromPort)!);
    await node(fromPort).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids.get(toPort)!);
    await pause();
    let keysMoved = 0;
    for (;;) {
      const keys = (await node(fromPort).call('CLUSTER', 'GETKEYSINSLOT', slot, 1)) as string[];
      if (keys.length === 0) break;
      await node(fromPort).call('MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys);
      keysMoved += keys.length;
      await pause();
    }
    // The new owner first, then the old one (which answers MOVED from then on), then the others.
    const masters = ports.filter((p) => p !== toPort && p !== fromPort);
    for (const port of [toPort, fromPort, ...masters]) {
      await node(port)
        .call('CLUSTER', 'SETSLOT', slot, 'NODE', ids.get(toPort)!)
        .catch(() => undefined); // a replica refuses; it learns the owner from its master
    }
    return { keysMoved };
  } finally {
    for (const n of nodes.values()) n.disconnect();
  }
}

/**
 * A private cluster for one test file, started when the file loads, and the `describe` to run its
 * tests with: when `redis-server` is missing or the cluster cannot be started (ports taken, `--cluster
 * create` failed), the suite is skipped with a warning saying why, except under CI, where it fails.
 */
export async function privateClusterSuite(
  basePort: number,
): Promise<{ cluster: PrivateCluster | undefined; describe: typeof describe }> {
  const where = `127.0.0.1:${basePort}–${basePort + 5}`;
  let cluster: PrivateCluster | undefined;
  let why = 'no redis-server on the PATH';
  if (redisServerAvailable()) {
    try {
      cluster = await startPrivateCluster(basePort);
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    cluster,
    describe: describeIfAvailable(cluster !== undefined, {
      ciError: `could not start a private Redis Cluster on ${where} and CI is set: ${why}`,
      skipWarning: `could not start a private Redis Cluster on ${where} (${why}): skipping its tests`,
    }),
  };
}

/** A cluster client on the private cluster's nodes: short timeouts, errors left to the test (a node may be killed). */
export function privateClusterClient(cluster: PrivateCluster): Cluster {
  const client = new Cluster(
    cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { connectTimeout: 1000 }, slotsRefreshTimeout: 1000 },
  );
  client.on('error', () => {});
  return client;
}
