/**
 * Starting throwaway Redis Cluster nodes on 127.0.0.1: shared by the tests' private clusters and
 * the bench's. No test framework here, so the bench can run it under plain `tsx`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `redis-cli -p port …args`; its output, or '' when it failed. */
export function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts a cluster-enabled `redis-server` on `port`, without persistence, its cluster config in
 * `dir`; `extraArgs` are appended (e.g. `--cluster-node-timeout 1000`).
 */
export function spawnClusterNode(port: number, dir: string, extraArgs: string[] = []): ChildProcess {
  return spawn(
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
      '--save',
      '',
      '--appendonly',
      'no',
      ...extraArgs,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
}

/** Resolves once the node on `port` answers PING (or after 5 s: the caller's next step then fails). */
export async function waitForPong(port: number): Promise<void> {
  for (let i = 0; i < 100 && redisCli(port, 'ping').trim() !== 'PONG'; i++) await sleep(50);
}

/** Joins the nodes on `ports` into one cluster with `replicas` replicas per master (throws when it fails). */
export function createCluster(ports: readonly number[], replicas: number): void {
  const created = spawnSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) {
    throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
  }
}
