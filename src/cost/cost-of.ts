import { defaultPriceTable, type PriceTable } from './price-table';
import { normalizeUsage, type UsageLike } from './usage';

/**
 * The cost in US dollars of one call to `model` with the given `usage` (OpenAI, Anthropic,
 * Gemini or camelCase shape, or a response carrying one), at the list prices of `table`.
 * Cached input is billed at the model's cache rate, and a model's long-context rates apply to
 * the whole call once the prompt passes their threshold.
 * @throws UnknownModelError when the model is not in the table (never a silent zero).
 */
export function costOf(model: string, usage: UsageLike, table: PriceTable = defaultPriceTable): number {
  const price = table.get(model);
  const u = normalizeUsage(usage);
  const long =
    price.longContext !== undefined && u.inputTokens > price.longContext.aboveInputTokens
      ? price.longContext
      : undefined;
  const inputRate = long?.inputUsdPerMillion ?? price.inputUsdPerMillion;
  const outputRate = long?.outputUsdPerMillion ?? price.outputUsdPerMillion;
  const cachedRate = (long ? long.cachedInputUsdPerMillion : price.cachedInputUsdPerMillion) ?? inputRate;
  const writeRate = (long ? long.cacheWriteUsdPerMillion : price.cacheWriteUsdPerMillion) ?? inputRate;
  const uncachedInput = u.inputTokens - u.cachedInputTokens - u.cacheWriteInputTokens;
  return (
    (uncachedInput * inputRate +
      u.cachedInputTokens * cachedRate +
      u.cacheWriteInputTokens * writeRate +
      u.outputTokens * outputRate) /
    1_000_000
  );
}
