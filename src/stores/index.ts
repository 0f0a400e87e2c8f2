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
export { MemoryStore } from './memory-store';
