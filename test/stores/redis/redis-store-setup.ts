/** The store-contract setup shared by the single-Redis and cluster contract tests. */
import type { Cluster, Redis } from 'ioredis';
import { RedisStore } from '../../../src/stores/redis/index';
import type { StoreContractSetup } from '../store.contract';
import type { TestEnv } from './open-test-env';

/** A setup that opens an env with `openEnv` and a RedisStore on it; cleanup closes both. */
export function redisStoreSetup<Client extends Redis | Cluster>(
  openEnv: () => Promise<TestEnv<Client>>,
): () => Promise<StoreContractSetup> {
  return async () => {
    const env = await openEnv();
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await env.close();
      },
    };
  };
}
