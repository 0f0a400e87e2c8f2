import { isThrottleflowError } from '../errors/throttleflow-error';
import { isRecord } from '../util/is-record';
import { type HeaderMap, readHeaders } from './header-source';

/** The shape an error (or response) came in. */
export type ErrorShape = 'response' | 'axios' | 'vercel-ai' | 'sdk' | 'plain';

/** The structured facts of an error that rate-limit detection may use: no message text. */
export interface ErrorFacts {
  shape: ErrorShape;
  status?: number;
  headers?: HeaderMap;
  /** The response body, when the error kept it (parsed if it was JSON text). */
  body?: unknown;
  /** Vercel AI's `isRetryable`. */
  isRetryable?: boolean;
  /** String fields SDK errors lift out of the body: openai `type`/`code`, Anthropic `errorCode`. */
  type?: string;
  code?: string;
  errorCode?: string;
  /** Google's RPC status name (`RESOURCE_EXHAUSTED`) when given on the error itself. */
  rpcStatus?: string;
  /** `errorDetails` of the older `@google/generative-ai` errors. */
  errorDetails?: unknown;
  /** Whose SDK made the error, judged from the fields only that SDK's `APIError` defines. */
  sdk?: 'openai' | 'anthropic';
}

type Bag = Record<string, unknown>;

/** Reads the {@link ErrorFacts} of any thrown value; `undefined` for non-objects. Never throws. */
export function readErrorFacts(value: unknown): ErrorFacts | undefined {
  if (!isRecord(value)) return undefined;
  try {
    return readFacts(value);
  } catch {
    return undefined;
  }
}

function readFacts(value: Bag): ErrorFacts {
  const facts = readShape(value);
  const type = stringField(value.type);
  // A throttleflow error's `code` is throttleflow's own ('PROVIDER_HTTP', …), never the provider's.
  const ownCode = isThrottleflowError(value) ? undefined : value.code;
  const code = stringField(ownCode);
  const errorCode = stringField(value.errorCode);
  if (type !== undefined) facts.type = type;
  if (code !== undefined) facts.code = code;
  if (errorCode !== undefined) facts.errorCode = errorCode;
  if (isRpcStatusName(value.status)) facts.rpcStatus = value.status;
  else if (isRpcStatusName(ownCode)) facts.rpcStatus = ownCode;
  if (Array.isArray(value.errorDetails)) facts.errorDetails = value.errorDetails;
  if (facts.shape === 'sdk') {
    if ('workspaceID' in value || 'apiMessage' in value) facts.sdk = 'anthropic';
    else if ('param' in value && 'requestID' in value) facts.sdk = 'openai';
  }
  return facts;
}

function readShape(value: Bag): ErrorFacts {
  // A fetch Response (or anything shaped like one).
  if (typeof value.status === 'number' && typeof value.ok === 'boolean' && isRecord(value.headers)) {
    return withHeaders({ shape: 'response', status: value.status }, value.headers);
  }
  // Vercel AI SDK APICallError: statusCode, responseHeaders, responseBody, data, isRetryable.
  if (typeof value.statusCode === 'number') {
    const facts: ErrorFacts = { shape: 'vercel-ai', status: value.statusCode };
    const body = value.data ?? parseJsonText(value.responseBody);
    if (body !== undefined) facts.body = body;
    if (typeof value.isRetryable === 'boolean') facts.isRetryable = value.isRetryable;
    return withHeaders(facts, value.responseHeaders);
  }
  // openai-node / @anthropic-ai/sdk APIError: status, headers, error (the JSON body).
  // Google GenAI ApiError: status, and the JSON body as its message.
  if (typeof value.status === 'number') {
    const facts: ErrorFacts = { shape: 'sdk', status: value.status };
    const body = isRecord(value.error)
      ? value.error
      : (parseJsonText(value.body) ?? parseJsonText(value.message));
    if (body !== undefined) facts.body = body;
    return withHeaders(facts, value.headers);
  }
  // axios (and got/ky-style) errors: error.response.{status,headers,data}.
  const response = value.response;
  if (isRecord(response) && typeof response.status === 'number') {
    const facts: ErrorFacts = { shape: 'axios', status: response.status };
    const body = parseJsonText(response.data) ?? (isRecord(response.data) ? response.data : undefined);
    if (body !== undefined) facts.body = body;
    return withHeaders(facts, response.headers);
  }
  const facts: ErrorFacts = { shape: 'plain' };
  // Some clients put the HTTP status in a numeric `code`.
  if (typeof value.code === 'number' && value.code >= 400 && value.code < 600) facts.status = value.code;
  if (isRecord(value.error)) facts.body = value.error;
  return withHeaders(facts, value.headers);
}

function withHeaders(facts: ErrorFacts, source: unknown): ErrorFacts {
  // readHeaders takes any value (records, Headers, Maps, arrays of pairs) and ignores the rest.
  const headers = readHeaders(source);
  if (headers && headers.size) facts.headers = headers;
  return facts;
}

/**
 * Parses JSON text that an SDK stored whole (Vercel's `responseBody`, Google GenAI's message,
 * which is `JSON.stringify(body)` or `got status: 429 … {json}`). This reads structured data the
 * SDK serialised, never the wording of a message.
 */
function parseJsonText(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    const parsed: unknown = JSON.parse(text.slice(start, end + 1));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isRpcStatusName(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Z][A-Z_]+$/.test(value);
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
