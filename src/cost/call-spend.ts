import { isRecord } from '../util/is-record';
import { looksLikeChatMessages, looksLikeChatRequest } from './chat-messages';
import { costOf } from './cost-of';
import { estimateTokens } from './estimate-tokens';
import { defaultPriceTable, type PriceTable } from './price-table';
import { isUnknownModelError } from './unknown-model-error';
import { normalizeUsage, type NormalizedUsage } from './usage';

/** Expected tokens of one call, before it is made. */
export interface CallEstimate {
  /** Prompt tokens (estimated). */
  inputTokens: number;
  /** Output tokens the request allows at most (`max_tokens` × `n`); 0 when it sets no bound. */
  outputTokens: number;
}

function nonNegative(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined;
}

/**
 * The model a call is for: the item's own string `model` (a request body), else `fallback`
 * (a node's `model` option).
 */
export function modelOfItem(item: unknown, fallback: string | undefined): string | undefined {
  const own = isRecord(item) ? item.model : undefined;
  return typeof own === 'string' && own.trim() !== '' ? own : fallback;
}

/**
 * The most output tokens a request body allows: OpenAI's `max_completion_tokens` / `max_tokens`
 * (times `n` choices) or Responses `max_output_tokens`, Anthropic's `max_tokens`, the Vercel AI
 * SDK's `maxOutputTokens` / `maxTokens`, Gemini's `(generation)config.maxOutputTokens`.
 * 0 when it sets none.
 */
export function maxOutputTokensOf(request: unknown): number {
  if (!isRecord(request)) return 0;
  const config = isRecord(request.config)
    ? request.config
    : isRecord(request.generationConfig)
      ? request.generationConfig
      : undefined;
  const max =
    nonNegative(request.max_completion_tokens) ??
    nonNegative(request.max_tokens) ??
    nonNegative(request.max_output_tokens) ??
    nonNegative(request.maxOutputTokens) ??
    nonNegative(request.maxTokens) ??
    nonNegative(config?.maxOutputTokens) ??
    0;
  const n = nonNegative(request.n);
  return n !== undefined && n > 1 ? max * Math.floor(n) : max;
}

/**
 * The expected tokens of a call whose item is a chat request (`{ model, messages, max_tokens }`)
 * or a chat messages array: its prompt estimated with {@link estimateTokens} and the output bound
 * it sets. `undefined` for any other item.
 */
export function estimateChatCall(item: unknown, model?: string): CallEstimate | undefined {
  if (looksLikeChatRequest(item)) {
    return {
      inputTokens: estimateTokens(item, model === undefined ? {} : { model }),
      outputTokens: maxOutputTokensOf(item),
    };
  }
  if (looksLikeChatMessages(item)) {
    return { inputTokens: estimateTokens(item, model === undefined ? {} : { model }), outputTokens: 0 };
  }
  return undefined;
}

/**
 * The token usage a response reports (OpenAI, Anthropic, Gemini or camelCase shape, also inside
 * an SDK `withResponse()` result's `data`), or `undefined` when it carries none.
 */
export function usageOfResponse(response: unknown): NormalizedUsage | undefined {
  for (let r = response, depth = 0; isRecord(r) && depth < 3; r = r.data, depth++) {
    try {
      return normalizeUsage(r);
    } catch {
      // not this level; an SDK result holds the body in `data`
    }
  }
  return undefined;
}

const warnedModels = new Set<string>();

/**
 * The price in US dollars of `usage` on `model`, or `undefined` when the model is not in the
 * table — then warns once per model (a run must not crash on a model the table lacks).
 * @param subject - who asks, named in the warning (a node's class name)
 */
export function priceOrWarn(
  model: string,
  usage: NormalizedUsage,
  subject: string,
  table: PriceTable = defaultPriceTable,
): number | undefined {
  try {
    return costOf(
      model,
      {
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        cachedInputTokens: usage.cachedInputTokens,
        cacheWriteInputTokens: usage.cacheWriteInputTokens,
      },
      table,
    );
  } catch (error) {
    if (!isUnknownModelError(error)) return undefined;
    if (!warnedModels.has(error.model)) {
      warnedModels.add(error.model);
      console.warn(
        `throttleflow: ${subject} cannot price its calls: ${error.message} Their cost is left out of stats.costUsd.`,
      );
    }
    return undefined;
  }
}
