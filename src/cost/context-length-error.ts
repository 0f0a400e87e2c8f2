import { brandError, isThrottleflowError, type ThrottleflowError } from '../errors/throttleflow-error';

/**
 * Thrown before sending a prompt that cannot fit the model: prompt plus requested output above
 * the context window, the prompt above the model's input limit, or the requested output above
 * its output limit. Carries the numbers so a caller can trim and retry. A `RangeError` (the
 * request is out of the model's range), and a {@link ThrottleflowError} by its brand.
 */
export class ContextLengthError extends RangeError implements ThrottleflowError {
  override readonly name = 'ContextLengthError';
  /** Stable code, for logs and `switch`es. */
  declare readonly code: 'CONTEXT_LENGTH';
  /** The model as it was asked for. */
  readonly model: string;
  /** Tokens of the prompt. */
  readonly promptTokens: number;
  /** Output tokens requested (`max_tokens`). */
  readonly maxOutputTokens: number;
  /** The model's context window. */
  readonly contextWindowTokens: number;
  /** The limit that was passed (the window, or the model's input or output limit). */
  readonly limitTokens: number;
  /** By how many tokens the request is over {@link limitTokens}. */
  readonly excessTokens: number;

  constructor(init: {
    model: string;
    promptTokens: number;
    maxOutputTokens: number;
    contextWindowTokens: number;
    limitTokens: number;
    excessTokens: number;
    message: string;
  }) {
    super(init.message);
    brandError(this, 'CONTEXT_LENGTH');
    this.model = init.model;
    this.promptTokens = init.promptTokens;
    this.maxOutputTokens = init.maxOutputTokens;
    this.contextWindowTokens = init.contextWindowTokens;
    this.limitTokens = init.limitTokens;
    this.excessTokens = init.excessTokens;
  }
}

/** Type guard for {@link ContextLengthError}; recognises instances from other copies of throttleflow too. */
export function isContextLengthError(error: unknown): error is ContextLengthError {
  return isThrottleflowError(error, 'CONTEXT_LENGTH');
}
