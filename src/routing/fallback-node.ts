import { ParallelBatchNode } from '../core/batch-node';
import type { NodeOptions } from '../core/node';
import type { Params } from '../core/types';
import {
  FallbackChain,
  type FallbackOptions,
  type FallbackStats,
  type FallbackTarget,
} from './fallback-chain';

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
 * Every copy of the node shares one chain, so `stats.servedBy` counts every run.
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
export class FallbackNode<S = unknown, Item = unknown, Result = unknown, P extends object = Params> extends ParallelBatchNode<
  S,
  P,
  Item,
  Result
> {
  /** The targets, when not given as an option (read at the first run). */
  targets?: FallbackTarget<Item, Result>[];

  private readonly chainOptions: FallbackNodeOptions<Item, Result>;
  /** Shared by every copy of the node. */
  private readonly chainHolder: { chain: FallbackChain<Item, Result> | undefined };

  constructor(options: FallbackNodeOptions<Item, Result> = {}) {
    const { maxRetries, waitMs, ...chainOptions } = options;
    super({ maxRetries, waitMs });
    this.chainOptions = chainOptions;
    this.chainHolder = { chain: undefined };
    // Given targets: validate everything now, so bad options fail at construction.
    if (chainOptions.targets) this.chainHolder.chain = this.makeChain(chainOptions.targets);
  }

  /** The chain items go through (made at the first use from the `targets` option or field). */
  get chain(): FallbackChain<Item, Result> {
    return (this.chainHolder.chain ??= this.makeChain(this.targets ?? []));
  }

  /** Which target served how many items, and each target's counters, over every run. */
  get stats(): FallbackStats {
    return this.chain.stats();
  }

  /** Serves one item through the chain, cancelled with the run. */
  override async exec(item: Item): Promise<Result> {
    return await this.chain.call(item, { signal: this.signal });
  }

  private makeChain(targets: FallbackTarget<Item, Result>[]): FallbackChain<Item, Result> {
    const { targets: _ignored, ...options } = this.chainOptions;
    return new FallbackChain(targets, { name: this.constructor.name || 'FallbackNode', ...options });
  }
}
