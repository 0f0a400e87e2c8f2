import { InvalidOptionError } from '../validation/options';

/**
 * Serialises `value` like `JSON.stringify`, but with object keys sorted so that equal values give
 * equal text whatever their key order. Beyond JSON: `bigint` renders as `12n`, a `Map` as
 * `Map{key:value,…}` and a `Set` as `Set[…]` (both sorted), `undefined` at the top level as
 * `undefined`; these markers are not valid JSON, so they cannot collide with a JSON value.
 * Throws an `InvalidOptionError` (a `TypeError`, as `JSON.stringify`'s) on a circular structure.
 */
export function stableStringify(value: unknown): string {
  return write(value, new Set<object>()) ?? 'undefined';
}

/** Renders one value, or `undefined` for what JSON omits (undefined, functions, symbols). */
function write(value: unknown, ancestors: Set<object>): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return JSON.stringify(value); // NaN and ±Infinity become null, as in JSON
    case 'bigint':
      return `${value}n`;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value;
  if (ancestors.has(obj))
    throw new InvalidOptionError(
      'value',
      'cacheKeyOf: cannot key a circular structure, got a value that contains itself',
    );
  ancestors.add(obj);
  try {
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return write(toJSON.call(obj), ancestors);
    if (Array.isArray(obj)) {
      // Array.from visits holes too (as undefined → null), like JSON.
      return `[${Array.from(obj, (item) => write(item, ancestors) ?? 'null').join(',')}]`;
    }
    if (obj instanceof Map) {
      const entries = [...obj].map(
        ([k, v]) => `${write(k, ancestors) ?? 'undefined'}:${write(v, ancestors) ?? 'undefined'}`,
      );
      return `Map{${entries.sort().join(',')}}`;
    }
    if (obj instanceof Set) {
      const items = [...obj].map((item) => write(item, ancestors) ?? 'undefined');
      return `Set[${items.sort().join(',')}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const text = write((obj as Record<string, unknown>)[key], ancestors);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(obj);
  }
}

const encoder = new TextEncoder();

/**
 * FNV-1a, 64-bit, over the UTF-8 bytes of `text`, as 16 lowercase hex digits. Not cryptographic:
 * fast and well spread, for cache keys. Computed in four 16-bit limbs so it needs neither BigInt
 * nor `node:crypto`.
 */
export function fnv1a64(text: string): string {
  // Offset basis 0xcbf29ce484222325, least significant limb first.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (const byte of encoder.encode(text)) {
    h0 ^= byte;
    // Multiply by the prime 0x100000001b3 = 2^40 + 0x1b3, keeping the low 64 bits:
    // h·0x1b3 limb by limb, plus h shifted left by 40 bits (limb 0 lands 8 bits into limb 2).
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((limb) => limb.toString(16).padStart(4, '0')).join('');
}

/**
 * A stable cache key for prompts and call parameters: equal values (in any key order) give the
 * same key, different values almost surely different keys (64-bit hash of {@link stableStringify}).
 *
 * @example
 * const key = cacheKeyOf({ model: 'gpt-4o-mini', messages, temperature: 0 });
 */
export function cacheKeyOf(value: unknown): string {
  return fnv1a64(stableStringify(value));
}
