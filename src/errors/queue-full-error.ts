import { isThrottleflowError, ThrottleflowError } from './throttleflow-error';

/** An acquire found `maxQueued` acquires already waiting, so it was refused instead of queued. @category Errors */
export class QueueFullError extends ThrottleflowError {
  override readonly name = 'QueueFullError';
  declare readonly code: 'QUEUE_FULL';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    /** The limiter's `maxQueued`. */
    readonly maxQueued: number,
  ) {
    super(
      'QUEUE_FULL',
      `Limiter '${limiter}': ${maxQueued} acquires already wait (maxQueued), refusing another`,
    );
  }
}

/** Type guard for {@link QueueFullError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isQueueFullError(error: unknown): error is QueueFullError {
  return isThrottleflowError(error, 'QUEUE_FULL');
}
