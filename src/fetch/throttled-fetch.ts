import { handleRateLimit } from '../calls/rate-limit-handling';
import { usageTokensOf } from '../cost/usage-tokens';
import { takeOfferedLease, type LeaseOffer } from '../limits/lease-hand-off';
import type { Lease } from '../limits/lease';
import { Limiter } from '../limits/limiter';
import { LimiterRegistry } from '../registry/limiter-registry';
import { isRecord } from '../util/is-record';
import { InvalidOptionError } from '../validation/options';
import { holdLeaseUntilBodyEnds, isEventStream } from './held-event-stream';
import { requestBodyOf, type RequestCharge } from './request-charge';
import { validateThrottledFetchOptions, type ThrottledFetchOptions } from './throttled-fetch-options';

export type { ThrottledFetchOptions } from './throttled-fetch-options';

/** The `fetch` signature the SDKs call (`typeof fetch` without its static members). @category Calls */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Statuses after which the provider's rate limit (or overload) pauses the limiter. */
const RATE_LIMIT_STATUSES = new Set([429, 503, 529]);
/** Statuses below 500 the SDKs retry (besides every status from 500 up). */
const CLIENT_RETRIED_STATUSES = new Set([408, 409, 429]);

/**
 * A `fetch` that sends every HTTP attempt through `limiter`, for any client that takes a `fetch`:
 * `new OpenAI({ fetch })`, `new Anthropic({ fetch })`, the AI SDK's `createOpenAI({ fetch })` /
 * `createAnthropic({ fetch })` / `createGoogleGenerativeAI({ fetch })`, LangChain's
 * `new ChatOpenAI({ configuration: { fetch } })` / `new ChatAnthropic({ clientOptions: { fetch } })`.
 * The client keeps its default settings, retries included: each of its retries is a new attempt
 * and acquires again.
 *
 * For each attempt it acquires (charging the JSON body's prompt plus its `max_tokens` /
 * `max_completion_tokens` / `max_output_tokens` / `maxOutputTokens`; a body that is not a model
 * call is charged one request and no tokens), sends, and shows the response to the limiter
 * (`observe`: limits from the headers, when the request arrived). A 429 or 529 pauses the limiter
 * for its retry-after; the response goes back to the client unchanged either way. The lease is
 * released with the tokens of the response's `usage`: for JSON once the body has arrived (read
 * from a clone; the client reads its own), for a server-sent event stream when the stream ends or
 * its reader cancels it (usage from the final event). `init.signal` is honoured while queued:
 * the call rejects with the signal's reason and holds nothing.
 *
 * Inside a throttled node's `exec` (or `limiter.run`) on the same limiter, the first attempt uses
 * the lease the node already holds, so it is counted once; an attempt that failed (the client may
 * retry) releases it at once, so a retry never waits for a slot its own node holds (see
 * `useAsyncLocalStorage`).
 *
 * `limiter` may be a registry name. It must be registered when `throttledFetch` is called: an
 * error thrown inside an SDK's fetch becomes a retried "connection error" that hides its message,
 * so a wrong name fails here, at once, with the registered names. Each call looks the name up
 * again, so `register(name, …, { replace: true })` takes effect.
 *
 * @example
 * const limiter = new Limiter({ maxPerMinute: 500, maxTokensPerMinute: 200_000 });
 * const openai = new OpenAI({ fetch: throttledFetch(limiter) });
 * @category Calls
 */
export function throttledFetch(
  limiter: Limiter | string,
  options: ThrottledFetchOptions = {},
): FetchFunction {
  const settings = validateThrottledFetchOptions(options);
  const registry = settings.registry ?? LimiterRegistry.default;
  let resolve: () => Limiter;
  if (limiter instanceof Limiter) {
    resolve = () => limiter;
  } else if (typeof limiter === 'string') {
    registry.get(limiter); // throws, naming the registered limiters
    resolve = () => registry.get(limiter);
  } else {
    throw new InvalidOptionError(
      'limiter',
      `throttledFetch expects a Limiter or a registered limiter's name, got ${describe(limiter)}`,
    );
  }

  return async (input, init) => {
    const target = resolve();
    const send = settings.fetch ?? globalThis.fetch;
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    const charge: RequestCharge = settings.chargeOf(await requestBodyOf(input, init));
    const offer = takeOfferedLease(target);
    const lease =
      offer?.lease ??
      (await target.acquire({
        tokens: charge.tokens,
        priority: settings.priority,
        ...(signal ? { signal } : {}),
      }));
    let response: Response;
    try {
      response = await send(input, init);
    } catch (error) {
      lease.release();
      throw error;
    }
    return settle(target, lease, offer, response, signal, headerOf(input, init, 'x-stainless-retry-count'));
  };

  async function settle(
    target: Limiter,
    lease: Lease,
    offer: LeaseOffer | undefined,
    response: Response,
    signal: AbortSignal | undefined,
    retryCount: string | null,
  ): Promise<Response> {
    try {
      target.observe(response, { lease });
    } catch {
      // Learning only: a response the limiter cannot read still goes back to the client.
    }
    if (RATE_LIMIT_STATUSES.has(response.status)) {
      let outcome: ReturnType<typeof handleRateLimit>;
      try {
        const body = await readJson(response);
        // The body tells a quota (never retried) from a rate limit; detection reads status and headers too.
        outcome = handleRateLimit(
          { status: response.status, headers: response.headers, error: body },
          {
            limiter: target,
            attempt: Math.max(0, Number(retryCount) || 0),
            backoffMs: settings.rateLimitBackoffMs,
            maxBackoffMs: settings.maxRateLimitBackoffMs,
            source: 'fetch',
          },
        );
      } finally {
        lease.release();
      }
      return settings.retryAfterWhenMissing && outcome.kind === 'retry'
        ? withRetryAfter(response, outcome.pauseMs)
        : response;
    }
    if (response.ok && isEventStream(response)) return holdLeaseUntilBodyEnds(response, lease, signal);
    // A final answer to the node's own lease: the node keeps it until its exec ends, as without us.
    if (offer && !CLIENT_RETRIED_STATUSES.has(response.status) && response.status < 500 && offer.giveBack()) {
      return response;
    }
    if (response.ok && isJson(response)) {
      void readJson(response).then(
        (body) => {
          const tokens = usageTokensOf(body);
          lease.release(tokens === undefined ? undefined : { tokens });
        },
        () => lease.release(),
      );
      return response;
    }
    lease.release();
    return response;
  }
}

/** The response with a `retry-after` of `pauseMs` (whole seconds, at least 1) when it has none. */
function withRetryAfter(response: Response, pauseMs: number): Response {
  if (response.headers.has('retry-after') || response.headers.has('retry-after-ms')) return response;
  const headers = new Headers(response.headers);
  headers.set('retry-after', String(Math.max(1, Math.ceil(pauseMs / 1000))));
  const copy = new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
  Object.defineProperty(copy, 'url', { value: response.url });
  return copy;
}

function isJson(response: Response): boolean {
  return /[/+]json\b/i.test(response.headers.get('content-type') ?? '');
}

/** The body of a clone as JSON (`undefined` when it is not JSON); the caller's copy stays unread. */
async function readJson(response: Response): Promise<unknown> {
  if (!isJson(response) || response.bodyUsed) return undefined;
  const text = await response.clone().text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function headerOf(input: string | URL | Request, init: RequestInit | undefined, name: string): string | null {
  const own = init?.headers;
  if (own instanceof Headers) return own.get(name);
  if (Array.isArray(own)) return own.find(([key]) => key.toLowerCase() === name)?.[1] ?? null;
  if (isRecord(own)) {
    for (const [key, value] of Object.entries(own)) if (key.toLowerCase() === name) return String(value);
    return null;
  }
  return input instanceof Request ? input.headers.get(name) : null;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}
