import { handleRateLimit } from '../calls/rate-limit-handling';
import type { Lease } from '../limits/lease';
import { holderReleases, offerLease, type LeaseOffer, withLeaseOffered } from '../limits/lease-hand-off';
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
import { estimatePromptTokens, outputBoundOf } from './call-estimate';
import { PromptCalibration } from './prompt-calibration';
import { holdUntilStreamEnds } from './slot-holding-stream';
import { aiSdkInputTokens, aiSdkUsageTotal } from './usage-total';

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
   * tokenizer registered for the model and scaled to the count the provider reports for it (see
   * {@link throttleMiddleware}), plus `maxOutputTokens`
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
 * The default estimate learns, per model, how the provider's count of a prompt (the input tokens
 * it reports) compares with the local tokenizer's: it takes a higher ratio at once and a lower
 * one slowly. Until a model's first generate call has reported usage, that call goes alone and
 * the model's other calls wait for it (one round trip, once, at most 15 s), so no burst is
 * admitted on a guess. Streams never go alone (they would hold the others up for their length).
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

  const calibration = new PromptCalibration();

  /** Waits for room and takes a slot, charged the call's estimate. */
  const acquire = async (
    params: AiSdkCallOptions,
    model: AiSdkModel,
    kind: 'generate' | 'stream',
  ): Promise<Attempt> => {
    const target = resolveLimiter();
    const signal = params.abortSignal;
    if (tokensFor) {
      const tokens = tokensFor(params, model);
      const lease = await target.acquire(signal ? { tokens, signal } : { tokens });
      return { target, lease, learn: () => {}, offer: offerLease(target, lease) };
    }
    const ticket = await calibration.enter(model.modelId, {
      signal,
      clock: target.clock,
      canProbe: kind === 'generate',
    });
    let promptTokens = 0;
    try {
      promptTokens = estimatePromptTokens(params, model.modelId);
      const tokens = Math.ceil(promptTokens * ticket.factor) + outputBoundOf(params);
      const lease = await target.acquire(signal ? { tokens, signal } : { tokens });
      return {
        target,
        lease,
        learn: (usage) => ticket.done(promptTokens, inputQuietly(usage)),
        offer: offerLease(target, lease),
      };
    } catch (error) {
      ticket.done(promptTokens, undefined);
      throw error;
    }
  };

  /** The attempt failed: learn from its headers, free the slot, and let a 429 pause the limiter. */
  const failed = (attempt: Attempt, error: unknown, signal: AbortSignal | undefined): void => {
    const { target, lease, learn } = attempt;
    // A throttledFetch that took the lease has observed, released and reported the attempt.
    const seen = takenByFetch(attempt);
    if (!seen) observeQuietly(target, error, lease);
    if (holderReleases(attempt.offer)) lease.release();
    learn(undefined);
    if (signal?.aborted || seen) return;
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

  /** The call is over at the provider: free the slot with the usage it reported. */
  const ended = (attempt: Attempt, usage: unknown): void => {
    const tokens = totalQuietly(usage);
    if (holderReleases(attempt.offer)) attempt.lease.release(tokens === undefined ? undefined : { tokens });
    attempt.learn(usage);
  };

  return {
    specificationVersion: 'v3',

    async wrapGenerate<R extends AiSdkGenerateResult>({
      doGenerate,
      params,
      model,
    }: AiSdkGenerateWrapOptions<R>): Promise<R> {
      const attempt = await acquire(params, model, 'generate');
      let result: R;
      try {
        result = await offering(attempt, doGenerate);
      } catch (error) {
        failed(attempt, error, params.abortSignal);
        throw error;
      }
      rateLimitsInARow = 0;
      if (!takenByFetch(attempt)) observeQuietly(attempt.target, result, attempt.lease);
      ended(attempt, result.usage);
      return result;
    },

    async wrapStream<R extends AiSdkStreamResult>({
      doStream,
      params,
      model,
    }: AiSdkStreamWrapOptions<R>): Promise<R> {
      const attempt = await acquire(params, model, 'stream');
      let result: R;
      try {
        result = await offering(attempt, doStream);
      } catch (error) {
        failed(attempt, error, params.abortSignal);
        throw error;
      }
      // The headers came with the start of the stream; the usage comes with its finish part.
      if (!takenByFetch(attempt)) observeQuietly(attempt.target, result, attempt.lease);
      const stream = holdUntilStreamEnds(result.stream, ({ usage, error }) => {
        if (error !== undefined && !takenByFetch(attempt))
          observeQuietly(attempt.target, error, attempt.lease);
        else rateLimitsInARow = 0;
        ended(attempt, usage);
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

/** One attempt's slot, its limiter, and what the estimate learns when it ends. */
interface Attempt {
  target: Limiter;
  lease: Lease;
  learn: (usage: unknown) => void;
  /**
   * The lease on offer to a `throttledFetch` on the same limiter inside the model call (the
   * provider made with `fetch: throttledFetch(limiter)`): its first HTTP attempt takes it rather
   * than acquiring a second slot, which would count the call twice and, with every slot held
   * here, wait for ever.
   */
  offer: LeaseOffer | undefined;
}

/** Runs the model call with the attempt's lease on offer (when any throttledFetch exists). */
function offering<T>(attempt: Attempt, call: () => PromiseLike<T>): PromiseLike<T> {
  return attempt.offer ? withLeaseOffered(attempt.offer, call) : call();
}

/** A throttledFetch took the lease: it has read the response and handled a 429 itself. */
const takenByFetch = (attempt: Attempt) => attempt.offer !== undefined && !attempt.offer.isOpen;

// Accounting only: a hostile usage object must not lose a served result.
function totalQuietly(usage: unknown): number | undefined {
  try {
    return aiSdkUsageTotal(usage);
  } catch {
    return undefined;
  }
}

function inputQuietly(usage: unknown): number | undefined {
  try {
    return aiSdkInputTokens(usage);
  } catch {
    return undefined;
  }
}
