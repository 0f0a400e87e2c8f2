import { isThrottleflowError, ThrottleflowError } from '../errors/throttleflow-error';

/**
 * An HTTP error from a provider, shaped like the SDKs' (`status`, `headers`), so detection sees
 * 429/529. Its `code` is throttleflow's (`'PROVIDER_HTTP'`); the provider's own error code stays
 * in `body`.
 */
export class ProviderHttpError extends ThrottleflowError {
  override readonly name = 'ProviderHttpError';
  declare readonly code: 'PROVIDER_HTTP';
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: unknown,
  ) {
    super('PROVIDER_HTTP', `Provider answered HTTP ${status}`);
  }
}

/** Type guard for {@link ProviderHttpError}; recognises instances from other copies of throttleflow too. */
export function isProviderHttpError(error: unknown): error is ProviderHttpError {
  return isThrottleflowError(error, 'PROVIDER_HTTP');
}

/** An OpenAI-style chat completion (the fields the simulator returns). */
export interface ChatCompletion {
  id: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** A request body for `POST /v1/chat/completions`. */
export interface ChatCompletionRequest {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  max_tokens?: number;
}

/**
 * Sends one chat completion to a provider simulator (or any OpenAI-compatible base URL) with
 * `fetch`; resolves to the body and response headers, or rejects with a {@link ProviderHttpError}.
 */
export async function chatCompletion(
  baseUrl: string,
  request: ChatCompletionRequest,
  signal?: AbortSignal,
): Promise<{ data: ChatCompletion; headers: Headers }> {
  const response = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal,
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) throw new ProviderHttpError(response.status, response.headers, body);
  return { data: body as ChatCompletion, headers: response.headers };
}
