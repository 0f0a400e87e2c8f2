import { LimiterTimeoutError } from '../errors/limiter-timeout-error';
import type { MaybePromise, TryAcquireResult } from '../stores/store';
import type { Admission } from './admission';
import { assertNever } from './assert-never';
import { AttemptPipeline, type Attempt } from './attempt-pipeline';
import type { Lease } from './lease';
import type { AcquireOptions } from './limiter-types';
import { isPromise, noop } from './maybe-promise';
import type { Waiter } from './waiter';
import type { WaitingRoom } from './waiting-room';

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

/**
 * Admission for a store that answers later (Redis): try-acquires for queued waiters are sent in
 * queue order, several at once, and their answers applied in the order they were sent (see
 * {@link AttemptPipeline}), so grants still follow the queue.
 */
export class PipelinedAdmission implements Admission {
  /** Try-acquires in flight, applied in the order they were sent. */
  private readonly attempts: AttemptPipeline<Waiter>;
  /** False after a refusal until the next grant: only the head is tried then, not a pipeline full of waiters. */
  private flowing = true;

  constructor(private readonly room: WaitingRoom) {
    this.attempts = new AttemptPipeline<Waiter>(
      () => room.clock.now(),
      (attempt, doomed) => this.onAttempt(attempt, doomed),
    );
  }

  start(costs: readonly number[], options: AcquireOptions | undefined): Lease | Promise<Lease> {
    const room = this.room;
    if (options?.timeoutMs === 0) throw new LimiterTimeoutError(room.name, 0);
    const waiter = room.newWaiter(costs, options, room.clock.now());
    const promise = room.enqueue(waiter);
    // A new head may start; so may a waiter behind heads being tried (it joins the pipeline at
    // once). Behind a blocked head it just waits.
    if (room.queue.peek() === waiter || room.blocked === 'none') room.pump();
    else if (waiter.heapIndex >= 0) room.schedule();
    return promise;
  }

  /** Sends try-acquires for queued waiters in queue order, up to {@link PIPELINE_DEPTH} in flight and never more than the free slots. */
  serve(): void {
    const room = this.room;
    do {
      room.pumpAgain = false;
      this.sendAttempts();
    } while (room.pumpAgain);
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
    // The store may still read the request after it returns: a fresh one per call.
    return this.room.handle.release({ nowMs, leaseId, entries, deltas, arrivalLagMs });
  }

  /** Records an attempt for `waiter` whose answer `answer` brings (also one sent before this admission took over). */
  send(waiter: Waiter, leaseId: string, answer: Promise<TryAcquireResult>): void {
    waiter.state = 'trying';
    this.attempts.send(waiter, leaseId, waiter.costs, answer);
  }

  private sendAttempts(): void {
    const room = this.room;
    if (room.queue.size === 0) {
      room.block('none', Infinity);
      return;
    }
    const now = room.clock.now();
    if (room.gate.isClosed(now)) {
      room.block('paused', room.gate.untilMs);
      return;
    }
    if (room.gate.takeResume(now)) room.emitResume();
    // Whatever blocked before is being tried again now: the answers will say what blocks next
    // (a stale time left here would re-arm the timer for a moment already past).
    room.block('none', Infinity);
    const depth = this.flowing ? PIPELINE_DEPTH : 1;
    // Waiters being tried stay queued (they may be refused); the walk skips them.
    for (let waiter = room.queue.peek(); waiter !== undefined && this.attempts.size < depth;) {
      const next = room.queue.after(waiter);
      if (waiter.state === 'queued') {
        // At or past its deadline a waiter never starts, whichever path gets here first.
        if (waiter.deadlineMs <= now) {
          room.cancel(waiter, new LimiterTimeoutError(room.name, waiter.timeoutMs));
          waiter = next;
          continue;
        }
        // Every attempt in flight may come back granted: together they must fit the limit in force.
        if (room.active + this.attempts.size >= room.maxConcurrent) {
          // Held leases free room when released; attempts in flight when they settle (granted or not).
          room.block(room.active >= room.maxConcurrent ? 'concurrency' : 'pipeline', Infinity);
          return;
        }
        const leaseId = room.nextLeaseId();
        let result: TryAcquireResult | Promise<TryAcquireResult>;
        try {
          result = room.handle.tryAcquire({
            nowMs: now,
            leaseId,
            costs: waiter.costs,
            maxConcurrent: room.maxConcurrent,
          });
        } catch (error) {
          room.cancel(waiter, error);
          waiter = next;
          continue;
        }
        this.send(waiter, leaseId, isPromise(result) ? result : Promise.resolve(result));
      }
      waiter = next;
    }
  }

  /**
   * Applies a store's answer to one attempt, in the order attempts were sent. `doomed`: an attempt
   * sent earlier was refused, so this waiter may not start before it (a grant is handed back).
   */
  private onAttempt(attempt: Attempt<Waiter>, doomed: boolean): void {
    const room = this.room;
    const { waiter, result } = attempt;
    const now = room.clock.now();
    if (waiter.state === 'done') {
      // It gave up (abort, timeout, drain) while the store answered: hand back what was taken, untouched.
      if (result?.ok) this.handBack(attempt, result.entries, now);
    } else if (result === undefined) {
      // The store call failed: the error concerns this waiter alone.
      waiter.state = 'queued';
      room.cancel(waiter, attempt.error);
    } else {
      waiter.state = 'queued';
      if (result.ok) this.onGrant(attempt, result.entries, doomed, now);
      else if (!doomed) {
        if (!room.onRefusal(waiter, result, now)) this.stopFlowing();
      } else if (result.reason === 'paused') {
        // Behind an earlier refusal, but a pause is news for everyone.
        room.closeGate(now + result.waitMs, result.waitMs, 'store');
      }
    }
    if (room.queue.size > 0 && this.settleHelps()) room.pump();
    else room.schedule();
  }

  /**
   * Whether the next waiter may be tried now an attempt settled: after a grant, or when a slot of
   * the pipeline freed while only the pipeline itself filled the limit; after a refusal the timer
   * (or a release) decides.
   */
  private settleHelps(): boolean {
    const blocked = this.room.blocked;
    switch (blocked) {
      case 'none':
      case 'pipeline':
        return true;
      case 'concurrency':
        return this.flowing;
      case 'window':
      case 'paused':
        return false;
      default:
        return assertNever(blocked, 'blocked state');
    }
  }

  /** Starts the waiter of a granted attempt, or hands the grant back when it may not start now. */
  private onGrant(attempt: Attempt<Waiter>, entries: readonly number[], doomed: boolean, now: number): void {
    const room = this.room;
    const waiter = attempt.waiter;
    if (doomed) {
      this.handBack(attempt, entries, now);
    } else if (room.gate.isClosed(now) || room.active >= room.maxConcurrent) {
      // Granted before the store heard of a pause or a shrink made meanwhile: nobody starts during
      // a pause or above the limit in force, so hand the grant back and wait.
      this.handBack(attempt, entries, now);
      this.stopFlowing();
      if (room.gate.isClosed(now)) room.block('paused', room.gate.untilMs);
      else room.block('concurrency', Infinity);
    } else if (now - attempt.answeredAtMs >= HELD_GRANT_MS) {
      // Held back too long (see HELD_GRANT_MS): hand it back; waiters behind it wait too, and it is
      // tried again at once, alone.
      this.handBack(attempt, entries, now);
      this.stopFlowing();
    } else {
      this.flowing = true;
      room.block('none', Infinity);
      room.detach(waiter);
      waiter.resolve(
        room.grant(
          attempt.leaseId,
          waiter.tokens,
          entries,
          now,
          waiter.enqueuedAtMs,
          waiter.priority,
          attempt.sentAtMs,
        ),
      );
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
    const done = this.room.handle.release({ nowMs: now, leaseId: attempt.leaseId, entries, deltas });
    // The store may have refused a waiter while this slot and charge were still taken; a store
    // that does not announce releases (see subscribe) would leave it waiting: look again.
    if (isPromise(done)) done.then(this.afterHandBack, noop);
  }

  private readonly afterHandBack = (): void => {
    if (this.room.queue.size > 0 && this.room.capacityHelps()) this.room.pump();
  };
}
