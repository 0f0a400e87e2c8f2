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
