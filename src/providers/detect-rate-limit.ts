import { isQuotaExhaustedError } from '../errors/quota-exhausted-error';
import { isRateLimitHit, type RateLimitScope } from '../errors/rate-limit-hit';
import { type ErrorCodes, readErrorCodes } from './error-body-codes';
import { isRecord } from '../util/is-record';
import { type ErrorFacts, readErrorFacts } from './error-facts';
import { quotaPeriod, quotaResource } from './google-rpc-details';
import type { HeaderMap } from './header-source';
import { parseRateLimitHeaders } from './parse-rate-limit-headers';
import { retryAfterFromHeaders } from './parse-retry-after';
import type { ProviderRateLimitInfo, RateLimitBudget } from './provider-rate-limit-info';
import type { RateLimitKind, RateLimitSignal } from './rate-limit-signal';

/** Options of {@link detectRateLimit}. */
export interface DetectRateLimitOptions {
  /**
   * The current wall-clock time in milliseconds, for HTTP-date `retry-after` and Anthropic's
   * RFC 3339 resets.
   * @default Date.now()
   */
  nowMs?: number;
}

// Anthropic `error.details.error_code`s and openai `error.type`/`code`s meaning "no money left".
const SPEND_CODES = new Set([
  'contract_spend_limit_reached',
  'enforced_spend_limit_reached',
  'linked_organization_spend_limit_reached',
  'insufficient_quota',
  'billing_error',
]);

// How deep to follow `cause` / `lastError` chains (wrappers around an SDK's 429).
const MAX_CAUSE_DEPTH = 5;

/**
 * Recognises a rate limit, an overloaded provider, or an exhausted quota/spend limit in anything
 * thrown (or a fetch `Response`), and says what to do about it. Returns `undefined` for anything
 * else. Decides from HTTP status codes, the SDKs' structured error types and codes, and headers —
 * never from the words of a message. Follows `cause` and Vercel AI's `lastError`.
 *
 * Recognised: `RateLimitHit` / `QuotaExhaustedError`; openai-node and @anthropic-ai/sdk
 * `APIError`s; Vercel AI `APICallError`; Google GenAI `ApiError` (and `RESOURCE_EXHAUSTED`
 * bodies with `RetryInfo` / `QuotaFailure`); fetch `Response`s; axios-style `error.response`;
 * any error with `status`/`statusCode` 429 or 529.
 */
export function detectRateLimit(
  error: unknown,
  options: DetectRateLimitOptions = {},
): RateLimitSignal | undefined {
  const nowMs = options.nowMs ?? Date.now();
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isRecord(current) && !seen.has(current); depth++) {
    seen.add(current);
    let signal: RateLimitSignal | undefined;
    try {
      signal = detectOne(current, nowMs);
    } catch {
      // A hostile getter or proxy: not something we can read, so not a rate limit we can act on.
      return undefined;
    }
    if (signal) return signal;
    current = nextInChain(current);
  }
  return undefined;
}

function nextInChain(value: Record<string, unknown>): unknown {
  try {
    // Vercel AI's RetryError keeps the last attempt's error in `lastError`.
    return value.cause ?? value.lastError;
  } catch {
    return undefined;
  }
}

function detectOne(value: Record<string, unknown>, nowMs: number): RateLimitSignal | undefined {
  if (isRateLimitHit(value)) {
    const signal: RateLimitSignal = {
      kind: value.kind,
      retryable: true,
      source: value.source ?? 'RateLimitHit',
    };
    if (value.retryAfterMs !== undefined) signal.retryAfterMs = value.retryAfterMs;
    if (value.scope !== undefined) signal.scope = value.scope;
    return signal;
  }
  if (isQuotaExhaustedError(value)) {
    const signal: RateLimitSignal = {
      kind: value.kind,
      retryable: false,
      source: value.source ?? 'QuotaExhaustedError',
    };
    if (value.quotaId !== undefined) signal.quotaId = value.quotaId;
    if (value.retryAfterMs !== undefined) signal.retryAfterMs = value.retryAfterMs;
    return signal;
  }
  const facts = readErrorFacts(value);
  return facts ? classify(facts, nowMs) : undefined;
}

function classify(facts: ErrorFacts, nowMs: number): RateLimitSignal | undefined {
  const codes = readErrorCodes(facts);
  const { status, headers } = facts;
  const verdict = kindOf(facts, codes);
  if (!verdict) return undefined;

  const rateLimits = headers ? parseRateLimitHeaders(headers, { nowMs }) : undefined;
  const shouldRetry = headers?.get('x-should-retry');
  let { kind } = verdict;
  // The provider's explicit "do not retry" on a 429 (Anthropic, openai): retrying cannot help.
  if (kind === 'rate_limit' && (shouldRetry === 'false' || facts.isRetryable === false))
    kind = 'quota_exhausted';
  const retryable = (kind === 'rate_limit' || kind === 'overloaded') && shouldRetry !== 'false';

  const signal: RateLimitSignal = { kind, retryable, source: sourceOf(facts, codes) };
  if (status !== undefined) signal.status = status;
  if (verdict.code !== undefined) signal.code = verdict.code;
  if (verdict.quotaId !== undefined) signal.quotaId = verdict.quotaId;
  const scope = verdict.scope ?? scopeFromBudgets(rateLimits);
  if (scope !== undefined) signal.scope = scope;
  const retryAfterMs = retryAfterOf(headers, codes, rateLimits, scope, nowMs);
  if (retryAfterMs !== undefined) signal.retryAfterMs = retryAfterMs;
  if (headers) signal.headers = Object.fromEntries(headers);
  if (rateLimits && rateLimits.provider !== 'unknown') signal.rateLimits = rateLimits;
  return signal;
}

interface Verdict {
  kind: RateLimitKind;
  code?: string;
  scope?: RateLimitScope;
  quotaId?: string;
}

function kindOf(facts: ErrorFacts, codes: ErrorCodes): Verdict | undefined {
  const { status } = facts;
  const spendCode = [codes.errorCode, codes.code, codes.type].find(
    (c) => c !== undefined && SPEND_CODES.has(c),
  );
  const rateLimited =
    status === 429 ||
    codes.rpcStatus === 'RESOURCE_EXHAUSTED' ||
    codes.type === 'rate_limit_error' ||
    codes.code === 'rate_limit_exceeded';

  if (rateLimited || (status === 402 && spendCode !== undefined)) {
    if (spendCode !== undefined) return { kind: 'spend_limit', code: spendCode };
    const google = googleVerdict(codes);
    if (google) return google;
    const scope = codes.type === 'requests' || codes.type === 'tokens' ? codes.type : undefined;
    const verdict: Verdict = { kind: 'rate_limit' };
    const code =
      codes.errorCode ??
      codes.code ??
      (codes.type === 'rate_limit_error' ? codes.type : undefined) ??
      codes.rpcStatus;
    if (code !== undefined) verdict.code = code;
    if (scope) verdict.scope = scope;
    return verdict;
  }

  const overloaded =
    status === 529 ||
    codes.type === 'overloaded_error' ||
    (status === 503 &&
      (facts.shape === 'response' || codes.rpcStatus === 'UNAVAILABLE' || hasRetryAfter(facts.headers)));
  if (overloaded) {
    const verdict: Verdict = { kind: 'overloaded' };
    const code =
      codes.type === 'overloaded_error'
        ? codes.type
        : codes.rpcStatus === 'UNAVAILABLE'
          ? codes.rpcStatus
          : undefined;
    if (code !== undefined) verdict.code = code;
    return verdict;
  }
  return undefined;
}

/** Gemini: a `QuotaFailure` on a per-day quota is a daily quota; per-minute ones are rate limits. */
function googleVerdict(codes: ErrorCodes): Verdict | undefined {
  if (!codes.quotaIds.length) return undefined;
  const daily = codes.quotaIds.find((id) => quotaPeriod(id) === 'day');
  if (daily)
    return {
      kind: 'quota_exhausted',
      scope: 'daily',
      quotaId: daily,
      code: codes.rpcStatus ?? 'QuotaFailure',
    };
  const first = codes.quotaIds[0]!;
  const verdict: Verdict = { kind: 'rate_limit', quotaId: first, code: codes.rpcStatus ?? 'QuotaFailure' };
  const resource = quotaResource(first);
  if (resource) verdict.scope = resource;
  return verdict;
}

function hasRetryAfter(headers: HeaderMap | undefined): boolean {
  return headers !== undefined && (headers.has('retry-after') || headers.has('retry-after-ms'));
}

function scopeFromBudgets(info: ProviderRateLimitInfo | undefined): RateLimitScope | undefined {
  if (!info) return undefined;
  if (info.requests?.remaining === 0) return 'requests';
  if ([info.tokens, info.inputTokens, info.outputTokens].some((b) => b?.remaining === 0)) return 'tokens';
  return undefined;
}

function retryAfterOf(
  headers: HeaderMap | undefined,
  codes: ErrorCodes,
  info: ProviderRateLimitInfo | undefined,
  scope: RateLimitScope | undefined,
  nowMs: number,
): number | undefined {
  const fromHeaders = headers ? retryAfterFromHeaders(headers, nowMs) : undefined;
  if (fromHeaders !== undefined) return fromHeaders;
  if (codes.retryDelayMs !== undefined) return codes.retryDelayMs;
  // No explicit wait: the reset of the budget that ran out is the next best (an upper bound).
  if (!info) return undefined;
  const exhausted: (RateLimitBudget | undefined)[] =
    scope === 'requests'
      ? [info.requests]
      : scope === 'tokens'
        ? [info.tokens, info.inputTokens, info.outputTokens]
        : [];
  const resets = exhausted
    .filter((b) => b?.remaining === 0 && b.resetMs !== undefined)
    .map((b) => b!.resetMs!);
  return resets.length ? Math.max(...resets) : undefined;
}

function sourceOf(facts: ErrorFacts, codes: ErrorCodes): string {
  const names = facts.headers ? [...facts.headers.keys()] : [];
  if (codes.anthropicEnvelope || facts.sdk === 'anthropic' || names.some((n) => n.startsWith('anthropic-'))) {
    return 'anthropic';
  }
  if (facts.sdk === 'openai' || names.some((n) => n.startsWith('openai-') || n.startsWith('x-ratelimit-'))) {
    return 'openai';
  }
  if (codes.rpcStatus !== undefined || codes.quotaIds.length || codes.retryDelayMs !== undefined)
    return 'google';
  switch (facts.shape) {
    case 'vercel-ai':
      return 'vercel-ai';
    case 'axios':
      return 'axios';
    case 'response':
      return 'http';
    default:
      return 'unknown';
  }
}
