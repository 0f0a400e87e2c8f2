import { ContextLengthError } from './context-length-error';
import { formatCount } from './format';
import { InvalidOptionError } from '../validation/options';
import { defaultPriceTable, type PriceTable } from './price-table';

const fmt = formatCount;

/**
 * The context window of `model` in tokens (prompt plus output), from `table`.
 * @throws UnknownModelError when the model is not in the table.
 */
export function contextWindowOf(model: string, table: PriceTable = defaultPriceTable): number {
  return table.get(model).contextWindowTokens;
}

/**
 * Throws a {@link ContextLengthError} when a prompt of `promptTokens` with room for
 * `maxOutputTokens` of output cannot fit `model`: over its context window, its input limit or its
 * output limit. Call it before sending, so an oversized prompt fails fast instead of after a
 * queue wait and a provider round trip.
 * @param maxOutputTokens the output tokens requested (`max_tokens`); 0 checks the prompt alone.
 * @throws UnknownModelError when the model is not in the table.
 */
export function assertFitsContext(
  model: string,
  promptTokens: number,
  maxOutputTokens = 0,
  table: PriceTable = defaultPriceTable,
): void {
  for (const [name, value] of [
    ['promptTokens', promptTokens],
    ['maxOutputTokens', maxOutputTokens],
  ] as const) {
    if (!(Number.isFinite(value) && value >= 0))
      throw new InvalidOptionError(name, `${name} must be a non-negative number, got ${String(value)}`);
  }
  const { model: key, price } = table.resolve(model);
  const window = price.contextWindowTokens;
  const base = { model, promptTokens, maxOutputTokens, contextWindowTokens: window };
  const named = key === model.toLowerCase() ? model : `${model} (${key})`;
  if (price.maxOutputTokens !== undefined && maxOutputTokens > price.maxOutputTokens) {
    throw new ContextLengthError({
      ...base,
      limitTokens: price.maxOutputTokens,
      excessTokens: maxOutputTokens - price.maxOutputTokens,
      message: `${named} returns at most ${fmt(price.maxOutputTokens)} output tokens, but ${fmt(maxOutputTokens)} were requested`,
    });
  }
  if (price.maxInputTokens !== undefined && promptTokens > price.maxInputTokens) {
    throw new ContextLengthError({
      ...base,
      limitTokens: price.maxInputTokens,
      excessTokens: promptTokens - price.maxInputTokens,
      message: `Prompt too long for ${named}: ${fmt(promptTokens)} prompt tokens > input limit of ${fmt(price.maxInputTokens)} tokens`,
    });
  }
  if (promptTokens + maxOutputTokens > window) {
    const output = maxOutputTokens > 0 ? ` + ${fmt(maxOutputTokens)} max output tokens` : '';
    throw new ContextLengthError({
      ...base,
      limitTokens: window,
      excessTokens: promptTokens + maxOutputTokens - window,
      message: `Prompt too long for ${named}: ${fmt(promptTokens)} prompt tokens${output} > context window of ${fmt(window)} tokens`,
    });
  }
}
