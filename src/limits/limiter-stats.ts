import type { StoreSnapshot } from '../stores/store';
import type { Limiter } from './limiter';
import { limiterLatencyStats } from './limiter-metrics';
import type { ResolvedWindow } from './limiter-options';
import type { LimiterStats } from './limiter-types';
import { isPromise, noop } from './maybe-promise';
import type { WaitingRoom } from './waiting-room';

/**
 * Assembles {@link Limiter.stats}. With a remote store, window usage and `active` are the store's
 * last known values (refreshed in the background).
 */
export function limiterStats(
  limiter: Limiter,
  room: WaitingRoom,
  windows: readonly ResolvedWindow[],
  totalRateLimits: number,
): LimiterStats {
  const now = room.clock.now();
  const snapshot = room.handle.snapshot(now);
  let shared: Pick<StoreSnapshot, 'active' | 'used'> | undefined;
  if (isPromise(snapshot)) snapshot.catch(noop);
  else shared = snapshot;
  const active = shared?.active ?? room.active;
  const max = room.maxConcurrent;
  const kinds = room.costs.kinds;
  let utilization = max === Infinity ? 0 : active / max;
  let requestsInWindow = 0;
  let tokensInWindow = 0;
  let requestsWindowMs = Infinity;
  let tokensWindowMs = Infinity;
  windows.forEach((w, i) => {
    const used = shared?.used[i] ?? 0;
    utilization = Math.max(utilization, used / w.limit);
    // The shortest window of each kind is the one reported (a pacing sub-window is not a limit of its own).
    if (w.pacedFrom !== undefined) return;
    if (kinds[i] === 'requests' && w.windowMs < requestsWindowMs)
      [requestsInWindow, requestsWindowMs] = [used, w.windowMs];
    if (kinds[i] === 'tokens' && w.windowMs < tokensWindowMs)
      [tokensInWindow, tokensWindowMs] = [used, w.windowMs];
  });
  return {
    name: limiter.name,
    maxConcurrent: max,
    active,
    queued: room.queue.size,
    totalRequests: room.totalRequests,
    totalRateLimits,
    availableSlots: Math.max(0, max - active),
    requestsInWindow,
    tokensInWindow,
    utilization: Math.min(1, utilization),
    pausedUntil: room.gate.isClosed(now) ? room.gate.untilMs : 0,
    ...limiterLatencyStats(limiter),
  };
}
