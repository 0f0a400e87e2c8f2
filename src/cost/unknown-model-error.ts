import { isThrottleflowError, ThrottleflowError } from '../errors/throttleflow-error';

/**
 * Thrown when a model is not in the price table, instead of pricing it at a silent zero.
 * The message names the model, the closest known names and how to add it.
 */
export class UnknownModelError extends ThrottleflowError {
  override readonly name = 'UnknownModelError';
  declare readonly code: 'UNKNOWN_MODEL';
  /** The model name as it was asked for. */
  readonly model: string;
  /** Known model names close to {@link model}, closest first (may be empty). */
  readonly suggestions: readonly string[];

  constructor(model: string, suggestions: readonly string[]) {
    const close = suggestions.length > 0 ? ` Close names: ${suggestions.join(', ')}.` : '';
    super(
      'UNKNOWN_MODEL',
      `Unknown model '${model}': it is not in the price table.${close} ` +
        `Add it with definePrices({ '${model}': { inputUsdPerMillion, outputUsdPerMillion, contextWindowTokens } }).`,
    );
    this.model = model;
    this.suggestions = Object.freeze([...suggestions]);
  }
}

/** Type guard for {@link UnknownModelError}; recognises instances from other copies of throttleflow too. */
export function isUnknownModelError(error: unknown): error is UnknownModelError {
  return isThrottleflowError(error, 'UNKNOWN_MODEL');
}
