import { EventEmitter } from 'eventemitter3';
import { LimitExceededError } from '../errors/limit-exceeded-error';
import { LimiterTimeoutError } from '../errors/limiter-timeout-error';
import { ShutdownError } from '../errors/shutdown-error';
import { MemoryStore } from '../stores/memory-store';
import type { StoreHandle, TryAcquireResult } from '../stores/store';
import { InvalidOptionError } from '../validation/options';
import { abortReason, systemClock, type Clock } from './clock';
import { Lease, type LeaseOwner, type LeaseUsage } from './lease';
import type { LimiterEvents } from './limiter-events';
import { resolveWindows, validateLimiterOptions, type LimiterOptions, type ResolvedWindow } from './limiter-options';
import { WaiterQueue } from './waiter-queue';

export type { LimiterOptions, WindowOption } from './limiter-options';

/** Options of one {@link Limiter.acquire}. */
export interface AcquireOptions {
  /**
   * Token estimate charged to token windows at the start (reconciled at release).
   * @default 0
   */
  tokens?: number;
  /**
   * Units charged to request windows.
   * @default 1
   */
  cost?: number;
  /** Units for custom window resources, by resource name. @default {} */
  units?: Record<string, number>;
  /**
   * Higher goes first; equal priorities are first-in first-out.
   * @default 0
   */
  priority?: number;
  /** Gives up waiting when aborted (rejects with the signal's reason). @default undefined */
  signal?: AbortSignal;
  /** Gives up waiting after this long (rejects with `LimiterTimeoutError`). @default undefined (wait as long as it takes) */
  timeoutMs?: number;
}

/** Options of {@link Limiter.run}. */
export interface RunOptions<T> extends AcquireOptions {
  /** Real tokens used, read from the result (for reconcile). @default undefined */
  usageOf?: (result: T) => number | undefined;
}

/** A snapshot of a limiter. */
export interface LimiterStats {
  name: string;
  /** The concurrency limit in force (Infinity = none). */
  maxConcurrent: number;
  /** Leases held now. */
  active: number;
  /** Acquires waiting now. */
  queued: number;
  /** Leases granted since creation. */
  totalRequests: number;
  /** Provider rate limits reported with `reportRateLimit`. */
  totalRateLimits: number;
  /** Slots free now (Infinity when unlimited). */
  availableSlots: number;
  /** Requests inside the first request window now. */
  requestsInWindow: number;
  /** Tokens inside the first token window now. */
  tokensInWindow: number;
  /** The largest fraction in use of any limit (concurrency or window), 0–1. */
  utilization: number;
  /** Clock reading until which nobody starts (0 = not paused). */
  pausedUntil: number;
}

interface Waiter {
  priority: number;
  costs: number[];
  tokens: number;
  enqueuedAtMs: number;
  done: boolean;
  resolve(lease: Lease): void;
  reject(error: unknown): void;
  cleanup?: () => void;
}

const NO_COSTS: number[] = [];
const ignore = () => {};
let instanceCounter = 0;

/**
 * Limits how much work starts: at most `maxConcurrent` in flight, at most `limit` units started
 * in any sliding window (requests, tokens, per day, or any resource), nobody during a pause.
 * Waiters are served by priority, first-in first-out within a priority, and wake on one timer
 * exactly when room appears.
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
  private readonly handle: StoreHandle;
  private readonly reconcileBoth: boolean;
  /** Per window: 0 = requests, 1 = tokens, 2 = custom resource. */
  private readonly kinds: number[];
  private readonly leasePrefix: string;
  private maxConcurrentValue: number;
  private readonly queue = new WaiterQueue<Waiter>();
  private waiting = 0;
  private active = 0;
  private totalRequests = 0;
  private totalRateLimits = 0;
  private leaseSeq = 0;
  private pausedUntil = 0;
  private asyncStore = false;
  private pumping = false;
  private pumpAgain = false;
  private timer: AbortController | undefined;
  private timerDueAt = Infinity;
  private draining = false;

  constructor(options: LimiterOptions = {}) {
    super();
    const o = validateLimiterOptions(options);
    this.name = o.name ?? 'limiter';
    this.clock = o.clock ?? systemClock;
    this.windows = resolveWindows(o);
    this.kinds = this.windows.map((w) => (w.resource === 'requests' ? 0 : w.resource === 'tokens' ? 1 : 2));
    this.maxConcurrentValue = o.maxConcurrent ?? Infinity;
    this.reconcileBoth = o.reconcile === 'both';
    this.handle = (o.store ?? new MemoryStore()).bind(this.name, this.windows);
    this.leasePrefix = this.handle.tracksLeases ? `${Date.now().toString(36)}-${(++instanceCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}` : '';
  }

  /** Validates options without making a limiter (errors name the option and value). */
  static validateOptions(options: unknown, subject = 'Limiter'): LimiterOptions {
    return validateLimiterOptions(options, subject);
  }

  /** Waits for room and starts one unit of work; release the lease when the work ends. */
  acquire(options: AcquireOptions = {}): Promise<Lease> {
    if (this.draining) return Promise.reject(new ShutdownError(this.name));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    let costs: number[];
    try {
      costs = this.costsOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const tokens = options.tokens ?? 0;
    if (this.waiting === 0 && !this.asyncStore) {
      const now = this.clock.now();
      const leaseId = this.nextLeaseId();
      const result = this.handle.tryAcquire({ nowMs: now, leaseId, costs, maxConcurrent: this.maxConcurrentValue });
      if (result instanceof Promise) {
        this.asyncStore = true;
        return result.then((r) => (r.ok ? this.grant(leaseId, tokens, r.entries, now, now) : this.enqueue(costs, tokens, options)));
      }
      if (result.ok) return Promise.resolve(this.grant(leaseId, tokens, result.entries, now, now));
      if (result.waitMs !== Infinity) this.armTimer(result.waitMs);
    }
    return this.enqueue(costs, tokens, options);
  }

  /** Acquires, runs `fn`, and releases — also when `fn` throws. */
  async run<T>(fn: (lease: Lease) => T | Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    const lease = await this.acquire(options);
    let result: T;
    try {
      result = await fn(lease);
    } catch (error) {
      lease.release();
      throw error;
    }
    lease.release(options.usageOf ? { tokens: options.usageOf(result) } : undefined);
    return result;
  }

  /** `fn` wrapped so every call goes through {@link Limiter.run}. */
  wrap<A extends unknown[], T>(
    fn: (...args: A) => T | Promise<T>,
    options: Omit<RunOptions<T>, 'tokens'> & { tokensFor?: (...args: A) => number | undefined } = {},
  ): (...args: A) => Promise<T> {
    const { tokensFor, ...runOptions } = options;
    return (...args: A) => this.run(() => fn(...args), { ...runOptions, tokens: tokensFor?.(...args) });
  }

  /** Nobody starts for `ms` (e.g. a provider's retry-after); extends, never shortens, a pause in force. */
  pause(ms: number): void {
    if (!(ms >= 0)) throw new InvalidOptionError('ms', `pause ms must be a non-negative number, got ${ms}`);
    const now = this.clock.now();
    const until = now + ms;
    const done = this.handle.pause(now, ms);
    if (done instanceof Promise) done.catch(ignore);
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      if (this.listenerCount('pause')) this.emit('pause', { durationMs: ms, untilMs: until });
    }
  }

  /** Records a provider rate limit: counts it, emits `ratelimit`, and pauses for its retry-after. */
  reportRateLimit(info: { retryAfterMs?: number; source?: string; kind?: string } = {}): void {
    this.totalRateLimits++;
    if (this.listenerCount('ratelimit')) this.emit('ratelimit', info);
    if (info.retryAfterMs !== undefined && info.retryAfterMs > 0) this.pause(info.retryAfterMs);
  }

  /** Changes the concurrency limit; in-flight work finishes, waiters wake at once when it grows. */
  setMaxConcurrent(maxConcurrent: number): void {
    if (!(maxConcurrent === Infinity || (Number.isInteger(maxConcurrent) && maxConcurrent > 0))) {
      throw new InvalidOptionError('maxConcurrent', `maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    }
    const from = this.maxConcurrentValue;
    if (from === maxConcurrent) return;
    this.maxConcurrentValue = maxConcurrent;
    if (this.listenerCount('resize')) this.emit('resize', { from, to: maxConcurrent });
    if (maxConcurrent > from) this.pump();
  }

  /** A snapshot of limits and usage (for a shared store: this process's view of concurrency). */
  stats(): LimiterStats {
    const now = this.clock.now();
    const snapshot = this.handle.snapshot(now);
    const shared = snapshot instanceof Promise ? undefined : snapshot;
    if (snapshot instanceof Promise) snapshot.catch(ignore);
    const active = shared?.active ?? this.active;
    const max = this.maxConcurrentValue;
    let utilization = max === Infinity ? 0 : active / max;
    let requestsInWindow = 0;
    let tokensInWindow = 0;
    let seenRequests = false;
    let seenTokens = false;
    this.windows.forEach((w, i) => {
      const used = shared?.used[i] ?? 0;
      utilization = Math.max(utilization, used / w.limit);
      if (this.kinds[i] === 0 && !seenRequests) [requestsInWindow, seenRequests] = [used, true];
      if (this.kinds[i] === 1 && !seenTokens) [tokensInWindow, seenTokens] = [used, true];
    });
    return {
      name: this.name,
      maxConcurrent: max,
      active,
      queued: this.waiting,
      totalRequests: this.totalRequests,
      totalRateLimits: this.totalRateLimits,
      availableSlots: Math.max(0, max - active),
      requestsInWindow,
      tokensInWindow,
      utilization,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : 0,
    };
  }

  /**
   * Stops taking work: new acquires reject with `ShutdownError`; waiting ones too, unless
   * `queued: 'finish'`. Resolves when nothing is in flight.
   */
  async drain(options: { queued?: 'reject' | 'finish' } = {}): Promise<void> {
    if (options.queued === 'finish') {
      while (this.waiting > 0) await new Promise<void>((resolve) => this.once('acquire', () => resolve()));
    }
    this.draining = true;
    for (const w of this.queue) this.settle(w, undefined, new ShutdownError(this.name, 'it was drained while this acquire waited'));
    if (this.active > 0) await new Promise<void>((resolve) => this.once('idle', () => resolve()));
  }

  /** @internal called by Lease.release */
  releaseLease(lease: Lease, usage: LeaseUsage | undefined): void {
    this.active--;
    const now = this.clock.now();
    let deltas: number[] | undefined;
    if (usage?.tokens !== undefined && Number.isFinite(usage.tokens)) {
      const delta = usage.tokens - lease.tokens;
      if (delta > 0 || (delta < 0 && this.reconcileBoth)) deltas = this.kinds.map((k) => (k === 1 ? delta : 0));
    }
    const done = this.handle.release({ nowMs: now, leaseId: lease.id, entries: lease.entries, deltas });
    if (this.listenerCount('release')) this.emit('release', { active: this.active, heldMs: now - lease.startedAtMs });
    if (done instanceof Promise) {
      done.then(
        () => this.afterRelease(),
        () => this.afterRelease(),
      );
    } else {
      this.afterRelease();
    }
  }

  private afterRelease(): void {
    if (this.waiting > 0) this.pump();
    else if (this.active === 0 && this.listenerCount('idle')) this.emit('idle');
  }

  private costsOf(options: AcquireOptions): number[] {
    const windows = this.windows;
    if (windows.length === 0) return NO_COSTS;
    const costs = new Array<number>(windows.length);
    for (let i = 0; i < windows.length; i++) {
      const kind = this.kinds[i];
      const w = windows[i]!;
      const cost = kind === 0 ? (options.cost ?? 1) : kind === 1 ? (options.tokens ?? 0) : (options.units?.[w.resource] ?? 0);
      if (!(cost >= 0) || !Number.isFinite(cost)) {
        const option = kind === 0 ? 'cost' : kind === 1 ? 'tokens' : `units.${w.resource}`;
        throw new InvalidOptionError(option, `${option} must be a non-negative number, got ${cost}`);
      }
      if (cost > w.limit) throw new LimitExceededError(this.name, w.resource, cost, w.limit, w.configuredWindowMs);
      costs[i] = cost;
    }
    return costs;
  }

  private nextLeaseId(): string {
    return this.leasePrefix === '' ? '' : `${this.leasePrefix}:${(++this.leaseSeq).toString(36)}`;
  }

  private grant(leaseId: string, tokens: number, entries: readonly number[], now: number, enqueuedAtMs: number): Lease {
    this.active++;
    this.totalRequests++;
    if (this.pausedUntil !== 0 && now >= this.pausedUntil) {
      this.pausedUntil = 0;
      if (this.listenerCount('resume')) this.emit('resume');
    }
    const lease = new Lease(this, leaseId, tokens, now, entries);
    if (this.listenerCount('acquire')) this.emit('acquire', { active: this.active, waitedMs: now - enqueuedAtMs });
    return lease;
  }

  private enqueue(costs: number[], tokens: number, options: AcquireOptions): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        priority: options.priority ?? 0,
        costs,
        tokens,
        enqueuedAtMs: this.clock.now(),
        done: false,
        resolve,
        reject,
      };
      const { signal, timeoutMs } = options;
      let timeout: AbortController | undefined;
      const onAbort = () => this.cancel(waiter, abortReason(signal!));
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timeout = new AbortController();
        this.clock.sleep(timeoutMs, timeout.signal).then(() => this.cancel(waiter, new LimiterTimeoutError(this.name, timeoutMs)), ignore);
      }
      if (signal || timeout) {
        waiter.cleanup = () => {
          signal?.removeEventListener('abort', onAbort);
          timeout?.abort();
        };
      }
      this.queue.push(waiter);
      this.waiting++;
      if (this.listenerCount('queued')) this.emit('queued', { queued: this.waiting, priority: waiter.priority });
      this.pump();
    });
  }

  private cancel(waiter: Waiter, reason: unknown): void {
    if (waiter.done) return;
    this.settle(waiter, undefined, reason);
    // The head may have been what blocked the others.
    this.pump();
    if (this.waiting === 0 && this.active === 0 && this.listenerCount('idle')) this.emit('idle');
  }

  private settle(waiter: Waiter, lease: Lease | undefined, error?: unknown): void {
    if (waiter.done) return;
    waiter.done = true;
    this.waiting--;
    waiter.cleanup?.();
    if (lease) waiter.resolve(lease);
    else waiter.reject(error);
  }

  /** Serves waiters from the head while they fit; arms the one timer for when the head will fit. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    const finish = () => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    };
    const step = (): void => {
      for (;;) {
        const head = this.queue.peek();
        if (!head) return finish();
        if (head.done) {
          this.queue.shift();
          continue;
        }
        const now = this.clock.now();
        const leaseId = this.nextLeaseId();
        let result: ReturnType<StoreHandle['tryAcquire']>;
        try {
          result = this.handle.tryAcquire({ nowMs: now, leaseId, costs: head.costs, maxConcurrent: this.maxConcurrentValue });
        } catch (error) {
          this.queue.shift();
          this.settle(head, undefined, error);
          continue;
        }
        if (result instanceof Promise) {
          this.asyncStore = true;
          result.then(
            (r) => {
              if (this.onResult(head, leaseId, r, now)) step();
              else finish();
            },
            (error: unknown) => {
              this.queue.shift();
              this.settle(head, undefined, error);
              step();
            },
          );
          return;
        }
        if (!this.onResult(head, leaseId, result, now)) return finish();
      }
    };
    step();
  }

  /** Applies one try-acquire answer to the head waiter; returns whether to keep serving. */
  private onResult(head: Waiter, leaseId: string, result: TryAcquireResult, now: number): boolean {
    if (result.ok) {
      if (this.queue.peek() === head) this.queue.shift();
      const lease = this.grant(leaseId, head.tokens, result.entries, now, head.enqueuedAtMs);
      if (head.done) lease.release(); // it gave up while a remote store answered
      else this.settle(head, lease);
      return true;
    }
    if (this.draining || head.done) return true;
    if (result.waitMs !== Infinity) this.armTimer(result.waitMs);
    return false;
  }

  private armTimer(waitMs: number): void {
    const due = this.clock.now() + waitMs;
    if (this.timer && this.timerDueAt <= due) return;
    this.timer?.abort();
    const timer = new AbortController();
    this.timer = timer;
    this.timerDueAt = due;
    this.clock.sleep(waitMs, timer.signal).then(() => {
      if (this.timer !== timer) return;
      this.timer = undefined;
      this.timerDueAt = Infinity;
      this.pump();
    }, ignore);
  }
}
