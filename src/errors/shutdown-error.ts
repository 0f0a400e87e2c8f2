import { brand, hasBrand } from './brand';

const BRAND = Symbol.for('throttleflow.ShutdownError');

/** Work was refused because its limiter is draining (see `limiter.drain()`). */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
  /** Stable code, for logs and `switch`es. */
  readonly code = 'SHUTDOWN';

  constructor(
    /** The limiter's name. */
    readonly limiter: string,
    detail = 'it is draining',
  ) {
    super(`Limiter '${limiter}' accepts no new work: ${detail}`);
    brand(this, BRAND);
  }
}

/** Type guard for {@link ShutdownError}; recognises instances from other copies of throttleflow too. */
export function isShutdownError(error: unknown): error is ShutdownError {
  return error instanceof ShutdownError || hasBrand(error, BRAND);
}
