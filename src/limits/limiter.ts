import { EventEmitter } from 'eventemitter3';
import { LimitExceededError } from '../errors/limit-exceeded-error';
import { LimiterTimeoutError } from '../errors/limiter-timeout-error';
import { QueueFullError } from '../errors/queue-full-error';
import { ShutdownError } from '../errors/shutdown-error';
import { MemoryStore } from '../stores/memory-store';
import type { ReleaseRequest, StoreHandle, TryAcquireRequest, TryAcquireResult } from '../stores/store';
import { InvalidOptionError } from '../validation/options';
import { AttemptPipeline, type Attempt } from './attempt-pipeline';
import { abortReason, systemClock, type Clock } from '../util/clock';
import { DeadlineHeap, type DeadlineNode } from './deadline-heap';
import { Lease, type LeaseOwner, type LeaseUsage } from './lease';
import type { LimiterEvents } from './limiter-events';
import { resolveWindows, validateLimiterOptions, type LimiterOptions, type ResolvedWindow } from './limiter-options';
import { PauseGate } from './pause-gate';
import { ProviderFeedback, type ObserveOptions } from './provider-feedback';
import type { ProviderRateLimitInfo } from '../providers/provider-rate-limit-info';
import { limiterLatencyStats, type LatencyPercentiles } from './limiter-metrics';
import { WaiterQueue, type QueueLane, type QueueNode } from './waiter-queue';

export type { LimiterOptions, WindowOption } from './limiter-options';

/** Options of one {@link Limiter.acquire}. */
export interface AcquireOptions {
  /**
   * Token estimate charged in full to token windows at the start (reconciled at release).
   * @default 0
   */
  tokens?: number;
  /**
   * Units charged to request windows.
   * @default 1
   */
  cost?: number;
  /**
   * Units for custom window resources, by resource name (e.g. `{ images: 2 }`).
   * @default {}
   */
  units?: Record<string, number>;
  /**
   * Higher goes first; equal priorities are first-in first-out.
   * @default 0
   */
  priority?: number;
  /**
   * Gives up waiting when aborted: the acquire rejects with the signal's reason (an `AbortError`
   * `DOMException` unless the signal carries its own).
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Gives up waiting after this long: the acquire rejects with `LimiterTimeoutError`. `0` means
   * "only if it can start at once".
   * @default undefined (wait as long as it takes)
   */
  timeoutMs?: number;
}

/** Options of {@link Limiter.run}. */
export interface RunOptions<T> extends AcquireOptions {
  /**
   * Real tokens used, read from the result, to reconcile the estimate at release. `fn` may also
   * call `lease.release({ tokens })` itself.
   * @default undefined (no reconcile)
   */
  usageOf?: (result: T) => number | undefined;
}

/** Options of {@link Limiter.wrap}. */
export type WrapOptions<A extends unknown[], T> = Omit<RunOptions<T>, 'tokens'> & {
  /** The token estimate of one call, from its arguments. @default undefined (0 tokens) */
  tokensFor?: (...args: A) => number | undefined;
};

/** Options of {@link Limiter.drain}. */
export interface DrainOptions {
  /**
   * What happens to acquires already waiting: `'finish'` serves them (their work counts as
   * in flight), `'reject'` rejects them with `ShutdownError`.
   * @default 'finish'
   */
  queued?: 'finish' | 'reject';
}

/** What {@link Limiter.reportRateLimit} is told. */
export interface RateLimitReport {
  /**
   * How long the provider asked us to wait; the limiter pauses that long.
   * @default undefined (count and announce only, no pause)
   */
  retryAfterMs?: number;
  /**
   * Who limited us: `'openai'`, `'my_api'`, …
   * @default undefined
   */
  source?: string;
  /**
   * `'rate_limit'`, `'overloaded'`, …
   * @default undefined
   */
  kind?: string;
}

/** A snapshot of a limiter. */
export interface LimiterStats {
  name: string;
  /** The concurrency limit in force (Infinity = none). */
  maxConcurrent: number;
  /** Leases held now (for a shared store: across every process). */
  active: number;
  /** Acquires waiting now (in this process). */
  queued: number;
  /** Leases granted by this limiter since it was made. */
  totalRequests: number;
  /** Provider rate limits reported with `reportRateLimit`. */
  totalRateLimits: number;
  /** Slots free now (Infinity when unlimited). */
  availableSlots: number;
  /** Requests inside the shortest request window now (0 without one). */
  requestsInWindow: number;
  /** Tokens inside the shortest token window now (0 without one). */
  tokensInWindow: number;
  /** The largest fraction in use of any limit (concurrency or window), 0–1. */
  utilization: number;
  /** Clock reading until which nobody starts (0 = not paused). */
  pausedUntil: number;
  /** p50/p95/p99 ms leases were held; present while `LimiterMetrics` are attached (throttled nodes and the registry attach them). */
  latency?: LatencyPercentiles;
  /** p50/p95/p99 ms acquires waited; present while `LimiterMetrics` are attached. */
  queueWait?: LatencyPercentiles;
}

/** Resource kinds, so the hot path compares numbers, not strings. */
const REQUESTS = 0;
const TOKENS = 1;
const CUSTOM = 2;

/** Waiter states. */
const QUEUED = 0;
/** A remote store is deciding on this waiter right now. */
const TRYING = 1;
const DONE = 2;

/**
 * The most try-acquires in flight at once to a store that answers later (Redis): enough to fill
 * the store's batches (one script run answers every call that arrived meanwhile), small enough that
 * a refusal hands back few grants. Never more than the free concurrency slots, and only one while
 * the head is being refused (see `flowing`).
 */
const PIPELINE_DEPTH = 64;

/**
 * A grant applied this long after it arrived (it waited behind a slower answer to an earlier
 * attempt, which only a store that can reorder answers produces) is handed back and tried again:
 * the store counted it from its own decision, so starting it later could overfill a window.
 * Stores that answer in order (Redis) never hold a grant. (With a whole-ms custom clock a brief hold
 * across a tick counts too; that grant is merely asked for again.)
 */
const HELD_GRANT_MS = 1;

/** What blocks the head waiter (decides whether a release is worth a new attempt). */
const NONE = 0;
const CONCURRENCY = 1;
const WINDOW = 2;
const PAUSED = 3;
/** Only the try-acquires in flight fill the concurrency limit: any of them settling frees room. */
const PIPELINE = 4;

/** One acquire waiting for room. */
class Waiter implements QueueNode, DeadlineNode {
  qPrev: QueueNode | undefined = undefined;
  qNext: QueueNode | undefined = undefined;
  qLane: QueueLane | undefined = undefined;
  heapIndex = -1;
  state = QUEUED;
  onAbort: (() => void) | undefined = undefined;
  resolve: (lease: Lease) => void = noop;
  reject: (error: unknown) => void = noop;

  constructor(
    readonly priority: number,
    readonly costs: readonly number[],
    readonly tokens: number,
    readonly enqueuedAtMs: number,
    /** Clock reading at which it times out (Infinity = never). */
    readonly deadlineMs: number,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

function noop(): void {}

const NO_COSTS: readonly number[] = [];

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

// Hands the new promise's resolvers to the waiter without a closure per acquire.
let capturing: Waiter | undefined;
function capture(resolve: (lease: Lease) => void, reject: (error: unknown) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

let instanceCounter = 0;

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
 * All shared state (windows, leases, pause gate) lives in a {@link StoreHandle}; one attempt to
 * start is one atomic store call. The default in-memory store answers synchronously, so the hot
 * path allocates no promise of its own.
 *
 * @example
 * const limiter = new Limiter({ maxConcurrent: 10, maxPerMinute: 500, maxTokensPerMinute: 200_000 });
 * const answer = await limiter.run(() => client.chat.completions.create(req), { tokens: 1200 });
 * await using lease = await limiter.acquire({ tokens: 1200 });
 */
export class Limiter extends EventEmitter<LimiterEvents> implements LeaseOwner {
  readonly name: string;
  readonly clock: Clock;
  /** The windows enforced (each widened by its safety margin). */
  readonly windows: readonly ResolvedWindow[];
  /** The most acquires that may wait at once (Infinity = no bound). */
  readonly maxQueued: number;
  private readonly handle: StoreHandle;
  private readonly reconcileBoth: boolean;
  /** Per window: REQUESTS, TOKENS or CUSTOM. */
  private readonly kinds: readonly number[];
  private readonly hasTokenWindow: boolean;
  /** Costs of an acquire without cost options (one request, no tokens); shared, never mutated. */
  private readonly defaultCosts: readonly number[];
  private readonly leasePrefix: string;
  /** The smallest window margin: the arrival lag every entry already allows for. */
  private readonly minMarginMs: number;
  private maxConcurrentValue: number;
  private readonly queue = new WaiterQueue<Waiter>();
  private readonly deadlines = new DeadlineHeap<Waiter>();
  private readonly gate = new PauseGate();
  private active = 0;
  private totalRequests = 0;
  private totalRateLimits = 0;
  private leaseSeq = 0;
  /** Set once the store answered with a promise: from then on every attempt goes through the queue. */
  private asyncStore = false;
  /** Try-acquires in flight to a store that answers later, applied in the order they were sent. */
  private readonly attempts = new AttemptPipeline<Waiter>(
    () => this.clock.now(),
    (attempt, doomed) => this.onAttempt(attempt, doomed),
  );
  /** False after a refusal until the next grant: only the head is tried then, not a pipeline full of waiters. */
  private flowing = true;
  private pumping = false;
  private pumpAgain = false;
  private blocked = NONE;
  /** When the head will fit, as far as the last refusal said (Infinity = only a release helps). */
  private roomAtMs = Infinity;
  private timer: AbortController | undefined;
  private timerAtMs = Infinity;
  private draining = false;
  private drainWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | undefined;
  /** Reused for every store call while the store answers synchronously (see {@link request}). */
  private readonly acquireRequest: TryAcquireRequest = { nowMs: 0, leaseId: '', costs: NO_COSTS, maxConcurrent: Infinity };
  private readonly releaseRequest: ReleaseRequest = { nowMs: 0, leaseId: '', entries: NO_COSTS, deltas: undefined, arrivalLagMs: undefined };
  private readonly feedback: ProviderFeedback;

  constructor(options: LimiterOptions = {}) {
    super();
    const o = validateLimiterOptions(options);
    this.name = o.name ?? 'limiter';
    this.clock = o.clock ?? systemClock;
    this.windows = resolveWindows(o);
    this.kinds = this.windows.map((w) => (w.resource === 'requests' ? REQUESTS : w.resource === 'tokens' ? TOKENS : CUSTOM));
    this.hasTokenWindow = this.kinds.includes(TOKENS);
    this.minMarginMs = Math.min(...this.windows.map((w) => w.windowMs - w.configuredWindowMs));
    this.defaultCosts = this.kinds.map((k) => (k === REQUESTS ? 1 : 0));
    this.maxConcurrentValue = o.maxConcurrent ?? Infinity;
    this.maxQueued = o.maxQueued ?? Infinity;
    this.reconcileBoth = o.reconcile === 'both';
    this.handle = (o.store ?? new MemoryStore()).bind(this.name, this.windows);
    this.feedback = new ProviderFeedback(
      {
        now: () => this.clock.now(),
        windows: () => this.windows.map((w) => ({ ...w, marginMs: w.windowMs - w.configuredWindowMs })),
        hasIdleRoom: (index) => {
          const now = this.clock.now();
          // Room a waiter takes the moment its timer fires is not idle (its release only just came).
          if (this.queue.size > 0 && this.blocked === WINDOW && this.roomAtMs <= now) return false;
          const snapshot = this.handle.snapshot(now);
          // A remote store's usage is not known here: say no rather than pause on a guess.
          if (isPromise(snapshot)) {
            snapshot.catch(noop);
            return false;
          }
          return (snapshot.used[index] ?? 0) < this.windows[index]!.limit;
        },
        startedSince: (grantIndex) => this.totalRequests - grantIndex,
        pause: (ms) => this.pause(ms),
        setExtraWindowMs: (ms) => {
          const done = this.handle.extendWindows?.(ms);
          if (isPromise(done)) done.catch(noop);
        },
        setLimit: (index, limit, reason) => this.setWindowLimit(index, limit, reason),
      },
      o.learnLimits === true,
    );
    this.leasePrefix = this.handle.tracksLeases
      ? `${Date.now().toString(36)}-${(++instanceCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`
      : '';
  }

  /**
   * A limiter for a provider whose limits you do not know yet: it starts conservative (3 requests
   * and 10 000 tokens per minute, 5 in flight, unless `options` say otherwise) and adopts the
   * provider's own limits from the first response's headers (see {@link observe}).
   */
  static forProvider(provider: 'openai' | 'anthropic' | 'generic', options: LimiterOptions = {}): Limiter {
    return new Limiter({
      name: provider,
      maxConcurrent: 5,
      maxPerMinute: 3,
      maxTokensPerMinute: 10_000,
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
    return this.feedback.observe(response, options);
  }

  private setWindowLimit(index: number, limit: number, reason: 'lowered' | 'learned'): void {
    const window = this.windows[index] as ResolvedWindow & { limit: number };
    if (!window || window.limit === limit || !this.handle.setLimit) return;
    const from = window.limit;
    const done = this.handle.setLimit(index, limit);
    if (isPromise(done)) done.catch(noop);
    window.limit = limit;
    if (this.listenerCount('limit')) {
      this.emit('limit', { resource: window.resource, windowMs: window.configuredWindowMs, from, to: limit, reason });
    }
    if (limit > from) this.pump();
  }

  /** Validates options without making a limiter (errors name the option and value). */
  static validateOptions(options: unknown, subject = 'Limiter'): LimiterOptions {
    return validateLimiterOptions(options, subject);
  }

  /** The concurrency limit in force (Infinity = none). */
  get maxConcurrent(): number {
    return this.maxConcurrentValue;
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
  wrap<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>, options: WrapOptions<A, T> = {}): (...args: A) => Promise<T> {
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
    const done = this.handle.pause(now, ms);
    // A shared store that cannot record the pause still leaves this process paused.
    if (isPromise(done)) done.catch(noop);
    this.closeGate(now + ms, ms, 'local');
  }

  /**
   * Records a provider rate limit (a 429 or 529): counts it, pauses for its retry-after when
   * given (see {@link pause}), then emits `ratelimit`.
   */
  reportRateLimit(report: RateLimitReport = {}): void {
    this.totalRateLimits++;
    const { retryAfterMs, source, kind } = report;
    if (retryAfterMs !== undefined && retryAfterMs > 0 && Number.isFinite(retryAfterMs)) {
      // Our windows let this request start, yet the provider's had no room for retryAfterMs more:
      // its window ends that much later than ours, so count our entries longer.
      if (kind !== 'overloaded') this.feedback.onUnexpectedRateLimit(retryAfterMs);
      this.pause(retryAfterMs);
    }
    if (this.listenerCount('ratelimit')) {
      const now = this.clock.now();
      this.emit('ratelimit', { retryAfterMs, source, kind, pausedUntil: this.gate.isClosed(now) ? this.gate.untilMs : 0 });
    }
  }

  /**
   * Changes the concurrency limit at run time. Shrinking lets in-flight work finish (nobody new
   * starts until active drops below the new limit); growing starts waiters at once. Windows and
   * waiters are untouched.
   */
  setMaxConcurrent(maxConcurrent: number): void {
    if (!(maxConcurrent === Infinity || (Number.isInteger(maxConcurrent) && maxConcurrent > 0))) {
      throw new InvalidOptionError('maxConcurrent', `maxConcurrent must be a positive integer, got ${String(maxConcurrent)}`);
    }
    const from = this.maxConcurrentValue;
    if (from === maxConcurrent) return;
    this.maxConcurrentValue = maxConcurrent;
    if (this.listenerCount('resize')) this.emit('resize', { from, to: maxConcurrent });
    if (maxConcurrent > from && this.queue.size > 0) this.pump();
  }

  /**
   * A snapshot of limits and usage. With a remote store, window usage and `active` are the store's
   * last known values (refreshed in the background).
   */
  stats(): LimiterStats {
    const now = this.clock.now();
    const snapshot = this.handle.snapshot(now);
    let shared: { active: number; used: number[] } | undefined;
    if (isPromise(snapshot)) snapshot.catch(noop);
    else shared = snapshot;
    const active = shared?.active ?? this.active;
    const max = this.maxConcurrentValue;
    let utilization = max === Infinity ? 0 : active / max;
    let requestsInWindow = 0;
    let tokensInWindow = 0;
    let requestsWindowMs = Infinity;
    let tokensWindowMs = Infinity;
    this.windows.forEach((w, i) => {
      const used = shared?.used[i] ?? 0;
      utilization = Math.max(utilization, used / w.limit);
      if (this.kinds[i] === REQUESTS && w.windowMs < requestsWindowMs) [requestsInWindow, requestsWindowMs] = [used, w.windowMs];
      if (this.kinds[i] === TOKENS && w.windowMs < tokensWindowMs) [tokensInWindow, tokensWindowMs] = [used, w.windowMs];
    });
    return {
      name: this.name,
      maxConcurrent: max,
      active,
      queued: this.queue.size,
      totalRequests: this.totalRequests,
      totalRateLimits: this.totalRateLimits,
      availableSlots: Math.max(0, max - active),
      requestsInWindow,
      tokensInWindow,
      utilization: Math.min(1, utilization),
      pausedUntil: this.gate.isClosed(now) ? this.gate.untilMs : 0,
      ...limiterLatencyStats(this),
    };
  }

  /**
   * Stops taking work: from now on `acquire` rejects with `ShutdownError`. Acquires already
   * waiting are served (or, with `queued: 'reject'`, rejected with `ShutdownError`). Resolves when
   * nothing is in flight and nobody waits.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    const queued = options.queued ?? 'finish';
    if (queued !== 'finish' && queued !== 'reject') {
      return Promise.reject(new InvalidOptionError('queued', `queued must be one of 'finish', 'reject', got ${String(queued)}`));
    }
    this.draining = true;
    if (queued === 'reject' && this.queue.size > 0) {
      // Take every waiter out first, so rejecting one cannot start the next.
      const waiters = [...this.queue];
      for (const waiter of waiters) this.detach(waiter);
      for (const waiter of waiters) waiter.reject(new ShutdownError(this.name, 'it was drained while this acquire waited'));
      this.block(NONE, Infinity);
      this.schedule();
    }
    if (this.active === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** @internal called by Lease.release */
  releaseLease(lease: Lease, usage: LeaseUsage | undefined): void {
    this.active--;
    const now = this.clock.now();
    const used = usage?.tokens;
    let deltas: number[] | undefined;
    let refunded = false;
    if (this.hasTokenWindow && typeof used === 'number' && used >= 0 && Number.isFinite(used)) {
      const delta = used - lease.tokens;
      if (delta > 0 || (delta < 0 && this.reconcileBoth)) {
        deltas = this.kinds.map((k) => (k === TOKENS ? delta : 0));
        refunded = delta < 0;
      }
    }
    // The margin already allows for this much lag; only the lag beyond it moves the entries.
    const lagBeyondMarginMs = (usage?.arrivalLagMs ?? 0) - this.minMarginMs;
    const arrivalLagMs = lagBeyondMarginMs > 0 ? lagBeyondMarginMs : undefined;
    let request: ReleaseRequest;
    if (this.asyncStore) {
      request = { nowMs: now, leaseId: lease.id, entries: lease.entries, deltas, arrivalLagMs };
    } else {
      request = this.releaseRequest;
      request.nowMs = now;
      request.leaseId = lease.id;
      request.entries = lease.entries;
      request.deltas = deltas;
      request.arrivalLagMs = arrivalLagMs;
    }
    const done = this.handle.release(request);
    if (this.listenerCount('release')) {
      this.emit('release', { active: this.active, heldMs: now - lease.startedAtMs, tokens: lease.tokens, usedTokens: used });
    }
    if (isPromise(done)) {
      const after = () => this.afterRelease(refunded);
      done.then(after, after);
    } else {
      this.afterRelease(refunded);
    }
  }

  private afterRelease(refunded: boolean): void {
    // A head blocked by a window or a pause gains nothing from a freed slot; only a refund helps it.
    if (this.queue.size > 0) {
      if (this.blocked === CONCURRENCY || this.blocked === PIPELINE || this.blocked === NONE || refunded) this.pump();
    } else {
      this.checkIdle();
    }
  }

  private async runHeld<T>(lease: Lease, fn: (lease: Lease) => T | PromiseLike<T>, options: RunOptions<T> | undefined): Promise<T> {
    let result: T;
    try {
      result = await fn(lease);
    } catch (error) {
      lease.release();
      throw error;
    }
    const usageOf = options?.usageOf;
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
    const costs = options === undefined ? this.defaultCosts : this.costsOf(options);
    if (this.queue.size === 0 && !this.asyncStore && !this.pumping && this.active < this.maxConcurrentValue) {
      const now = this.clock.now();
      if (!this.gate.isClosed(now)) {
        if (this.gate.takeResume(now)) this.emitResume();
        const leaseId = this.nextLeaseId();
        const result = this.handle.tryAcquire(this.request(now, leaseId, costs));
        if (isPromise(result)) {
          // The store answers later: from now on everything goes through the queue, in order.
          this.asyncStore = true;
          const waiter = this.newWaiter(costs, options, now);
          const promise = this.enqueue(waiter);
          this.sendAttempt(waiter, leaseId, result);
          return promise;
        }
        if (result.ok) return this.grant(leaseId, options?.tokens ?? 0, result.entries, now, now, options?.priority ?? 0);
        if (options?.timeoutMs === 0) throw new LimiterTimeoutError(this.name, 0);
        const waiter = this.newWaiter(costs, options, now);
        const promise = this.enqueue(waiter);
        // The refusal already says when it will fit: no second store call.
        if (!this.onAnswer(waiter, leaseId, result, now)) this.schedule();
        else this.pump();
        return promise;
      }
    }
    if (options?.timeoutMs === 0) throw new LimiterTimeoutError(this.name, 0);
    const waiter = this.newWaiter(costs, options, this.clock.now());
    const promise = this.enqueue(waiter);
    // Only a new head can change what happens next; behind a blocked head it just waits. With a
    // store that answers later, a waiter behind heads being tried joins the pipeline at once.
    if (this.queue.peek() === waiter || (this.asyncStore && this.blocked === NONE)) this.pump();
    else if (waiter.heapIndex >= 0) this.schedule();
    return promise;
  }

  /** The per-window costs of an acquire; validates its options. */
  private costsOf(options: AcquireOptions): readonly number[] {
    const { tokens, cost, units, priority, signal, timeoutMs } = options;
    if (signal?.aborted) throw abortReason(signal);
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) {
      throw new InvalidOptionError('priority', `priority must be a finite number, got ${String(priority)}`);
    }
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      throw new InvalidOptionError('timeoutMs', `timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
    }
    if (tokens !== undefined) checkAmount('tokens', tokens);
    if (cost !== undefined) checkAmount('cost', cost);
    if (tokens === undefined && cost === undefined && units === undefined) return this.defaultCosts;
    const windows = this.windows;
    const costs = new Array<number>(windows.length);
    for (let i = 0; i < windows.length; i++) {
      const kind = this.kinds[i];
      const w = windows[i]!;
      let amount: number;
      if (kind === REQUESTS) amount = cost ?? 1;
      else if (kind === TOKENS) amount = tokens ?? 0;
      else checkAmount(`units.${w.resource}`, (amount = units?.[w.resource] ?? 0));
      if (amount > w.limit) throw new LimitExceededError(this.name, w.resource, amount, w.limit, w.configuredWindowMs);
      costs[i] = amount;
    }
    return costs;
  }

  private nextLeaseId(): string {
    return this.leasePrefix === '' ? '' : `${this.leasePrefix}:${(++this.leaseSeq).toString(36)}`;
  }

  private request(nowMs: number, leaseId: string, costs: readonly number[]): TryAcquireRequest {
    if (this.asyncStore) return { nowMs, leaseId, costs, maxConcurrent: this.maxConcurrentValue };
    // A store that answers synchronously is done with the request when it returns: reuse one.
    const r = this.acquireRequest;
    r.nowMs = nowMs;
    r.leaseId = leaseId;
    r.costs = costs;
    r.maxConcurrent = this.maxConcurrentValue;
    return r;
  }

  /** `chargedAtMs`: no later than the store's charge (the attempt's send time for a store that answers later). */
  private grant(leaseId: string, tokens: number, entries: readonly number[], now: number, enqueuedAtMs: number, priority: number, chargedAtMs = now): Lease {
    this.active++;
    this.totalRequests++;
    const lease = new Lease(this, leaseId, tokens, now, entries, this.totalRequests, chargedAtMs);
    if (this.listenerCount('acquire')) this.emit('acquire', { active: this.active, waitedMs: now - enqueuedAtMs, priority, tokens });
    return lease;
  }

  private newWaiter(costs: readonly number[], options: AcquireOptions | undefined, now: number): Waiter {
    if (this.queue.size >= this.maxQueued) throw new QueueFullError(this.name, this.maxQueued);
    const timeoutMs = options?.timeoutMs;
    return new Waiter(
      options?.priority ?? 0,
      costs,
      options?.tokens ?? 0,
      now,
      timeoutMs === undefined ? Infinity : now + timeoutMs,
      timeoutMs ?? Infinity,
      options?.signal,
    );
  }

  /** Queues `waiter` (its abort and timeout armed) and returns the promise its grant resolves. */
  private enqueue(waiter: Waiter): Promise<Lease> {
    capturing = waiter;
    const promise = new Promise<Lease>(capture);
    capturing = undefined;
    this.queue.push(waiter);
    const signal = waiter.signal;
    if (signal) {
      waiter.onAbort = () => this.cancel(waiter, abortReason(signal));
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    if (waiter.deadlineMs !== Infinity) this.deadlines.push(waiter);
    if (this.listenerCount('queued')) {
      this.emit('queued', { queued: this.queue.size, priority: waiter.priority, tokens: waiter.tokens });
    }
    return promise;
  }

  /** Takes `waiter` out of the queue, the deadline heap and its signal. */
  private detach(waiter: Waiter): void {
    this.queue.remove(waiter);
    if (waiter.heapIndex >= 0) this.deadlines.remove(waiter);
    if (waiter.onAbort) {
      waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = undefined;
    }
    waiter.state = DONE;
  }

  /** Rejects a waiter (abort, timeout, drain, store failure); the next one may fit now. */
  private cancel(waiter: Waiter, reason: unknown): void {
    if (waiter.state === DONE) return;
    const wasHead = this.queue.peek() === waiter;
    this.detach(waiter);
    waiter.reject(reason);
    if (wasHead) this.pump();
    else this.schedule();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.active !== 0 || this.queue.size !== 0) return;
    if (this.listenerCount('idle')) this.emit('idle');
    if (this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Serves waiters from the head while they fit, then arms the one timer. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    if (this.asyncStore) this.pumpAsync();
    else this.pumpLoop();
  }

  /** The body of {@link pump}: runs with `pumping` set and clears it when it stops. */
  private pumpLoop(): void {
    for (;;) {
      this.pumpAgain = false;
      const head = this.queue.peek();
      if (head === undefined) {
        this.block(NONE, Infinity);
        break;
      }
      const now = this.clock.now();
      // At or past its deadline a waiter never starts, whichever path (timer or release) gets here first.
      if (head.deadlineMs <= now) {
        this.cancel(head, new LimiterTimeoutError(this.name, head.timeoutMs));
        continue;
      }
      if (this.gate.isClosed(now)) {
        this.block(PAUSED, this.gate.untilMs);
        break;
      }
      if (this.gate.takeResume(now)) this.emitResume();
      // This limiter's own leases are a subset of the store's, so a full local count needs no store call.
      if (this.active >= this.maxConcurrentValue) {
        this.block(CONCURRENCY, Infinity);
        break;
      }
      const leaseId = this.nextLeaseId();
      let result: TryAcquireResult | Promise<TryAcquireResult>;
      try {
        result = this.handle.tryAcquire(this.request(now, leaseId, head.costs));
      } catch (error) {
        this.cancel(head, error);
        continue;
      }
      if (isPromise(result)) {
        // The store answers later: go on in pipelined mode for good.
        this.asyncStore = true;
        this.sendAttempt(head, leaseId, result);
        this.pumpAsync();
        return;
      }
      if (!this.onAnswer(head, leaseId, result, now) && !this.pumpAgain) break;
    }
    this.pumping = false;
    this.schedule();
  }

  /**
   * The body of {@link pump} for a store that answers later: sends try-acquires for queued waiters
   * in queue order, up to {@link PIPELINE_DEPTH} in flight and never more than the free slots.
   * Runs with `pumping` set and clears it when it stops.
   */
  private pumpAsync(): void {
    do {
      this.pumpAgain = false;
      this.sendAttempts();
    } while (this.pumpAgain);
    this.pumping = false;
    this.schedule();
  }

  private sendAttempts(): void {
    if (this.queue.size === 0) {
      this.block(NONE, Infinity);
      return;
    }
    const now = this.clock.now();
    if (this.gate.isClosed(now)) {
      this.block(PAUSED, this.gate.untilMs);
      return;
    }
    if (this.gate.takeResume(now)) this.emitResume();
    // Whatever blocked before is being tried again now: the answers will say what blocks next
    // (a stale time left here would re-arm the timer for a moment already past).
    this.block(NONE, Infinity);
    const depth = this.flowing ? PIPELINE_DEPTH : 1;
    // Waiters being tried stay queued (they may be refused); the walk skips them.
    for (let waiter = this.queue.peek(); waiter !== undefined && this.attempts.size < depth; ) {
      const next = this.queue.after(waiter);
      if (waiter.state === QUEUED) {
        // At or past its deadline a waiter never starts, whichever path gets here first.
        if (waiter.deadlineMs <= now) {
          this.cancel(waiter, new LimiterTimeoutError(this.name, waiter.timeoutMs));
          waiter = next;
          continue;
        }
        // Every attempt in flight may come back granted: together they must fit the limit in force.
        if (this.active + this.attempts.size >= this.maxConcurrentValue) {
          // Held leases free room when released; attempts in flight when they settle (granted or not).
          this.block(this.active >= this.maxConcurrentValue ? CONCURRENCY : PIPELINE, Infinity);
          return;
        }
        const leaseId = this.nextLeaseId();
        let result: TryAcquireResult | Promise<TryAcquireResult>;
        try {
          result = this.handle.tryAcquire(this.request(now, leaseId, waiter.costs));
        } catch (error) {
          this.cancel(waiter, error);
          waiter = next;
          continue;
        }
        this.sendAttempt(waiter, leaseId, isPromise(result) ? result : Promise.resolve(result));
      }
      waiter = next;
    }
  }

  private sendAttempt(waiter: Waiter, leaseId: string, answer: Promise<TryAcquireResult>): void {
    waiter.state = TRYING;
    this.attempts.send(waiter, leaseId, waiter.costs, answer);
  }

  /**
   * Applies a store's answer to one attempt, in the order attempts were sent. `doomed`: an attempt
   * sent earlier was refused, so this waiter may not start before it (a grant is handed back).
   */
  private onAttempt(attempt: Attempt<Waiter>, doomed: boolean): void {
    const { waiter, result } = attempt;
    const now = this.clock.now();
    if (waiter.state === DONE) {
      // It gave up (abort, timeout, drain) while the store answered: hand back what was taken, untouched.
      if (result?.ok) this.handBack(attempt, result.entries, now);
    } else if (result === undefined) {
      // The store call failed: the error concerns this waiter alone.
      waiter.state = QUEUED;
      this.cancel(waiter, attempt.error);
    } else {
      waiter.state = QUEUED;
      if (result.ok) this.onGrant(attempt, result.entries, doomed, now);
      else if (!doomed) {
        if (!this.onRefusal(waiter, result, now)) this.stopFlowing();
      } else if (result.reason === 'paused') {
        // Behind an earlier refusal, but a pause is news for everyone.
        this.closeGate(now + result.waitMs, result.waitMs, 'store');
      }
    }
    // A grant, or a slot of the pipeline freed while only the pipeline itself filled the limit,
    // lets the next waiter be tried; after a refusal the timer (or a release) decides.
    if (this.queue.size > 0 && (this.blocked === NONE || this.blocked === PIPELINE || (this.blocked === CONCURRENCY && this.flowing))) this.pump();
    else this.schedule();
  }

  /** Starts the waiter of a granted attempt, or hands the grant back when it may not start now. */
  private onGrant(attempt: Attempt<Waiter>, entries: readonly number[], doomed: boolean, now: number): void {
    const waiter = attempt.waiter;
    if (doomed) {
      this.handBack(attempt, entries, now);
    } else if (this.gate.isClosed(now) || this.active >= this.maxConcurrentValue) {
      // Granted before the store heard of a pause or a shrink made meanwhile: nobody starts during
      // a pause or above the limit in force, so hand the grant back and wait.
      this.handBack(attempt, entries, now);
      this.stopFlowing();
      if (this.gate.isClosed(now)) this.block(PAUSED, this.gate.untilMs);
      else this.block(CONCURRENCY, Infinity);
    } else if (now - attempt.answeredAtMs >= HELD_GRANT_MS) {
      // Held back too long (see HELD_GRANT_MS): hand it back; waiters behind it wait too, and it is
      // tried again at once, alone.
      this.handBack(attempt, entries, now);
      this.stopFlowing();
    } else {
      this.flowing = true;
      this.block(NONE, Infinity);
      this.detach(waiter);
      waiter.resolve(this.grant(attempt.leaseId, waiter.tokens, entries, now, waiter.enqueuedAtMs, waiter.priority, attempt.sentAtMs));
    }
  }

  /** An earlier waiter did not start: attempts in flight for later ones must not start either. */
  private stopFlowing(): void {
    this.flowing = false;
    this.attempts.breakOrder();
  }

  /** Returns a grant nobody takes: frees its slot and refunds its whole charge. */
  private handBack(attempt: Attempt<Waiter>, entries: readonly number[], now: number): void {
    const deltas = attempt.costs.map((c) => -c);
    const done = this.handle.release({ nowMs: now, leaseId: attempt.leaseId, entries, deltas });
    // The store may have refused a waiter while this slot and charge were still taken; a store
    // that does not announce releases (see subscribe) would leave it waiting: look again.
    if (isPromise(done)) done.then(this.afterHandBack, noop);
  }

  private readonly afterHandBack = (): void => {
    if (this.queue.size > 0 && this.blocked !== PAUSED) this.pump();
  };

  /** Applies a synchronous store's answer about `head`; returns whether serving should go on. */
  private onAnswer(head: Waiter, leaseId: string, result: TryAcquireResult, now: number): boolean {
    if (result.ok) {
      this.detach(head);
      head.resolve(this.grant(leaseId, head.tokens, result.entries, now, head.enqueuedAtMs, head.priority));
      return true;
    }
    return this.onRefusal(head, result, now);
  }

  /** Blocks on a refusal of `waiter`; returns true when it was rejected instead (it can never fit). */
  private onRefusal(waiter: Waiter, result: TryAcquireResult & { ok: false }, now: number): boolean {
    switch (result.reason) {
      case 'paused':
        this.closeGate(now + result.waitMs, result.waitMs, 'store');
        this.block(PAUSED, this.gate.untilMs);
        return false;
      case 'window':
        if (result.waitMs === Infinity) {
          // Only a shared store with smaller limits (set by another process) gets here.
          this.cancel(waiter, this.neverFits(waiter));
          return true;
        }
        this.block(WINDOW, now + result.waitMs);
        break;
      default:
        this.block(CONCURRENCY, now + result.waitMs);
    }
    this.listenForCapacity();
    return false;
  }

  private neverFits(waiter: Waiter): LimitExceededError {
    let worst = 0;
    this.windows.forEach((w, i) => {
      if (waiter.costs[i]! / w.limit > waiter.costs[worst]! / this.windows[worst]!.limit) worst = i;
    });
    const w = this.windows[worst]!;
    return new LimitExceededError(this.name, w.resource, waiter.costs[worst]!, w.limit, w.configuredWindowMs);
  }

  private block(kind: number, roomAtMs: number): void {
    this.blocked = kind;
    this.roomAtMs = roomAtMs;
  }

  /** A shared store may tell us when another process frees capacity. */
  private listenForCapacity(): void {
    if (this.unsubscribe || !this.handle.subscribe) return;
    this.unsubscribe = this.handle.subscribe(() => {
      if (this.queue.size > 0 && this.blocked !== PAUSED) this.pump();
    });
  }

  private closeGate(untilMs: number, durationMs: number, origin: 'local' | 'store'): void {
    if (!this.gate.extend(untilMs)) return;
    if (this.listenerCount('pause')) this.emit('pause', { durationMs, untilMs, origin });
    this.schedule();
  }

  private emitResume(): void {
    if (this.listenerCount('resume')) this.emit('resume', { atMs: this.gate.untilMs });
  }

  /**
   * Arms the one timer for the earliest of: room for the head, the first timeout, the end of a
   * pause (when someone waits or listens for `resume`). A later timer already armed is replaced;
   * an earlier one is kept (it finds nothing to do, and re-arms).
   */
  private schedule(): void {
    let at = this.queue.size > 0 ? this.roomAtMs : Infinity;
    const first = this.deadlines.peek();
    if (first && first.deadlineMs < at) at = first.deadlineMs;
    const resumeAt = this.gate.resumeDueMs;
    if (resumeAt < at && (this.queue.size > 0 || this.listenerCount('resume') > 0)) at = resumeAt;
    if (at === Infinity) {
      this.cancelTimer();
      return;
    }
    if (this.timer && this.timerAtMs <= at) return;
    this.cancelTimer();
    const timer = new AbortController();
    this.timer = timer;
    this.timerAtMs = at;
    this.clock.sleep(Math.max(0, at - this.clock.now()), timer.signal).then(() => this.onTimer(timer), noop);
  }

  private cancelTimer(): void {
    if (!this.timer) return;
    const timer = this.timer;
    this.timer = undefined;
    this.timerAtMs = Infinity;
    timer.abort();
  }

  private onTimer(timer: AbortController): void {
    if (this.timer !== timer) return;
    this.timer = undefined;
    this.timerAtMs = Infinity;
    const now = this.clock.now();
    for (let first = this.deadlines.peek(); first && first.deadlineMs <= now; first = this.deadlines.peek()) {
      this.cancel(first, new LimiterTimeoutError(this.name, first.timeoutMs));
    }
    if (this.gate.takeResume(now)) this.emitResume();
    if (this.queue.size > 0) this.pump();
    else this.schedule();
  }
}

function checkAmount(option: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(option, `${option} must be a non-negative number, got ${String(value)}`);
  }
}
