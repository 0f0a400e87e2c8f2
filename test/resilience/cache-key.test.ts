import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cacheKeyOf, fnv1a64, stableStringify } from '../../src/resilience/cache-key';

/** Straightforward BigInt FNV-1a 64 to check the limb arithmetic against. */
function fnv1a64Reference(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  // Rotate by a seed-dependent amount and reverse on odd seeds: a different insertion order.
  const k = entries.length ? seed % entries.length : 0;
  const rotated = [...entries.slice(k), ...entries.slice(0, k)];
  if (seed % 2) rotated.reverse();
  return Object.fromEntries(rotated.map(([key, v]) => [key, shuffleKeys(v, seed + 1)]));
}

describe('fnv1a64', () => {
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('hashes %j to the published test vector', (text, hex) => {
    expect(fnv1a64(text)).toBe(hex);
  });

  it('matches a BigInt implementation on any text, including non-ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(fnv1a64(text)).toBe(fnv1a64Reference(text));
      }),
      { numRuns: 300 },
    );
  });
});

describe('stableStringify', () => {
  it('equals JSON.stringify for JSON values, up to key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(stableStringify(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('sorts keys at every depth', () => {
    expect(stableStringify({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 2 } })).toBe(
      '{"a":{"c":2,"d":[{"y":2,"z":1}]},"b":1}',
    );
  });

  it('follows JSON for undefined, functions, holes and non-finite numbers, and toJSON', () => {
    // eslint-disable-next-line no-sparse-arrays -- the hole is what this checks
    const value = { u: undefined, f: () => 1, arr: [undefined, , Number.NaN], date: new Date(0) };
    expect(stableStringify(value)).toBe('{"arr":[null,null,null],"date":"1970-01-01T00:00:00.000Z"}');
  });

  it('renders bigint, Map and Set unambiguously', () => {
    expect(stableStringify(12n)).not.toBe(stableStringify('12n'));
    expect(
      stableStringify(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe(
      stableStringify(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    );
    expect(stableStringify(new Map([['a', 1]]))).not.toBe(stableStringify(new Map([['a', 2]])));
    expect(stableStringify(new Set([2, 1]))).toBe('Set[1,2]');
    expect(stableStringify(undefined)).toBe('undefined');
  });

  it('throws a TypeError on a circular structure but accepts shared references', () => {
    const shared = { x: 1 };
    expect(stableStringify({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => stableStringify(loop)).toThrow(TypeError);
  });
});

describe('cacheKeyOf', () => {
  it('gives the same key whatever the key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(cacheKeyOf(shuffleKeys(value, seed))).toBe(cacheKeyOf(value));
      }),
    );
  });

  it('gives different keys for different prompts and params', () => {
    const base = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], temperature: 0 };
    const variants = [
      base,
      { ...base, temperature: 1 },
      { ...base, model: 'gpt-4o' },
      { ...base, messages: [{ role: 'user', content: 'Hello!' }] },
      { ...base, temperature: '0' },
      [base],
    ];
    expect(new Set(variants.map(cacheKeyOf)).size).toBe(variants.length);
  });

  it('is 16 hex digits', () => {
    expect(cacheKeyOf({ prompt: 'hi' })).toMatch(/^[0-9a-f]{16}$/);
  });
});
