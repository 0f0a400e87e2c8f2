import { formatDuration } from '../providers/format-duration';
import type { BudgetsSnapshot } from './simulator-state';
import type { SimulatorTokenCost } from './simulator-token-cost';

/** Which provider's API an endpoint imitates. */
export type SimulatorDialect = 'openai' | 'anthropic';

/** A status, headers and JSON body to send. */
export interface SimulatedReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Fields of the request that shape the reply. */
export interface SimulatedRequest {
  dialect: SimulatorDialect;
  requestNumber: number;
  model: string;
  /** The last message's text, echoed in the reply so pipelines have something to pass on. */
  lastText: string;
  /** How many choices (openai `n`). */
  n: number;
  cost: SimulatorTokenCost;
  /** Output tokens to report. */
  completionTokens: number;
}

/** The real providers' rate-limit headers for the current budgets. */
export function rateLimitHeaders(
  dialect: SimulatorDialect,
  budgets: BudgetsSnapshot,
  wallNowMs: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const resource of ['requests', 'tokens'] as const) {
    const budget = budgets[resource];
    if (!budget) continue;
    const resetMs = Math.ceil(budget.resetMs);
    if (dialect === 'openai') {
      headers[`x-ratelimit-limit-${resource}`] = String(budget.limit);
      headers[`x-ratelimit-remaining-${resource}`] = String(budget.remaining);
      headers[`x-ratelimit-reset-${resource}`] = formatDuration(resetMs);
    } else {
      headers[`anthropic-ratelimit-${resource}-limit`] = String(budget.limit);
      headers[`anthropic-ratelimit-${resource}-remaining`] = String(budget.remaining);
      headers[`anthropic-ratelimit-${resource}-reset`] = new Date(wallNowMs + resetMs).toISOString();
    }
  }
  return headers;
}

/** A 200 reply in the dialect's shape, with `usage`. */
export function successReply(
  request: SimulatedRequest,
  limitHeaders: Record<string, string>,
  latencyMs: number,
  processingMsHeader = true,
): SimulatedReply {
  const { cost, completionTokens, requestNumber, model } = request;
  const text = `sim: ${request.lastText.slice(0, 200)}`;
  if (request.dialect === 'anthropic') {
    return {
      status: 200,
      headers: { ...limitHeaders, 'request-id': `req_sim_${requestNumber}` },
      body: {
        id: `msg_sim_${requestNumber}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: cost.promptTokens, output_tokens: completionTokens },
      },
    };
  }
  const choices = Array.from({ length: request.n }, (_, index) => ({
    index,
    message: { role: 'assistant', content: text, refusal: null },
    logprobs: null,
    finish_reason: 'stop',
  }));
  const outputTokens = completionTokens * request.n;
  return {
    status: 200,
    headers: {
      ...limitHeaders,
      'x-request-id': `req_sim_${requestNumber}`,
      ...(processingMsHeader ? { 'openai-processing-ms': String(Math.round(latencyMs)) } : {}),
    },
    body: {
      id: `chatcmpl-sim-${requestNumber}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices,
      usage: {
        prompt_tokens: cost.promptTokens,
        completion_tokens: outputTokens,
        total_tokens: cost.promptTokens + outputTokens,
      },
      system_fingerprint: 'fp_simulator',
    },
  };
}

/**
 * A 429. `retryAfterMs` is the exact wait until the request would fit; `Infinity` (a request
 * larger than the whole limit) gets `x-should-retry: false` and no retry-after.
 */
export function rateLimitedReply(
  dialect: SimulatorDialect,
  scope: 'requests' | 'tokens',
  retryAfterMs: number,
  limitHeaders: Record<string, string>,
  requestNumber: number,
): SimulatedReply {
  const fits = Number.isFinite(retryAfterMs);
  const headers: Record<string, string> = { ...limitHeaders };
  if (fits) {
    // Whole milliseconds, rounded up (less float dust from subtracting clock readings).
    const waitMs = Math.max(1, Math.ceil(retryAfterMs - 1e-6));
    headers['retry-after-ms'] = String(waitMs);
    headers['retry-after'] = String(Math.ceil(waitMs / 1000));
  } else {
    headers['x-should-retry'] = 'false';
  }
  const message = fits
    ? `Rate limit reached for ${scope}. Please try again in ${Math.ceil(retryAfterMs - 1e-6)}ms.`
    : `Request too large for the ${scope} limit.`;
  if (dialect === 'anthropic') {
    headers['request-id'] = `req_sim_${requestNumber}`;
    return {
      status: 429,
      headers,
      body: {
        type: 'error',
        error: { type: 'rate_limit_error', message },
        request_id: `req_sim_${requestNumber}`,
      },
    };
  }
  headers['x-request-id'] = `req_sim_${requestNumber}`;
  return {
    status: 429,
    headers,
    body: { error: { message, type: scope, param: null, code: 'rate_limit_exceeded' } },
  };
}

/** A 500 or 529 in the dialect's shape. */
export function faultReply(
  dialect: SimulatorDialect,
  status: 500 | 529,
  requestNumber: number,
): SimulatedReply {
  if (dialect === 'anthropic') {
    const error =
      status === 529
        ? { type: 'overloaded_error', message: 'Overloaded' }
        : { type: 'api_error', message: 'Internal server error' };
    return {
      status,
      headers: { 'request-id': `req_sim_${requestNumber}` },
      body: { type: 'error', error, request_id: `req_sim_${requestNumber}` },
    };
  }
  const message =
    status === 529
      ? 'The server is overloaded, please try again later.'
      : 'The server had an error while processing your request.';
  return {
    status,
    headers: { 'x-request-id': `req_sim_${requestNumber}` },
    body: { error: { message, type: 'server_error', param: null, code: null } },
  };
}

/** An OpenAI-style 4xx for a malformed request (bad JSON, unknown route). */
export function clientErrorReply(status: 400 | 404 | 405, message: string): SimulatedReply {
  return {
    status,
    headers: {},
    body: { error: { message, type: 'invalid_request_error', param: null, code: null } },
  };
}
