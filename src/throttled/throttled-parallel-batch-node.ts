import { z } from 'zod';
import { delay, throwIfAborted } from '../core/abort';
import { BatchNode } from '../core/batch-node';
import { resolveNodeOptions, type NodeOptions } from '../core/node';
import type { Action, Params } from '../core/types';
import { Limiter, type LimiterOptions } from '../limits/limiter';
import type { Lease } from '../limits/lease';
import { LimiterRegistry } from '../registry/limiter-registry';
import { opt, parseOptions } from '../validation/options';
import { emitEvent, hasEventHooks, type CallEvent, type EventHook } from '../observability/throttle-event';
import { handleRateLimit, type RateLimitOutcome } from '../calls/rate-limit-handling';
import { detectRateLimit } from '../providers/detect-rate-limit';
import { usageTokensOf } from '../cost/usage-tokens';
import type { Cache } from '../resilience/cache';
import { cacheKeyOf } from '../resilience/cache-key';
import type { CircuitBreaker } from '../resilience/circuit-breaker';
import { isBrokenCircuitError } from '../resilience/broken-circuit-error';
import { acquireWhileClosed, guardedCall } from '../calls/guarded-call';
import { ItemFailure, loadThroughCache } from './item-cache';
import { readNodeResilience, resilienceShape, type NodeResilience } from './node-resilience';
import { resolveWindows } from '../limits/limiter-options';
import type { Budget } from '../cost/budget';
import type { BudgetReservation } from '../cost/budget-reservation';
import { LimiterMetrics } from '../limits/limiter-metrics';
import { NodeMetrics, type NodeMetricsStats } from '../observability/node-metrics';
import { accountingShape, NodeAccounting, type CallSpend } from '../observability/node-accounting';
import { nextRunId } from '../observability/throttle-event';

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
  'reconcile',
  'clock',
  'store',
] as const satisfies readonly (keyof LimiterOptions)[];

type LimitFields = Pick<LimiterOptions, (typeof LIMIT_KEYS)[number]>;

/** Options of a {@link ThrottledParallelBatchNode}: its limits (or a shared limiter) and its retry policy. */
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

const policySchema = z.object({
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

/** Counters of one node, shared by every per-visit copy of it. */
export interface ThrottledNodeCounters {
  /** Items that ended with a value from `exec`. */
  totalSuccesses: number;
  /** Items whose tries were all used up (they then went through `execFallback`). */
  totalFailures: number;
  /** Provider rate limits (429/529) seen by this node. */
  totalRateLimits: number;
  /** Successes since the last rate limit. */
  consecutiveSuccesses: number;
  /** Items answered by the `cache` (or by a concurrent call for the same key) without a call of their own. */
  totalCacheHits: number;
}

/**
 * Stats of a throttled node: its counters plus its limiter's stats, with the latency and queue
 * wait percentiles, tokens and cost of this node's own calls.
 */
export type ThrottledNodeStats = ThrottledNodeCounters &
  ReturnType<Limiter['stats']> &
  NodeMetricsStats & {
    /** The concurrency limit in force now (the AIMD level for adaptive nodes). */
    currentConcurrent: number;
  };

/**
 * State every per-visit copy of a node shares by reference (Flow shallow-copies nodes), so
 * limits, AIMD level and stats are those of the node the user created.
 * @internal
 */
export interface ThrottleState {
  limiter: Limiter | undefined;
  scoped: WeakMap<object, Limiter>;
  counters: ThrottledNodeCounters;
  /** Breaker, timeout and cache, read at the first run. */
  resilience?: NodeResilience<unknown>;
  /** Latency histograms, tokens and cost of the node's calls. */
  metrics: NodeMetrics;
  /** Budget and model, read at the first run. */
  accounting?: NodeAccounting;
  /** Whether the node's limiter has a token window (read at the first run). */
  countsTokens?: boolean;
}

/**
 * A parallel batch node whose calls go through a limiter: at most `maxConcurrent` in flight,
 * at most `maxPerMinute` (and/or tokens, daily, custom windows) started in any sliding window,
 * with provider rate limits (429/529) paused for and retried without losing the item.
 * Results keep input order.
 *
 * Configure it with constructor options or subclass fields (read at the first run):
 *
 * @example
 * class Translate extends ThrottledParallelBatchNode<Shared, string, string> {
 *   maxConcurrent = 5;
 *   maxPerMinute = 60;
 *   async prep(shared: Shared) { return shared.texts; }
 *   async exec(text: string) { return callLlm(`Translate: ${text}`); }
 * }
 * new ThrottledParallelBatchNode({ ...Presets.OPENAI_TIER1 });
 * new ThrottledParallelBatchNode({ limiter: 'openai' }); // a shared, registered limiter
 *
 * Inside a throttled batch flow, a node's own limits apply per sub-flow run (so 5 flows × 3
 * calls = 15 in flight, as in the reference cookbook); use a registry limiter for one budget
 * shared by everything.
 */
export class ThrottledParallelBatchNode<
  S = unknown,
  Item = unknown,
  Result = unknown,
  P extends object = Params,
> extends BatchNode<S, P, Item, Result> {
  /** @default 5 */
  maxConcurrent?: number;
  maxPerMinute?: number;
  maxTokensPerMinute?: number;
  maxPerDay?: number;
  maxPerWindow?: number;
  windowMs?: number;
  windows?: LimiterOptions['windows'];
  windowMarginMs?: number;
  reconcile?: LimiterOptions['reconcile'];
  clock?: LimiterOptions['clock'];
  store?: LimiterOptions['store'];
  limiter?: string | Limiter;
  registry?: LimiterRegistry;
  maxRateLimitRetries?: number;
  rateLimitBackoffMs?: number;
  maxRateLimitBackoffMs?: number;
  priority?: number;
  onEvent?: EventHook;
  circuitBreaker?: CircuitBreaker;
  timeoutMs?: number;
  cache?: Cache<Result>;
  budget?: Budget;
  model?: string;

  /** @internal */
  protected readonly throttle: ThrottleState;
  /** @internal the options given to the constructor; they win over subclass fields. */
  protected readonly throttleOptions: ThrottledNodeOptions;

  /**
   * @param options - limits, a shared `limiter`, and retry settings; or pocketflow's
   * positional `maxRetries`
   * @param wait - seconds between ordinary retries (pocketflow's positional form)
   */
  constructor(options?: ThrottledNodeOptions | number, wait?: number) {
    const given = typeof options === 'object' && options !== null ? options : {};
    const { maxRetries, waitMs } = given;
    super(typeof options === 'number' ? options : { maxRetries, waitMs }, wait);
    const subject = new.target.name || 'ThrottledParallelBatchNode';
    parseOptions(policySchema, pick(given, Object.keys(policySchema.shape)), subject);
    if (!given.limiter) validateLimits(given, subject);
    this.throttleOptions = { ...given };
    this.throttle = { limiter: undefined, scoped: new WeakMap(), counters: emptyCounters(), metrics: new NodeMetrics() };
  }

  /**
   * Token estimate of one item, charged to token windows when its call starts (reconciled with
   * the real usage afterwards). By default, when the limiter has a token window and the item is a
   * chat request or a messages array: its prompt estimated with `estimateTokens` plus its
   * `max_tokens` (what OpenAI charges up front); else none. Override for other items.
   * @returns tokens, or `undefined` for none
   */
  tokensFor(item: Item): number | undefined {
    return this.countsTokens() ? this.accounting().defaultTokens(item) : undefined;
  }

  /**
   * Real tokens used by one call, read from its result; by default what the response's usage
   * counts against token rate limits (`usageTokensOf`: OpenAI's `total_tokens`, Anthropic's input
   * + output + cache writes, Gemini's `usageMetadata`, also inside a `withResponse()` result).
   */
  usageOf(result: Result): number | undefined {
    return usageTokensOf(result);
  }

  /**
   * Processes one item (called once per try, while the item's slot is held). `signal` aborts when
   * the call times out (`timeoutMs`) or the run is cancelled: pass it to the SDK call.
   */
  override async exec(_item: Item, _signal?: AbortSignal): Promise<Result> {
    return undefined as Result;
  }

  /**
   * The `cache` key of an item; by default a hash of the whole item (see the `cacheKeyOf`
   * function). Override to key on the prompt and parameters only; return `undefined` to bypass
   * the cache for this item.
   */
  cacheKeyOf(item: Item): string | undefined {
    return cacheKeyOf(item);
  }

  /** Counters and limiter stats, totalled over every run of this node. */
  get stats(): ThrottledNodeStats {
    const limiter = this.throttle.limiter ?? this.resolveLimiter(undefined);
    const limiterStats = limiter.stats();
    return {
      ...limiterStats,
      ...this.throttle.counters,
      ...this.throttle.metrics.stats(),
      currentConcurrent: this.currentConcurrencyLimit(limiterStats.maxConcurrent),
    };
  }

  /** The limiter this node uses outside throttled flows (created on first use). */
  getLimiter(): Limiter {
    return this.resolveLimiter(undefined);
  }

  override async _exec(items: unknown): Promise<unknown> {
    if (!Array.isArray(items)) return [];
    const limiter = this.resolveLimiter(this.throttleScope);
    const started = limiter.clock.now();
    const runId = nextRunId();
    const startHook = this.eventHook();
    if (hasEventHooks(startHook)) emitEvent({ type: 'node_start', node: this.constructor.name, limiter: limiter.name, items: items.length, runId }, startHook);
    const settled = await Promise.allSettled(items.map((item: Item) => this.execItem(limiter, item, runId)));
    // Wait for every item before failing, so no call is left running unobserved.
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const hook = this.eventHook();
    if (hasEventHooks(hook)) {
      const event = { type: 'node_run' as const, node: this.constructor.name, limiter: limiter.name, items: items.length, durationMs: limiter.clock.now() - started, runId };
      emitEvent(failed ? { ...event, error: failed.reason } : event, hook);
    }
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<Result>).value);
  }

  /** One item: from the cache when there is one, else through its calls; `execFallback` when they all failed. */
  private async execItem(limiter: Limiter, item: Item, runId: number): Promise<Result> {
    const cache = this.resilience().cache as Cache<Result> | undefined;
    const key = cache ? this.cacheKeyOf(item) : undefined;
    try {
      if (!cache || key === undefined) return await this.execCalls(limiter, item, runId);
      const { value, loaded } = await loadThroughCache(cache, key, () => this.execCalls(limiter, item, runId), this.signal);
      if (!loaded) this.throttle.counters.totalCacheHits++;
      return value;
    } catch (error) {
      if (error instanceof ItemFailure) return await this.execFallback(item, error.error);
      throw error;
    }
  }

  /**
   * The calls of one item: acquire, exec, release; retry ordinary failures and rate limits
   * separately. Throws {@link ItemFailure} when the item failed for good.
   */
  private async execCalls(limiter: Limiter, item: Item, runId: number): Promise<Result> {
    const policy = this.policy();
    const guards = this.resilience();
    const accounting = this.accounting();
    const counters = this.throttle.counters;
    let failures = 0;
    let rateLimits = 0;
    const hook = this.eventHook();
    for (;;) {
      const tokens = this.tokensFor(item);
      let reservation: BudgetReservation | undefined;
      try {
        reservation = await accounting.reserve(item, tokens, this.signal);
      } catch (error) {
        // Over budget (or unpriceable under a dollar cap): fail the item, do not retry it.
        if (this.signal?.aborted) throw error;
        counters.totalFailures++;
        throw new ItemFailure(error as Error, this.signal);
      }
      // After the budget, which may have made this call wait.
      this.beforeAcquire(limiter);
      const askedAt = limiter.clock.now();
      let lease: Lease;
      try {
        lease = await acquireWhileClosed(limiter, { tokens, priority: policy.priority, signal: this.signal }, guards.circuitBreaker);
      } catch (error) {
        accounting.cancel(reservation);
        // An open circuit fails the item fast, before (or instead of) waiting for capacity.
        if (!isBrokenCircuitError(error)) throw error;
        counters.totalFailures++;
        throw new ItemFailure(error, this.signal);
      }
      const epoch = this.congestionEpoch();
      const report = (outcome: CallEvent['outcome'], tokensUsed: number | undefined, error?: unknown, spend?: CallSpend) => {
        const waitMs = lease.startedAtMs - askedAt;
        const durationMs = limiter.clock.now() - lease.startedAtMs;
        this.throttle.metrics.recordCall(waitMs, durationMs);
        if (!hasEventHooks(hook)) return;
        const event: CallEvent = {
          type: 'call', node: this.constructor.name, limiter: limiter.name, outcome,
          waitMs, durationMs, tokensEstimated: tokens, tokensUsed, attempt: failures + rateLimits, runId,
          ...(spend ?? { model: accounting.modelOf(item) }),
        };
        if (event.model === undefined) delete event.model;
        emitEvent(error === undefined ? event : { ...event, error }, hook);
      };
      let result: Result;
      try {
        this.currentRetry = failures;
        result = await guardedCall((signal) => this.execCall(item, signal), guards, this.signal, limiter.clock);
      } catch (error) {
        // Observed before the release: the response tells when the request reached the provider.
        try {
          this.observeResponse(limiter, error, lease);
        } finally {
          lease.release();
        }
        accounting.cancel(reservation);
        report(handleRateLimitKind(error), undefined, error);
        if (isBrokenCircuitError(error)) {
          counters.totalFailures++;
          throw new ItemFailure(error, this.signal);
        }
        const outcome: RateLimitOutcome = handleRateLimit(error, {
          limiter,
          attempt: rateLimits,
          backoffMs: policy.rateLimitBackoffMs,
          maxBackoffMs: policy.maxRateLimitBackoffMs,
          source: this.constructor.name,
        });
        if (outcome.kind === 'none') {
          failures++;
          if (failures >= this.maxRetries) {
            counters.totalFailures++;
            throw new ItemFailure(error as Error, this.signal);
          }
          throwIfAborted(this.signal);
          if (this.wait > 0) await sleepWith(limiter, this.wait * 1000, this.signal);
          continue;
        }
        counters.totalRateLimits++;
        counters.consecutiveSuccesses = 0;
        if (outcome.kind === 'fatal') {
          counters.totalFailures++;
          throw new ItemFailure(outcome.error, this.signal);
        }
        this.onRateLimit(limiter, epoch);
        rateLimits++;
        if (this.shouldPropagateRateLimit()) throw outcome.error;
        if (rateLimits > policy.maxRateLimitRetries) {
          counters.totalFailures++;
          throw new ItemFailure(outcome.error, this.signal);
        }
        continue;
      }
      const used = this.usageOf(result);
      try {
        this.observeResponse(limiter, result, lease);
      } finally {
        lease.release({ tokens: used });
      }
      const spend = accounting.settle(item, result, used, reservation);
      report('ok', used, undefined, spend);
      counters.totalSuccesses++;
      counters.consecutiveSuccesses++;
      this.onSuccess(limiter, epoch);
      return result;
    }
  }

  /**
   * Runs one call of `exec` for an item while its lease is held (inside the node's `timeoutMs`
   * and `circuitBreaker`, when set). The extension point for wrappers of your own: override and
   * call `super.execCall(item, signal)`.
   */
  protected execCall(item: Item, signal?: AbortSignal): Promise<Result> {
    return this.exec(item, signal);
  }

  /**
   * Hands a response (or an error) to the limiter so it learns from provider headers; called
   * while the lease is still held (the lease is released right after, also when this throws).
   */
  protected observeResponse(limiter: Limiter, response: unknown, lease: Lease): void {
    const observe = (limiter as { observe?: (value: unknown, options: { lease: Lease }) => void }).observe;
    if (typeof observe === 'function') observe.call(limiter, response, { lease });
  }

  private eventHook(): EventHook | undefined {
    return (this.throttleOptions.onEvent ?? (this as { onEvent?: EventHook }).onEvent) as EventHook | undefined;
  }

  /** @internal hook for adaptive nodes: align the limiter's concurrency before each acquire. */
  protected beforeAcquire(_limiter: Limiter): void {}
  /** @internal hook for adaptive nodes: the congestion epoch a call started in. */
  protected congestionEpoch(): number {
    return 0;
  }
  /** @internal hook for adaptive nodes. */
  protected onSuccess(_limiter: Limiter, _epoch: number): void {}
  /** @internal hook for adaptive nodes. */
  protected onRateLimit(_limiter: Limiter, _epoch: number): void {}
  /** @internal hook for adaptive nodes. */
  protected shouldPropagateRateLimit(): boolean {
    return false;
  }
  /** @internal the concurrency limit to report in stats. */
  protected currentConcurrencyLimit(limiterMax: number): number {
    return limiterMax;
  }

  /** The limit settings in force: constructor options first, then subclass fields. */
  protected limitSettings(): LimiterOptions {
    const settings: Record<string, unknown> = {};
    const fields = this as unknown as Record<string, unknown>;
    for (const key of LIMIT_KEYS) {
      const value = this.throttleOptions[key] ?? fields[key];
      if (value !== undefined) settings[key] = value;
    }
    return settings as LimiterOptions;
  }

  /** Defaults applied when neither options nor fields set a value. */
  protected defaultLimits(): LimiterOptions {
    return { maxConcurrent: 5 };
  }

  /** Budget and model: constructor options first, then subclass fields (read once). */
  private accounting(): NodeAccounting {
    return (this.throttle.accounting ??= new NodeAccounting(this.throttleOptions, this, this.throttle.metrics, this.constructor.name));
  }

  /** Whether the node's limiter counts tokens, so chat items get a default token estimate (read once). */
  private countsTokens(): boolean {
    if (this.throttle.countsTokens === undefined) {
      const shared = this.throttleOptions.limiter ?? (this as { limiter?: unknown }).limiter;
      const windows = shared !== undefined ? this.resolveLimiter(undefined).windows : resolveWindows({ ...this.defaultLimits(), ...this.limitSettings() });
      this.throttle.countsTokens = windows.some((w) => w.resource === 'tokens');
    }
    return this.throttle.countsTokens;
  }

  /** Breaker, timeout and cache: constructor options first, then subclass fields (read once). */
  private resilience(): NodeResilience<unknown> {
    return (this.throttle.resilience ??= readNodeResilience(this.throttleOptions, this, this.constructor.name));
  }

  private policy() {
    const fields = this as unknown as Record<string, unknown>;
    const read = <K extends keyof ThrottledNodeOptions>(key: K): ThrottledNodeOptions[K] =>
      (this.throttleOptions[key] ?? fields[key]) as ThrottledNodeOptions[K];
    return {
      maxRateLimitRetries: read('maxRateLimitRetries') ?? 10,
      rateLimitBackoffMs: read('rateLimitBackoffMs') ?? 1000,
      maxRateLimitBackoffMs: read('maxRateLimitBackoffMs') ?? 60_000,
      priority: read('priority') ?? 0,
    };
  }

  /** The limiter for a scope: the shared one, or one per throttled-flow run. */
  protected resolveLimiter(scope: object | undefined): Limiter {
    const state = this.throttle;
    const fields = this as unknown as Record<string, unknown>;
    const shared = (this.throttleOptions.limiter ?? fields.limiter) as string | Limiter | undefined;
    if (shared !== undefined) {
      if (!state.limiter) {
        const registry = (this.throttleOptions.registry ?? fields.registry ?? LimiterRegistry.default) as LimiterRegistry;
        state.limiter = typeof shared === 'string' ? registry.get(shared) : shared;
        LimiterMetrics.attach(state.limiter);
      }
      return state.limiter;
    }
    if (scope) {
      let scoped = state.scoped.get(scope);
      if (!scoped) state.scoped.set(scope, (scoped = this.makeLimiter()));
      return scoped;
    }
    return (state.limiter ??= LimiterMetrics.attach(this.makeLimiter()).limiter);
  }

  private makeLimiter(): Limiter {
    const settings = { ...this.defaultLimits(), ...this.limitSettings() };
    validateLimits(settings, this.constructor.name);
    return new Limiter({ ...settings, name: this.constructor.name });
  }
}

/** The outcome a failed call reports: a rate limit, or an ordinary error. */
function handleRateLimitKind(error: unknown): CallEvent['outcome'] {
  return detectRateLimit(error) ? 'rate_limited' : 'error';
}

function emptyCounters(): ThrottledNodeCounters {
  return { totalSuccesses: 0, totalFailures: 0, totalRateLimits: 0, consecutiveSuccesses: 0, totalCacheHits: 0 };
}

function pick(source: object, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (source as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Validates limit settings by building a throwaway limiter config (errors name the option). */
function validateLimits(settings: object, subject: string): void {
  const limits = pick(settings, [...LIMIT_KEYS]);
  if (Object.keys(limits).length > 0) Limiter.validateOptions(limits, subject);
}

function sleepWith(limiter: Limiter, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return limiter.clock ? limiter.clock.sleep(ms, signal) : delay(ms, signal);
}

export type { Action };
