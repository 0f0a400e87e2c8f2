import type { EventEmitter } from 'eventemitter3';
import { LimiterTimeoutError } from '../errors/limiter-timeout-error';
import { QueueFullError } from '../errors/queue-full-error';
import type { StoreHandle, TryAcquireResult } from '../stores/store';
import { abortReason, type Clock } from '../util/clock';
import type { CostTable } from './acquire-costs';
import type { Admission, Blocked } from './admission';
import { assertNever } from './assert-never';
import { DeadlineHeap } from './deadline-heap';
import { Lease, type LeaseOwner } from './lease';
import type { LimiterEvents } from './limiter-events';
import type { AcquireOptions } from './limiter-types';
import { PauseGate } from './pause-gate';
import { WakeTimer } from './wake-timer';
import { Waiter, promiseOf } from './waiter';
import { WaiterQueue } from './waiter-queue';

/** The limiter as the waiting room sees it: where events go and who releases leases. */
export type RoomOwner = EventEmitter<LimiterEvents> & LeaseOwner;

let instanceCounter = 0;

/**
 * The waiters of one limiter and everything about serving them that does not depend on the kind
 * of store: the queue and its timeouts, the pause gate, what blocks the head, the one wake timer,
 * grants, cancellations, idleness. The {@link Admission} in force decides how the head is tried.
 * @internal
 */
export class WaitingRoom {
  readonly queue = new WaiterQueue<Waiter>();
  readonly deadlines = new DeadlineHeap<Waiter>();
  readonly gate = new PauseGate();
  /** How waiters are tried; replaced at most once, when the store first answers later. */
  admission!: Admission;
  /** Leases held (granted by this limiter, not released). */
  active = 0;
  /** Leases granted since the limiter was made. */
  totalRequests = 0;
  /** Told about every grant (the provider-counter alignment), when set. */
  onGrant: ((lease: Lease) => void) | undefined = undefined;
  /** The concurrency limit in force (Infinity = none). */
  maxConcurrent: number;
  blocked: Blocked = 'none';
  /** When the head will fit, as far as the last refusal said (Infinity = only a release helps). */
  roomAtMs = Infinity;
  /** Set while an admission serves the queue; a pump meanwhile only asks it to look again. */
  pumping = false;
  pumpAgain = false;
  private readonly timer: WakeTimer;
  private drainWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | undefined;
  private readonly leasePrefix: string;
  private leaseSeq = 0;

  constructor(
    private readonly owner: RoomOwner,
    readonly name: string,
    readonly clock: Clock,
    readonly handle: StoreHandle,
    readonly costs: CostTable,
    private readonly maxQueued: number,
    maxConcurrent: number,
  ) {
    this.maxConcurrent = maxConcurrent;
    this.timer = new WakeTimer(clock, () => this.onWake());
    this.leasePrefix = handle.tracksLeases
      ? `${Date.now().toString(36)}-${(++instanceCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`
      : '';
  }

  nextLeaseId(): string {
    return this.leasePrefix === '' ? '' : `${this.leasePrefix}:${(++this.leaseSeq).toString(36)}`;
  }

  /** `chargedAtMs`: no later than the store's charge (the attempt's send time for a store that answers later). */
  grant(
    leaseId: string,
    tokens: number,
    entries: readonly number[],
    now: number,
    enqueuedAtMs: number,
    priority: number,
    chargedAtMs = now,
  ): Lease {
    this.active++;
    this.totalRequests++;
    const lease = new Lease(this.owner, leaseId, tokens, now, entries, this.totalRequests, chargedAtMs);
    if (this.onGrant) this.onGrant(lease);
    if (this.owner.listenerCount('acquire'))
      this.owner.emit('acquire', { active: this.active, waitedMs: now - enqueuedAtMs, priority, tokens });
    return lease;
  }

  newWaiter(costs: readonly number[], options: AcquireOptions | undefined, now: number): Waiter {
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
  enqueue(waiter: Waiter): Promise<Lease> {
    const promise = promiseOf(waiter);
    this.queue.push(waiter);
    const signal = waiter.signal;
    if (signal) {
      waiter.onAbort = () => this.cancel(waiter, abortReason(signal));
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    if (waiter.deadlineMs !== Infinity) this.deadlines.push(waiter);
    if (this.owner.listenerCount('queued')) {
      this.owner.emit('queued', {
        queued: this.queue.size,
        priority: waiter.priority,
        tokens: waiter.tokens,
      });
    }
    return promise;
  }

  /** Takes `waiter` out of the queue, the deadline heap and its signal. */
  detach(waiter: Waiter): void {
    this.queue.remove(waiter);
    if (waiter.heapIndex >= 0) this.deadlines.remove(waiter);
    if (waiter.onAbort) {
      waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = undefined;
    }
    waiter.state = 'done';
  }

  /** Rejects a waiter (abort, timeout, store failure); the next one may fit now. */
  cancel(waiter: Waiter, reason: unknown): void {
    if (waiter.state === 'done') return;
    const wasHead = this.queue.peek() === waiter;
    this.detach(waiter);
    waiter.reject(reason);
    if (wasHead) this.pump();
    else this.schedule();
    this.checkIdle();
  }

  /** Rejects every waiter with `reason()` (a drain). */
  rejectAll(reason: () => unknown): void {
    if (this.queue.size === 0) return;
    // Take every waiter out first, so rejecting one cannot start the next.
    const waiters = [...this.queue];
    for (const waiter of waiters) this.detach(waiter);
    for (const waiter of waiters) waiter.reject(reason());
    this.block('none', Infinity);
    this.schedule();
  }

  /** Resolves once nothing is held and nobody waits. */
  whenIdle(): Promise<void> {
    if (this.active === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  checkIdle(): void {
    if (this.active !== 0 || this.queue.size !== 0) return;
    if (this.owner.listenerCount('idle')) this.owner.emit('idle');
    if (this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Serves waiters from the head while they fit, then arms the one timer. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.admission.serve();
  }

  /** After a lease's release reached the store: `refunded` when it gave tokens back. */
  afterRelease(refunded: boolean): void {
    if (this.queue.size > 0) {
      if (this.releaseHelps(refunded)) this.pump();
    } else {
      this.checkIdle();
    }
  }

  private releaseHelps(refunded: boolean): boolean {
    const blocked = this.blocked;
    switch (blocked) {
      case 'none':
      case 'concurrency':
      case 'pipeline':
        return true;
      case 'window':
      case 'paused':
        // A freed slot does nothing for a full window or a closed gate; only a refund may.
        return refunded;
      default:
        return assertNever(blocked, 'blocked state');
    }
  }

  /** Whether capacity freed outside this limiter (or a grant handed back) may let the head start. */
  capacityHelps(): boolean {
    const blocked = this.blocked;
    switch (blocked) {
      case 'paused':
        return false;
      case 'none':
      case 'concurrency':
      case 'window':
      case 'pipeline':
        return true;
      default:
        return assertNever(blocked, 'blocked state');
    }
  }

  /** Blocks on a refusal of `waiter`; returns true when it was rejected instead (it can never fit). */
  onRefusal(waiter: Waiter, result: TryAcquireResult & { ok: false }, now: number): boolean {
    const reason = result.reason;
    switch (reason) {
      case 'paused':
        this.closeGate(now + result.waitMs, result.waitMs, 'store');
        this.block('paused', this.gate.untilMs);
        return false;
      case 'window':
        if (result.waitMs === Infinity) {
          // Only a shared store with smaller limits (set by another process) gets here.
          this.cancel(waiter, this.costs.neverFits(waiter.costs));
          return true;
        }
        this.block('window', now + result.waitMs);
        break;
      case 'concurrency':
        this.block('concurrency', now + result.waitMs);
        break;
      default:
        return assertNever(reason, 'refusal reason');
    }
    this.listenForCapacity();
    return false;
  }

  block(blocked: Blocked, roomAtMs: number): void {
    this.blocked = blocked;
    this.roomAtMs = roomAtMs;
  }

  /** A shared store may tell us when another process frees capacity. */
  private listenForCapacity(): void {
    if (this.unsubscribe || !this.handle.subscribe) return;
    this.unsubscribe = this.handle.subscribe(() => {
      if (this.queue.size > 0 && this.capacityHelps()) this.pump();
    });
  }

  closeGate(untilMs: number, durationMs: number, origin: 'local' | 'store'): void {
    if (!this.gate.extend(untilMs)) return;
    if (this.owner.listenerCount('pause')) this.owner.emit('pause', { durationMs, untilMs, origin });
    this.schedule();
  }

  emitResume(): void {
    if (this.owner.listenerCount('resume')) this.owner.emit('resume', { atMs: this.gate.untilMs });
  }

  /**
   * Arms the one timer for the earliest of: room for the head, the first timeout, the end of a
   * pause (when someone waits or listens for `resume`).
   */
  schedule(): void {
    let at = this.queue.size > 0 ? this.roomAtMs : Infinity;
    const first = this.deadlines.peek();
    if (first && first.deadlineMs < at) at = first.deadlineMs;
    const resumeAt = this.gate.resumeDueMs;
    if (resumeAt < at && (this.queue.size > 0 || this.owner.listenerCount('resume') > 0)) at = resumeAt;
    this.timer.arm(at);
  }

  private onWake(): void {
    const now = this.clock.now();
    for (let first = this.deadlines.peek(); first && first.deadlineMs <= now; first = this.deadlines.peek()) {
      this.cancel(first, new LimiterTimeoutError(this.name, first.timeoutMs));
    }
    if (this.gate.takeResume(now)) this.emitResume();
    if (this.queue.size > 0) this.pump();
    else this.schedule();
  }
}
