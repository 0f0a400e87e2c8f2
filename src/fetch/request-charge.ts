import { estimateRequestBody } from '../cost/request-body-estimate';

/** What one HTTP attempt is charged when it acquires. */
export interface RequestCharge {
  /** Token estimate charged to token windows (0 for a request that is not a model call). */
  tokens: number;
}

/**
 * The charge of a request body: a model call's prompt plus its output bound; anything else
 * (not JSON, or JSON that is not a model call) one request and no tokens.
 */
export function defaultRequestCharge(body: unknown): RequestCharge {
  return { tokens: estimateRequestBody(body) ?? 0 };
}

/**
 * The JSON body of a request, parsed (`undefined` when it has none or it is not JSON). Reads
 * strings and byte buffers as the SDKs send them, and a `Request`'s body from a clone; streams
 * and form data are left alone (they are not model calls and cannot be read twice).
 */
export async function requestBodyOf(
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<unknown> {
  const body = init?.body;
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) text = decode(body);
  else if (body === undefined && input instanceof Request && input.body !== null && !input.bodyUsed) {
    text = await input.clone().text();
  }
  if (text === undefined || !/^\s*[{[]/.test(text)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function decode(bytes: ArrayBuffer | ArrayBufferView): string | undefined {
  try {
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
    return new TextDecoder('utf-8', { fatal: true }).decode(view);
  } catch {
    return undefined;
  }
}
