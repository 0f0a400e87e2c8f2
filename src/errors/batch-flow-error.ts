import { brandError, isThrottleflowError, type ThrottleflowError } from './throttleflow-error';

/** One sub-flow of a batch flow that did not finish. @category Errors */
export interface BatchFlowFailure<BatchParams = unknown> {
  /** Position of the param set in what `prep` returned. */
  index: number;
  /** The param set the sub-flow ran with. */
  params: BatchParams;
  /** Why it failed. */
  error: unknown;
}

/**
 * A throttled batch flow's sub-flows failed (or, after `failFast` or `stop()`, were never started): every
 * failed param set is listed in `failures` with its error, every unstarted one in `skipped`.
 * It is an `AggregateError`, so `errors` holds the underlying errors too, and a
 * {@link ThrottleflowError} by its brand.
 * @category Errors
 */
export class BatchFlowError<BatchParams = unknown> extends AggregateError implements ThrottleflowError {
  override readonly name = 'BatchFlowError';
  /** Stable code, for logs and `switch`es. */
  declare readonly code: 'BATCH_FLOW_FAILED';
  readonly failures: BatchFlowFailure<BatchParams>[];
  readonly skipped: { index: number; params: BatchParams }[];

  constructor(
    flowName: string,
    total: number,
    failures: BatchFlowFailure<BatchParams>[],
    skipped: { index: number; params: BatchParams }[] = [],
  ) {
    const first = failures[0];
    const firstMessage = first ? `; first: #${first.index} ${describeError(first.error)}` : '';
    const skippedNote = skipped.length ? `, ${skipped.length} not started` : '';
    super(
      failures.map((f) => f.error),
      `${flowName}: ${failures.length} of ${total} sub-flows failed${skippedNote}${firstMessage}`,
    );
    brandError(this, 'BATCH_FLOW_FAILED');
    this.failures = failures;
    this.skipped = skipped;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Type guard for {@link BatchFlowError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isBatchFlowError(error: unknown): error is BatchFlowError {
  return isThrottleflowError(error, 'BATCH_FLOW_FAILED');
}
