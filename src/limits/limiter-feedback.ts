import type { Limiter } from './limiter';
import { pacedLimit, type ResolvedWindow } from './limiter-options';
import { isPromise, noop } from './maybe-promise';
import type { FeedbackTarget } from './provider-feedback';
import type { WaitingRoom } from './waiting-room';

/**
 * What {@link ProviderFeedback} may read and change in one limiter: its windows and usage, a
 * pause, longer-counted window entries, and window limits (with the `limit` event).
 */
export class LimiterFeedbackTarget implements FeedbackTarget {
  constructor(
    private readonly limiter: Limiter,
    private readonly room: WaitingRoom,
    private readonly windowList: readonly ResolvedWindow[],
  ) {}

  now(): number {
    return this.room.clock.now();
  }

  windows(): {
    resource: string;
    limit: number;
    configuredWindowMs: number;
    marginMs: number;
    paced: boolean;
  }[] {
    return this.windowList.map((w) => ({
      ...w,
      marginMs: w.windowMs - w.configuredWindowMs,
      paced: w.pacedFrom !== undefined,
    }));
  }

  hasIdleRoom(index: number): boolean {
    const room = this.room;
    const now = room.clock.now();
    // Room a waiter takes the moment its timer fires is not idle (its release only just came).
    if (room.queue.size > 0 && room.blocked === 'window' && room.roomAtMs <= now) return false;
    const snapshot = room.handle.snapshot(now);
    // A remote store's usage is not known here: say no rather than pause on a guess.
    if (isPromise(snapshot)) {
      snapshot.catch(noop);
      return false;
    }
    return (snapshot.used[index] ?? 0) < this.windowList[index]!.limit;
  }

  startedSince(grantIndex: number): number {
    return this.room.totalRequests - grantIndex;
  }

  pause(ms: number): void {
    this.limiter.pause(ms);
  }

  setExtraWindowMs(ms: number): void {
    const done = this.room.handle.extendWindows?.(ms);
    if (isPromise(done)) done.catch(noop);
  }

  setLimit(index: number, limit: number, reason: 'lowered' | 'learned'): void {
    const window = this.windowList[index];
    const handle = this.room.handle;
    if (!window || window.limit === limit || !handle.setLimit) return;
    const from = window.limit;
    const done = handle.setLimit(index, limit);
    if (isPromise(done)) done.catch(noop);
    // The limiter's windows are the ones the store was bound with and the cost checks read.
    window.limit = limit;
    // A pacing sub-window is not a limit of the provider's: it changes with its parent, silently.
    if (window.pacedFrom === undefined && this.limiter.listenerCount('limit')) {
      this.limiter.emit('limit', {
        resource: window.resource,
        windowMs: window.configuredWindowMs,
        from,
        to: limit,
        reason,
      });
    }
    // A pacing sub-window spreads its parent's budget: it follows the parent's new limit.
    this.windowList.forEach((paced, i) => {
      if (paced.pacedFrom === index) {
        this.setLimit(i, pacedLimit(limit, window.configuredWindowMs, paced.configuredWindowMs), reason);
      }
    });
    if (limit > from) this.room.pump();
  }
}
