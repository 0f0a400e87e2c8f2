import { describeStoreContract } from '../store.contract';
import { redisStoreSetup } from './redis-store-setup';
import { describeRedis, openRedisTestEnv } from './redis-test-env';

describeStoreContract(
  'RedisStore (real Redis on 127.0.0.1:6379)',
  redisStoreSetup(() => openRedisTestEnv(import.meta.url)),
  { describe: describeRedis },
);
