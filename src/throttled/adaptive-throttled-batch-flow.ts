import type { AnyNode } from '../core/base-node';
import type { Params } from '../core/types';
import { Aimd } from '../limits/aimd';
import type { Limiter } from '../limits/limiter';
import { handleRateLimit } from '../calls/rate-limit-handling';
import type { FlowRun } from './flow-run';
import { SKIPPED, ThrottledBatchFlow, type ThrottledFlowOptions } from './throttled-batch-flow';

/** Options of an {@link AdaptiveThrottledBatchFlow}. @category Throttled nodes and flows */
export interface AdaptiveFlowOptions extends ThrottledFlowOptions {
  /** Sub-flows to run at once at the start. @default 5 (within min and max) */
  initialConcurrentFlows?: number;
  /** Flow concurrency never goes below this. @default 1 */
  minConcurrentFlows?: number;
  /** Flow concurrency never goes above this. @default 50 */
  maxConcurrentFlows?: number;
  /** Multiplier applied on a rate limit (once per congestion event). @default 0.5 */
  backoffFactor?: number;
  /** Consecutive successful sub-flows before concurrency grows. @default 10 */
  recoveryThreshold?: number;
  /** Growth multiplier (at least +1 per step). @default 1.2 */
  recoveryFactor?: number;
  /**
   * Times a sub-flow that rejected with a rate limit is run again (after the retry-after).
   * @default 3
   */
  maxFlowRetries?: number;
  /** Base pause after a rate limit without retry-after (doubles, jittered). @default 1000 */
  rateLimitBackoffMs?: number;
}

/**
 * A throttled batch flow whose concurrency adapts by AIMD: a sub-flow that rejects with a rate
 * limit (a `RateLimitHit` from a node, or any detected 429/529) cuts flow concurrency once per
 * congestion event, pauses new starts for the retry-after, and is run again (up to
 * `maxFlowRetries`); sustained success grows concurrency back.
 *
 * @example
 * class SmartUsers extends AdaptiveThrottledBatchFlow<Shared> {
 *   initialConcurrentFlows = 20; minConcurrentFlows = 2; maxConcurrentFlows = 50;
 *   async prep(shared: Shared) { return shared.userIds.map((userId) => ({ userId })); }
 * }
 * @category Throttled nodes and flows
 */
export class AdaptiveThrottledBatchFlow<
  S = unknown,
  P extends object = Params,
  BatchParams extends object = Params,
> extends ThrottledBatchFlow<S, P, BatchParams> {
  initialConcurrentFlows?: number;
  minConcurrentFlows?: number;
  backoffFactor?: number;
  recoveryThreshold?: number;
  recoveryFactor?: number;
  maxFlowRetries?: number;
  rateLimitBackoffMs?: number;

  private readonly aimdHolder: { aimd: Aimd | undefined } = { aimd: undefined };

  constructor(start: AnyNode, options: AdaptiveFlowOptions = {}) {
    super(start, options);
    this.noteFrameworkFields();
  }

  /** The AIMD controller of flow concurrency (created at the first run). */
  get aimd(): Aimd {
    return (this.aimdHolder.aimd ??= new Aimd(
      Object.fromEntries(
        Object.entries({
          initial: this.setting('initialConcurrentFlows'),
          min: this.setting('minConcurrentFlows'),
          max: this.setting('maxConcurrentFlows') ?? 50,
          backoffFactor: this.setting('backoffFactor'),
          recoveryThreshold: this.setting('recoveryThreshold'),
          recoveryFactor: this.setting('recoveryFactor'),
        }).filter(([, v]) => v !== undefined),
      ),
    ));
  }

  protected override initialFlowLimit(): number {
    return this.aimd.current;
  }

  protected override currentFlowLimit(): number {
    return this.aimd.current;
  }

  /** @internal retries a sub-flow that rejected with a rate limit. */
  protected override async runSubFlow(shared: S, params: P, limiter: Limiter, run: FlowRun): Promise<void> {
    const maxFlowRetries = (this.setting('maxFlowRetries') as number | undefined) ?? 3;
    const backoffMs = (this.setting('rateLimitBackoffMs') as number | undefined) ?? 1000;
    // A sub-flow stopped before a retry did run once: it failed with its rate limit, it was not skipped.
    let lastRateLimit: unknown = SKIPPED;
    for (let attempt = 0; ; attempt++) {
      this.alignConcurrency(limiter);
      const lease = await this.acquireSlot(limiter, run).catch((error: unknown) => {
        throw error === SKIPPED ? lastRateLimit : error;
      });
      const epoch = this.aimd.epoch;
      try {
        if (run.isStopped()) throw SKIPPED;
        await this.orchestrateScoped(shared, params, run);
        if (this.aimd.onSuccess()) this.alignConcurrency(limiter);
        return;
      } catch (error) {
        if (error === SKIPPED) throw lastRateLimit;
        const outcome = handleRateLimit(error, {
          limiter,
          attempt,
          backoffMs,
          maxBackoffMs: 60_000,
          source: this.constructor.name,
        });
        if (outcome.kind === 'none') throw error;
        this.flowState.totalRateLimits++;
        if (this.aimd.onRateLimit(epoch)) this.alignConcurrency(limiter);
        if (outcome.kind === 'fatal' || attempt >= maxFlowRetries) throw outcome.error;
        lastRateLimit = outcome.error;
      } finally {
        this.releaseSlot(lease, run);
      }
    }
  }

  /** setMaxConcurrent is a no-op when the level is unchanged, so no comparison (and no stats()) is needed. */
  private alignConcurrency(limiter: Limiter): void {
    limiter.setMaxConcurrent(this.aimd.current);
  }
}
