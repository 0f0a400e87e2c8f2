import { z } from 'zod';
import type { NodeOptions } from '../core/node';
import { Limiter, type LimiterOptions } from '../limits/limiter';
import { LimiterRegistry } from '../registry/limiter-registry';
import { opt } from '../validation/options';
import type { EventHook } from '../observability/throttle-event';
import type { Cache } from '../resilience/cache';
import type { CircuitBreaker } from '../resilience/circuit-breaker';
import type { Budget } from '../cost/budget';
import { accountingShape } from '../observability/node-accounting';
import { resilienceShape } from './node-resilience';

/** The limiter settings a throttled node accepts (the same names as {@link LimiterOptions}). */
export const LIMIT_KEYS = [
  'maxConcurrent',
  'maxPerMinute',
  'maxTokensPerMinute',
  'maxPerDay',
  'maxPerWindow',
  'windowMs',
  'windows',
  'windowMarginMs',
  'refundFailedAttempts',
  'pacingMs',
  'reconcile',
  'clock',
  'store',
  'warnings',
] as const satisfies readonly (keyof LimiterOptions)[];

export type LimitFields = Pick<LimiterOptions, (typeof LIMIT_KEYS)[number]>;

/** Options of a {@link ThrottledParallelBatchNode}: its limits (or a shared limiter) and its retry policy. @category Throttled nodes and flows */
export interface ThrottledNodeOptions extends NodeOptions, LimitFields {
  /**
   * A shared limiter instead of the node's own: a {@link Limiter}, or the name of one in
   * `registry` (looked up at the first run, so registration order does not matter).
   * When set, the node's own limit fields are ignored.
   * @default undefined (the node makes its own limiter from its limit fields)
   */
  limiter?: string | Limiter;
  /**
   * The registry `limiter` names are looked up in.
   * @default LimiterRegistry.default
   */
  registry?: LimiterRegistry;
  /**
   * How many times one item may be put back through the limiter after a provider rate limit
   * (429/529) before it fails through `execFallback` with a `RateLimitHit`. These retries do
   * not use up `maxRetries`, which counts ordinary failures.
   * @default 10
   */
  maxRateLimitRetries?: number;
  /**
   * Base pause after a rate limit that carries no retry-after; doubles per consecutive rate
   * limit of the same item, with jitter.
   * @default 1000
   */
  rateLimitBackoffMs?: number;
  /**
   * Upper bound of that pause.
   * @default 60000
   */
  maxRateLimitBackoffMs?: number;
  /**
   * Queue priority of this node's calls in a shared limiter (higher first).
   * @default 0
   */
  priority?: number;
  /**
   * Receives an event after every call and every run (for logs, Langfuse, tracing); see also
   * `addEventHook` for all nodes at once.
   * @default undefined
   */
  onEvent?: EventHook;
  /**
   * Every call goes through `breaker.run`. While the circuit is open an item fails fast with
   * `BrokenCircuitError` through `execFallback`, without taking limiter capacity or retrying.
   * Rate limits do not trip the breaker unless its `isFailure` says so (the default does not);
   * overloads (529), 5xx and timeouts do. Share one breaker between nodes that call one provider.
   * @default undefined (no breaker)
   */
  circuitBreaker?: CircuitBreaker;
  /**
   * Longest one call of `exec` may take, in milliseconds. At the deadline the signal `exec`
   * receives as its second argument aborts (pass it to the SDK so the request is really
   * cancelled), the slot is released and the call counts as an ordinary failure (retried up to
   * `maxRetries`), never as a rate limit.
   * @default undefined (no timeout)
   */
  timeoutMs?: number;
  /**
   * A response cache (`new MemoryCache({ max, ttlMs })`, or any {@link Cache}) keyed by
   * `cacheKeyOf(item)`: a hit returns without acquiring the limiter (it costs no capacity), and
   * concurrent misses of one key make one call. Fallback values are not cached. A cache that fails
   * to answer counts as a miss.
   * @default undefined (no cache)
   */
  cache?: Cache<unknown>;
  /**
   * A spend cap: each call reserves its estimated cost before it asks the limiter for a slot (a
   * chat request's prompt estimate and `max_tokens` at its model's prices; for other items,
   * `tokensFor(item)` input tokens) and settles with the real usage after. A call that would take
   * spending past the cap fails with `BudgetExceededError` through `execFallback` (which rethrows
   * by default) while calls in flight finish; one that only finds the cap held by estimates of
   * calls in flight waits for them. Failed calls cost nothing. A dollar cap needs a model: a call
   * without one, or with one missing from the price table, fails the same way.
   * @default undefined (no budget)
   */
  budget?: Budget;
  /**
   * The model calls are for when the item does not say (`item.model` wins): prices the budget's
   * estimates and the node's `costUsd`, and picks the tokenizer of token estimates.
   * @default undefined (the item's `model`, else none: no cost)
   */
  model?: string;
}

/** Zod schema of a throttled node's own (non-limit) options. @internal */
export const policySchema = z.object({
  maxRetries: opt.positiveInt().optional(),
  waitMs: opt.nonNegativeNumber().optional(),
  limiter: z
    .union([z.string().min(1), z.instanceof(Limiter)], { error: 'a registered limiter name or a Limiter' })
    .optional(),
  registry: z.instanceof(LimiterRegistry, { error: 'a LimiterRegistry' }).optional(),
  maxRateLimitRetries: opt.nonNegativeInt().optional(),
  rateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  maxRateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  priority: z.number({ error: 'a number' }).optional(),
  onEvent: opt.func().optional(),
  ...resilienceShape,
  ...accountingShape,
});

/** Every option a throttled node reads (constructor options and subclass fields alike). @internal */
export const NODE_OPTION_KEYS: readonly string[] = [...Object.keys(policySchema.shape), ...LIMIT_KEYS];

// Compile-time check that the list above names every option of the interface: a new option
// missing from the schemas would be refused as unknown.
type UncheckedNodeOption = Exclude<
  keyof ThrottledNodeOptions,
  keyof typeof policySchema.shape | (typeof LIMIT_KEYS)[number]
>;
const everyNodeOptionListed: [UncheckedNodeOption] extends [never] ? true : UncheckedNodeOption = true;
void everyNodeOptionListed;

/** The retry policy and priority in force for a node's calls. @internal */
export interface NodeCallPolicy {
  maxRateLimitRetries: number;
  rateLimitBackoffMs: number;
  maxRateLimitBackoffMs: number;
  priority: number;
}

/** Reads the call policy: constructor options first, then subclass fields, then the defaults. @internal */
export function readCallPolicy(options: ThrottledNodeOptions, fields: object): NodeCallPolicy {
  const read = <K extends keyof ThrottledNodeOptions>(key: K): ThrottledNodeOptions[K] =>
    (options[key] ?? (fields as Record<string, unknown>)[key]) as ThrottledNodeOptions[K];
  return {
    maxRateLimitRetries: read('maxRateLimitRetries') ?? 10,
    rateLimitBackoffMs: read('rateLimitBackoffMs') ?? 1000,
    maxRateLimitBackoffMs: read('maxRateLimitBackoffMs') ?? 60_000,
    priority: read('priority') ?? 0,
  };
}

/** The defined values of `keys` in `source`. @internal */
export function pick(source: object, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (source as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Validates limit settings by building a throwaway limiter config (errors name the option). @internal */
export function validateLimits(settings: object, subject: string): void {
  const limits = pick(settings, [...LIMIT_KEYS]);
  if (Object.keys(limits).length > 0) Limiter.validateOptions(limits, subject);
}
