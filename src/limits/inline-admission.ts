import { LimiterTimeoutError } from '../errors/limiter-timeout-error';
import type { MaybePromise, ReleaseRequest, TryAcquireRequest, TryAcquireResult } from '../stores/store';
import type { Admission } from './admission';
import type { Lease } from './lease';
import type { AcquireOptions } from './limiter-types';
import { isPromise } from './maybe-promise';
import { PipelinedAdmission } from './pipelined-admission';
import type { Waiter } from './waiter';
import type { WaitingRoom } from './waiting-room';

const NO_COSTS: readonly number[] = [];

/**
 * Admission for a store that answers at once (the in-memory store): the head waiter is tried right
 * there, and a free limiter grants without queueing or a promise of its own. Every limiter starts
 * with it, since a store handle does not say how it answers: the first answer that is a promise
 * hands the limiter over to {@link PipelinedAdmission} for good.
 */
export class InlineAdmission implements Admission {
  // The store is done with a request when it returns, so one of each is reused (no allocation per call).
  private readonly acquireRequest: TryAcquireRequest = {
    nowMs: 0,
    leaseId: '',
    costs: NO_COSTS,
    maxConcurrent: Infinity,
  };
  private readonly releaseRequest: ReleaseRequest = {
    nowMs: 0,
    leaseId: '',
    entries: NO_COSTS,
    deltas: undefined,
    arrivalLagMs: undefined,
  };

  constructor(private readonly room: WaitingRoom) {}

  start(costs: readonly number[], options: AcquireOptions | undefined): Lease | Promise<Lease> {
    const room = this.room;
    if (room.queue.size === 0 && !room.pumping && room.active < room.maxConcurrent) {
      const now = room.clock.now();
      if (!room.gate.isClosed(now)) {
        if (room.gate.takeResume(now)) room.emitResume();
        const leaseId = room.nextLeaseId();
        const result = room.handle.tryAcquire(this.request(now, leaseId, costs));
        if (isPromise(result)) {
          // The store answers later: from now on everything goes through the queue, in order.
          const pipelined = this.handOver();
          const waiter = room.newWaiter(costs, options, now);
          const promise = room.enqueue(waiter);
          pipelined.send(waiter, leaseId, result);
          return promise;
        }
        if (result.ok)
          return room.grant(leaseId, options?.tokens ?? 0, result.entries, now, now, options?.priority ?? 0);
        if (options?.timeoutMs === 0) throw new LimiterTimeoutError(room.name, 0);
        const waiter = room.newWaiter(costs, options, now);
        const promise = room.enqueue(waiter);
        // The refusal already says when it will fit: no second store call.
        if (!this.onAnswer(waiter, leaseId, result, now)) room.schedule();
        else room.pump();
        return promise;
      }
    }
    if (options?.timeoutMs === 0) throw new LimiterTimeoutError(room.name, 0);
    const waiter = room.newWaiter(costs, options, room.clock.now());
    const promise = room.enqueue(waiter);
    // Only a new head can change what happens next; behind a blocked head it just waits.
    if (room.queue.peek() === waiter) room.pump();
    else if (waiter.heapIndex >= 0) room.schedule();
    return promise;
  }

  serve(): void {
    const room = this.room;
    for (;;) {
      room.pumpAgain = false;
      const head = room.queue.peek();
      if (head === undefined) {
        room.block('none', Infinity);
        break;
      }
      const now = room.clock.now();
      // At or past its deadline a waiter never starts, whichever path (timer or release) gets here first.
      if (head.deadlineMs <= now) {
        room.cancel(head, new LimiterTimeoutError(room.name, head.timeoutMs));
        continue;
      }
      if (room.gate.isClosed(now)) {
        room.block('paused', room.gate.untilMs);
        break;
      }
      if (room.gate.takeResume(now)) room.emitResume();
      // This limiter's own leases are a subset of the store's, so a full local count needs no store call.
      if (room.active >= room.maxConcurrent) {
        room.block('concurrency', Infinity);
        break;
      }
      const leaseId = room.nextLeaseId();
      let result: TryAcquireResult | Promise<TryAcquireResult>;
      try {
        result = room.handle.tryAcquire(this.request(now, leaseId, head.costs));
      } catch (error) {
        room.cancel(head, error);
        continue;
      }
      if (isPromise(result)) {
        // The store answers later: go on in pipelined mode for good (it clears `pumping`).
        const pipelined = this.handOver();
        pipelined.send(head, leaseId, result);
        pipelined.serve();
        return;
      }
      if (!this.onAnswer(head, leaseId, result, now) && !room.pumpAgain) break;
    }
    room.pumping = false;
    room.schedule();
  }

  release(
    nowMs: number,
    leaseId: string,
    entries: readonly number[],
    deltas: readonly number[] | undefined,
    arrivalLagMs: number | undefined,
  ): MaybePromise<void> {
    const request = this.releaseRequest;
    request.nowMs = nowMs;
    request.leaseId = leaseId;
    request.entries = entries;
    request.deltas = deltas;
    request.arrivalLagMs = arrivalLagMs;
    return this.room.handle.release(request);
  }

  private request(nowMs: number, leaseId: string, costs: readonly number[]): TryAcquireRequest {
    const r = this.acquireRequest;
    r.nowMs = nowMs;
    r.leaseId = leaseId;
    r.costs = costs;
    r.maxConcurrent = this.room.maxConcurrent;
    return r;
  }

  /** Applies the store's answer about `head`; returns whether serving should go on. */
  private onAnswer(head: Waiter, leaseId: string, result: TryAcquireResult, now: number): boolean {
    const room = this.room;
    if (result.ok) {
      room.detach(head);
      head.resolve(room.grant(leaseId, head.tokens, result.entries, now, head.enqueuedAtMs, head.priority));
      return true;
    }
    return room.onRefusal(head, result, now);
  }

  /** The store answered with a promise: the pipelined admission takes over for good. */
  private handOver(): PipelinedAdmission {
    const pipelined = new PipelinedAdmission(this.room);
    this.room.admission = pipelined;
    return pipelined;
  }
}
