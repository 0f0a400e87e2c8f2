import { EventEmitter } from 'eventemitter3';
import { ShutdownError } from '../errors/shutdown-error';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import { MemoryStore } from '../stores/memory-store';
import type { StoreHandle } from '../stores/store';
import { systemClock, type Clock } from '../util/clock';
import { InvalidOptionError } from '../validation/options';
import { CostTable } from './acquire-costs';
import { estimateAdmissionWaitMs } from './admission-estimate';
import { ColdStartArrival } from './cold-start-arrival';
import { CounterAlignment } from './counter-alignment';
import { InlineAdmission } from './inline-admission';
import { Lease, type LeaseOwner, type LeaseUsage } from './lease';
import { holderReleases, offerLease, withLeaseOffered } from './lease-hand-off';
import type { LimiterEvents } from './limiter-events';
import { LimiterFeedbackTarget } from './limiter-feedback';
import {
  resolveWindows,
  validateLimiterOptions,
  type LimiterOptions,
  type ResolvedWindow,
} from './limiter-options';
import { limiterStats } from './limiter-stats';
import type {
  AcquireOptions,
  DrainOptions,
  LimiterStats,
  RateLimitReport,
  RunOptions,
  WrapOptions,
} from './limiter-types';
import { isPromise, noop } from './maybe-promise';
import { LimiterWarnings } from './limiter-warnings';
import { LimiterMetrics } from './limiter-metrics';
import { ProviderFeedback, type ObserveOptions } from './provider-feedback';
import { WaitingRoom } from './waiting-room';

export type { LimiterOptions, WindowOption } from './limiter-options';

export type {
  AcquireOptions,
  DrainOptions,
  LimiterStats,
  RateLimitReport,
  RunOptions,
  WrapOptions,
} from './limiter-types';

/** The pacing `forProvider` gives OpenAI and Anthropic limiters (see `pacingMs`). */
const PROVIDER_PACING_MS = 1000;

/**
 * Limits how much work starts: at most `maxConcurrent` in flight, at most `limit` units started
 * in any sliding window (requests, tokens, per day, or any resource), nobody during a pause.
 *
 * Waiters are served strictly by priority (higher first), first-in first-out within a priority:
 * when the head does not fit, nobody behind it starts, so a large token request at the head is
 * never starved by a stream of small ones. The limiter is work-conserving up to that order:
 * the moment the head fits it starts. Waiters sleep on one timer, armed for the exact moment room
 * appears (or the first timeout, or the end of a pause), and wake at once on a release, a resize
 * or a resume; there is no polling.
 *
 * All shared state (windows, leases, pause gate) lives in a `StoreHandle`; one attempt to
 * start is one atomic store call. The default in-memory store answers synchronously, so the hot
 * path allocates no promise of its own.
 *
 * @example
 * const limiter = new Limiter({ maxConcurrent: 10, maxPerMinute: 500, maxTokensPerMinute: 200_000 });
 * const answer = await limiter.run(() => client.chat.completions.create(req), { tokens: 1200 });
 * await using lease = await limiter.acquire({ tokens: 1200 });
 * @category Limiters
 */
export class Limiter extends EventEmitter<LimiterEvents> implements LeaseOwner {
  readonly name: string;
  readonly clock: Clock;
  /** The windows enforced (each widened by its safety margin). */
  readonly windows: readonly ResolvedWindow[];
  /** The most acquires that may wait at once (Infinity = no bound). */
  readonly maxQueued: number;
  /** The waiters, and how they are served (the admission for this store). */
  private readonly room: WaitingRoom;
  private readonly costs: CostTable;
  private readonly reconcileBoth: boolean;
  /** The smallest window margin: the arrival lag every entry already allows for. */
  private readonly minMarginMs: number;
  private readonly feedback: ProviderFeedback;
  /** Shared stores only: processes whose bursts land together need it; a memory store keeps its exact windows. */
  private readonly coldStart: ColdStartArrival | undefined;
  /** The requests window lined up with the provider's counter (undefined without a requests window). */
  private readonly alignment: CounterAlignment | undefined;
  /** @internal the run-time misconfiguration checks behind the `warning` event (limiter-warnings.ts). */
  readonly warningChecks: LimiterWarnings;
  private totalRateLimits = 0;
  private draining = false;

  constructor(options: LimiterOptions = {}) {
    super();
    const o = validateLimiterOptions(options);
    this.name = o.name ?? 'limiter';
    this.clock = o.clock ?? systemClock;
    this.windows = resolveWindows(o);
    this.maxQueued = o.maxQueued ?? Infinity;
    this.reconcileBoth = o.reconcile === 'both';
    this.minMarginMs = Math.min(...this.windows.map((w) => w.windowMs - w.configuredWindowMs));
    this.costs = new CostTable(this.name, this.windows);
    const handle: StoreHandle = (o.store ?? new MemoryStore()).bind(this.name, this.windows);
    const shared = handle.sharedAcrossProcesses === true;
    const countsSeen = () => !!this.alignment?.countsWithoutArrival;
    this.coldStart = ColdStartArrival.forLimiter(this.windows, shared, countsSeen, handle);
    this.room = new WaitingRoom(
      this,
      this.name,
      this.clock,
      handle,
      this.costs,
      this.maxQueued,
      o.maxConcurrent ?? Infinity,
    );
    // A store handle does not say whether it answers later: the inline admission finds out from
    // its first answer and hands over to the pipelined one then (see InlineAdmission).
    this.room.admission = new InlineAdmission(this.room);
    this.alignment = this.makeAlignment(o.refundFailedAttempts !== false);
    this.feedback = new ProviderFeedback(
      new LimiterFeedbackTarget(this, this.room, this.windows),
      o.learnLimits === true,
      this.alignment,
    );
    this.warningChecks = new LimiterWarnings(this, this.windows, o.warnings !== false, () => {
      const snapshot = handle.snapshot(this.clock.now());
      if (!isPromise(snapshot)) return snapshot.used;
      snapshot.catch(noop);
      return undefined;
    });
  }

  /**
   * A limiter for a provider whose limits you do not know yet: it starts conservative (3 requests
   * and 10 000 tokens per minute, 5 in flight, unless `options` say otherwise) and adopts the
   * provider's own limits from the first response's headers (see {@link observe}). For OpenAI and
   * Anthropic it paces requests over 1 s (`pacingMs: 1000`: OpenAI documents quantized limits,
   * Anthropic refills a bucket continuously), unless `options` set `pacingMs`.
   */
  static forProvider(provider: 'openai' | 'anthropic' | 'generic', options: LimiterOptions = {}): Limiter {
    return new Limiter({
      name: provider,
      maxConcurrent: 5,
      maxPerMinute: 3,
      maxTokensPerMinute: 10_000,
      ...(provider === 'generic' ? {} : { pacingMs: PROVIDER_PACING_MS }),
      ...options,
      learnLimits: true,
    });
  }

  /**
   * Learns from a provider response, SDK result (`withResponse()`), fetch `Response` or error
   * that carries headers: when the request reached the provider (OpenAI's `openai-processing-ms`,
   * given the lease before it is released), its real limits (a lower one always lowers ours, with a `limit` event;
   * `forProvider` limiters also adopt higher ones), and a budget that is exhausted although our own
   * windows have room (another client on the same key: pause until the reset). Throttled nodes
   * call this for you after every call.
   */
  observe(response: unknown, options: ObserveOptions = {}): ProviderRateLimitInfo | undefined {
    const info = this.feedback.observe(response, options);
    this.warningChecks.onObserve(info);
    return info;
  }

  /** Validates options without making a limiter (errors name the option and value). */
  static validateOptions(options: unknown, subject = 'Limiter'): LimiterOptions {
    return validateLimiterOptions(options, subject);
  }

  /** The concurrency limit in force (Infinity = none). */
  get maxConcurrent(): number {
    return this.room.maxConcurrent;
  }

  /** Whether {@link drain} was called (new acquires are refused). */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Waits for room and starts one unit of work; release the lease when the work ends (or use
   * `await using`). Rejects at once with `LimitExceededError` when a cost can never fit a window,
   * `ShutdownError` after `drain()`, `QueueFullError` past `maxQueued`.
   */
  acquire(options?: AcquireOptions): Promise<Lease> {
    try {
      const started = this.start(options);
      return started instanceof Lease ? Promise.resolve(started) : started;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Acquires, runs `fn` with the lease, and releases — also when `fn` throws. */
  run<T>(fn: (lease: Lease) => T | PromiseLike<T>, options?: RunOptions<T>): Promise<T> {
    let started: Lease | Promise<Lease>;
    try {
      started = this.start(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (started instanceof Lease) return this.runHeld(started, fn, options);
    return started.then((lease) => this.runHeld(lease, fn, options));
  }

  /** `fn` wrapped so every call goes through {@link Limiter.run}, with `tokensFor(...args)` as its estimate. */
  wrap<A extends unknown[], T>(
    fn: (...args: A) => T | PromiseLike<T>,
    options: WrapOptions<A, T> = {},
  ): (...args: A) => Promise<T> {
    const { tokensFor, ...runOptions } = options;
    if (!tokensFor) return (...args: A) => this.run(() => fn(...args), runOptions);
    return (...args: A) => {
      let tokens: number | undefined;
      try {
        tokens = tokensFor(...args);
      } catch (error) {
        // The wrapped function returns a promise: a throwing estimate rejects it, never throws.
        return Promise.reject(error);
      }
      return this.run(() => fn(...args), { ...runOptions, tokens });
    };
  }

  /** Nobody starts for `ms` (e.g. a provider's retry-after); extends, never shortens, a pause in force. */
  pause(ms: number): void {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
      throw new InvalidOptionError('ms', `pause ms must be a non-negative number, got ${String(ms)}`);
    }
    const now = this.clock.now();
    const done = this.room.handle.pause(now, ms);
    // A shared store that cannot record the pause still leaves this process paused.
    if (isPromise(done)) done.catch(noop);
    this.room.closeGate(now + ms, ms, 'local');
  }

  /**
   * Records a provider rate limit (a 429 or 529): counts it, pauses for its retry-after when
   * given (see {@link pause}), then emits `ratelimit`.
   */
  reportRateLimit(report: RateLimitReport = {}): void {
    this.totalRateLimits++;
    const { retryAfterMs, source, kind } = report;
    // Before the pause and the widening below: the question is whether our own windows had room.
    this.warningChecks.onRateLimit(source, kind);
    if (kind !== 'overloaded' && this.alignment?.onRateLimit()) this.warningChecks.onFailuresCounted();
    if (retryAfterMs !== undefined && retryAfterMs > 0 && Number.isFinite(retryAfterMs)) {
      // Our windows let this request start, yet the provider's had no room for retryAfterMs more:
      // its window ends that much later than ours, so count our entries longer.
      if (kind !== 'overloaded') this.feedback.onUnexpectedRateLimit(retryAfterMs);
      this.pause(retryAfterMs);
    }
    if (this.listenerCount('ratelimit')) {
      const gate = this.room.gate;
      this.emit('ratelimit', {
        retryAfterMs,
        source,
        kind,
        pausedUntil: gate.isClosed(this.clock.now()) ? gate.untilMs : 0,
      });
    }
  }

  /**
   * Changes the concurrency limit at run time. Shrinking lets in-flight work finish (nobody new
   * starts until active drops below the new limit); growing starts waiters at once. Windows and
   * waiters are untouched.
   */
  setMaxConcurrent(maxConcurrent: number): void {
    if (!(maxConcurrent === Infinity || (Number.isInteger(maxConcurrent) && maxConcurrent > 0))) {
      throw new InvalidOptionError(
        'maxConcurrent',
        `maxConcurrent must be a positive integer, got ${String(maxConcurrent)}`,
      );
    }
    const from = this.room.maxConcurrent;
    if (from === maxConcurrent) return;
    this.room.maxConcurrent = maxConcurrent;
    if (this.listenerCount('resize')) this.emit('resize', { from, to: maxConcurrent });
    if (maxConcurrent > from && this.room.queue.size > 0) this.room.pump();
  }

  /** Clock reading until which nobody starts (0 = not paused): `stats().pausedUntil` without reading the store. */
  get pausedUntil(): number {
    const gate = this.room.gate;
    return gate.isClosed(this.clock.now()) ? gate.untilMs : 0;
  }

  /**
   * Milliseconds an acquire of this cost would probably wait if made now; read-only (nothing is
   * charged or queued), for routers choosing between limiters. Infinity when it could never start.
   * See `admission-estimate.ts` for what it knows.
   */
  estimateWaitMs(options?: Pick<AcquireOptions, 'tokens' | 'cost' | 'units'>): number {
    const holdMs = LimiterMetrics.of(this)?.latency.percentile(50);
    return estimateAdmissionWaitMs(this.room, this.windows, this.costs, options, this.draining, holdMs);
  }

  /**
   * A snapshot of limits and usage. With a remote store, window usage and `active` are the store's
   * last known values (refreshed in the background).
   */
  stats(): LimiterStats {
    return limiterStats(this, this.room, this.windows, this.totalRateLimits);
  }

  /**
   * Stops taking work: from now on `acquire` rejects with `ShutdownError`. Acquires still waiting
   * are rejected with `ShutdownError` (or, with `queued: 'serve'`, served first); work already
   * started finishes. Resolves when nothing is in flight and nobody waits.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    const queued: unknown = options.queued ?? 'reject';
    if (queued !== 'reject' && queued !== 'serve') {
      return Promise.reject(
        new InvalidOptionError('queued', `drain queued must be 'reject' or 'serve', got ${String(queued)}`),
      );
    }
    this.draining = true;
    if (queued === 'reject')
      this.room.rejectAll(() => new ShutdownError(this.name, 'it was drained while this acquire waited'));
    return this.room.whenIdle();
  }

  /** @internal called by Lease.release */
  releaseLease(lease: Lease, usage: LeaseUsage | undefined): void {
    const room = this.room;
    room.active--;
    this.alignment?.onRelease(lease, room.totalRequests);
    const now = this.clock.now();
    const used = usage?.tokens;
    let deltas: number[] | undefined;
    let refunded = false;
    if (this.costs.hasTokenWindow && typeof used === 'number' && used >= 0 && Number.isFinite(used)) {
      const delta = used - lease.tokens;
      if (delta > 0 || (delta < 0 && this.reconcileBoth)) {
        deltas = this.costs.tokenDeltas(delta);
        refunded = delta < 0;
      }
    }
    // The response's bound, else the cold-connection one (it tracks connections); at least a proven lag.
    const coldLagMs = this.coldStart?.arrivalLagFor(lease, now);
    const arrivalLagMs = Math.max(usage?.arrivalLagMs ?? coldLagMs ?? 0, lease.provenLagMs);
    const lagBeyondMarginMs = arrivalLagMs - this.minMarginMs;
    const done = room.admission.release(
      now,
      lease.id,
      lease.entries,
      deltas,
      lagBeyondMarginMs > 0 ? lagBeyondMarginMs : undefined,
    );
    if (this.listenerCount('release')) {
      this.emit('release', {
        active: room.active,
        heldMs: now - lease.startedAtMs,
        tokens: lease.tokens,
        usedTokens: used,
      });
    }
    if (isPromise(done)) {
      const after = () => room.afterRelease(refunded);
      done.then(after, after);
    } else {
      room.afterRelease(refunded);
    }
    // One field test per release once the checks have decided.
    if (this.warningChecks.watching) this.warningChecks.onRelease(lease.tokens, used);
  }

  /**
   * The alignment of the requests window the provider's headers speak of (the shortest of a minute
   * or less, not a pacing one).
   */
  private makeAlignment(refundFailedAttempts: boolean): CounterAlignment | undefined {
    let window: ResolvedWindow | undefined;
    for (const w of this.windows) {
      if (w.resource !== 'requests' || w.pacedFrom !== undefined || w.configuredWindowMs > 60_000) continue;
      if (!window || w.configuredWindowMs < window.configuredWindowMs) window = w;
    }
    if (!window) return undefined;
    const room = this.room;
    const deltas = this.costs.kinds.map((kind) => (kind === 'requests' ? -1 : 0));
    const alignment = new CounterAlignment(
      {
        now: () => this.clock.now(),
        refundRequest: (entries, leaseId) => {
          const handle = room.handle;
          if (!handle.refund) return false;
          const done = handle.refund(this.clock.now(), entries, deltas, leaseId);
          if (isPromise(done)) done.then(() => room.afterRelease(true), noop);
          else room.afterRelease(true);
          return true;
        },
      },
      window.configuredWindowMs,
      window.windowMs,
      refundFailedAttempts,
      Math.min(...this.windows.map((w) => w.configuredWindowMs)),
    );
    room.onGrant = (lease) => alignment.onGrant(lease);
    return alignment;
  }

  private async runHeld<T>(
    lease: Lease,
    fn: (lease: Lease) => T | PromiseLike<T>,
    options: RunOptions<T> | undefined,
  ): Promise<T> {
    // A throttledFetch on this limiter inside fn takes the lease for its first HTTP attempt (no
    // offer is made before any throttledFetch exists: it would cost every run an object and a closure).
    const offer = offerLease(this, lease);
    let result: T;
    try {
      result = await (offer ? withLeaseOffered(offer, () => fn(lease)) : fn(lease));
    } catch (error) {
      if (holderReleases(offer)) lease.release();
      throw error;
    }
    const usageOf = options?.usageOf;
    if (!holderReleases(offer)) return result;
    if (!usageOf) {
      lease.release();
      return result;
    }
    let tokens: number | undefined;
    try {
      tokens = usageOf(result);
    } finally {
      lease.release(tokens === undefined ? undefined : { tokens });
    }
    return result;
  }

  /** Starts at once when possible (a Lease), else queues (a Promise). Throws what the acquire should reject with. */
  private start(options: AcquireOptions | undefined): Lease | Promise<Lease> {
    if (this.draining) throw new ShutdownError(this.name);
    const costs = options === undefined ? this.costs.defaultCosts : this.costs.of(options);
    const started = this.room.admission.start(costs, options);
    const coldStart = this.coldStart;
    if (coldStart) {
      if (started instanceof Lease) coldStart.onStart(started);
      else started.then((lease) => coldStart.onStart(lease), noop);
    }
    return started;
  }
}
