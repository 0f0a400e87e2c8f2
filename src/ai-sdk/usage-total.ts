import { isRecord } from '../util/is-record';

/**
 * Total tokens of an AI SDK usage object, or `undefined` when it reports none: AI SDK 5's flat
 * `{ inputTokens, outputTokens, totalTokens }`, or 6's and 7's nested
 * `{ inputTokens: { total, … }, outputTokens: { total, … } }`.
 */
export function aiSdkUsageTotal(usage: unknown): number | undefined {
  if (!isRecord(usage)) return undefined;
  const stated = count(usage.totalTokens);
  if (stated !== undefined) return stated;
  const input = count(usage.inputTokens);
  const output = count(usage.outputTokens);
  if (input === undefined && output === undefined) return undefined;
  return (input ?? 0) + (output ?? 0);
}

function count(value: unknown): number | undefined {
  const n = isRecord(value) ? value.total : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Input (prompt) tokens of an AI SDK usage object, flat or nested; `undefined` when not reported. */
export function aiSdkInputTokens(usage: unknown): number | undefined {
  return isRecord(usage) ? count(usage.inputTokens) : undefined;
}
