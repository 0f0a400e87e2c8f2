import { z } from 'zod';
import type { Cache } from '../resilience/cache';
import { CircuitBreaker } from '../resilience/circuit-breaker';
import { opt, parseOptions } from '../validation/options';

const isCache = (v: unknown): v is Cache<unknown> =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Cache<unknown>).get === 'function' &&
  typeof (v as Cache<unknown>).set === 'function';

/** Zod shape of a throttled node's resilience options (checked for constructor options and subclass fields alike). */
export const resilienceShape = {
  circuitBreaker: z.instanceof(CircuitBreaker, { error: 'a CircuitBreaker' }).optional(),
  timeoutMs: opt.positiveNumber().optional(),
  cache: opt.instance(isCache, 'a Cache with get() and set()').optional(),
};

const resilienceSchema = z.object(resilienceShape);

/** A throttled node's breaker, per-call timeout and response cache, as in force. @internal */
export interface NodeResilience<Result> {
  circuitBreaker: CircuitBreaker | undefined;
  timeoutMs: number | undefined;
  cache: Cache<Result> | undefined;
}

/**
 * Reads the resilience settings: constructor options first, then subclass fields; validates the
 * fields (the options were validated at construction) so a bad field fails with a clear message.
 * @internal
 */
export function readNodeResilience<Result>(
  options: object,
  fields: object,
  subject: string,
): NodeResilience<Result> {
  const read = (key: keyof typeof resilienceShape): unknown =>
    (options as Record<string, unknown>)[key] ?? (fields as Record<string, unknown>)[key];
  const settings = {
    circuitBreaker: read('circuitBreaker'),
    timeoutMs: read('timeoutMs'),
    cache: read('cache'),
  };
  const parsed = parseOptions(resilienceSchema, settings, subject);
  return {
    circuitBreaker: parsed.circuitBreaker,
    timeoutMs: parsed.timeoutMs,
    cache: parsed.cache as Cache<Result> | undefined,
  };
}
