/**
 * The per-file test environment shared by the single-Redis and cluster tests: a connected client,
 * a key prefix of the file's own, more clients on demand, and a `close()` that deletes the prefix's
 * keys and closes every client.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/** A unique prefix for one test file's keys: `tf-test:<file>:<pid>:<random>:`. */
export function uniquePrefix(file: string): string {
  const tag = basename(file)
    .replace(/\.[cm]?[jt]s$/, '')
    .replace(/[^A-Za-z0-9_-]/g, '_');
  return `tf-test:${tag}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A connected client plus this file's prefix; `close()` deletes the prefix's keys and disconnects. */
export interface TestEnv<Client extends Redis | Cluster> {
  readonly client: Client;
  readonly prefix: string;
  /** Opens another connection (for a second "process" in one test, or a subscriber). */
  newClient(): Client;
  /** Deletes this file's keys and closes every client opened through this env. */
  close(): Promise<void>;
}

/**
 * Connects a first client from `createClient` (a lazy one) with a fresh prefix for `file`;
 * `deleteKeys` removes the prefix's keys on close.
 */
export async function openTestEnv<Client extends Redis | Cluster>(
  file: string,
  createClient: () => Client,
  deleteKeys: (client: Client, prefix: string) => Promise<number>,
): Promise<TestEnv<Client>> {
  const prefix = uniquePrefix(file);
  const clients: Client[] = [];
  const newClient = () => {
    const c = createClient();
    clients.push(c);
    return c;
  };
  const client = newClient();
  await client.connect();
  return {
    client,
    prefix,
    newClient,
    async close() {
      try {
        await deleteKeys(client, prefix);
      } finally {
        await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      }
    },
  };
}
