import { RedisStore } from '../../../src/stores/redis/index';
import { describeStoreContract } from '../store.contract';
import { describeRedis, openRedisTestEnv } from './redis-test-env';

describeStoreContract(
  'RedisStore (real Redis on 127.0.0.1:6379)',
  async () => {
    const env = await openRedisTestEnv(import.meta.url);
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await env.close();
      },
    };
  },
  { describe: describeRedis },
);
