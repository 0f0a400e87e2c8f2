import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './script-runner';

/** `host:port` (or socket path, or cluster nodes) of an ioredis client, for error messages. */
export function describeAddress(client: RedisClient): string {
  if (client.isCluster) {
    const nodes = (client as Cluster).nodes('all').map((n) => `${n.options.host ?? '127.0.0.1'}:${n.options.port ?? 6379}`);
    return nodes.length > 0 ? `cluster ${nodes.join(',')}` : 'cluster';
  }
  const { host, port, path } = (client as Redis).options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}
