/** Higher rates a model charges once the prompt passes a size (Gemini Pro, Claude Sonnet's 1M beta). */
export interface LongContextPrice {
  /** The higher rates apply when the prompt (all input tokens) exceeds this many tokens. */
  aboveInputTokens: number;
  /** USD per million input tokens above the threshold. */
  inputUsdPerMillion: number;
  /** USD per million output tokens above the threshold. */
  outputUsdPerMillion: number;
  /**
   * USD per million cached input tokens above the threshold.
   * @default the long-context `inputUsdPerMillion`
   */
  cachedInputUsdPerMillion?: number;
  /**
   * USD per million cache-write input tokens above the threshold.
   * @default the long-context `inputUsdPerMillion`
   */
  cacheWriteUsdPerMillion?: number;
}

/** List prices and limits of one model. Prices in US dollars per million tokens. */
export interface ModelPrice {
  /** USD per million input (prompt) tokens. */
  inputUsdPerMillion: number;
  /** USD per million output (completion) tokens, reasoning tokens included. */
  outputUsdPerMillion: number;
  /**
   * USD per million input tokens read from the provider's prompt cache.
   * @default inputUsdPerMillion (never cheaper than listed when unknown)
   */
  cachedInputUsdPerMillion?: number;
  /**
   * USD per million input tokens written to the prompt cache (Anthropic bills 1.25× input).
   * @default inputUsdPerMillion
   */
  cacheWriteUsdPerMillion?: number;
  /** Context window: prompt plus output tokens must fit in it. */
  contextWindowTokens: number;
  /**
   * Most output tokens one response may have.
   * @default unlimited within the context window
   */
  maxOutputTokens?: number;
  /**
   * Most prompt tokens, where that is below the context window (GPT-5: 272k of 400k).
   * @default the context window
   */
  maxInputTokens?: number;
  /**
   * Rates above a prompt-size threshold.
   * @default none (one rate for every prompt size)
   */
  longContext?: LongContextPrice;
  /**
   * Who serves the model, for display.
   * @default undefined
   */
  provider?: string;
}

/**
 * When the table's list prices were taken from the providers' public pricing pages. Prices change:
 * check the provider's page before relying on a figure, and override with `definePrices`.
 */
export const PRICES_AS_OF = '2025-11';

const openai = (p: Omit<ModelPrice, 'provider'>): ModelPrice => ({ ...p, provider: 'openai' });
const anthropic = (p: Omit<ModelPrice, 'provider'>): ModelPrice => ({ ...p, provider: 'anthropic' });
const google = (p: Omit<ModelPrice, 'provider'>): ModelPrice => ({ ...p, provider: 'google' });
const mistral = (p: Omit<ModelPrice, 'provider'>): ModelPrice => ({ ...p, provider: 'mistral' });

// Anthropic's prompt cache: reads cost 0.1× input, 5-minute writes 1.25× input.
const claude = (
  inputUsdPerMillion: number,
  outputUsdPerMillion: number,
  maxOutputTokens: number,
  longContext?: LongContextPrice,
): ModelPrice =>
  anthropic({
    inputUsdPerMillion,
    outputUsdPerMillion,
    cachedInputUsdPerMillion: round(inputUsdPerMillion * 0.1),
    cacheWriteUsdPerMillion: round(inputUsdPerMillion * 1.25),
    contextWindowTokens: 200_000,
    maxOutputTokens,
    ...(longContext ? { longContext } : {}),
  });

// Sonnet 4 / 4.5 with the 1M-context beta bill prompts over 200k at $6 / $22.50.
const SONNET_LONG_CONTEXT: LongContextPrice = {
  aboveInputTokens: 200_000,
  inputUsdPerMillion: 6,
  outputUsdPerMillion: 22.5,
  cachedInputUsdPerMillion: 0.6,
  cacheWriteUsdPerMillion: 7.5,
};

function freezeAll<T extends Record<string, ModelPrice>>(table: T): Readonly<T> {
  for (const price of Object.values(table)) {
    if (price.longContext) Object.freeze(price.longContext);
    Object.freeze(price);
  }
  return Object.freeze(table);
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

const GPT5_LIMITS = { contextWindowTokens: 400_000, maxInputTokens: 272_000, maxOutputTokens: 128_000 };
const GPT41_LIMITS = { contextWindowTokens: 1_047_576, maxOutputTokens: 32_768 };
const O_SERIES_LIMITS = { contextWindowTokens: 200_000, maxOutputTokens: 100_000 };
const GEMINI_1M = 1_048_576;

/**
 * List prices (USD per million tokens, standard tier, no batch discount) and limits, as of
 * {@link PRICES_AS_OF}. Keys are base model names; dated or versioned names
 * (`gpt-4o-2024-08-06`, `claude-3-5-haiku-20241022`, `gemini-2.0-flash-001`) resolve to them.
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, Readonly<ModelPrice>>> = freezeAll({
  // OpenAI — https://openai.com/api/pricing
  'gpt-5': openai({
    inputUsdPerMillion: 1.25,
    cachedInputUsdPerMillion: 0.125,
    outputUsdPerMillion: 10,
    ...GPT5_LIMITS,
  }),
  'gpt-5-mini': openai({
    inputUsdPerMillion: 0.25,
    cachedInputUsdPerMillion: 0.025,
    outputUsdPerMillion: 2,
    ...GPT5_LIMITS,
  }),
  'gpt-5-nano': openai({
    inputUsdPerMillion: 0.05,
    cachedInputUsdPerMillion: 0.005,
    outputUsdPerMillion: 0.4,
    ...GPT5_LIMITS,
  }),
  'gpt-5-pro': openai({
    inputUsdPerMillion: 15,
    outputUsdPerMillion: 120,
    contextWindowTokens: 400_000,
    maxOutputTokens: 272_000,
  }),
  'gpt-5-chat': openai({
    inputUsdPerMillion: 1.25,
    cachedInputUsdPerMillion: 0.125,
    outputUsdPerMillion: 10,
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
  }),
  'gpt-4.1': openai({
    inputUsdPerMillion: 2,
    cachedInputUsdPerMillion: 0.5,
    outputUsdPerMillion: 8,
    ...GPT41_LIMITS,
  }),
  'gpt-4.1-mini': openai({
    inputUsdPerMillion: 0.4,
    cachedInputUsdPerMillion: 0.1,
    outputUsdPerMillion: 1.6,
    ...GPT41_LIMITS,
  }),
  'gpt-4.1-nano': openai({
    inputUsdPerMillion: 0.1,
    cachedInputUsdPerMillion: 0.025,
    outputUsdPerMillion: 0.4,
    ...GPT41_LIMITS,
  }),
  'gpt-4o': openai({
    inputUsdPerMillion: 2.5,
    cachedInputUsdPerMillion: 1.25,
    outputUsdPerMillion: 10,
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
  }),
  // The first gpt-4o snapshot kept its launch price.
  'gpt-4o-2024-05-13': openai({
    inputUsdPerMillion: 5,
    outputUsdPerMillion: 15,
    contextWindowTokens: 128_000,
    maxOutputTokens: 4_096,
  }),
  'chatgpt-4o-latest': openai({
    inputUsdPerMillion: 5,
    outputUsdPerMillion: 15,
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
  }),
  'gpt-4o-mini': openai({
    inputUsdPerMillion: 0.15,
    cachedInputUsdPerMillion: 0.075,
    outputUsdPerMillion: 0.6,
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
  }),
  o1: openai({
    inputUsdPerMillion: 15,
    cachedInputUsdPerMillion: 7.5,
    outputUsdPerMillion: 60,
    ...O_SERIES_LIMITS,
  }),
  'o1-mini': openai({
    inputUsdPerMillion: 1.1,
    cachedInputUsdPerMillion: 0.55,
    outputUsdPerMillion: 4.4,
    contextWindowTokens: 128_000,
    maxOutputTokens: 65_536,
  }),
  'o1-pro': openai({ inputUsdPerMillion: 150, outputUsdPerMillion: 600, ...O_SERIES_LIMITS }),
  o3: openai({
    inputUsdPerMillion: 2,
    cachedInputUsdPerMillion: 0.5,
    outputUsdPerMillion: 8,
    ...O_SERIES_LIMITS,
  }),
  'o3-pro': openai({ inputUsdPerMillion: 20, outputUsdPerMillion: 80, ...O_SERIES_LIMITS }),
  'o3-mini': openai({
    inputUsdPerMillion: 1.1,
    cachedInputUsdPerMillion: 0.55,
    outputUsdPerMillion: 4.4,
    ...O_SERIES_LIMITS,
  }),
  'o4-mini': openai({
    inputUsdPerMillion: 1.1,
    cachedInputUsdPerMillion: 0.275,
    outputUsdPerMillion: 4.4,
    ...O_SERIES_LIMITS,
  }),
  'gpt-4-turbo': openai({
    inputUsdPerMillion: 10,
    outputUsdPerMillion: 30,
    contextWindowTokens: 128_000,
    maxOutputTokens: 4_096,
  }),
  // Preview snapshots of GPT-4 Turbo carry the gpt-4 prefix but the turbo price.
  'gpt-4-1106-preview': openai({
    inputUsdPerMillion: 10,
    outputUsdPerMillion: 30,
    contextWindowTokens: 128_000,
    maxOutputTokens: 4_096,
  }),
  'gpt-4-0125-preview': openai({
    inputUsdPerMillion: 10,
    outputUsdPerMillion: 30,
    contextWindowTokens: 128_000,
    maxOutputTokens: 4_096,
  }),
  'gpt-4': openai({
    inputUsdPerMillion: 30,
    outputUsdPerMillion: 60,
    contextWindowTokens: 8_192,
    maxOutputTokens: 8_192,
  }),
  'gpt-4-32k': openai({
    inputUsdPerMillion: 60,
    outputUsdPerMillion: 120,
    contextWindowTokens: 32_768,
    maxOutputTokens: 32_768,
  }),
  'gpt-3.5-turbo': openai({
    inputUsdPerMillion: 0.5,
    outputUsdPerMillion: 1.5,
    contextWindowTokens: 16_385,
    maxOutputTokens: 4_096,
  }),

  // Anthropic — https://www.anthropic.com/pricing (API)
  'claude-opus-4-5': claude(5, 25, 64_000),
  'claude-opus-4-1': claude(15, 75, 32_000),
  'claude-opus-4': claude(15, 75, 32_000),
  'claude-opus-4-0': claude(15, 75, 32_000),
  'claude-sonnet-4-5': claude(3, 15, 64_000, SONNET_LONG_CONTEXT),
  'claude-sonnet-4': claude(3, 15, 64_000, SONNET_LONG_CONTEXT),
  'claude-sonnet-4-0': claude(3, 15, 64_000, SONNET_LONG_CONTEXT),
  'claude-haiku-4-5': claude(1, 5, 64_000),
  'claude-3-7-sonnet': claude(3, 15, 64_000),
  'claude-3-5-sonnet': claude(3, 15, 8_192),
  'claude-3-5-haiku': claude(0.8, 4, 8_192),
  'claude-3-opus': claude(15, 75, 4_096),
  'claude-3-haiku': claude(0.25, 1.25, 4_096),

  // Google (Gemini API, paid tier, text input) — https://ai.google.dev/gemini-api/docs/pricing
  'gemini-3-pro': google({
    inputUsdPerMillion: 2,
    outputUsdPerMillion: 12,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 65_536,
    longContext: { aboveInputTokens: 200_000, inputUsdPerMillion: 4, outputUsdPerMillion: 18 },
  }),
  'gemini-2.5-pro': google({
    inputUsdPerMillion: 1.25,
    outputUsdPerMillion: 10,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 65_536,
    longContext: { aboveInputTokens: 200_000, inputUsdPerMillion: 2.5, outputUsdPerMillion: 15 },
  }),
  'gemini-2.5-flash': google({
    inputUsdPerMillion: 0.3,
    outputUsdPerMillion: 2.5,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 65_536,
  }),
  'gemini-2.5-flash-lite': google({
    inputUsdPerMillion: 0.1,
    outputUsdPerMillion: 0.4,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 65_536,
  }),
  'gemini-2.0-flash': google({
    inputUsdPerMillion: 0.1,
    cachedInputUsdPerMillion: 0.025,
    outputUsdPerMillion: 0.4,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 8_192,
  }),
  'gemini-2.0-flash-lite': google({
    inputUsdPerMillion: 0.075,
    outputUsdPerMillion: 0.3,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 8_192,
  }),
  'gemini-1.5-pro': google({
    inputUsdPerMillion: 1.25,
    outputUsdPerMillion: 5,
    contextWindowTokens: 2_097_152,
    maxOutputTokens: 8_192,
    longContext: { aboveInputTokens: 128_000, inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 },
  }),
  'gemini-1.5-flash': google({
    inputUsdPerMillion: 0.075,
    outputUsdPerMillion: 0.3,
    contextWindowTokens: GEMINI_1M,
    maxOutputTokens: 8_192,
    longContext: { aboveInputTokens: 128_000, inputUsdPerMillion: 0.15, outputUsdPerMillion: 0.6 },
  }),

  // Mistral — https://mistral.ai/pricing (La Plateforme)
  'mistral-large': mistral({ inputUsdPerMillion: 2, outputUsdPerMillion: 6, contextWindowTokens: 131_072 }),
  'mistral-medium': mistral({
    inputUsdPerMillion: 0.4,
    outputUsdPerMillion: 2,
    contextWindowTokens: 131_072,
  }),
  'mistral-small': mistral({
    inputUsdPerMillion: 0.1,
    outputUsdPerMillion: 0.3,
    contextWindowTokens: 131_072,
  }),
  'pixtral-large': mistral({ inputUsdPerMillion: 2, outputUsdPerMillion: 6, contextWindowTokens: 131_072 }),
  codestral: mistral({ inputUsdPerMillion: 0.3, outputUsdPerMillion: 0.9, contextWindowTokens: 262_144 }),
  'magistral-medium': mistral({ inputUsdPerMillion: 2, outputUsdPerMillion: 5, contextWindowTokens: 40_960 }),
  'magistral-small': mistral({
    inputUsdPerMillion: 0.5,
    outputUsdPerMillion: 1.5,
    contextWindowTokens: 40_960,
  }),
  'ministral-8b': mistral({
    inputUsdPerMillion: 0.1,
    outputUsdPerMillion: 0.1,
    contextWindowTokens: 131_072,
  }),
  'ministral-3b': mistral({
    inputUsdPerMillion: 0.04,
    outputUsdPerMillion: 0.04,
    contextWindowTokens: 131_072,
  }),
  'open-mistral-nemo': mistral({
    inputUsdPerMillion: 0.15,
    outputUsdPerMillion: 0.15,
    contextWindowTokens: 131_072,
  }),
  'mistral-nemo': mistral({
    inputUsdPerMillion: 0.15,
    outputUsdPerMillion: 0.15,
    contextWindowTokens: 131_072,
  }),
});
