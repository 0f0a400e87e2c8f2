import { handleRateLimit } from '../calls/rate-limit-handling';
import type { Lease } from '../limits/lease';
import { Limiter } from '../limits/limiter';
import { LimiterRegistry } from '../registry/limiter-registry';
import { isRecord } from '../util/is-record';
import {
  formatValue,
  InvalidOptionError,
  isInvalidOptionError,
  rejectUnknownOptions,
} from '../validation/options';
import type {
  AiSdkCallOptions,
  AiSdkGenerateResult,
  AiSdkGenerateWrapOptions,
  AiSdkModel,
  AiSdkStreamResult,
  AiSdkStreamWrapOptions,
} from './ai-sdk-shapes';
import { estimateCallTokens } from './call-estimate';
import { holdUntilStreamEnds } from './slot-holding-stream';
import { aiSdkUsageTotal } from './usage-total';

/** Options of {@link throttleMiddleware}. */
export interface ThrottleMiddlewareOptions {
  /**
   * The limiter every attempt goes through, or the name of one registered in `registry`. A name
   * is looked up at each call, so the middleware can be made before the limiter is registered
   * (e.g. before `LimiterRegistry.fromEnv()`); an unknown name fails that call.
   */
  limiter: Limiter | string;
  /**
   * Tokens one call is charged at admission (reconciled with the usage the provider reports).
   * @default the prompt (messages, tool definitions, tool calls and results) estimated with the
   * tokenizer registered for the model, plus `maxOutputTokens`
   */
  tokensFor?: (params: AiSdkCallOptions, model: AiSdkModel) => number;
  /**
   * Where a `limiter` name is looked up.
   * @default LimiterRegistry.default
   */
  registry?: LimiterRegistry;
}

/**
 * A language-model middleware for the Vercel AI SDK 5, 6 and 7 (`wrapLanguageModel`,
 * `wrapProvider`). Typed by its shape, so the same object fits `LanguageModelV2Middleware`,
 * `LanguageModelV3Middleware` and AI SDK 7's `LanguageModelMiddleware`.
 */
export interface ThrottleMiddleware {
  /** The middleware spec AI SDK 6 requires; AI SDK 5 and 7 accept it. */
  readonly specificationVersion: 'v3';
  /** Runs one generate attempt through the limiter. */
  wrapGenerate<R extends AiSdkGenerateResult>(options: AiSdkGenerateWrapOptions<R>): Promise<R>;
  /** Runs one stream attempt through the limiter, holding the slot until the stream ends. */
  wrapStream<R extends AiSdkStreamResult>(options: AiSdkStreamWrapOptions<R>): Promise<R>;
}

const OPTION_NAMES = ['limiter', 'tokensFor', 'registry'] as const;
const SOURCE = 'throttleMiddleware';
// A 429 without retry-after pauses the limiter for a backoff growing with the rate limits in a row.
const RATE_LIMIT_BACKOFF_MS = 1000;
const MAX_RATE_LIMIT_BACKOFF_MS = 60_000;

/**
 * Rate limits every model call of the Vercel AI SDK: each attempt (the SDK's own retries
 * included, as they call the middleware again) waits for room in `limiter`, charged the call's
 * token estimate; the slot is released when the answer is in — for a stream, at its `finish`
 * part, an error or a cancel — with the tokens the provider reported. Response headers teach the
 * limiter the provider's limits; a 429 pauses it for the provider's retry-after, and the error
 * goes back to the SDK unchanged, so the SDK's retry decides what happens next.
 *
 * @example
 * import { generateText, wrapLanguageModel } from 'ai';
 * import { openai } from '@ai-sdk/openai';
 * import { Limiter } from 'throttleflow';
 * import { throttleMiddleware } from 'throttleflow/ai-sdk';
 *
 * const limiter = new Limiter({ maxPerMinute: 500, maxTokensPerMinute: 200_000 });
 * const model = wrapLanguageModel({
 *   model: openai.chat('gpt-4o-mini'),
 *   middleware: throttleMiddleware({ limiter }),
 * });
 * const { text } = await generateText({ model, prompt: 'Hello', maxOutputTokens: 200 });
 * @throws InvalidOptionError naming the option when `limiter` is missing or an option is invalid.
 */
export function throttleMiddleware(options: ThrottleMiddlewareOptions): ThrottleMiddleware {
  const { limiter, tokensFor, registry } = checkOptions(options);
  let rateLimitsInARow = 0;

  const resolveLimiter = (): Limiter => {
    if (typeof limiter !== 'string') return limiter;
    try {
      return registry.get(limiter);
    } catch (error) {
      const message = isInvalidOptionError(error) ? error.message : String(error);
      throw new InvalidOptionError('limiter', `${SOURCE}: limiter ${message}`);
    }
  };

  const acquire = async (params: AiSdkCallOptions, model: AiSdkModel): Promise<[Limiter, Lease]> => {
    const target = resolveLimiter();
    const tokens = tokensFor ? tokensFor(params, model) : estimateCallTokens(params, model.modelId);
    const signal = params.abortSignal;
    const lease = await target.acquire(signal ? { tokens, signal } : { tokens });
    return [target, lease];
  };

  /** The attempt failed: learn from its headers, free the slot, and let a 429 pause the limiter. */
  const failed = (target: Limiter, lease: Lease, error: unknown, signal: AbortSignal | undefined): void => {
    observeQuietly(target, error, lease);
    lease.release();
    if (signal?.aborted) return;
    try {
      const outcome = handleRateLimit(error, {
        limiter: target,
        attempt: rateLimitsInARow,
        backoffMs: RATE_LIMIT_BACKOFF_MS,
        maxBackoffMs: MAX_RATE_LIMIT_BACKOFF_MS,
        source: SOURCE,
      });
      rateLimitsInARow = outcome.kind === 'retry' ? rateLimitsInARow + 1 : 0;
    } catch {
      // Bookkeeping only: the SDK must see its own error, not one of ours.
    }
  };

  const succeeded = (target: Limiter, lease: Lease, result: unknown, tokens: number | undefined): void => {
    rateLimitsInARow = 0;
    observeQuietly(target, result, lease);
    lease.release(tokens === undefined ? undefined : { tokens });
  };

  return {
    specificationVersion: 'v3',

    async wrapGenerate<R extends AiSdkGenerateResult>({
      doGenerate,
      params,
      model,
    }: AiSdkGenerateWrapOptions<R>): Promise<R> {
      const [target, lease] = await acquire(params, model);
      let result: R;
      try {
        result = await doGenerate();
      } catch (error) {
        failed(target, lease, error, params.abortSignal);
        throw error;
      }
      succeeded(target, lease, result, usageQuietly(result));
      return result;
    },

    async wrapStream<R extends AiSdkStreamResult>({
      doStream,
      params,
      model,
    }: AiSdkStreamWrapOptions<R>): Promise<R> {
      const [target, lease] = await acquire(params, model);
      let result: R;
      try {
        result = await doStream();
      } catch (error) {
        failed(target, lease, error, params.abortSignal);
        throw error;
      }
      // The headers came with the start of the stream; the usage comes with its finish part.
      observeQuietly(target, result, lease);
      const stream = holdUntilStreamEnds(result.stream, ({ tokens, error }) => {
        if (error !== undefined) observeQuietly(target, error, lease);
        else rateLimitsInARow = 0;
        lease.release(tokens === undefined ? undefined : { tokens });
      });
      return { ...result, stream };
    },
  };
}

function checkOptions(options: unknown): {
  limiter: Limiter | string;
  tokensFor: ThrottleMiddlewareOptions['tokensFor'];
  registry: LimiterRegistry;
} {
  if (!isRecord(options)) {
    throw new InvalidOptionError('', `${SOURCE} options must be an object, got ${formatValue(options)}`);
  }
  rejectUnknownOptions(options, OPTION_NAMES, SOURCE);
  const { limiter, tokensFor, registry } = options;
  if (!(limiter instanceof Limiter) && !(typeof limiter === 'string' && limiter.length > 0)) {
    throw new InvalidOptionError(
      'limiter',
      `${SOURCE}: limiter must be a Limiter or the name of a registered one, got ${formatValue(limiter)}`,
    );
  }
  if (tokensFor !== undefined && typeof tokensFor !== 'function') {
    throw new InvalidOptionError(
      'tokensFor',
      `${SOURCE}: tokensFor must be a function, got ${formatValue(tokensFor)}`,
    );
  }
  if (registry !== undefined && !(registry instanceof LimiterRegistry)) {
    throw new InvalidOptionError(
      'registry',
      `${SOURCE}: registry must be a LimiterRegistry, got ${formatValue(registry)}`,
    );
  }
  return {
    limiter,
    tokensFor: tokensFor as ThrottleMiddlewareOptions['tokensFor'],
    registry: registry ?? LimiterRegistry.default,
  };
}

// Learning only: a surprising response must neither lose a served result nor skip the release.
function observeQuietly(limiter: Limiter, response: unknown, lease: Lease): void {
  try {
    limiter.observe(response, { lease });
  } catch {
    // ignored, see above
  }
}

function usageQuietly(result: AiSdkGenerateResult): number | undefined {
  try {
    return aiSdkUsageTotal(result.usage);
  } catch {
    return undefined;
  }
}
