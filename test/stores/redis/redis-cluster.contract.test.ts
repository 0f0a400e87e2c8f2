import { RedisStore } from '../../../src/stores/redis/index';
import { describeStoreContract } from '../store.contract';
import { describeCluster, openClusterTestEnv } from './cluster-test-env';

describeStoreContract(
  'RedisStore on a Redis Cluster (127.0.0.1:7000–7005)',
  async () => {
    const env = await openClusterTestEnv(import.meta.url);
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await env.close();
      },
    };
  },
  { describe: describeCluster },
);
