import { formatValue, InvalidOptionError } from '../validation/options';

/**
 * The BullMQ job id of param set `index` of run `runId`. Deterministic, so adding the same run
 * again finds the jobs already there (BullMQ ignores an add whose id exists) instead of doubling them.
 */
export function jobIdFor(runId: string, index: number): string {
  return `${runId}-${index}`;
}

/** Throws unless `runId` can be part of a BullMQ job id (non-empty, no `:`, which BullMQ rejects). */
export function assertRunId(runId: unknown, subject: string): asserts runId is string {
  if (typeof runId !== 'string' || runId.length === 0) {
    throw new InvalidOptionError(
      'runId',
      `${subject}: runId must be a non-empty string, got ${formatValue(runId)}`,
    );
  }
  if (runId.includes(':')) {
    throw new InvalidOptionError(
      'runId',
      `${subject}: runId must not contain ':' (BullMQ uses it in its keys and rejects it in job ids), got ${formatValue(runId)}`,
    );
  }
}
