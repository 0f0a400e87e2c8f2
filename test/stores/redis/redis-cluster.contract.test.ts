import { describeStoreContract } from '../store.contract';
import { describeCluster, openClusterTestEnv } from './cluster-test-env';
import { redisStoreSetup } from './redis-store-setup';

describeStoreContract(
  'RedisStore on a Redis Cluster (127.0.0.1:7000–7005)',
  redisStoreSetup(() => openClusterTestEnv(import.meta.url)),
  { describe: describeCluster },
);
