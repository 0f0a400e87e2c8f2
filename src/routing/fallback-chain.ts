import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import { isRateLimitHit } from '../errors/rate-limit-hit';
import { abortReason } from '../util/clock';
import { Limiter } from '../limits/limiter';
import { LimiterRegistry } from '../registry/limiter-registry';
import {
  findMisspelt,
  InvalidOptionError,
  opt,
  parseOptions,
  unknownOptionError,
} from '../validation/options';
import { isRecord } from '../util/is-record';
import { CircuitBreaker } from '../resilience/circuit-breaker';
import { FallbackExhaustedError, type FallbackAttempt } from './fallback-exhausted-error';
import { callThroughLimiter, isRateLimitOutcome } from '../calls/call-loop';

/**
 * One provider or model of a fallback chain, with its own limiter. A target may carry fields of
 * your own (say `model`); one that looks like a misspelt field below (`maxRateLimitRetires`) is
 * refused with "did you mean".
 */
export interface FallbackTarget<Item, Result> {
  /** Names the target in stats, events and errors; unique within a chain. */
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
   * Token estimate of a call, charged to the limiter's token windows.
   * @default undefined (no tokens)
   */
  tokensFor?(item: Item): number | undefined;
  /**
   * Real tokens a call used, read from its result, to reconcile the estimate.
   * @default what the response's usage counts against token rate limits (OpenAI's `total_tokens`, Anthropic's input + output + cache writes, Gemini's `usageMetadata`)
   */
  usageOf?(result: Result): number | undefined;
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

/** Options of {@link withFallback} / {@link FallbackChain}. */
export interface FallbackOptions {
  /**
   * Names the chain in errors and rate-limit sources.
   * @default 'fallback'
   */
  name?: string;
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

/** Options of one {@link FallbackChain.call}. */
export interface FallbackCallOptions {
  /**
   * Cancels the call: waits and the target's call are aborted and it rejects with the signal's reason.
   * @default undefined
   */
  signal?: AbortSignal;
}

/** What {@link FallbackChain.callWithReport} resolves with. */
export interface FallbackReport<Result> {
  value: Result;
  /** The target that served the call. */
  servedBy: string;
  /** Targets that failed the call before, in order. */
  attempts: FallbackAttempt[];
}

/** Counters of one target. */
export interface FallbackTargetStats {
  /** Calls it served. */
  served: number;
  /** Rate limits and overloads (429/529) it answered with. */
  rateLimits: number;
  /** Calls that failed with an ordinary error (including timeouts). */
  failures: number;
  /** Calls refused before they reached it: open circuit, or its limiter refused (timeout, drain, …). */
  refused: number;
  /** Calls that passed it by while its limiter was paused. */
  skipped: number;
}

/** Stats of a chain, since it was made. */
export interface FallbackStats {
  /** Calls made through the chain. */
  calls: number;
  /** Calls some target served. */
  served: number;
  /** Calls no target served (they rejected with `FallbackExhaustedError`). */
  failed: number;
  /** Calls served by a target other than the first. */
  fellBack: number;
  /** Calls served, by target name (every target listed). */
  servedBy: Record<string, number>;
  /** Counters by target name. */
  targets: Record<string, FallbackTargetStats>;
}

/** Events of a {@link FallbackChain}. */
export interface FallbackEvents {
  /** A target did not serve a call; the call moves on to the next one (if any). */
  failover: [event: { from: string; error: unknown }];
  /** A call passed a target by because its limiter is paused (a provider's retry-after). */
  skip: [event: { target: string; pausedUntil: number }];
  /** A target served a call; `fallback` when it was not the first target. */
  served: [event: { target: string; fallback: boolean; attempts: number }];
}

const targetSchema = z.object({
  name: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }),
  limiter: z.union([z.string().min(1), z.instanceof(Limiter)], {
    error: 'a registered limiter name or a Limiter',
  }),
  call: opt.func(),
  tokensFor: opt.func().optional(),
  usageOf: opt.func().optional(),
  circuitBreaker: z.instanceof(CircuitBreaker, { error: 'a CircuitBreaker' }).optional(),
  timeoutMs: opt.positiveNumber().optional(),
  maxRateLimitRetries: opt.nonNegativeInt().optional(),
  acquireTimeoutMs: opt.nonNegativeNumber().optional(),
  priority: z.number({ error: 'a number' }).optional(),
});

const TARGET_KEYS: readonly string[] = Object.keys(targetSchema.shape);

const fallbackOptionsShape = {
  name: opt.string().optional(),
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

interface Resolved<Item, Result> {
  target: FallbackTarget<Item, Result>;
  index: number;
  limiter: Limiter;
  stats: FallbackTargetStats;
}

/**
 * Routes each call to the first target that can serve it: a target that is rate limited past its
 * retry budget, overloaded, open-circuit, refused by its limiter or failing passes the call on to
 * the next. A target whose limiter is paused (a provider's retry-after) is passed by until the
 * pause ends, then used again, so the primary takes calls back after its pause. When every other
 * target failed, the paused ones are waited for (earliest pause end first) before giving up with
 * {@link FallbackExhaustedError}. Each target keeps its own limiter; `stats().servedBy` says who
 * served what.
 *
 * @example
 * const chat = withFallback([
 *   { name: 'gpt-4o', limiter: 'openai', call: (q, signal) => openai.chat.completions.create({ model: 'gpt-4o', messages: q }, { signal }) },
 *   { name: 'claude', limiter: 'anthropic', call: (q, signal) => anthropic.messages.create({ model, max_tokens, messages: q }, { signal }) },
 * ]);
 * const reply = await chat.call(messages);
 */
export class FallbackChain<Item, Result> extends EventEmitter<FallbackEvents> {
  /** Names the chain in errors. */
  readonly name: string;
  private readonly targets: readonly FallbackTarget<Item, Result>[];
  private readonly registry: LimiterRegistry;
  private readonly maxRateLimitRetries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly shouldFallback: (error: unknown, target: string) => boolean;
  private resolved: Resolved<Item, Result>[] | undefined;
  private readonly perTarget: FallbackTargetStats[];
  private readonly totals = { calls: 0, served: 0, failed: 0, fellBack: 0 };

  constructor(targets: readonly FallbackTarget<Item, Result>[], options: FallbackOptions = {}) {
    super();
    const parsed = parseOptions(chainSchema, { ...options, targets }, 'withFallback');
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
    });
    this.targets = [...targets];
    this.name = parsed.name ?? 'fallback';
    this.registry = parsed.registry ?? LimiterRegistry.default;
    this.maxRateLimitRetries = parsed.maxRateLimitRetries ?? 0;
    this.backoffMs = parsed.rateLimitBackoffMs ?? 1000;
    this.maxBackoffMs = parsed.maxRateLimitBackoffMs ?? 60_000;
    this.shouldFallback = (parsed.shouldFallback as FallbackOptions['shouldFallback']) ?? (() => true);
    this.perTarget = this.targets.map(() => ({
      served: 0,
      rateLimits: 0,
      failures: 0,
      refused: 0,
      skipped: 0,
    }));
  }

  /** Makes one call through the chain; rejects with {@link FallbackExhaustedError} when no target served it. */
  async call(item: Item, options: FallbackCallOptions = {}): Promise<Result> {
    return (await this.callWithReport(item, options)).value;
  }

  /** Like {@link call}, and says which target served the call and which failed before. */
  async callWithReport(item: Item, options: FallbackCallOptions = {}): Promise<FallbackReport<Result>> {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const targets = this.resolve();
    this.totals.calls++;
    const attempts: FallbackAttempt[] = [];
    const paused: { resolved: Resolved<Item, Result>; until: number }[] = [];
    for (const resolved of targets) {
      const until = pausedUntil(resolved.limiter);
      if (until > 0) {
        resolved.stats.skipped++;
        if (this.listenerCount('skip'))
          this.emit('skip', { target: resolved.target.name, pausedUntil: until });
        paused.push({ resolved, until });
        continue;
      }
      const value = await this.tryTarget(resolved, item, signal, attempts);
      if (value) return this.served(resolved, value.ok, attempts);
    }
    // Everyone not paused failed: wait for the paused targets rather than fail, earliest first.
    paused.sort((a, b) => a.until - b.until);
    for (const { resolved } of paused) {
      const value = await this.tryTarget(resolved, item, signal, attempts);
      if (value) return this.served(resolved, value.ok, attempts);
    }
    this.totals.failed++;
    const allRateLimited = attempts.length > 0 && attempts.every((a) => isRateLimitHit(a.error));
    throw new FallbackExhaustedError(
      this.name,
      attempts,
      allRateLimited ? { cause: attempts[attempts.length - 1]!.error } : {},
    );
  }

  /** Counters of the chain and of each target. */
  stats(): FallbackStats {
    const servedBy: Record<string, number> = {};
    const targets: Record<string, FallbackTargetStats> = {};
    this.targets.forEach((t, i) => {
      const s = this.perTarget[i]!;
      servedBy[t.name] = s.served;
      targets[t.name] = { ...s };
    });
    return { ...this.totals, servedBy, targets };
  }

  /** The limiter of each target, by name (resolved from the registry at the first use). */
  limiters(): Record<string, Limiter> {
    return Object.fromEntries(this.resolve().map((r) => [r.target.name, r.limiter]));
  }

  private resolve(): Resolved<Item, Result>[] {
    return (this.resolved ??= this.targets.map((target, index) => ({
      target,
      index,
      limiter: typeof target.limiter === 'string' ? this.registry.get(target.limiter) : target.limiter,
      stats: this.perTarget[index]!,
    })));
  }

  private served(
    resolved: Resolved<Item, Result>,
    value: Result,
    attempts: FallbackAttempt[],
  ): FallbackReport<Result> {
    resolved.stats.served++;
    this.totals.served++;
    const fallback = resolved.index > 0;
    if (fallback) this.totals.fellBack++;
    if (this.listenerCount('served'))
      this.emit('served', { target: resolved.target.name, fallback, attempts: attempts.length });
    return { value, servedBy: resolved.target.name, attempts };
  }

  /** Records a target's failure of one call; the call moves on. */
  private failed(resolved: Resolved<Item, Result>, error: unknown, attempts: FallbackAttempt[]): undefined {
    attempts.push({ target: resolved.target.name, error });
    if (this.listenerCount('failover')) this.emit('failover', { from: resolved.target.name, error });
    return undefined;
  }

  /**
   * Tries one target through the shared call loop (its rate limits retried on its limiter within
   * budget); `undefined` when the call should move on.
   */
  private async tryTarget(
    resolved: Resolved<Item, Result>,
    item: Item,
    signal: AbortSignal | undefined,
    attempts: FallbackAttempt[],
  ): Promise<{ ok: Result } | undefined> {
    const { target, limiter, stats } = resolved;
    let tokens: number | undefined;
    try {
      tokens = target.tokensFor?.(item);
    } catch (error) {
      if (signal?.aborted) throw error;
      // A target that cannot even estimate the call is passed by, as one that refuses it.
      stats.refused++;
      return this.failed(resolved, error, attempts);
    }
    const outcome = await callThroughLimiter<Result>(
      limiter,
      (attempt) => target.call(item, attempt.signal),
      {
        signal,
        acquire: { tokens, priority: target.priority, timeoutMs: target.acquireTimeoutMs },
        guards: { circuitBreaker: target.circuitBreaker, timeoutMs: target.timeoutMs },
        usageOf: target.usageOf ? (value) => target.usageOf!(value) : undefined,
        source: `${this.name}/${target.name}`,
        retry: {
          maxRateLimitRetries: target.maxRateLimitRetries ?? this.maxRateLimitRetries,
          rateLimitBackoffMs: this.backoffMs,
          maxRateLimitBackoffMs: this.maxBackoffMs,
        },
        onAttempt: (attemptOutcome) => {
          if (isRateLimitOutcome(attemptOutcome)) stats.rateLimits++;
        },
      },
    );
    switch (outcome.kind) {
      case 'ok':
        return { ok: outcome.value };
      case 'aborted':
        // The caller's cancellation never moves the call on.
        throw outcome.error;
      case 'refused':
        stats.refused++;
        return this.failed(resolved, outcome.error, attempts);
      case 'failed':
        stats.failures++;
        if (!this.shouldFallback(outcome.error, target.name)) throw outcome.error;
        return this.failed(resolved, outcome.error, attempts);
      case 'rateLimited':
      case 'quotaExhausted':
        // Past the retry budget, or a quota retrying cannot help: the next target.
        return this.failed(resolved, outcome.error, attempts);
    }
  }
}

/** When the limiter's pause ends, or 0 when it is not paused. */
function pausedUntil(limiter: Limiter): number {
  const until = limiter.stats().pausedUntil;
  return until > limiter.clock.now() ? until : 0;
}

/**
 * A {@link FallbackChain} over `targets`, first preferred.
 *
 * @example
 * const summarise = withFallback([primary, secondary], { maxRateLimitRetries: 1 });
 * await summarise.call(text, { signal });
 * summarise.stats().servedBy; // { primary: 120, secondary: 14 }
 */
export function withFallback<Item, Result>(
  targets: readonly FallbackTarget<Item, Result>[],
  options: FallbackOptions = {},
): FallbackChain<Item, Result> {
  return new FallbackChain(targets, options);
}
