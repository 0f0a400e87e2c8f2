import { isRecord } from '../util/is-record';

/** What Google's `google.rpc` error details say about a quota refusal. */
export interface GoogleQuotaDetails {
  /** `RetryInfo.retryDelay`, in milliseconds. */
  retryDelayMs?: number;
  /** `QuotaFailure` violations' quota ids (or metrics when an id is missing). */
  quotaIds: string[];
}

/**
 * Reads `google.rpc.RetryInfo` and `google.rpc.QuotaFailure` out of an error's `details` array
 * (Gemini / Vertex JSON errors, and `errorDetails` of the older `@google/generative-ai`).
 */
export function readGoogleRpcDetails(details: unknown): GoogleQuotaDetails {
  const out: GoogleQuotaDetails = { quotaIds: [] };
  if (!Array.isArray(details)) return out;
  for (const entry of details) {
    if (!isRecord(entry)) continue;
    const type = typeof entry['@type'] === 'string' ? entry['@type'] : '';
    if (type.endsWith('google.rpc.RetryInfo')) {
      const delayMs = parseProtoDuration(entry.retryDelay);
      if (delayMs !== undefined) out.retryDelayMs = delayMs;
    } else if (type.endsWith('google.rpc.QuotaFailure') && Array.isArray(entry.violations)) {
      for (const violation of entry.violations) {
        if (!isRecord(violation)) continue;
        const { quotaId, quotaMetric } = violation;
        const id =
          typeof quotaId === 'string' ? quotaId : typeof quotaMetric === 'string' ? quotaMetric : undefined;
        if (id) out.quotaIds.push(id);
      }
    }
  }
  return out;
}

/**
 * A protobuf `Duration`: JSON form `"46s"` / `"0.5s"`, or the object form `{ seconds, nanos }`
 * that gRPC clients decode to.
 */
export function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d*)?|\.\d+)s\s*$/.exec(value);
    return match ? Number(match[1]) * 1000 : undefined;
  }
  if (isRecord(value)) {
    const { seconds, nanos } = value;
    const s = Number(seconds ?? 0);
    const ns = Number(nanos ?? 0);
    if (!Number.isFinite(s) || !Number.isFinite(ns) || s < 0 || ns < 0) return undefined;
    return s * 1000 + ns / 1e6;
  }
  return undefined;
}

/** Which window a Gemini quota id names: `…PerDay…` is a daily quota, `…PerMinute…` a rate limit. */
export function quotaPeriod(quotaId: string): 'day' | 'minute' | undefined {
  if (/PerDay/i.test(quotaId)) return 'day';
  if (/PerMinute/i.test(quotaId)) return 'minute';
  return undefined;
}

/** Which resource a Gemini quota id counts: tokens (`…InputTokensPer…`) or requests. */
export function quotaResource(quotaId: string): 'tokens' | 'requests' | undefined {
  if (/Tokens?/i.test(quotaId)) return 'tokens';
  if (/Requests?/i.test(quotaId)) return 'requests';
  return undefined;
}
