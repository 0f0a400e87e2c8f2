/**
 * The pure pieces of throttleflow/bullmq: which values JSON would change (the worker fails a job
 * rather than store them), which errors count as a rate limit the sub-flow could not absorb (the job
 * moves back instead of failing), job ids and run ids.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertRunId, jobIdFor } from '../../src/bullmq/job-ids';
import { findNotJson } from '../../src/bullmq/json-safety';
import { unabsorbedRateLimit } from '../../src/bullmq/unabsorbed-rate-limit';
import { RateLimitHit } from '../../src/errors/rate-limit-hit';

const http = (status: number, headers: Record<string, string> = {}, body?: unknown) =>
  Object.assign(new Error(`HTTP ${status}`), {
    status,
    headers,
    ...(body === undefined ? {} : { error: body }),
  });

/** Equal as JSON reads them back: -0 is 0, undefined object fields are absent. */
function sameAsJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameAsJson(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = (o: object) =>
      Object.keys(o)
        .filter((k) => (o as Record<string, unknown>)[k] !== undefined)
        .sort();
    const [ka, kb] = [keys(a), keys(b)];
    return (
      ka.length === kb.length &&
      ka.every(
        (k, i) =>
          k === kb[i] && sameAsJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return Object.is(a, b);
}

describe('findNotJson', () => {
  it('names the path and what is there', () => {
    expect(findNotJson({ a: { b: [1, { c: () => 1 }] } }, 'shared')).toEqual({
      path: 'shared.a.b[1].c',
      what: 'a function',
    });
    expect(findNotJson({ m: new Map() }, 'shared')).toEqual({ path: 'shared.m', what: 'a Map' });
    expect(findNotJson({ n: 10n }, 's')).toEqual({ path: 's.n', what: 'a bigint' });
    expect(findNotJson({ x: Number.NaN }, 's')).toEqual({ path: 's.x', what: 'NaN' });
    expect(findNotJson({ 'odd key': Symbol('x') }, 's')).toEqual({ path: 's["odd key"]', what: 'a symbol' });
    expect(findNotJson([undefined], 's')).toEqual({ path: 's[0]', what: 'undefined' });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(findNotJson(cycle, 's')).toEqual({ path: 's.self', what: 'a circular reference' });
    class Client {}
    expect(findNotJson({ c: new Client() }, 's')).toEqual({ path: 's.c', what: 'a Client' });
  });

  it('accepts what JSON carries: plain data, a repeated (not circular) object, Dates, undefined fields', () => {
    const shared = { x: 1 };
    expect(findNotJson({ a: shared, b: shared, d: new Date(0), u: undefined, n: null }, 's')).toBeUndefined();
    expect(findNotJson(Object.create(null) as object, 's')).toBeUndefined();
  });

  it('whatever it accepts reads back the same from JSON (property)', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withMap: true,
          withSet: true,
          withBigInt: true,
          withNullPrototype: true,
          withSparseArray: true,
        }),
        (value) => {
          if (findNotJson(value, 'v') !== undefined) return;
          expect(
            sameAsJson(JSON.parse(JSON.stringify(value) ?? 'null'), value === undefined ? null : value),
          ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('unabsorbedRateLimit', () => {
  it('a 429 or 529, or a node that gave up on rate limits: yes, with the retry-after', () => {
    expect(unabsorbedRateLimit(http(429, { 'retry-after-ms': '1500' }))?.retryAfterMs).toBe(1500);
    expect(unabsorbedRateLimit(http(529))?.kind).toBe('overloaded');
    expect(unabsorbedRateLimit(new RateLimitHit('gave up', 2_000))?.retryAfterMs).toBe(2_000);
  });

  it('an exhausted quota, a plain failure, or an aggregate with one non-rate-limit error: no', () => {
    expect(
      unabsorbedRateLimit(http(429, {}, { code: 'insufficient_quota', type: 'insufficient_quota' })),
    ).toBeUndefined();
    expect(unabsorbedRateLimit(new Error('boom'))).toBeUndefined();
    expect(unabsorbedRateLimit(new AggregateError([http(429), new Error('boom')]))).toBeUndefined();
    expect(unabsorbedRateLimit(new AggregateError([]))).toBeUndefined();
  });

  it('an aggregate of rate limits only (a batch flow whose sub-flows all hit one): yes, the longest retry-after', () => {
    const signal = unabsorbedRateLimit(
      new AggregateError([http(429, { 'retry-after-ms': '300' }), http(429, { 'retry-after-ms': '900' })]),
    );
    expect(signal?.retryAfterMs).toBe(900);
  });
});

describe('job ids', () => {
  it('are <runId>-<index>, distinct across runs and indexes', () => {
    expect(jobIdFor('nightly', 7)).toBe('nightly-7');
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.nat(),
        fc.string({ minLength: 1 }),
        fc.nat(),
        (r1, i1, r2, i2) => {
          fc.pre(!r1.includes(':') && !r2.includes(':') && (r1 !== r2 || i1 !== i2));
          expect(jobIdFor(r1, i1)).not.toBe(jobIdFor(r2, i2));
        },
      ),
    );
  });

  it('a runId must be a non-empty string without a colon', () => {
    expect(() => assertRunId('a:b', 'QueueBatchFlow')).toThrow(/runId must not contain ':'/);
    expect(() => assertRunId('', 'QueueBatchFlow')).toThrow(/runId must be a non-empty string/);
    expect(() => assertRunId('ok-1', 'QueueBatchFlow')).not.toThrow();
  });
});
