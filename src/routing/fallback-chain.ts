import { EventEmitter } from 'eventemitter3';
import type { SlotWatcher } from '../core/lazy-dispatch';
import type { CallEstimate } from '../cost/call-spend';
import { isRateLimitHit } from '../errors/rate-limit-hit';
import type { Limiter } from '../limits/limiter';
import { abortReason } from '../util/clock';
import { estimateCallTokens, fitsContext, noTargetFits, contextWindowOfTarget } from './context-fit';
import { FallbackExhaustedError, type FallbackAttempt } from './fallback-exhausted-error';
import {
  resolveFallbackOptions,
  type FallbackOptions,
  type ResolvedFallbackOptions,
  type RoutingStrategy,
} from './fallback-options';
import {
  emptyTargetStats,
  type FallbackCallOptions,
  type FallbackEvents,
  type FallbackHealth,
  type FallbackReport,
  type FallbackStats,
  type FallbackTargetStats,
  type SkipReason,
} from './fallback-stats';
import type { FallbackTarget } from './fallback-target';
import { RecentLatency } from './recent-latency';
import { rebalanceWaitingCalls } from './rebalance';
import type { ResolvedTarget, WaitingCall } from './resolved-target';
import { chooseTarget, type Candidate } from './route-choice';
import { callTarget, type TargetCallContext } from './target-call';
import { targetHealth, unavailableReason } from './target-health';

export type { FallbackOptions, RoutingStrategy } from './fallback-options';
export type { FallbackTarget } from './fallback-target';
export type {
  FallbackCallOptions,
  FallbackEvents,
  FallbackHealth,
  FallbackReport,
  FallbackStats,
  FallbackTargetStats,
  SkipReason,
  TargetHealth,
} from './fallback-stats';

type Resolved<Item, Result> = ResolvedTarget<Item, Result>;

/**
 * Routes each call over several targets (deployments, keys, providers, models), each with its own
 * limiter. With the default `strategy: 'ordered'` the call goes to the first target that can
 * serve it; with `'soonest'`, `'cheapest'` or `'latency'` the strategy picks (see
 * {@link FallbackOptions.strategy}). A target that is rate limited past its retry budget,
 * overloaded, open-circuit, refused by its limiter or failing moves the call on. A target whose
 * limiter is paused (a provider's retry-after) is passed by until the pause ends, then used again;
 * when every other target failed, the paused ones are waited for (earliest pause end first)
 * before giving up with {@link FallbackExhaustedError}. A call is never sent to a target whose
 * context window it does not fit (`ContextLengthError` when it fits none). `stats().servedBy`
 * says who served what, `health()` how each target stands.
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
  /** How each call picks its target. */
  readonly strategy: RoutingStrategy;
  private readonly targets: readonly FallbackTarget<Item, Result>[];
  private readonly options: ResolvedFallbackOptions;
  private resolved: Resolved<Item, Result>[] | undefined;
  private readonly perTarget: FallbackTargetStats[];
  private readonly latencies: RecentLatency[];
  private readonly totals = { calls: 0, served: 0, failed: 0, fellBack: 0 };
  private readonly callContext: TargetCallContext;
  /** Calls holding a target's slot now (their target's call is running). */
  private running = 0;
  private readonly slotWatchers = new Set<SlotWatcher>();

  constructor(targets: readonly FallbackTarget<Item, Result>[], options: FallbackOptions = {}) {
    super();
    this.options = resolveFallbackOptions(targets, options);
    this.targets = [...targets];
    this.name = this.options.name;
    this.strategy = this.options.strategy;
    this.perTarget = this.targets.map(() => emptyTargetStats());
    this.latencies = this.targets.map(() => new RecentLatency());
    this.callContext = {
      options: this.options,
      failed: (target, error, attempts) => {
        attempts.push({ target, error });
        if (this.listenerCount('failover')) this.emit('failover', { from: target, error });
      },
      slotTaken: () => {
        this.running++;
        for (const watcher of this.slotWatchers) watcher.hold();
      },
      slotGivenBack: () => {
        this.running--;
        for (const watcher of this.slotWatchers) watcher.unhold();
      },
    };
  }

  /**
   * Tells `watcher` each time a call of this chain takes a target's slot (its target's call is
   * about to run) and gives it back, until {@link unwatchSlots}; returns how many hold one now.
   * A fallback node starts its next items by it.
   * @internal
   */
  watchSlots(watcher: SlotWatcher): number {
    this.slotWatchers.add(watcher);
    return this.running;
  }

  /** @internal */
  unwatchSlots(watcher: SlotWatcher): void {
    this.slotWatchers.delete(watcher);
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
    const estimate = estimateCallTokens(item, this.options.estimateCall);
    const fitting = targets.filter((r) => {
      if (fitsContext(r.contextWindowTokens, estimate)) return true;
      this.skip(r, 'contextWindow', 0);
      return false;
    });
    if (fitting.length === 0) {
      this.totals.failed++;
      throw noTargetFits(
        this.name,
        estimate!,
        targets.map((r) => ({
          name: r.target.name,
          model: r.target.model,
          windowTokens: r.contextWindowTokens!,
        })),
      );
    }
    const attempts: FallbackAttempt[] = [];
    const report =
      this.strategy === 'ordered'
        ? await this.callInOrder(fitting, item, signal, attempts)
        : await this.callRouted(this.strategy, fitting, item, estimate, signal, attempts);
    if (report) return report;
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
      targets[t.name] = { ...s, skips: { ...s.skips } };
    });
    return { strategy: this.strategy, ...this.totals, servedBy, targets };
  }

  /**
   * How each target stands now (healthy, paused until, circuit open, over budget, draining; its
   * probable wait, calls in flight, recent median latency) and whether the chain can serve a call now.
   */
  health(): FallbackHealth {
    const targets: FallbackHealth['targets'] = {};
    let canServe = false;
    let canServeNow = false;
    for (const r of this.resolve()) {
      const health = targetHealth(r);
      targets[r.target.name] = health;
      if (health.status !== 'healthy') continue;
      canServe = true;
      if (health.estimatedWaitMs <= 0) canServeNow = true;
    }
    return { canServeNow, canServe, targets };
  }

  /** The limiter of each target, by name (resolved from the registry at the first use). */
  limiters(): Record<string, Limiter> {
    return Object.fromEntries(this.resolve().map((r) => [r.target.name, r.limiter]));
  }

  private resolve(): Resolved<Item, Result>[] {
    if (this.resolved) return this.resolved;
    const { registry, prices } = this.options;
    const resolved = this.targets.map((target, index) => ({
      target,
      index,
      limiter: typeof target.limiter === 'string' ? registry.get(target.limiter) : target.limiter,
      stats: this.perTarget[index]!,
      latency: this.latencies[index]!,
      inFlight: 0,
      contextWindowTokens: contextWindowOfTarget(target, prices),
      waiting: new Set<WaitingCall<Item, Result>>(),
    }));
    this.resolved = resolved;
    if (this.strategy === 'soonest') {
      // A pause (a 429's retry-after) or its end changes who is soonest for calls already queued.
      // Rebalanced a tick later, once calls granted meanwhile have started (they are not movable).
      const clock = resolved[0]!.limiter.clock;
      let scheduled = false;
      const rebalance = () => {
        if (scheduled) return;
        scheduled = true;
        clock.sleep(0).then(
          () => {
            scheduled = false;
            if (rebalanceWaitingCalls(this.callContext, resolved).unfinished) rebalance();
          },
          () => (scheduled = false),
        );
      };
      for (const r of resolved) {
        r.limiter.on('pause', rebalance);
        r.limiter.on('resume', rebalance);
      }
    }
    return resolved;
  }

  /** The targets in the order given: the first that serves the call wins. */
  private async callInOrder(
    targets: readonly Resolved<Item, Result>[],
    item: Item,
    signal: AbortSignal | undefined,
    attempts: FallbackAttempt[],
  ): Promise<FallbackReport<Result> | undefined> {
    const paused: { resolved: Resolved<Item, Result>; until: number }[] = [];
    for (const resolved of targets) {
      const reason = unavailableReason(resolved);
      // An open circuit is left to the call loop, which refuses at once and says so in `attempts`.
      if (reason !== undefined && reason.reason !== 'circuitOpen') {
        this.skip(resolved, reason.reason, reason.pausedUntil);
        if (reason.reason === 'paused') paused.push({ resolved, until: reason.pausedUntil });
        continue;
      }
      const result = await callTarget(this.callContext, resolved, item, signal, attempts);
      if (result.ok) return this.served(result.by, result.value!, attempts, resolved.index > 0);
    }
    return await this.waitForPaused(paused, item, signal, attempts);
  }

  /**
   * The strategy picks among the targets that can take the call now (not paused, circuit closed,
   * budget left); a target that fails it is left out and the strategy picks again.
   */
  private async callRouted(
    strategy: Exclude<RoutingStrategy, 'ordered'>,
    targets: readonly Resolved<Item, Result>[],
    item: Item,
    estimate: CallEstimate | undefined,
    signal: AbortSignal | undefined,
    attempts: FallbackAttempt[],
  ): Promise<FallbackReport<Result> | undefined> {
    const passedBy = new Set<number>();
    const paused: { resolved: Resolved<Item, Result>; until: number }[] = [];
    const openCircuits: Resolved<Item, Result>[] = [];
    const remaining = [...targets];
    for (;;) {
      const candidates: Candidate<Item, Result>[] = [];
      for (const resolved of remaining) {
        const reason = unavailableReason(resolved);
        if (reason === undefined) {
          candidates.push({ resolved, waitMs: probableWaitMs(resolved, item) });
          continue;
        }
        if (passedBy.has(resolved.index)) continue;
        passedBy.add(resolved.index);
        this.skip(resolved, reason.reason, reason.pausedUntil);
        if (reason.reason === 'paused') paused.push({ resolved, until: reason.pausedUntil });
        if (reason.reason === 'circuitOpen') openCircuits.push(resolved);
      }
      if (candidates.length === 0) break;
      const { chosen, passedForWait } = chooseTarget(strategy, candidates, {
        maxWaitMs: this.options.maxWaitMs,
        prices: this.options.prices,
        estimate,
      });
      for (const c of passedForWait) this.skip(c.resolved, 'wait', 0);
      const resolved = chosen.resolved;
      if (this.listenerCount('route'))
        this.emit('route', { target: resolved.target.name, strategy, estimatedWaitMs: chosen.waitMs });
      const result = await callTarget(this.callContext, resolved, item, signal, attempts, {
        estimate,
        allows: (t) => remaining.includes(t),
      });
      if (result.ok) return this.served(result.by, result.value!, attempts, attempts.length > 0);
      // The target that failed it is out for this call (the one chosen, or the one it was moved to).
      const failedAt = remaining.indexOf(result.by);
      if (failedAt >= 0) remaining.splice(failedAt, 1);
      else break; // moved to a target already out of `remaining`: nothing new left to try
    }
    // Open circuits refuse at once without taking capacity; trying them puts the reason in `attempts`.
    // Targets tried meanwhile (their pause ended or their circuit closed) are not tried twice.
    for (const resolved of openCircuits.filter((r) => remaining.includes(r))) {
      const result = await callTarget(this.callContext, resolved, item, signal, attempts);
      if (result.ok) return this.served(result.by, result.value!, attempts, true);
    }
    const stillPaused = paused.filter((p) => remaining.includes(p.resolved));
    return await this.waitForPaused(stillPaused, item, signal, attempts);
  }

  /** Everyone not paused failed: wait for the paused targets rather than fail, earliest first. */
  private async waitForPaused(
    paused: { resolved: Resolved<Item, Result>; until: number }[],
    item: Item,
    signal: AbortSignal | undefined,
    attempts: FallbackAttempt[],
  ): Promise<FallbackReport<Result> | undefined> {
    paused.sort((a, b) => a.until - b.until);
    for (const { resolved } of paused) {
      const result = await callTarget(this.callContext, resolved, item, signal, attempts);
      if (result.ok) return this.served(result.by, result.value!, attempts, true);
    }
    return undefined;
  }

  private skip(resolved: Resolved<Item, Result>, reason: SkipReason, pausedUntil: number): void {
    const stats = resolved.stats;
    stats.skips[reason]++;
    if (reason === 'paused') stats.skipped++;
    if (this.listenerCount('skip')) this.emit('skip', { target: resolved.target.name, reason, pausedUntil });
  }

  private served(
    resolved: Resolved<Item, Result>,
    value: Result,
    attempts: FallbackAttempt[],
    fallback: boolean,
  ): FallbackReport<Result> {
    resolved.stats.served++;
    this.totals.served++;
    if (fallback) this.totals.fellBack++;
    if (this.listenerCount('served'))
      this.emit('served', { target: resolved.target.name, fallback, attempts: attempts.length });
    return { value, servedBy: resolved.target.name, attempts };
  }
}

/** How long the target's limiter would probably make this call wait (Infinity when it cannot estimate it). */
function probableWaitMs<Item, Result>(resolved: Resolved<Item, Result>, item: Item): number {
  let tokens: number | undefined;
  try {
    tokens = resolved.target.tokensFor?.(item);
  } catch {
    // The call itself will be refused for it; rank the target last meanwhile.
    return Infinity;
  }
  return resolved.limiter.estimateWaitMs(tokens === undefined ? undefined : { tokens });
}

/**
 * A {@link FallbackChain} over `targets`: first preferred, or picked by `options.strategy`.
 *
 * @example
 * const summarise = withFallback([primary, secondary], { maxRateLimitRetries: 1 });
 * await summarise.call(text, { signal });
 * summarise.stats().servedBy; // { primary: 120, secondary: 14 }
 *
 * // three deployments of one model: each call goes where it can start soonest
 * const chat = withFallback([east, west, central], { strategy: 'soonest' });
 */
export function withFallback<Item, Result>(
  targets: readonly FallbackTarget<Item, Result>[],
  options: FallbackOptions = {},
): FallbackChain<Item, Result> {
  return new FallbackChain(targets, options);
}
