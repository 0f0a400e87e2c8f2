import { z } from 'zod';
import type { AnyNode } from '../core/base-node';
import { BatchFlow } from '../core/batch-flow';
import type { Action, Params } from '../core/types';
import { BatchFlowError, type BatchFlowFailure } from '../errors/batch-flow-error';
import { Limiter, type LimiterOptions } from '../limits/limiter';
import type { Lease } from '../limits/lease';
import { LimiterRegistry } from '../registry/limiter-registry';
import { isClock } from '../util/is-clock';
import { isRecord } from '../util/is-record';
import { opt, parseOptions, rejectMisspeltFields } from '../validation/options';
import { nextRunId, type EventHook } from '../observability/throttle-event';
import { backoffFactorSchema, recoveryFactorSchema } from './adaptive-options';
import { FlowRun } from './flow-run';
import { LazyDispatch, lookAheadFor } from '../core/lazy-dispatch';
import { ProgressReporter } from './progress-reporter';

/** Options of a {@link ThrottledBatchFlow}. @category Throttled nodes and flows */
export interface ThrottledFlowOptions {
  /**
   * Sub-flows running at once.
   * @default 10
   */
  maxConcurrentFlows?: number;
  /**
   * Sub-flow starts in any sliding minute.
   * @default undefined (no rate limit)
   */
  maxFlowsPerMinute?: number;
  /**
   * A shared limiter for sub-flow starts instead of the flow's own (a {@link Limiter} or a
   * registered name); `maxConcurrentFlows`/`maxFlowsPerMinute` are then ignored.
   * @default undefined
   */
  limiter?: string | Limiter;
  /**
   * The registry `limiter` names are looked up in.
   * @default LimiterRegistry.default
   */
  registry?: LimiterRegistry;
  /**
   * What to do with failed sub-flows once all have finished: `'throw'` rejects `run` with a
   * {@link BatchFlowError} listing them; `'collect'` records them in `failures` and `stats`.
   * @default 'throw'
   */
  onError?: 'throw' | 'collect';
  /**
   * Stop starting new sub-flows after the first failure (those not started are listed as
   * `skipped` in the error).
   * @default false
   */
  failFast?: boolean;
  /** Time source for the flow's own limiter. @default systemClock */
  clock?: LimiterOptions['clock'];
  /** Store for the flow's own limiter. @default in-memory */
  store?: LimiterOptions['store'];
  /**
   * Receives the flow's `progress` events (param sets done, failed, running, queued, rate),
   * a few per second and a final one; the hooks of `addEventHook` receive them too.
   * @default undefined
   */
  onEvent?: EventHook;
}

const flowOptionsSchema = z.strictObject({
  maxConcurrentFlows: opt.positiveInt().optional(),
  maxFlowsPerMinute: opt.positiveInt().optional(),
  limiter: z
    .union([z.string().min(1), z.instanceof(Limiter)], { error: 'a registered limiter name or a Limiter' })
    .optional(),
  registry: z.instanceof(LimiterRegistry, { error: 'a LimiterRegistry' }).optional(),
  onError: opt.oneOf(['throw', 'collect']).optional(),
  failFast: opt.boolean().optional(),
  clock: opt.instance(isClock, 'a Clock').optional(),
  store: z.custom<NonNullable<LimiterOptions['store']>>(isRecord, { error: 'a Store' }).optional(),
  onEvent: opt.func().optional(),
  // Adaptive flows add these; accepted here so a preset spreads into either kind.
  initialConcurrentFlows: opt.positiveInt().optional(),
  minConcurrentFlows: opt.positiveInt().optional(),
  backoffFactor: backoffFactorSchema().optional(),
  recoveryThreshold: opt.positiveInt().optional(),
  recoveryFactor: recoveryFactorSchema().optional(),
  maxFlowRetries: opt.nonNegativeInt().optional(),
  rateLimitBackoffMs: opt.nonNegativeNumber().optional(),
});

/** Every option a throttled flow reads, from the constructor or from subclass fields. */
const FLOW_OPTION_KEYS: readonly string[] = Object.keys(flowOptionsSchema.shape);

/** Stats of a throttled batch flow, totalled over every run of the flow the user created. @category Throttled nodes and flows */
export interface ThrottledFlowStats {
  /** The flow-concurrency limit in force now (the AIMD level for adaptive flows). */
  maxConcurrentFlows: number;
  /** The flow-start rate limit, if any. */
  maxFlowsPerMinute: number | undefined;
  completedFlows: number;
  failedFlows: number;
  /** Sub-flows running right now. */
  currentConcurrentFlows: number;
  /** Sub-flows waiting for a slot right now. */
  queuedFlows: number;
  /** Rate limits that reached the flow (adaptive flows retry those sub-flows). */
  totalRateLimits: number;
}

/** @internal state shared by every per-visit copy of a throttled flow. */
interface FlowState {
  limiter: Limiter | undefined;
  completedFlows: number;
  failedFlows: number;
  totalRateLimits: number;
  running: number;
  queued: number;
  failures: BatchFlowFailure[];
  /** Param sets never started, from runs with `onError: 'collect'`. */
  skipped: { index: number; params: unknown }[];
  /** Set by `stop()`: no sub-flow starts any more. */
  stopped: boolean;
  /** Aborted by `stop()`, so sub-flows waiting for a slot give up at once. */
  stopSignal: AbortController;
  /** Runs in progress, and the `stop()` calls waiting for them to end. */
  activeRuns: number;
  idleWaiters: (() => void)[];
  /** Fields the library's constructors set: the first read of the settings checks only those a subclass adds. */
  frameworkKeys: Set<string>;
  fieldsChecked: boolean;
}

/**
 * A batch flow that runs one sub-flow per param set from `prep`, at most `maxConcurrentFlows`
 * at once and at most `maxFlowsPerMinute` started per minute. Use it when each item needs a
 * multi-node flow; for one node with many items use {@link ThrottledParallelBatchNode}.
 *
 * A failed sub-flow never hides: after the others finish, `run` rejects with a
 * {@link BatchFlowError} listing every failed param set (or, with `onError: 'collect'`, records
 * them in `failures`). Nodes inside get their own limits per sub-flow run.
 *
 * @example
 * class Users extends ThrottledBatchFlow<Shared> {
 *   maxConcurrentFlows = 10;
 *   maxFlowsPerMinute = 60;
 *   async prep(shared: Shared) { return shared.userIds.map((userId) => ({ userId })); }
 * }
 * await new Users(fetchUser).run({ userIds });
 * new ThrottledBatchFlow(fetchUser, FlowPresets.MODERATE);
 * @category Throttled nodes and flows
 */
export class ThrottledBatchFlow<
  S = unknown,
  P extends object = Params,
  BatchParams extends object = Params,
> extends BatchFlow<S, P, BatchParams> {
  maxConcurrentFlows?: number;
  maxFlowsPerMinute?: number;
  limiter?: string | Limiter;
  registry?: LimiterRegistry;
  onError?: 'throw' | 'collect';
  failFast?: boolean;
  clock?: LimiterOptions['clock'];
  store?: LimiterOptions['store'];
  onEvent?: EventHook;

  /** @internal */
  protected readonly flowState: FlowState;
  /** @internal the constructor's options; they win over subclass fields. */
  protected readonly flowOptions: ThrottledFlowOptions & Record<string, unknown>;

  constructor(start: AnyNode, options: ThrottledFlowOptions = {}) {
    super(start);
    parseOptions(flowOptionsSchema, options, new.target.name || 'ThrottledBatchFlow');
    this.flowOptions = { ...options };
    this.flowState = {
      limiter: undefined,
      completedFlows: 0,
      failedFlows: 0,
      totalRateLimits: 0,
      running: 0,
      queued: 0,
      failures: [],
      skipped: [],
      stopped: false,
      stopSignal: new AbortController(),
      activeRuns: 0,
      idleWaiters: [],
      frameworkKeys: new Set(),
      fieldsChecked: false,
    };
    this.noteFrameworkFields();
  }

  /**
   * Records the fields set so far as the library's own, so the settings check only the fields a
   * subclass adds. Each constructor of a throttled flow class calls it last.
   */
  protected noteFrameworkFields(): void {
    for (const key of Object.keys(this)) this.flowState.frameworkKeys.add(key);
  }

  /** Sub-flows that failed in runs with `onError: 'collect'`. */
  get failures(): readonly BatchFlowFailure[] {
    return this.flowState.failures;
  }

  /** Param sets that never started (after `stop()` or with `failFast`) in runs with `onError: 'collect'`. */
  get skipped(): readonly { index: number; params: unknown }[] {
    return this.flowState.skipped;
  }

  /** Whether {@link stop} was called. */
  get isStopped(): boolean {
    return this.flowState.stopped;
  }

  /**
   * Stops the flow for good, for a graceful shutdown: from now on no sub-flow starts (in runs in
   * progress and in later ones); sub-flows already running finish. A run's param sets that never
   * started are listed as `skipped` in its {@link BatchFlowError} (or in {@link skipped} with
   * `onError: 'collect'`).
   * @returns resolves once no run of this flow is in progress
   * @example
   * onShutdown(() => flow.stop());
   */
  stop(): Promise<void> {
    const state = this.flowState;
    if (!state.stopped) {
      state.stopped = true;
      state.stopSignal.abort();
    }
    if (state.activeRuns === 0) return Promise.resolve();
    return new Promise<void>((resolve) => state.idleWaiters.push(resolve));
  }

  get stats(): ThrottledFlowStats {
    const s = this.flowState;
    return {
      maxConcurrentFlows: this.currentFlowLimit(),
      maxFlowsPerMinute: this.setting('maxFlowsPerMinute') as number | undefined,
      completedFlows: s.completedFlows,
      failedFlows: s.failedFlows,
      currentConcurrentFlows: s.running,
      queuedFlows: s.queued,
      totalRateLimits: s.totalRateLimits,
    };
  }

  /** The limiter sub-flow starts go through (created on first use). */
  getLimiter(): Limiter {
    const s = this.flowState;
    if (s.limiter) return s.limiter;
    const shared = this.setting('limiter') as string | Limiter | undefined;
    if (shared !== undefined) {
      const registry = (this.setting('registry') as LimiterRegistry | undefined) ?? LimiterRegistry.default;
      s.limiter = typeof shared === 'string' ? registry.get(shared) : shared;
    } else {
      s.limiter = new Limiter({
        maxConcurrent: this.initialFlowLimit(),
        maxPerMinute: this.setting('maxFlowsPerMinute') as number | undefined,
        clock: this.setting('clock') as LimiterOptions['clock'],
        store: this.setting('store') as LimiterOptions['store'],
        name: this.constructor.name,
      });
      // It counts sub-flow starts, not provider calls: the provider warnings do not apply.
      s.limiter.warningChecks.disable();
    }
    return s.limiter;
  }

  override async _run(shared: S): Promise<Action | undefined> {
    const state = this.flowState;
    state.activeRuns++;
    try {
      return await this.runBatch(shared);
    } finally {
      if (--state.activeRuns === 0) state.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  private async runBatch(shared: S): Promise<Action | undefined> {
    const batch = (await this.prep(shared)) ?? [];
    const limiter = this.getLimiter();
    const state = this.flowState;
    const failures: BatchFlowFailure<BatchParams>[] = [];
    const skipped: { index: number; params: BatchParams }[] = [];
    const failFast = this.setting('failFast') === true;
    const run = new FlowRun(this.signal, state.stopSignal.signal, () => state.stopped);
    const progress = new ProgressReporter(
      this.constructor.name,
      'flow',
      nextRunId(),
      batch.length,
      limiter.clock,
      this.setting('onEvent') as EventHook | undefined,
      () => run.holding,
    );
    const runOne = async (index: number): Promise<void> => {
      const bp = batch[index]!;
      try {
        await this.runSubFlow(shared, { ...this._params, ...bp }, limiter, run);
        state.completedFlows++;
        progress.succeeded();
      } catch (error) {
        progress.itemFailed();
        if (error === SKIPPED) {
          skipped.push({ index, params: bp });
          return;
        }
        state.failedFlows++;
        failures.push({ index, params: bp, error });
        if (failFast) run.failed = true;
      }
    };
    // Param sets start as slots come free, not all at once: after stop() or a failFast failure the rest never start.
    const dispatch = (run.dispatch = new LazyDispatch(
      batch.length,
      lookAheadFor(limiter.maxConcurrent),
      runOne,
      () => run.isStopped(),
    ));
    try {
      await dispatch.run();
    } finally {
      run.dispose();
    }
    for (let index = dispatch.started; index < batch.length; index++)
      skipped.push({ index, params: batch[index]! });
    progress.finish(batch.length - dispatch.started);

    if (failures.length > 0 || skipped.length > 0) {
      failures.sort((a, b) => a.index - b.index);
      skipped.sort((a, b) => a.index - b.index);
      if (this.setting('onError') === 'collect') {
        for (const failure of failures) state.failures.push(failure);
        for (const skip of skipped) state.skipped.push(skip);
      } else {
        throw new BatchFlowError(this.constructor.name, batch.length, failures, skipped);
      }
    }
    return await this.post(shared, batch, undefined);
  }

  /**
   * Runs one sub-flow inside a slot. Each run gets its own throttle scope, so throttled nodes
   * inside apply their limits per sub-flow. Adaptive flows override this to retry on rate limits.
   * @internal `run` is the run's own state (its signals, its lazy dispatch)
   */
  protected async runSubFlow(shared: S, params: P, limiter: Limiter, run: FlowRun): Promise<void> {
    const lease = await this.acquireSlot(limiter, run);
    try {
      if (run.isStopped()) throw SKIPPED;
      await this.orchestrateScoped(shared, params, run);
    } finally {
      this.releaseSlot(lease, run);
    }
  }

  /** @internal */
  protected async acquireSlot(limiter: Limiter, run: FlowRun): Promise<Lease> {
    const state = this.flowState;
    if (state.stopped) throw SKIPPED;
    state.queued++;
    // Its own signal: thousands of waits on the run's signal would each cost a listener there.
    const wait = run.waits.child();
    let lease: Lease;
    try {
      lease = await limiter.acquire(wait && { signal: wait.signal });
    } catch (error) {
      // Stopped while waiting for a slot: it never started.
      if (state.stopped && !this.signal?.aborted) throw SKIPPED;
      throw error;
    } finally {
      state.queued--;
      run.waits.release(wait);
    }
    state.running++;
    run.dispatch?.hold();
    return lease;
  }

  /** @internal */
  protected releaseSlot(lease: Lease, run: FlowRun): void {
    this.flowState.running--;
    run.dispatch?.unhold();
    lease.release();
  }

  /** @internal runs the sub-flow with a fresh throttle scope and a signal of its own (when the run has one). */
  protected async orchestrateScoped(shared: S, params: P, run: FlowRun): Promise<Action | undefined> {
    const signal = run.runs.child();
    try {
      return await this.orchestrateWith(shared, params, signal ? signal.signal : this.signal, {});
    } finally {
      run.runs.release(signal);
    }
  }

  /** A setting from the constructor options, else the subclass field. @internal */
  protected setting(key: string): unknown {
    const state = this.flowState;
    if (!state.fieldsChecked) {
      // The first read: a subclass field that looks like a misspelt option fails, as the option would.
      rejectMisspeltFields(this, FLOW_OPTION_KEYS, state.frameworkKeys, this.constructor.name);
      state.fieldsChecked = true;
    }
    return this.flowOptions[key] ?? (this as unknown as Record<string, unknown>)[key];
  }

  /** @internal */
  protected initialFlowLimit(): number {
    return (this.setting('maxConcurrentFlows') as number | undefined) ?? 10;
  }

  /** @internal */
  protected currentFlowLimit(): number {
    return this.flowState.limiter?.maxConcurrent ?? this.initialFlowLimit();
  }
}

/** Marks a param set that `failFast` kept from starting. @internal */
export const SKIPPED: unique symbol = Symbol('throttleflow.skipped');

/** The reference cookbook's name for {@link ThrottledBatchFlow}. @category Throttled nodes and flows */
export const ThrottledAsyncParallelBatchFlow = ThrottledBatchFlow;
/** The reference cookbook's name for {@link ThrottledBatchFlow}. @category Throttled nodes and flows */
export type ThrottledAsyncParallelBatchFlow<
  S = unknown,
  P extends object = Params,
  BatchParams extends object = Params,
> = ThrottledBatchFlow<S, P, BatchParams>;
