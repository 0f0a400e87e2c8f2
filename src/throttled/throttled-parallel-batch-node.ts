import { BatchNode } from '../core/batch-node';
import type { Action, Params } from '../core/types';
import { Limiter, type LimiterOptions } from '../limits/limiter';
import type { Lease } from '../limits/lease';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import { LimiterRegistry } from '../registry/limiter-registry';
import { parseOptions, rejectMisspeltFields, rejectUnknownOptions } from '../validation/options';
import { nextRunId, type EventHook } from '../observability/throttle-event';
import { emitNodeRun, emitNodeStart } from './node-run-events';
import { usageTokensOf } from '../cost/usage-tokens';
import type { Cache } from '../resilience/cache';
import { cacheKeyOf } from '../resilience/cache-key';
import type { CircuitBreaker } from '../resilience/circuit-breaker';
import { ItemFailure, loadThroughCache } from './item-cache';
import { readNodeResilience, type NodeResilience } from './node-resilience';
import { resolveWindows } from '../limits/limiter-options';
import type { Budget } from '../cost/budget';
import { LimiterMetrics } from '../limits/limiter-metrics';
import { NodeMetrics } from '../observability/node-metrics';
import { NodeAccounting } from '../observability/node-accounting';
import { execItemCalls, type NodeCallHost } from './item-calls';
import { AbortFanOut } from '../core/abort-fan-out';
import { abortReason } from '../util/clock';
import { LazyDispatch, lookAheadFor } from '../core/lazy-dispatch';
import { ProgressReporter } from './progress-reporter';
import {
  LIMIT_KEYS,
  NODE_OPTION_KEYS,
  pick,
  policySchema,
  readCallPolicy,
  validateLimits,
  type ThrottledNodeOptions,
} from './throttled-node-options';
import { emptyCounters, type ThrottledNodeStats, type ThrottleState } from './throttled-node-state';

export { LIMIT_KEYS, type ThrottledNodeOptions } from './throttled-node-options';
export type { ThrottledNodeCounters, ThrottledNodeStats, ThrottleState } from './throttled-node-state';

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
 * @category Throttled nodes and flows
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
  pacingMs?: number;
  reconcile?: LimiterOptions['reconcile'];
  clock?: LimiterOptions['clock'];
  store?: LimiterOptions['store'];
  warnings?: boolean;
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
    // The two schemas below each pick their own keys: anything neither reads is a typo.
    rejectUnknownOptions(given as Record<string, unknown>, NODE_OPTION_KEYS, subject);
    parseOptions(policySchema, pick(given, Object.keys(policySchema.shape)), subject);
    if (!given.limiter) validateLimits(given, subject);
    this.throttleOptions = { ...given };
    this.throttle = {
      limiter: undefined,
      scoped: new WeakMap(),
      counters: emptyCounters(),
      metrics: new NodeMetrics(),
      frameworkKeys: new Set(),
      fieldsChecked: false,
    };
    this.noteFrameworkFields();
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
    this.checkFields();
    if (!Array.isArray(items)) return [];
    const list = items as readonly Item[];
    const limiter = this.resolveLimiter(this.throttleScope);
    const started = limiter.clock.now();
    const runId = nextRunId();
    const hook = this.eventHook();
    const info = { hook, node: this.constructor.name, limiter, items: list.length, runId };
    emitNodeStart(info);
    const results: Result[] = new Array<Result>(list.length);
    // The first failure in input order is what the run rejects with, as with Promise.all.
    let failedAt = Infinity;
    let failure: unknown;
    // One listener on the run's signal; each item waiting or running gets a child of it.
    const fanOut = new AbortFanOut([this.signal]);
    // After an abort no item starts: the run rejects with the abort anyway.
    const dispatch = new LazyDispatch(
      list.length,
      lookAheadFor(limiter.maxConcurrent),
      (index) => runItem(index),
      () => fanOut.aborted,
    );
    const host = this.callHost(dispatch);
    const progress = new ProgressReporter(
      this.constructor.name,
      'node',
      runId,
      list.length,
      limiter.clock,
      hook,
      () => dispatch.holding,
    );
    const runItem = async (index: number): Promise<void> => {
      const child = fanOut.child();
      try {
        results[index] = await this.execItem(host, limiter, list[index] as Item, runId, child?.signal);
        progress.succeeded();
      } catch (error) {
        progress.itemFailed();
        if (index < failedAt) {
          failedAt = index;
          failure = error;
        }
      } finally {
        fanOut.release(child);
      }
    };
    try {
      // Wait for every item before failing, so no call is left running unobserved.
      await dispatch.run();
    } finally {
      fanOut.dispose();
    }
    let failed = failedAt !== Infinity;
    const unstarted = list.length - dispatch.started;
    if (unstarted > 0 && !failed) [failed, failure] = [true, abortReason(this.signal!)];
    progress.finish(unstarted);
    emitNodeRun(info, started, failed ? { error: failure } : undefined);
    if (failed) throw failure;
    return results;
  }

  /** One item: from the cache when there is one, else through its calls; `execFallback` when they all failed. */
  private async execItem(
    host: NodeCallHost<Item, Result>,
    limiter: Limiter,
    item: Item,
    runId: number,
    signal: AbortSignal | undefined,
  ): Promise<Result> {
    const cache = this.resilience().cache as Cache<Result> | undefined;
    try {
      if (!cache) return await execItemCalls(host, limiter, item, runId, signal);
      const key = this.cacheKeyOf(item);
      if (key === undefined) return await execItemCalls(host, limiter, item, runId, signal);
      const { value, loaded } = await loadThroughCache(
        cache,
        key,
        () => execItemCalls(host, limiter, item, runId, signal),
        signal,
      );
      if (!loaded) this.throttle.counters.totalCacheHits++;
      return value;
    } catch (error) {
      if (error instanceof ItemFailure) return await this.execFallback(item, error.error);
      throw error;
    }
  }

  /** The node's settings and hooks for the calls of one run's items (hooks bound to this copy). */
  private callHost(slots: NodeCallHost<Item, Result>['slots']): NodeCallHost<Item, Result> {
    const guards = this.resilience();
    return {
      subject: this.constructor.name,
      signal: this.signal,
      maxRetries: this.maxRetries,
      retryWaitMs: this.wait * 1000,
      policy: readCallPolicy(this.throttleOptions, this),
      guards: { circuitBreaker: guards.circuitBreaker, timeoutMs: guards.timeoutMs },
      accounting: this.accounting(),
      counters: this.throttle.counters,
      metrics: this.throttle.metrics,
      eventHook: this.eventHook(),
      slots,
      tokensFor: (item) => this.tokensFor(item),
      usageOf: (result) => this.usageOf(result),
      execCall: (item, signal) => this.execCall(item, signal),
      observeResponse: (limiter, response, lease) => this.observeResponse(limiter, response, lease),
      setCurrentRetry: (failures) => {
        this.currentRetry = failures;
      },
      beforeAcquire: (limiter) => this.beforeAcquire(limiter),
      congestionEpoch: () => this.congestionEpoch(),
      onSuccess: (limiter, epoch) => this.onSuccess(limiter, epoch),
      onRateLimit: (limiter, epoch) => this.onRateLimit(limiter, epoch),
      shouldPropagateRateLimit: () => this.shouldPropagateRateLimit(),
    };
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
   * while the lease is still held, and the lease is released right after. An error it throws is
   * ignored: learning must neither fail a served call nor skip the release. Returns what the
   * limiter read from the headers (an override that skips learning returns nothing).
   */
  protected observeResponse(limiter: Limiter, response: unknown, lease: Lease): ProviderRateLimitInfo | void {
    const observe = (
      limiter as {
        observe?: (value: unknown, options: { lease: Lease }) => ProviderRateLimitInfo | undefined;
      }
    ).observe;
    if (typeof observe === 'function') return observe.call(limiter, response, { lease });
  }

  private eventHook(): EventHook | undefined {
    return this.throttleOptions.onEvent ?? (this as { onEvent?: EventHook }).onEvent;
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
    return settings;
  }

  /** Defaults applied when neither options nor fields set a value. */
  protected defaultLimits(): LimiterOptions {
    return { maxConcurrent: 5 };
  }

  /** Budget and model: constructor options first, then subclass fields (read once). */
  private accounting(): NodeAccounting {
    return (this.throttle.accounting ??= new NodeAccounting(
      this.throttleOptions,
      this,
      this.throttle.metrics,
      this.constructor.name,
    ));
  }

  /** Whether the node's limiter counts tokens, so chat items get a default token estimate (read once). */
  private countsTokens(): boolean {
    if (this.throttle.countsTokens === undefined) {
      const shared = this.throttleOptions.limiter ?? (this as { limiter?: unknown }).limiter;
      const windows =
        shared !== undefined
          ? this.resolveLimiter(undefined).windows
          : resolveWindows({ ...this.defaultLimits(), ...this.limitSettings() });
      this.throttle.countsTokens = windows.some((w) => w.resource === 'tokens');
    }
    return this.throttle.countsTokens;
  }

  /** Breaker, timeout and cache: constructor options first, then subclass fields (read once). */
  private resilience(): NodeResilience<unknown> {
    return (this.throttle.resilience ??= readNodeResilience(
      this.throttleOptions,
      this,
      this.constructor.name,
    ));
  }

  /** Every option this node reads, from the constructor or from subclass fields. */
  protected optionNames(): readonly string[] {
    return NODE_OPTION_KEYS;
  }

  /**
   * Records the fields set so far as the library's own, so the first run checks only the fields
   * a subclass adds. Each constructor of a throttled node class calls it last.
   */
  protected noteFrameworkFields(): void {
    for (const key of Object.keys(this)) this.throttle.frameworkKeys.add(key);
  }

  /** At the first run: a subclass field that looks like a misspelt option fails, as the option would. */
  private checkFields(): void {
    if (this.throttle.fieldsChecked) return;
    rejectMisspeltFields(this, this.optionNames(), this.throttle.frameworkKeys, this.constructor.name);
    this.throttle.fieldsChecked = true;
  }

  /** The limiter for a scope: the shared one, or one per throttled-flow run. */
  protected resolveLimiter(scope: object | undefined): Limiter {
    this.checkFields();
    const state = this.throttle;
    const fields = this as unknown as Record<string, unknown>;
    const shared = (this.throttleOptions.limiter ?? fields.limiter) as string | Limiter | undefined;
    if (shared !== undefined) {
      if (!state.limiter) {
        const registry = (this.throttleOptions.registry ??
          fields.registry ??
          LimiterRegistry.default) as LimiterRegistry;
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
    const limiter = new Limiter({ ...settings, name: this.constructor.name });
    // One tally per node: the limiters of its throttled-flow runs count calls and warn as one.
    limiter.warningChecks.shareTally((this.throttle.warningTally ??= limiter.warningChecks.shared));
    return limiter;
  }
}

export type { Action };
