import { asyncLocalStorageClass, type AsyncContextStorage } from '../util/async-context';
import type { Lease } from './lease';

/**
 * A lease its holder offers to the first HTTP attempt made inside its work: a throttled node (or
 * `limiter.run`) holds a lease while `exec` runs, and a `throttledFetch` on the same limiter
 * inside it takes that lease for its first attempt instead of acquiring a second one, so the
 * attempt is counted once. The taker then owns the lease (releases it when its response ends);
 * the holder must not release it.
 */
export class LeaseOffer {
  private taken = false;

  constructor(
    /** Who granted the lease: only a taker on the same limiter may take it. */
    readonly owner: object,
    readonly lease: Lease,
  ) {}

  /** Whether a nested call took the lease (then the nested call releases it). */
  get isTaken(): boolean {
    return this.taken;
  }

  /** @internal */
  take(): Lease {
    this.taken = true;
    return this.lease;
  }
}

let storage: AsyncContextStorage<unknown> | undefined;
let storageFrom: unknown;

function currentStorage(): AsyncContextStorage<unknown> | undefined {
  const storageClass = asyncLocalStorageClass();
  if (storageClass !== storageFrom) {
    storageFrom = storageClass;
    storage = storageClass ? new storageClass() : undefined;
  }
  return storage;
}

/** Runs `fn` with `offer` visible to every call it makes (when the runtime has an async context). */
export function withLeaseOffered<R>(offer: LeaseOffer, fn: () => R): R {
  const context = currentStorage();
  return context ? context.run(offer, fn) : fn();
}

/**
 * The lease offered to the current call by `owner`, taken (once): `undefined` when none is on
 * offer, it was taken already, it was released, or it belongs to another limiter.
 */
export function takeOfferedLease(owner: object): Lease | undefined {
  const offer = storage?.getStore();
  if (!(offer instanceof LeaseOffer) || offer.owner !== owner || offer.isTaken || offer.lease.isReleased) {
    return undefined;
  }
  return offer.take();
}
