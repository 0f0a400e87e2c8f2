/**
 * A throwaway 6-node Redis Cluster (3 masters + 3 replicas) on 127.0.0.1:7100–7105, for tests that
 * kill nodes: the shared development cluster on 7000–7005 is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/** A running private cluster: its ports, which node serves a key, and killing a node. */
export interface PrivateCluster {
  readonly ports: readonly number[];
  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): number;
  /** SIGKILLs the node on `port` (its replica is promoted after `cluster-node-timeout`). */
  kill(port: number): Promise<void>;
  /** Resolves once every slot is served again (cluster_state:ok seen from `port`). */
  waitOk(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the cluster (node timeout 1 s, so a failover takes about 1–2 s). */
export async function startPrivateCluster(basePort = 7100): Promise<PrivateCluster> {
  const ports = [0, 1, 2, 3, 4, 5].map((i) => basePort + i);
  const dir = mkdtempSync(join(tmpdir(), 'tf-cluster-'));
  const children = new Map<number, ChildProcess>();
  for (const port of ports) {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    children.set(port, child);
  }
  for (const port of ports) {
    for (let i = 0; i < 100 && cli(port, 'ping').trim() !== 'PONG'; i++) await sleep(50);
  }
  const created = spawnSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr}`);
  const waitOk = async (port: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (cli(port, 'cluster', 'info').includes('cluster_state:ok')) return;
      await sleep(100);
    }
    throw new Error(`private cluster not ok (seen from ${port}) within ${timeoutMs} ms`);
  };
  await waitOk(ports[0]!);
  // Replicas attached and synced (a replica that never synced cannot be promoted).
  for (let i = 0; i < 300; i++) {
    const synced = ports.filter((p) => cli(p, 'info', 'replication').includes('master_link_status:up'));
    if (synced.length >= 3) break;
    await sleep(100);
  }
  const kill = async (port: number) => {
    const child = children.get(port);
    children.delete(port);
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };
  return {
    ports,
    masterOf(key: string) {
      const slot = Number(
        cli(
          ports.find((p) => children.has(p))!,
          'cluster',
          'keyslot',
          key,
        ).trim(),
      );
      for (const line of cli(
        ports.find((p) => children.has(p))!,
        'cluster',
        'nodes',
      ).split('\n')) {
        const f = line.split(' ');
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
        for (const range of f.slice(8)) {
          const [a, b] = range.split('-').map(Number);
          if (slot >= a! && slot <= (b ?? a!)) return Number(f[1]!.split(':')[1]!.split('@')[0]);
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    kill,
    waitOk,
    async stop() {
      await Promise.all([...children.keys()].map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
