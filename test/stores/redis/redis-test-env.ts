/**
 * Shared setup for tests that need the real Redis on 127.0.0.1:6379.
 *
 * - Without Redis the suite is skipped with a visible warning, except under CI (`process.env.CI`),
 *   where a missing Redis must fail loudly instead of turning into a silent green run.
 * - Each test file gets its own key prefix and deletes every key under it afterwards, so files can
 *   run in parallel against one server and leave nothing behind.
 */
import { Redis } from 'ioredis';
import type { describe } from 'vitest';
import { openTestEnv, type TestEnv } from './open-test-env';
import { describeIfAvailable } from './service-gate';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;
export const REDIS_ADDRESS = `${REDIS_HOST}:${REDIS_PORT}`;

/** Options for a test client that fails fast instead of queueing commands while offline. */
export function testClientOptions() {
  return {
    host: REDIS_HOST,
    port: REDIS_PORT,
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 1,
  } as const;
}

/** Resolves true when a Redis answers PING on 127.0.0.1:6379 within a second. */
export async function redisReachable(): Promise<boolean> {
  const probe = new Redis({ ...testClientOptions(), retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const available = await redisReachable();

/** True when the real Redis answered. */
export const redisAvailable = available;

/** `describe` when Redis is reachable, `describe.skip` (after a console warning) when it is not. */
export const describeRedis: typeof describe = describeIfAvailable(available, {
  ciError: `Redis not reachable on ${REDIS_ADDRESS} and CI is set: Redis tests must run in CI (.ci/run starts one)`,
  skipWarning: `Redis not reachable on ${REDIS_ADDRESS}: skipping Redis tests`,
});

/** Deletes every key that starts with `prefix` (SCAN + UNLINK, so it never blocks the server). */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A connected client plus this file's prefix; `close()` deletes the prefix's keys and disconnects. */
export type RedisTestEnv = TestEnv<Redis>;

/** Connects to the test Redis with a fresh prefix for `file` (pass `import.meta.url` or `__filename`). */
export function openRedisTestEnv(file: string): Promise<RedisTestEnv> {
  return openTestEnv(file, () => new Redis(testClientOptions()), deleteKeysWithPrefix);
}
