import {
  asyncLocalStorageClass,
  provideAsyncLocalStorage,
  type AsyncContextStorage,
  type AsyncLocalStorageClass,
} from '../util/async-context';
import { InvalidOptionError } from '../validation/options';
import type { Lease } from './lease';

/**
 * A lease its holder offers to the first HTTP attempt made inside its work: a throttled node (or
 * `limiter.run`) holds a lease while `exec` runs, and a `throttledFetch` on the same limiter
 * inside it takes that lease for its first attempt instead of acquiring a second one, so the
 * attempt is counted once.
 *
 * Who releases it: the taker while it has it (a failed attempt the client may retry, a stream
 * until its body ends); an attempt that succeeded gives it back, and the holder releases it when
 * its work ends, as it would have without the taker. A lease given back is not offered again: a
 * second request in the same work is a second attempt and acquires its own.
 */
export class LeaseOffer {
  private state: 'open' | 'taken' | 'returned' = 'open';
  private holderDone = false;

  constructor(
    /** Who granted the lease: only a taker on the same limiter may take it. */
    readonly owner: object,
    readonly lease: Lease,
  ) {}

  /** Whether the lease can be taken now. @internal */
  get isOpen(): boolean {
    return this.state === 'open' && !this.holderDone && !this.lease.isReleased;
  }

  /** @internal */
  take(): Lease {
    this.state = 'taken';
    return this.lease;
  }

  /**
   * The taker is done with the lease: the holder releases it when its work ends. `false` when the
   * holder's work already ended (then the taker must release it).
   */
  giveBack(): boolean {
    if (this.holderDone) return false;
    this.state = 'returned';
    return true;
  }

  /** The holder's work ended: `true` when the holder must release the lease (it is not taken). */
  settle(): boolean {
    this.holderDone = true;
    return this.state !== 'taken';
  }
}

/**
 * Tells throttleflow which `AsyncLocalStorage` to use for the nested-lease hand-off (a throttled
 * node's lease covering the first HTTP attempt of a `throttledFetch` client inside its `exec`).
 * Needed only where throttleflow cannot find one by itself: it looks for a global
 * `AsyncLocalStorage`, then asks `process.getBuiltinModule('async_hooks')` (Node ≥ 20.16, Deno,
 * Bun). Call it once at start-up, before any limiter is used.
 *
 * @example
 * // Node 20.0–20.15, with AsyncLocalStorage imported from the built-in async_hooks module:
 * useAsyncLocalStorage(AsyncLocalStorage);
 * @category Calls
 */
export function useAsyncLocalStorage(storageClass: AsyncLocalStorageClass): void {
  if (typeof storageClass !== 'function') {
    throw new InvalidOptionError(
      'storageClass',
      `useAsyncLocalStorage expects the AsyncLocalStorage class, got ${storageClass === null ? 'null' : typeof storageClass}`,
    );
  }
  provideAsyncLocalStorage(storageClass);
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

/**
 * Whether any taker exists: until the first `throttledFetch` is made nothing can take a lease,
 * so no call pays for entering an async context (on Node 20 that turns on promise hooks, which
 * slow every promise of the process).
 */
let takersExist = false;

/** Called when a taker (a `throttledFetch`) is made: from then on leases are offered. */
export function enableLeaseOffers(): void {
  takersExist = true;
}

/**
 * `owner`'s offer of `lease` to the work it runs, or `undefined` while nothing could take it (no
 * `throttledFetch` exists yet): an offer would cost every call an object and a closure for nothing.
 */
export function offerLease(owner: object, lease: Lease): LeaseOffer | undefined {
  return takersExist ? new LeaseOffer(owner, lease) : undefined;
}

/** The holder's work ended: whether it releases the lease itself (always, when it made no offer). */
export function holderReleases(offer: LeaseOffer | undefined): boolean {
  return offer === undefined || offer.settle();
}

/** Runs `fn` with `offer` visible to every call it makes (when the runtime has an async context). */
export function withLeaseOffered<R>(offer: LeaseOffer, fn: () => R): R {
  const context = takersExist ? currentStorage() : undefined;
  return context ? context.run(offer, fn) : fn();
}

/**
 * The offer made to the current call by `owner`, taken (once): `undefined` when none is on
 * offer, it was taken already, it was released, or it belongs to another limiter.
 */
export function takeOfferedLease(owner: object): LeaseOffer | undefined {
  const offer = storage?.getStore();
  if (!(offer instanceof LeaseOffer) || offer.owner !== owner || !offer.isOpen) return undefined;
  offer.take();
  return offer;
}
