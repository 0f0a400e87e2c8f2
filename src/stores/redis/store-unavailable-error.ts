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
    const cause = describeCause(options.cause);
    const reason = cause ? `: ${cause}` : '';
    super(
      'STORE_UNAVAILABLE',
      `Redis store at ${options.address} unavailable during ${options.operation}${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.address = options.address;
    this.operation = options.operation;
  }
}

/**
 * The client's error in a few words: its errno code (`ECONNREFUSED`, `ENOTFOUND` …) and message.
 * Node reports a refused `localhost` (tried over IPv6 and IPv4) as an AggregateError with an empty
 * message, and a Cluster that reached no node as ClusterAllFailedError: their inner errors say why.
 */
export function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return '';
  const code = (cause as { code?: unknown }).code;
  let text = cause.message;
  const inner = cause instanceof AggregateError ? cause.errors : [];
  if (!text && inner.length > 0) text = [...new Set(inner.map(describeCause).filter(Boolean))].join('; ');
  if (typeof code === 'string' && code && !text.includes(code)) text = text ? `${code} (${text})` : code;
  const lastNodeError = (cause as { lastNodeError?: unknown }).lastNodeError;
  if (lastNodeError instanceof Error) text += ` (last node error: ${describeCause(lastNodeError)})`;
  return text;
}

/** Type guard for {@link StoreUnavailableError}; recognises instances from other copies of throttleflow. */
export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return isThrottleflowError(error, 'STORE_UNAVAILABLE');
}
