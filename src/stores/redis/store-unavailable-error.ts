import { isThrottleflowError, ThrottleflowError } from '../../errors/throttleflow-error';

/** Options of {@link StoreUnavailableError}. */
export interface StoreUnavailableErrorOptions {
  /** The store's address, e.g. `127.0.0.1:6379`. */
  address: string;
  /** What the store was asked to do, e.g. `acquire`. */
  operation: string;
  /**
   * The client's error (connection refused, timeout …).
   * @default undefined
   */
  cause?: unknown;
}

/**
 * The shared store (Redis) could not be reached, so a limit shared across processes cannot be
 * enforced. Thrown by `RedisStore` with `onStoreError: 'fail'` (the default) rather than letting
 * work through unlimited.
 */
export class StoreUnavailableError extends ThrottleflowError {
  override readonly name = 'StoreUnavailableError';
  declare readonly code: 'STORE_UNAVAILABLE';
  /** The store's address, e.g. `127.0.0.1:6379`. */
  readonly address: string;
  /** What the store was asked to do. */
  readonly operation: string;

  constructor(options: StoreUnavailableErrorOptions) {
    const reason = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'STORE_UNAVAILABLE',
      `Redis store at ${options.address} unavailable during ${options.operation}${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.address = options.address;
    this.operation = options.operation;
  }
}

/** Type guard for {@link StoreUnavailableError}; recognises instances from other copies of throttleflow. */
export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return isThrottleflowError(error, 'STORE_UNAVAILABLE');
}
