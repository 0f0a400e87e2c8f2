import { AbortFanOut } from '../core/abort-fan-out';
import { ParallelBatchNode } from '../core/batch-node';
import { LazyDispatch, lookAheadFor } from '../core/lazy-dispatch';
import { Node, type NodeOptions } from '../core/node';
import { abortReason } from '../util/clock';
import type { Params } from '../core/types';
import type { LimiterRegistry } from '../registry/limiter-registry';
import { parseOptions, rejectMisspeltFields, rejectUnknownOptions } from '../validation/options';
import type { CallEstimate } from '../cost/call-spend';
import type { PriceTable } from '../cost/price-table';
import { FallbackChain, type FallbackStats, type FallbackTarget } from './fallback-chain';
import { fallbackOptionsSchema, type FallbackOptions, type RoutingStrategy } from './fallback-options';

/** The runs in progress per run signal, each with the one listener its items share. */
const runsBySignal = new WeakMap<AbortSignal, { fanOut: AbortFanOut; runs: number }>();

/** The chain options a fallback node reads from its constructor options, else from subclass fields. */
const CHAIN_KEYS = Object.keys(fallbackOptionsSchema.shape) as (keyof FallbackOptions)[];
/** Every option a fallback node reads. */
const NODE_KEYS: readonly string[] = ['targets', 'maxRetries', 'waitMs', ...CHAIN_KEYS];

/** Options of a {@link FallbackNode}: its targets, the chain's options, and ordinary retries. */
export interface FallbackNodeOptions<Item, Result> extends NodeOptions, FallbackOptions {
  /**
   * The providers or models to try, first preferred; each with its own limiter.
   * @default the subclass field `targets`
   */
  targets?: FallbackTarget<Item, Result>[];
}

/**
 * A parallel batch node whose items are served through a fallback chain (see
 * {@link FallbackChain}): each item goes to the first target that can take it, and moves on
 * when a target is rate limited past its budget, overloaded, open-circuit or failing. Limits are
 * those of each target's limiter (the node has none of its own). An item that no target served
 * is retried per `maxRetries`, then goes through `execFallback` with a `FallbackExhaustedError`.
 * Items start as the targets have room (running calls plus a short look-ahead wait in the targets'
 * limiters), so a batch of any size makes few waiters; results keep input order, and a run with a
 * failed item rejects with the first failure in input order once every item has ended.
 * Every copy of the node shares one chain, so `stats.servedBy` counts every run.
 *
 * Configure it with constructor options or subclass fields (`targets`, `maxRateLimitRetries`, …;
 * the constructor's win), read at the first run. A field that looks like a misspelt option fails
 * then, with "did you mean".
 *
 * @example
 * class Summarise extends FallbackNode<Shared, string, string> {
 *   targets = [
 *     { name: 'primary', limiter: 'openai', circuitBreaker, call: (text, signal) => callOpenAi(text, signal) },
 *     { name: 'secondary', limiter: 'anthropic', call: (text, signal) => callClaude(text, signal) },
 *   ];
 *   async prep(shared: Shared) { return shared.texts; }
 *   async post(shared: Shared, _texts: string[], summaries: string[]) { shared.summaries = summaries; return undefined; }
 * }
 */
export class FallbackNode<
  S = unknown,
  Item = unknown,
  Result = unknown,
  P extends object = Params,
> extends ParallelBatchNode<S, P, Item, Result> {
  /** The targets, when not given as an option (read at the first run). */
  targets?: FallbackTarget<Item, Result>[];
  // The chain's options may be subclass fields too (the constructor's win), read at the first run.
  registry?: LimiterRegistry;
  strategy?: RoutingStrategy;
  maxWaitMs?: number;
  prices?: PriceTable;
  estimateCall?: (item: never) => CallEstimate | undefined;
  maxRateLimitRetries?: number;
  rateLimitBackoffMs?: number;
  maxRateLimitBackoffMs?: number;
  shouldFallback?: (error: unknown, target: string) => boolean;

  private readonly chainOptions: FallbackNodeOptions<Item, Result>;
  /** Shared by every copy of the node. */
  private readonly chainHolder: {
    chain: FallbackChain<Item, Result> | undefined;
    frameworkKeys: Set<string>;
    fieldsChecked: boolean;
  };

  constructor(options: FallbackNodeOptions<Item, Result> = {}) {
    const subject = new.target.name || 'FallbackNode';
    rejectUnknownOptions(options as Record<string, unknown>, NODE_KEYS, subject);
    const { maxRetries, waitMs, ...chainOptions } = options;
    super({ maxRetries, waitMs });
    // Checked now, with or without targets, so bad options fail at construction. The chain itself
    // is made at the first use, when subclass fields can be read too.
    const { targets, ...rest } = chainOptions;
    if (targets) new FallbackChain(targets, { name: subject, ...rest });
    else parseOptions(fallbackOptionsSchema, rest, subject);
    this.chainOptions = chainOptions;
    this.chainHolder = { chain: undefined, frameworkKeys: new Set(), fieldsChecked: false };
    this.chainHolder.frameworkKeys = new Set(Object.keys(this));
  }

  /** The chain items go through (made at the first use from the options, else the subclass fields). */
  get chain(): FallbackChain<Item, Result> {
    return (this.chainHolder.chain ??= this.makeChain());
  }

  /** Which target served how many items, and each target's counters, over every run. */
  get stats(): FallbackStats {
    return this.chain.stats();
  }

  override async _exec(items: unknown): Promise<unknown> {
    this.checkFields();
    if (!Array.isArray(items)) return [];
    const signal = this.signal;
    if (!signal) return await this.execLazily(items as readonly Item[]);
    // One listener on the run's signal for all its items (each waiting item would add one, and
    // Node checks every new listener against those already there: quadratic, and a warning past 10).
    let run = runsBySignal.get(signal);
    if (!run) runsBySignal.set(signal, (run = { fanOut: new AbortFanOut([signal]), runs: 0 }));
    run.runs++;
    try {
      return await this.execLazily(items as readonly Item[]);
    } finally {
      if (--run.runs === 0) {
        run.fanOut.dispose();
        runsBySignal.delete(signal);
      }
    }
  }

  /**
   * Runs the items as the chain's targets have room, not all at once: an item starts only while
   * fewer than a look-ahead of started items wait for a slot (see `LazyDispatch`), so a run of a
   * million items never makes a million waiters. Each item has its retries and `execFallback`, as
   * in any parallel batch node; the run waits for every started item, then rejects with the first
   * failure in input order (so no call is left running unobserved), or with the abort when its
   * signal stopped items from starting.
   */
  private async execLazily(items: readonly Item[]): Promise<Result[]> {
    if (items.length === 0) return [];
    const chain = this.chain;
    const signal = this.signal;
    const results = new Array<Result>(items.length);
    let failedAt = Infinity;
    let failure: unknown;
    const capacity = Object.values(chain.limiters()).reduce((sum, limiter) => sum + limiter.maxConcurrent, 0);
    const dispatch = new LazyDispatch(
      items.length,
      lookAheadFor(capacity),
      async (index) => {
        try {
          results[index] = (await Node.prototype._exec.call(this, items[index])) as Result;
        } catch (error) {
          if (index < failedAt) {
            failedAt = index;
            failure = error;
          }
        }
      },
      () => signal?.aborted === true,
    );
    // Calls of this chain already running (other runs, direct calls) hold slots too.
    dispatch.holding = chain.watchSlots(dispatch);
    try {
      await dispatch.run();
    } finally {
      chain.unwatchSlots(dispatch);
    }
    if (failedAt !== Infinity) throw failure;
    if (dispatch.started < items.length) throw abortReason(signal!);
    return results;
  }

  /** Serves one item through the chain, cancelled with the run. */
  override async exec(item: Item): Promise<Result> {
    const run = this.signal && runsBySignal.get(this.signal);
    if (!run) return await this.chain.call(item, { signal: this.signal });
    const child = run.fanOut.child();
    try {
      return await this.chain.call(item, { signal: child?.signal });
    } finally {
      run.fanOut.release(child);
    }
  }

  /** At the first run (or use of the chain): a subclass field that looks like a misspelt option fails, as the option would. */
  private checkFields(): void {
    const holder = this.chainHolder;
    if (holder.fieldsChecked) return;
    rejectMisspeltFields(this, NODE_KEYS, holder.frameworkKeys, this.constructor.name || 'FallbackNode');
    holder.fieldsChecked = true;
  }

  /** The chain from the options, else the subclass fields; a field that looks like a misspelt option fails first. */
  private makeChain(): FallbackChain<Item, Result> {
    this.checkFields();
    const given = this.chainOptions;
    const name = this.constructor.name || 'FallbackNode';
    const fields = this as Record<string, unknown>;
    const options: Record<string, unknown> = { name };
    for (const key of CHAIN_KEYS) {
      const field = fields[key];
      // A `shouldFallback` method of the subclass is called as one.
      const value = given[key] ?? (typeof field === 'function' ? field.bind(this) : field);
      if (value !== undefined) options[key] = value;
    }
    return new FallbackChain(given.targets ?? this.targets ?? [], options);
  }
}
