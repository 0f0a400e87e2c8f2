import { withoutUndefined } from '../util/without-undefined';
import { Aimd, type AimdOptions } from '../limits/aimd';
import type { Lease } from '../limits/lease';
import type { Limiter, LimiterOptions } from '../limits/limiter';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import type { Params } from '../core/types';
import { parseOptions, rejectUnknownOptions } from '../validation/options';
import { NODE_OPTION_KEYS } from './throttled-node-options';
import { aimdNodeSchema } from './adaptive-options';
import {
  ThrottledParallelBatchNode,
  type ThrottledNodeOptions,
  type ThrottledNodeStats,
} from './throttled-parallel-batch-node';

/** Options of an {@link AdaptiveThrottledNode}: a throttled node whose concurrency is found by AIMD. @category Throttled nodes and flows */
export interface AdaptiveThrottledNodeOptions extends ThrottledNodeOptions {
  /**
   * Concurrency to start with.
   * @default 5
   */
  initialConcurrent?: number;
  /**
   * Concurrency never goes below this.
   * @default 1
   */
  minConcurrent?: number;
  /**
   * Concurrency never goes above this (for this node `maxConcurrent` is the AIMD ceiling).
   * @default 20
   */
  maxConcurrent?: number;
  /**
   * Multiplier applied on a rate limit (once per congestion event).
   * @default 0.5
   */
  backoffFactor?: number;
  /**
   * Consecutive successes before concurrency grows.
   * @default 10
   */
  recoveryThreshold?: number;
  /**
   * Growth multiplier (at least +1 per step, so it also grows from 1).
   * @default 1.2
   */
  recoveryFactor?: number;
  /**
   * After backing off, rethrow the rate limit as a `RateLimitHit` so an enclosing adaptive
   * flow adapts too (the item is then retried by the flow, not by the node).
   * @default false
   */
  propagateRateLimit?: boolean;
}

/**
 * A throttled parallel batch node that finds the provider's concurrency by itself: it grows
 * after `recoveryThreshold` successes and cuts by `backoffFactor` on a rate limit — once per
 * congestion event, however many in-flight calls report it. Every copy of the node shares one
 * AIMD state. Window limits (`maxPerMinute`, tokens, …) still apply when set.
 *
 * @example
 * class Smart extends AdaptiveThrottledNode<Shared, string, string> {
 *   initialConcurrent = 10; minConcurrent = 2; maxConcurrent = 50;
 *   async exec(text: string) { return callLlm(text); }
 * }
 * @category Throttled nodes and flows
 */
export class AdaptiveThrottledNode<
  S = unknown,
  Item = unknown,
  Result = unknown,
  P extends object = Params,
> extends ThrottledParallelBatchNode<S, Item, Result, P> {
  initialConcurrent?: number;
  minConcurrent?: number;
  backoffFactor?: number;
  recoveryThreshold?: number;
  recoveryFactor?: number;
  propagateRateLimit?: boolean;

  /**
   * @internal shared by every copy: the AIMD state (created at the first run), and the highest
   * level the provider's headers may raise it to (the level the last cut left, once there was one).
   */
  private readonly aimdHolder: { aimd: Aimd | undefined; raiseCeiling: number };
  private readonly adaptiveOptions: AdaptiveThrottledNodeOptions;

  constructor(options?: AdaptiveThrottledNodeOptions | number, wait?: number) {
    const given = typeof options === 'object' && options !== null ? options : {};
    // Checked here, before the AIMD keys are split off, so a misspelt one is suggested its AIMD name.
    rejectUnknownOptions(
      given as Record<string, unknown>,
      ADAPTIVE_OPTION_KEYS,
      new.target.name || 'AdaptiveThrottledNode',
    );
    const {
      initialConcurrent,
      minConcurrent,
      backoffFactor,
      recoveryThreshold,
      recoveryFactor,
      propagateRateLimit,
      maxConcurrent,
      ...throttled
    } = given;
    super(typeof options === 'number' ? options : throttled, wait);
    const adaptive = {
      initialConcurrent,
      minConcurrent,
      maxConcurrent,
      backoffFactor,
      recoveryThreshold,
      recoveryFactor,
      propagateRateLimit,
    };
    parseOptions(aimdNodeSchema, withoutUndefined(adaptive), new.target.name || 'AdaptiveThrottledNode');
    this.adaptiveOptions = adaptive;
    this.aimdHolder = { aimd: undefined, raiseCeiling: Infinity };
    this.noteFrameworkFields();
  }

  protected override optionNames(): readonly string[] {
    return ADAPTIVE_OPTION_KEYS;
  }

  /** The AIMD controller (created at the first run from options and subclass fields). */
  get aimd(): Aimd {
    if (!this.aimdHolder.aimd) {
      const read = (key: keyof AdaptiveThrottledNodeOptions) =>
        this.adaptiveOptions[key] ?? (this as unknown as Record<string, unknown>)[key];
      const options: AimdOptions = withoutUndefined({
        initial: read('initialConcurrent') as number | undefined,
        min: read('minConcurrent') as number | undefined,
        max: read('maxConcurrent') as number | undefined,
        backoffFactor: read('backoffFactor') as number | undefined,
        recoveryThreshold: read('recoveryThreshold') as number | undefined,
        recoveryFactor: read('recoveryFactor') as number | undefined,
      });
      this.aimdHolder.aimd = new Aimd(options);
    }
    return this.aimdHolder.aimd;
  }

  override get stats(): ThrottledNodeStats {
    const base = super.stats;
    const aimd = this.aimd.stats();
    return {
      ...base,
      currentConcurrent: aimd.currentConcurrent,
      consecutiveSuccesses: aimd.consecutiveSuccesses,
    };
  }

  protected override limitSettings(): LimiterOptions {
    // maxConcurrent is the AIMD ceiling here; the limiter starts at the AIMD level.
    return { ...super.limitSettings(), maxConcurrent: this.aimd.current };
  }

  // Runs before every acquire: setMaxConcurrent is a no-op when the level is unchanged, so this
  // costs no stats() snapshot on the hot path.
  protected override beforeAcquire(limiter: Limiter): void {
    limiter.setMaxConcurrent(this.aimd.current);
  }

  protected override congestionEpoch(): number {
    return this.aimd.epoch;
  }

  protected override onSuccess(limiter: Limiter, _epoch: number): void {
    if (this.aimd.onSuccess()) this.beforeAcquire(limiter);
  }

  protected override onRateLimit(limiter: Limiter, epoch: number): void {
    if (!this.aimd.onRateLimit(epoch)) return;
    // A limit the headers did not show (concurrency, say): from now on they raise the level no
    // higher than this cut left it (AIMD's own growth still may), or each answer would undo the cut.
    this.aimdHolder.raiseCeiling = Math.min(this.aimdHolder.raiseCeiling, this.aimd.current);
    this.beforeAcquire(limiter);
  }

  /**
   * Also raises the level at once to what the provider's request budget has room for (its
   * `remaining` when this request arrived, less the calls started since), rather than growing
   * towards it a step per `recoveryThreshold` successes: with a window's budget known, starting
   * it in one burst is what the provider allows, and a slow ramp spread the first window over
   * seconds. The budget running out still pauses the limiter (see `Limiter.observe`).
   */
  protected override observeResponse(
    limiter: Limiter,
    response: unknown,
    lease: Lease,
  ): ProviderRateLimitInfo | void {
    // The headers the limiter just read: not parsed a second time.
    const info = super.observeResponse(limiter, response, lease);
    const remaining = info ? info.requests?.remaining : undefined;
    if (remaining === undefined) return info;
    const stats = limiter.stats();
    const room = remaining - (stats.totalRequests - lease.grantIndex);
    // This call still holds its slot (released right after): it is not one of those the room is for.
    const level = Math.min(stats.active - 1 + room, this.aimdHolder.raiseCeiling);
    if (level > this.aimd.current) {
      this.aimd.adopt(level);
      this.beforeAcquire(limiter);
    }
    return info;
  }

  protected override shouldPropagateRateLimit(): boolean {
    return (this.adaptiveOptions.propagateRateLimit ?? this.propagateRateLimit) === true;
  }
}

/** Every option an adaptive node reads: a throttled node's and the AIMD settings. */
const ADAPTIVE_OPTION_KEYS: readonly string[] = [
  ...new Set([...NODE_OPTION_KEYS, ...Object.keys(aimdNodeSchema.shape)]),
];
