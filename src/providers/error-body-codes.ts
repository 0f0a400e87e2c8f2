import { isRecord } from '../util/is-record';
import type { ErrorFacts } from './error-facts';
import { readGoogleRpcDetails } from './google-rpc-details';

/** The structured codes of an error, merged from the SDK's fields and the response body. */
export interface ErrorCodes {
  /** openai `error.type` (`requests`, `tokens`, `insufficient_quota`) or Anthropic `error.type`. */
  type?: string;
  /** openai `error.code` (`rate_limit_exceeded`, `insufficient_quota`). */
  code?: string;
  /** Anthropic `error.details.error_code` (`enforced_spend_limit_reached`, …). */
  errorCode?: string;
  /** Google RPC status (`RESOURCE_EXHAUSTED`, `UNAVAILABLE`). */
  rpcStatus?: string;
  /** The body is Anthropic's `{ type: 'error', error: {…} }` envelope. */
  anthropicEnvelope: boolean;
  /** Google `RetryInfo.retryDelay` in milliseconds. */
  retryDelayMs?: number;
  /** Google `QuotaFailure` quota ids. */
  quotaIds: string[];
}

/** Reads {@link ErrorCodes} from an error's facts; SDK fields win over the raw body. */
export function readErrorCodes(facts: ErrorFacts): ErrorCodes {
  const body = isRecord(facts.body) ? facts.body : {};
  // openai-node keeps only the inner `error` object; raw bodies (axios, Vercel, fetch) and
  // Anthropic/Google keep the envelope.
  const inner = isRecord(body.error) ? body.error : body;
  const details = isRecord(inner.details) ? inner.details : undefined;
  const google = readGoogleRpcDetails(Array.isArray(inner.details) ? inner.details : facts.errorDetails);

  const codes: ErrorCodes = {
    anthropicEnvelope: body.type === 'error' && isRecord(body.error),
    quotaIds: google.quotaIds,
  };
  const type = facts.type ?? text(inner.type);
  const code = facts.code ?? text(inner.code);
  const errorCode = facts.errorCode ?? text(details?.error_code);
  const rpcStatus = facts.rpcStatus ?? rpcName(inner.status);
  if (type !== undefined) codes.type = type;
  if (code !== undefined) codes.code = code;
  if (errorCode !== undefined) codes.errorCode = errorCode;
  if (rpcStatus !== undefined) codes.rpcStatus = rpcStatus;
  if (google.retryDelayMs !== undefined) codes.retryDelayMs = google.retryDelayMs;
  return codes;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

function rpcName(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Z][A-Z_]+$/.test(value) ? value : undefined;
}
