/**
 * `throttleflow/redis`: limits shared across processes through Redis (needs ioredis).
 * @module throttleflow/redis
 */
export { RedisStore, type RedisStoreEvents } from './redis-store';
export type { OnStoreError, RedisStoreOptions } from './redis-store-options';
export {
  isStoreUnavailableError,
  StoreUnavailableError,
  type StoreUnavailableErrorOptions,
} from './store-unavailable-error';
export { LimiterKeys, type WindowKeyParts } from './keys';
export type { RedisClient } from './script-runner';
