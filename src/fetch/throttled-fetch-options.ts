import { z } from 'zod';
import { LimiterRegistry } from '../registry/limiter-registry';
import { opt, parseOptions } from '../validation/options';
import { defaultRequestCharge, type RequestCharge } from './request-charge';

/** Options of `throttledFetch`. @category Calls */
export interface ThrottledFetchOptions {
  /**
   * The `fetch` that sends the request (e.g. a proxy-aware one).
   * @default globalThis.fetch, looked up at each call
   */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /**
   * Where a limiter given by name is looked up.
   * @default LimiterRegistry.default (the static `LimiterRegistry.register`)
   */
  registry?: LimiterRegistry;
  /**
   * Token estimate of one request from its parsed JSON body (`undefined` when the body is not
   * JSON); return `undefined` for no tokens.
   * @default prompt + output bound of OpenAI chat completions and Responses, Anthropic messages and Gemini generateContent bodies; else 0
   */
  tokensFor?: (body: unknown) => number | undefined;
  /**
   * Priority of its acquires (higher goes first).
   * @default 0
   */
  priority?: number;
  /**
   * Base pause of the limiter after a 429 or 529 without retry-after; doubles with the client's
   * retry count (`X-Stainless-Retry-Count`), with jitter.
   * @default 1000
   */
  rateLimitBackoffMs?: number;
  /**
   * Upper bound of that pause.
   * @default 60000
   */
  maxRateLimitBackoffMs?: number;
  /**
   * On a 429 or 529 that carries no `retry-after`, add one (the pause the limiter took, in whole
   * seconds) to the response handed back, so a client that gives up on a header-less 429 (LangChain's
   * `AsyncCaller` since @langchain/core 1.2.1) waits and retries through the limiter instead. Every
   * other response, and every response that has the header, goes back unchanged.
   * @default false
   */
  retryAfterWhenMissing?: boolean;
}

/** The options with defaults filled in, and the charge function. @internal */
export interface ThrottledFetchSettings {
  fetch: ThrottledFetchOptions['fetch'];
  registry: LimiterRegistry | undefined;
  chargeOf: (body: unknown) => RequestCharge;
  priority: number;
  rateLimitBackoffMs: number;
  maxRateLimitBackoffMs: number;
  retryAfterWhenMissing: boolean;
}

const schema = z.strictObject({
  fetch: opt.func().optional(),
  registry: opt
    .instance((v): v is LimiterRegistry => v instanceof LimiterRegistry, 'a LimiterRegistry')
    .optional(),
  tokensFor: opt.func().optional(),
  priority: z.number({ error: 'a number' }).optional(),
  rateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  maxRateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  retryAfterWhenMissing: opt.boolean().optional(),
});

/** Checks the options (`InvalidOptionError` naming the option and value) and fills in defaults. */
export function validateThrottledFetchOptions(options: unknown): ThrottledFetchSettings {
  const o = parseOptions(schema, options, 'throttledFetch') as ThrottledFetchOptions;
  const tokensFor = o.tokensFor;
  return {
    fetch: o.fetch,
    registry: o.registry,
    chargeOf: tokensFor
      ? (body) => {
          const tokens = tokensFor(body);
          return { tokens: typeof tokens === 'number' && Number.isFinite(tokens) && tokens > 0 ? tokens : 0 };
        }
      : defaultRequestCharge,
    priority: o.priority ?? 0,
    rateLimitBackoffMs: o.rateLimitBackoffMs ?? 1000,
    maxRateLimitBackoffMs: o.maxRateLimitBackoffMs ?? 60_000,
    retryAfterWhenMissing: o.retryAfterWhenMissing ?? false,
  };
}
