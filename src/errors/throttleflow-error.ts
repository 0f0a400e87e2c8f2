import { isRecord } from '../util/is-record';

/**
 * The stable `code` of every error throttleflow throws, one per class. Codes never change between
 * versions, so they are safe in logs, metrics and `switch`es. A newer copy of the package may add
 * codes, so keep a `default` branch.
 * @category Errors
 */
export type ThrottleflowErrorCode =
  | 'RATE_LIMIT_HIT'
  | 'QUOTA_EXHAUSTED'
  | 'LIMITER_TIMEOUT'
  | 'LIMIT_EXCEEDED'
  | 'SHUTDOWN'
  | 'QUEUE_FULL'
  | 'BATCH_FLOW_FAILED'
  | 'INVALID_OPTION'
  | 'CIRCUIT_OPEN'
  | 'TIMEOUT'
  | 'FALLBACK_EXHAUSTED'
  | 'BUDGET_EXCEEDED'
  | 'CONTEXT_LENGTH'
  | 'UNKNOWN_MODEL'
  | 'STORE_UNAVAILABLE'
  | 'PROVIDER_HTTP';

// `Symbol.for` is shared by every copy of the package in a process (a CJS and an ESM build side
// by side, or two installed versions), where `instanceof` only knows its own copy's classes.
// The value is the error's code, so one key serves every class.
const BRAND = Symbol.for('throttleflow.error');

/**
 * Gives `error` its `code` and the brand the guards check. Every throttleflow error class calls
 * it from its constructor: {@link ThrottleflowError} for its subclasses, and the classes that
 * extend a built-in (`TypeError`, `RangeError`, `AggregateError`) directly.
 * @internal
 */
export function brandError(error: Error, code: ThrottleflowErrorCode): void {
  (error as { code?: string }).code = code;
  // Non-enumerable, so it stays out of JSON, `Object.keys` and test snapshots.
  Object.defineProperty(error, BRAND, { value: code });
}

/**
 * Whether `error` is a throttleflow error (with the given `code`, when one is passed). Checks the
 * brand every throttleflow error carries, not the prototype chain, so it recognises errors from
 * another copy of the package too. Each class's own guard (`isRateLimitHit`, …) is this with its
 * code.
 *
 * @example
 * if (isThrottleflowError(error, 'QUEUE_FULL')) retryLater();
 * else if (isThrottleflowError(error)) log.warn(error.code, error.message);
 * @category Errors
 */
export function isThrottleflowError(error: unknown): error is ThrottleflowError;
export function isThrottleflowError<C extends ThrottleflowErrorCode>(
  error: unknown,
  code: C,
): error is ThrottleflowError & { readonly code: C };
export function isThrottleflowError(error: unknown, code?: ThrottleflowErrorCode): boolean {
  if (!isRecord(error)) return false;
  const branded = (error as Record<symbol, unknown>)[BRAND];
  return code === undefined ? typeof branded === 'string' : branded === code;
}

/**
 * The base of throttleflow's errors: each has a stable {@link ThrottleflowErrorCode} `code` and a
 * `name` of its own. Most extend this class; those where a built-in says more
 * (`InvalidOptionError` is a `TypeError`, `LimitExceededError` and `ContextLengthError` are
 * `RangeError`s, `BatchFlowError` and `FallbackExhaustedError` are `AggregateError`s) extend that
 * built-in and carry the same code and brand.
 *
 * `error instanceof ThrottleflowError` is true for all of them, also for errors from another copy
 * of the package: it is {@link isThrottleflowError}. `instanceof` a concrete class (e.g.
 * `QueueFullError`) stays the ordinary prototype check; its guard (`isQueueFullError`) also works
 * across copies.
 * @category Errors
 */
export abstract class ThrottleflowError extends Error {
  override readonly name: string = 'ThrottleflowError';
  /** Stable code naming the kind of error, for logs and `switch`es. */
  declare readonly code: ThrottleflowErrorCode;

  protected constructor(code: ThrottleflowErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    brandError(this, code);
  }

  /** Brand check for the base class, so built-in-based errors and other copies' errors pass. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses inherit this static: keep `instanceof QueueFullError` the plain prototype check.
    if (this !== ThrottleflowError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isThrottleflowError(value);
  }
}
