import { estimateChatCall, type CallEstimate } from '../cost/call-spend';
import { ContextLengthError } from '../cost/context-length-error';
import type { PriceTable } from '../cost/price-table';
import type { FallbackTarget } from './fallback-target';

/**
 * A target's context window in tokens: its own `contextWindowTokens`, else its `model`'s in
 * `prices`; undefined when neither is known (calls are not checked against it).
 */
export function contextWindowOfTarget(
  target: Pick<FallbackTarget<unknown, unknown>, 'model' | 'contextWindowTokens'>,
  prices: PriceTable,
): number | undefined {
  if (target.contextWindowTokens !== undefined) return target.contextWindowTokens;
  if (target.model === undefined) return undefined;
  return prices.find(target.model)?.price.contextWindowTokens;
}

/**
 * The prompt and output tokens of a call: the chain's `estimateCall`, else the estimate of a chat
 * request or messages array; undefined for any other item (or an estimate that throws).
 */
export function estimateCallTokens(
  item: unknown,
  estimateCall: ((item: unknown) => CallEstimate | undefined) | undefined,
): CallEstimate | undefined {
  try {
    const estimate = estimateCall ? estimateCall(item) : estimateChatCall(item);
    if (estimate === undefined) return undefined;
    const { inputTokens, outputTokens } = estimate;
    return Number.isFinite(inputTokens) && Number.isFinite(outputTokens) ? estimate : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a call of `estimate` fits `windowTokens` (an unknown call or window always fits). */
export function fitsContext(windowTokens: number | undefined, estimate: CallEstimate | undefined): boolean {
  if (windowTokens === undefined || estimate === undefined) return true;
  return estimate.inputTokens + estimate.outputTokens <= windowTokens;
}

/** The error for a call that fits no target's window: measured against the largest one. */
export function noTargetFits(
  chain: string,
  estimate: CallEstimate,
  targets: readonly { name: string; model?: string; windowTokens: number }[],
): ContextLengthError {
  const largest = targets.reduce((a, b) => (b.windowTokens > a.windowTokens ? b : a));
  const total = estimate.inputTokens + estimate.outputTokens;
  const names = targets.map((t) => `${t.name} ${t.windowTokens}`).join(', ');
  return new ContextLengthError({
    model: largest.model ?? largest.name,
    promptTokens: estimate.inputTokens,
    maxOutputTokens: estimate.outputTokens,
    contextWindowTokens: largest.windowTokens,
    limitTokens: largest.windowTokens,
    excessTokens: total - largest.windowTokens,
    message: `Fallback chain '${chain}': ${estimate.inputTokens} prompt tokens + ${estimate.outputTokens} max output tokens fit no target's context window (${names})`,
  });
}
