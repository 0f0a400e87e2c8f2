import { brand, hasBrand } from './brand';

const BRAND = Symbol.for('throttleflow.QueueFullError');

/** An acquire found `maxQueued` acquires already waiting, so it was refused instead of queued. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  /** Stable code, for logs and `switch`es. */
  readonly code = 'QUEUE_FULL';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** The limiter's `maxQueued`. */
    readonly maxQueued: number,
  ) {
    super(`Limiter '${limiter}': ${maxQueued} acquires already wait (maxQueued), refusing another`);
    brand(this, BRAND);
  }
}

/** Type guard for {@link QueueFullError}; recognises instances from other copies of throttleflow too. */
export function isQueueFullError(error: unknown): error is QueueFullError {
  return error instanceof QueueFullError || hasBrand(error, BRAND);
}
