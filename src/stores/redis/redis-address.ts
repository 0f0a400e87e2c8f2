import type { Cluster, Redis } from 'ioredis';
import { isRecord } from '../../util/is-record';
import type { RedisClient } from './script-runner';

/** `host:port` (or socket path, or cluster nodes) of an ioredis client, for error messages. */
export function describeAddress(client: RedisClient): string {
  if (client.isCluster) {
    let nodes = (client as Cluster)
      .nodes('all')
      .map((n) => `${n.options.host ?? '127.0.0.1'}:${n.options.port ?? 6379}`);
    // Before its first connection a Cluster knows no nodes yet: name the ones it was given.
    if (nodes.length === 0) nodes = startupNodes(client as Cluster);
    return nodes.length > 0 ? `cluster ${nodes.join(',')}` : 'cluster';
  }
  const { host, port, path } = (client as Redis).options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

/** The `new Cluster(startupNodes)` argument as `host:port` strings (a private field: read defensively). */
function startupNodes(cluster: Cluster): string[] {
  const given = (cluster as unknown as { startupNodes?: unknown }).startupNodes;
  if (!Array.isArray(given)) return [];
  return given.flatMap((node: unknown) => {
    if (typeof node === 'number') return [`127.0.0.1:${node}`];
    if (typeof node === 'string') return [node.replace(/^rediss?:\/\/([^@/]*@)?/, '').replace(/\/.*$/, '')];
    if (isRecord(node)) {
      const { host, port } = node;
      return [`${typeof host === 'string' ? host : '127.0.0.1'}:${typeof port === 'number' ? port : 6379}`];
    }
    return [];
  });
}
