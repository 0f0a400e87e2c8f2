/**
 * `throttleflow/redis`: limits shared across processes through Redis (needs ioredis).
 * @module throttleflow/redis
 */
export { RedisStore, type OnStoreError, type RedisStoreEvents, type RedisStoreOptions } from './redis-store';
export {
  isStoreUnavailableError,
  StoreUnavailableError,
  type StoreUnavailableErrorOptions,
} from './store-unavailable-error';
export { LimiterKeys, type WindowKeyParts } from './keys';
export type { RedisClient } from './script-runner';
