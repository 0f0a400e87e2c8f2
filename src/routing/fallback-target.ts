import { z } from 'zod';
import { Budget } from '../cost/budget';
import { Limiter } from '../limits/limiter';
import { CircuitBreaker } from '../resilience/circuit-breaker';
import { opt } from '../validation/options';

/**
 * One provider, deployment, key or model of a fallback chain, with its own limiter. A target may
 * carry fields of your own; one that looks like a misspelt field below (`maxRateLimitRetires`) is
 * refused with "did you mean".
 */
export interface FallbackTarget<Item, Result> {
  /** Names the target in stats, events, spans and errors; unique within a chain. */
  name: string;
  /**
   * The target's own limiter: a {@link Limiter}, or the name of one in the chain's `registry`
   * (looked up at the first call).
   */
  limiter: Limiter | string;
  /**
   * Makes the call. Pass `signal` to the SDK: it aborts when the caller cancels and at `timeoutMs`.
   */
  call(item: Item, signal: AbortSignal | undefined): Result | PromiseLike<Result>;
  /**
   * Token estimate of a call, charged to the limiter's token windows (and what `'soonest'`
   * asks the limiter about).
   * @default undefined (no tokens)
   */
  tokensFor?(item: Item): number | undefined;
  /**
   * Real tokens a call used, read from its result, to reconcile the estimate.
   * @default what the response's usage counts against token rate limits (OpenAI's `total_tokens`, Anthropic's input + output + cache writes, Gemini's `usageMetadata`)
   */
  usageOf?(result: Result): number | undefined;
  /**
   * The model the target serves, looked up in the chain's `prices`: its context window (a call
   * that does not fit is never sent here) and, for `strategy: 'cheapest'`, its price.
   * @default undefined (no context check, no price)
   */
  model?: string;
  /**
   * The target's context window in tokens (prompt plus output), overriding the model's.
   * @default the `model`'s context window, else unchecked
   */
  contextWindowTokens?: number;
  /**
   * A spend budget of this target: while it has nothing left the target is passed by (reason
   * `'budget'`) and `health()` says `'overBudget'`. The chain reads it; your call spends through it.
   * @default undefined
   */
  budget?: Budget;
  /**
   * The target's breaker: while it is open the chain passes the target by without taking capacity.
   * @default undefined
   */
  circuitBreaker?: CircuitBreaker;
  /**
   * Longest one call may take, in milliseconds; a timeout moves the call to the next target.
   * @default undefined (no timeout)
   */
  timeoutMs?: number;
  /**
   * Rate limits (429/529) this target may answer one call with before the call moves on; each
   * is retried through the target's limiter after its pause.
   * @default the chain's `maxRateLimitRetries`
   */
  maxRateLimitRetries?: number;
  /**
   * Longest a call waits for room in this target's limiter before it moves on, in milliseconds.
   * @default undefined (waits as long as it takes)
   */
  acquireTimeoutMs?: number;
  /**
   * Queue priority of the chain's calls in this target's limiter (higher first).
   * @default 0
   */
  priority?: number;
}

/** The schema of one target. @internal */
export const targetSchema = z.object({
  name: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }),
  limiter: z.union([z.string().min(1), z.instanceof(Limiter)], {
    error: 'a registered limiter name or a Limiter',
  }),
  call: opt.func(),
  tokensFor: opt.func().optional(),
  usageOf: opt.func().optional(),
  model: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).optional(),
  contextWindowTokens: opt.positiveInt().optional(),
  budget: z.instanceof(Budget, { error: 'a Budget' }).optional(),
  circuitBreaker: z.instanceof(CircuitBreaker, { error: 'a CircuitBreaker' }).optional(),
  timeoutMs: opt.positiveNumber().optional(),
  maxRateLimitRetries: opt.nonNegativeInt().optional(),
  acquireTimeoutMs: opt.nonNegativeNumber().optional(),
  priority: z.number({ error: 'a number' }).optional(),
});

/** The fields a target may have (a near miss of one is refused). @internal */
export const TARGET_KEYS: readonly string[] = Object.keys(targetSchema.shape);
