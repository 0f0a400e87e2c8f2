/**
 * `throttleflow/stores`: the store contract a limiter keeps its shared state in, and the in-memory store.
 * Redis is at `throttleflow/redis`.
 * @module throttleflow/stores
 */
export type {
  MaybePromise,
  Store,
  StoreHandle,
  StoreSnapshot,
  TryAcquireRequest,
  TryAcquireResult,
  ReleaseRequest,
  RefusalReason,
  WindowSpec,
} from './store';
export { MemoryStore, type MemoryStoreHandle } from './memory-store';
