import { isThrottleflowError, ThrottleflowError } from './throttleflow-error';

/** Work was refused because its limiter is draining (see `limiter.drain()`). @category Errors */
export class ShutdownError extends ThrottleflowError {
  override readonly name = 'ShutdownError';
  declare readonly code: 'SHUTDOWN';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    detail = 'it is draining',
  ) {
    super('SHUTDOWN', `Limiter '${limiter}' accepts no new work: ${detail}`);
  }
}

/** Type guard for {@link ShutdownError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isShutdownError(error: unknown): error is ShutdownError {
  return isThrottleflowError(error, 'SHUTDOWN');
}
