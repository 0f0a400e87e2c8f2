import { z } from 'zod';
import type { CallEstimate } from '../cost/call-spend';
import { defaultPriceTable, PriceTable } from '../cost/price-table';
import { LimiterRegistry } from '../registry/limiter-registry';
import { isRecord } from '../util/is-record';
import {
  findMisspelt,
  InvalidOptionError,
  opt,
  parseOptions,
  unknownOptionError,
} from '../validation/options';
import { TARGET_KEYS, targetSchema, type FallbackTarget } from './fallback-target';

/**
 * How a chain picks the target of each call (see {@link FallbackOptions.strategy}).
 * - `'ordered'`: the first target that can serve it, in the order given.
 * - `'soonest'`: the target whose limiter can start this call (its requests and tokens) earliest.
 * - `'cheapest'`: the lowest estimated price among targets that can start it within `maxWaitMs`.
 * - `'latency'`: the lowest recent median latency among targets that can start it now.
 */
export type RoutingStrategy = 'ordered' | 'soonest' | 'cheapest' | 'latency';

/** Every strategy, for validation. @internal */
export const ROUTING_STRATEGIES = [
  'ordered',
  'soonest',
  'cheapest',
  'latency',
] as const satisfies readonly RoutingStrategy[];

/** Options of {@link withFallback} / {@link FallbackChain}. */
export interface FallbackOptions {
  /**
   * Names the chain in errors, events and rate-limit sources.
   * @default 'fallback'
   */
  name?: string;
  /**
   * How each call picks its target. `'ordered'` tries targets in the order given (the first that
   * can serve it wins; calls queue on the first target's limiter). `'soonest'` sends it to the
   * target whose limiter can start it earliest (its request and token cost; ties to the one with
   * fewest calls in flight, then the order given), so capacity adds up across keys and regions.
   * `'cheapest'` picks the lowest estimated price (the target's `model` in `prices`) among
   * targets that can start it within `maxWaitMs`, else the soonest. `'latency'` picks the lowest
   * recent median latency among targets that can start it now, else the soonest. With every
   * strategy a paused target (after a 429) is passed by until its pause ends, and a target that
   * fails a call moves it on to the best remaining target. The choice asks each limiter how long
   * it would wait, which takes no capacity: only the chosen target's limiter is acquired.
   * @default 'ordered'
   */
  strategy?: RoutingStrategy;
  /**
   * With `'cheapest'`: how long a call may wait for a cheaper target before a dearer one that can
   * start sooner is taken, in milliseconds.
   * @default 1000
   */
  maxWaitMs?: number;
  /**
   * Where targets' models are priced and their context windows looked up.
   * @default the default price table (`throttleflow/cost`)
   */
  prices?: PriceTable;
  /**
   * The prompt and output tokens of a call, for context windows and prices.
   * @default for a chat request (`{ messages, max_tokens }`) or a messages array, the estimated prompt and its `max_tokens`; otherwise unknown (no context check; prices compare per token)
   */
  estimateCall?: (item: never) => CallEstimate | undefined;
  /**
   * Where target limiter names are looked up.
   * @default LimiterRegistry.default
   */
  registry?: LimiterRegistry;
  /**
   * Rate limits a target may answer one call with before the call moves to the next target.
   * `0` moves on at the first one, the target's limiter paused meanwhile (so later calls pass it
   * by until the pause ends).
   * @default 0
   */
  maxRateLimitRetries?: number;
  /**
   * Pause of a target's limiter after a rate limit that carries no retry-after (doubles per
   * consecutive rate limit of one call, jittered).
   * @default 1000
   */
  rateLimitBackoffMs?: number;
  /**
   * Upper bound of that pause.
   * @default 60000
   */
  maxRateLimitBackoffMs?: number;
  /**
   * Whether an ordinary error of a target moves the call on; `false` rethrows it at once. Rate
   * limits, open circuits and limiter refusals always move on; the caller's cancellation never does.
   * @default () => true
   */
  shouldFallback?: (error: unknown, target: string) => boolean;
}

const fallbackOptionsShape = {
  name: opt.string().optional(),
  strategy: opt.oneOf(ROUTING_STRATEGIES).optional(),
  maxWaitMs: opt.positiveNumber().optional(),
  prices: z.instanceof(PriceTable, { error: 'a PriceTable' }).optional(),
  estimateCall: opt.func().optional(),
  registry: z.instanceof(LimiterRegistry, { error: 'a LimiterRegistry' }).optional(),
  maxRateLimitRetries: opt.nonNegativeInt().optional(),
  rateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  maxRateLimitBackoffMs: opt.nonNegativeNumber().optional(),
  shouldFallback: opt.func().optional(),
};

/** The chain's options without its targets (a `FallbackNode` checks them before it has targets). @internal */
export const fallbackOptionsSchema = z.strictObject(fallbackOptionsShape);

const chainSchema = z.strictObject({
  targets: z
    .array(targetSchema, { error: 'an array of targets' })
    .min(1, { error: 'a non-empty array of targets' }),
  ...fallbackOptionsShape,
});

/** A chain's options with defaults filled in. @internal */
export interface ResolvedFallbackOptions {
  name: string;
  strategy: RoutingStrategy;
  maxWaitMs: number;
  prices: PriceTable;
  estimateCall: ((item: unknown) => CallEstimate | undefined) | undefined;
  registry: LimiterRegistry;
  maxRateLimitRetries: number;
  rateLimitBackoffMs: number;
  maxRateLimitBackoffMs: number;
  shouldFallback: (error: unknown, target: string) => boolean;
}

/**
 * Checks a chain's targets and options; throws `InvalidOptionError` naming the target and option
 * (an unknown strategy, `maxWaitMs` ≤ 0, duplicate names, a near miss of a target field,
 * `'cheapest'` with a target whose model has no price). @internal
 */
export function resolveFallbackOptions<Item, Result>(
  targets: readonly FallbackTarget<Item, Result>[],
  options: FallbackOptions,
): ResolvedFallbackOptions {
  const parsed = parseOptions(chainSchema, { ...options, targets }, 'withFallback');
  const prices = parsed.prices ?? defaultPriceTable;
  const strategy = parsed.strategy ?? 'ordered';
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    // Targets may carry the user's own fields, so only a near miss of a known one is refused.
    const misspelt = isRecord(t) ? findMisspelt(Object.keys(t), TARGET_KEYS) : undefined;
    if (misspelt !== undefined)
      throw unknownOptionError(misspelt, TARGET_KEYS, 'withFallback', `targets.${i}.`);
    if (seen.has(t.name))
      throw new InvalidOptionError(
        `targets.${i}.name`,
        `targets.${i}.name must be unique, got '${t.name}' twice`,
      );
    seen.add(t.name);
    if (strategy === 'cheapest' && (t.model === undefined || !prices.has(t.model))) {
      const got = t.model === undefined ? 'no model' : `model '${t.model}', which has no price in prices`;
      throw new InvalidOptionError(
        `targets.${i}.model`,
        `targets.${i}.model (target '${t.name}') must name a priced model with strategy 'cheapest', got ${got}`,
      );
    }
  });
  return {
    name: parsed.name ?? 'fallback',
    strategy,
    maxWaitMs: parsed.maxWaitMs ?? 1000,
    prices,
    estimateCall: parsed.estimateCall as ResolvedFallbackOptions['estimateCall'],
    registry: parsed.registry ?? LimiterRegistry.default,
    maxRateLimitRetries: parsed.maxRateLimitRetries ?? 0,
    rateLimitBackoffMs: parsed.rateLimitBackoffMs ?? 1000,
    maxRateLimitBackoffMs: parsed.maxRateLimitBackoffMs ?? 60_000,
    shouldFallback: (parsed.shouldFallback as FallbackOptions['shouldFallback']) ?? (() => true),
  };
}
