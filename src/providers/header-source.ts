/** Anything with a `get(name)`: a fetch `Headers`, axios's `AxiosHeaders`, … */
export interface HeaderGetter {
  get(name: string): unknown;
}

/** A plain header record, any case, as Node's `IncomingHttpHeaders` or an SDK's `responseHeaders`. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | number | null | undefined>>;

/** Headers in any of the shapes the providers' SDKs and fetch hand out. */
export type HeadersLike = HeaderGetter | ReadonlyMap<string, unknown> | HeaderRecord;

/**
 * Headers, or something that carries them: a fetch `Response`, an SDK error (`headers`,
 * `responseHeaders`, axios's `response.headers`), or an SDK's `withResponse()` result
 * `{ data, response }`.
 */
export type HeaderSource =
  | HeadersLike
  | { readonly headers: HeadersLike }
  | { readonly responseHeaders: HeadersLike }
  | { readonly response: { readonly headers: HeadersLike } };

/** Normalised headers: lower-case names, one string value each. */
export type HeaderMap = ReadonlyMap<string, string>;

// Names worth probing on an object that has `get` but cannot list its headers.
const KNOWN_HEADER_NAMES = [
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-request-id',
  'request-id',
  'openai-processing-ms',
  ...['limit', 'remaining', 'reset'].flatMap((field) =>
    ['requests', 'tokens'].map((resource) => `x-ratelimit-${field}-${resource}`),
  ),
  ...['requests', 'tokens', 'input-tokens', 'output-tokens'].flatMap((resource) =>
    ['limit', 'remaining', 'reset'].map((field) => `anthropic-ratelimit-${resource}-${field}`),
  ),
];

const MAX_DEPTH = 4;

/**
 * Reads headers out of any {@link HeaderSource} (or anything else) into a lower-cased map.
 * Returns `undefined` when the value holds no headers at all. Never throws: hostile getters and
 * cycles are tolerated.
 */
export function readHeaders(source: unknown): HeaderMap | undefined {
  try {
    return readAt(source, 0);
  } catch {
    return undefined;
  }
}

function readAt(source: unknown, depth: number): Map<string, string> | undefined {
  if (depth > MAX_DEPTH || typeof source !== 'object' || source === null) return undefined;
  const value = source as Record<string, unknown>;

  // A carrier first: these have their own `get`/`forEach` only by accident.
  for (const key of ['headers', 'responseHeaders'] as const) {
    const inner = value[key];
    if (typeof inner === 'object' && inner !== null) return readAt(inner, depth + 1);
  }
  const response = value.response;
  if (typeof response === 'object' && response !== null && !isGetter(value)) {
    const fromResponse = readAt(response, depth + 1);
    if (fromResponse) return fromResponse;
  }

  const out = new Map<string, string>();
  if (typeof value.forEach === 'function' && isGetter(value)) {
    // fetch Headers and Map both call back with (value, key).
    (value.forEach as (cb: (v: unknown, k: unknown) => void) => void).call(value, (v, k) => add(out, k, v));
    return out;
  }
  if (isGetter(value)) {
    const get = value.get as (name: string) => unknown;
    for (const name of KNOWN_HEADER_NAMES) add(out, name, get.call(value, name));
    // AxiosHeaders also keeps headers as own properties; pick those up too.
    addRecord(out, value);
    return out;
  }
  if (Array.isArray(value)) {
    for (const entry of value) if (Array.isArray(entry) && entry.length === 2) add(out, entry[0], entry[1]);
    return out;
  }
  addRecord(out, value);
  return out;
}

function isGetter(value: Record<string, unknown>): boolean {
  return typeof value.get === 'function';
}

function addRecord(out: Map<string, string>, record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) add(out, key, record[key]);
}

function add(out: Map<string, string>, name: unknown, raw: unknown): void {
  if (typeof name !== 'string') return;
  const value = headerValue(raw);
  if (value !== undefined) out.set(name.toLowerCase(), value);
}

function headerValue(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (Array.isArray(raw)) {
    const parts = raw.filter((part): part is string => typeof part === 'string');
    return parts.length ? parts.join(', ') : undefined;
  }
  return undefined;
}
