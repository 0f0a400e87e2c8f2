import { isRecord } from '../util/is-record';
import { InvalidOptionError } from '../validation/options';

/** OpenAI Chat Completions `usage`: `prompt_tokens` include the cached ones. */
export interface OpenAIChatUsage {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
}

/** OpenAI Responses API `usage`: like Anthropic's names, but `input_tokens` include the cached ones. */
export interface OpenAIResponsesUsage {
  input_tokens: number;
  output_tokens?: number;
  input_tokens_details: { cached_tokens?: number | null };
}

/** Anthropic Messages `usage`: cache reads and writes are reported apart from `input_tokens`. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** Gemini `usageMetadata`: thinking tokens are billed as output but reported apart. */
export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
}

/**
 * Token counts in camelCase (also the Vercel AI SDK's `usage`). `inputTokens` are all prompt
 * tokens; the cached and cache-write counts are the parts of them billed at other rates.
 */
export interface TokenCounts {
  inputTokens: number;
  outputTokens?: number;
  /** Input tokens read from the prompt cache (part of `inputTokens`). @default 0 */
  cachedInputTokens?: number;
  /** Input tokens written to the prompt cache (part of `inputTokens`). @default 0 */
  cacheWriteInputTokens?: number;
}

/** The Vercel AI SDK 4 names. */
export interface LegacyCamelUsage {
  promptTokens: number;
  completionTokens?: number;
}

/** Any usage shape {@link normalizeUsage} understands. */
export type Usage =
  OpenAIChatUsage | OpenAIResponsesUsage | AnthropicUsage | GeminiUsage | TokenCounts | LegacyCamelUsage;

/** A usage object, or a provider response that carries one in `usage` or `usageMetadata`. */
export type UsageLike = Usage | { usage: Usage } | { usageMetadata: GeminiUsage };

/** Usage in one shape: every count present, cached and cache-write tokens as parts of the input. */
export interface NormalizedUsage {
  /** All prompt tokens, cached and cache-write ones included. */
  inputTokens: number;
  outputTokens: number;
  /** Of `inputTokens`, those read from the prompt cache. */
  cachedInputTokens: number;
  /** Of `inputTokens`, those written to the prompt cache. */
  cacheWriteInputTokens: number;
  /** `inputTokens + outputTokens`. */
  totalTokens: number;
}

/**
 * Reads OpenAI (`prompt_tokens`/`completion_tokens`, Responses `input_tokens`), Anthropic
 * (`input_tokens`/`output_tokens` plus cache counts), Gemini (`promptTokenCount`…) or camelCase
 * (`inputTokens`/`outputTokens`, `promptTokens`) usage, or a response holding one.
 * @throws InvalidOptionError when no known shape matches, or a count is not a non-negative number.
 */
export function normalizeUsage(usage: UsageLike): NormalizedUsage {
  const u = unwrap(usage);
  if (u === undefined)
    throw new InvalidOptionError(
      'usage',
      `Unrecognised usage ${preview(usage)}: expected prompt_tokens/completion_tokens, input_tokens/output_tokens or inputTokens/outputTokens`,
    );
  const n = (key: string, required = false): number => count(u, key, required);

  if ('prompt_tokens' in u) {
    const details = u.prompt_tokens_details;
    const cached = isRecord(details) ? count(details, 'cached_tokens') : 0;
    return make(n('prompt_tokens', true), n('completion_tokens'), cached, 0);
  }
  if ('input_tokens' in u) {
    if (isRecord(u.input_tokens_details)) {
      return make(
        n('input_tokens', true),
        n('output_tokens'),
        count(u.input_tokens_details, 'cached_tokens'),
        0,
      );
    }
    const read = n('cache_read_input_tokens');
    const write = n('cache_creation_input_tokens');
    return make(n('input_tokens', true) + read + write, n('output_tokens'), read, write);
  }
  if ('inputTokens' in u) {
    return make(
      n('inputTokens', true),
      n('outputTokens'),
      n('cachedInputTokens'),
      n('cacheWriteInputTokens'),
    );
  }
  if ('promptTokens' in u) return make(n('promptTokens', true), n('completionTokens'), 0, 0);
  // Gemini's fields are all optional (an empty response has none), so it is the last resort.
  return make(
    n('promptTokenCount') + n('toolUsePromptTokenCount'),
    n('candidatesTokenCount') + n('thoughtsTokenCount'),
    n('cachedContentTokenCount'),
    0,
  );
}

const GEMINI_KEYS = ['promptTokenCount', 'candidatesTokenCount', 'thoughtsTokenCount', 'totalTokenCount'];
const KNOWN_KEYS = ['prompt_tokens', 'input_tokens', 'inputTokens', 'promptTokens', ...GEMINI_KEYS];

function unwrap(x: unknown): Record<string, unknown> | undefined {
  if (!isRecord(x)) return undefined;
  if (KNOWN_KEYS.some((k) => k in x)) return x;
  if (isRecord(x.usage)) return unwrap(x.usage);
  if (isRecord(x.usageMetadata)) return unwrap(x.usageMetadata);
  return undefined;
}

function make(input: number, output: number, cached: number, write: number): NormalizedUsage {
  if (cached + write > input) {
    throw new InvalidOptionError(
      'usage',
      `Usage reports ${cached + write} cached/cache-write input tokens but only ${input} input tokens`,
    );
  }
  return {
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: cached,
    cacheWriteInputTokens: write,
    totalTokens: input + output,
  };
}

function count(record: Record<string, unknown>, key: string, required = false): number {
  const value = record[key];
  if (value === undefined || value === null) {
    if (required)
      throw new InvalidOptionError(
        `usage.${key}`,
        `usage.${key} must be a non-negative number, got ${String(value)}`,
      );
    return 0;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(
      `usage.${key}`,
      `usage.${key} must be a non-negative number, got ${preview(value)}`,
    );
  }
  return value;
}

function preview(x: unknown): string {
  try {
    const json = JSON.stringify(x);
    if (json === undefined) return String(x);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return String(x);
  }
}
