/** Work was refused because its limiter (or flow) is draining or stopped. */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
  readonly code = 'SHUTDOWN';
  constructor(readonly limiter: string, detail = 'it is draining') {
    super(`Limiter '${limiter}' accepts no new work: ${detail}`);
  }
}

/** Type guard for {@link ShutdownError}. */
export function isShutdownError(error: unknown): error is ShutdownError {
  return error instanceof ShutdownError;
}
